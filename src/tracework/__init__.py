"""tracework: a provenance and labour ledger for human-annotated datasets.

Every command line verb is a function here of the same name::

    import tracework
    project = tracework.init("mouse-parts", categories=[...])
    tracework.ingest_mturk(project, "Batch_1_batch_results.csv")
    tracework.status(project)
"""

from __future__ import annotations

from tracework.errors import TraceworkError
from tracework.export import ExportReport, export_coco, export_yolo
from tracework.ingest import ImportReport, ingest_mturk, ingest_qualtrics
from tracework.project import Category, Project, init, open_project
from tracework.status import StatusReport, log, status, verify

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Category",
    "ExportReport",
    "ImportReport",
    "Project",
    "StatusReport",
    "TraceworkError",
    "export_coco",
    "export_yolo",
    "ingest_mturk",
    "ingest_qualtrics",
    "init",
    "log",
    "open_project",
    "status",
    "verify",
]
