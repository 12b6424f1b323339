"""tracework: a provenance and labour ledger for human-annotated datasets.

Every command line verb is a function here of the same name::

    import tracework
    project = tracework.init("mouse-parts", categories=[...])
    tracework.ingest_mturk(project, "Batch_1_batch_results.csv")
    tracework.status(project)
"""

from __future__ import annotations

from tracework.core import __version__
from tracework.core.errors import (
    ConfigError,
    ConflictError,
    InputError,
    IntegrityError,
    LedgerError,
    MaskError,
    NotFound,
    ProjectNotFound,
    StoreError,
    TraceworkError,
)
from tracework.core.project import Category, Project, init, open_project
from tracework.core.status import StatusReport, log, seal_existing, status, verify
from tracework.dataset import ExportReport, export_coco, export_yolo
from tracework.ingest import (
    ImportReport,
    ingest_cvat,
    ingest_labelstudio,
    ingest_mturk,
    ingest_qualtrics,
)

__all__ = [
    "__version__",
    "Category",
    "ConfigError",
    "ConflictError",
    "InputError",
    "IntegrityError",
    "LedgerError",
    "MaskError",
    "NotFound",
    "ProjectNotFound",
    "StoreError",
    "ExportReport",
    "ImportReport",
    "Project",
    "StatusReport",
    "TraceworkError",
    "export_coco",
    "export_yolo",
    "ingest_cvat",
    "ingest_labelstudio",
    "ingest_mturk",
    "ingest_qualtrics",
    "init",
    "log",
    "open_project",
    "seal_existing",
    "status",
    "verify",
]
