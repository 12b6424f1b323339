"""tracework: a provenance and labour ledger for human-annotated datasets.

Every command line verb is a function here of the same name::

    import tracework
    project = tracework.init("mouse-parts", categories=[...])
    tracework.ingest_mturk(project, "Batch_1_batch_results.csv")
    tracework.status(project)
"""

from __future__ import annotations

from tracework.core import __version__
from tracework.core.erasure import ErasureReport, erase_worker
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
from tracework.core.privacy import ConsentChange, consent_set
from tracework.core.project import Category, Project, init, open_project
from tracework.core.status import StatusReport, log, seal_existing, status, verify
from tracework.dataset import (
    ExportReport,
    export_coco,
    export_labelstudio,
    export_parquet,
    export_yolo,
)
from tracework.ingest import (
    ImportReport,
    ingest_cvat,
    ingest_labelstudio,
    ingest_mturk,
    ingest_qualtrics,
)
from tracework.ingest.crowd import ingest_groundtruth, ingest_toloka
from tracework.ingest.prolific import ingest_prolific

__all__ = [
    "__version__",
    "Category",
    "ConsentChange",
    "ErasureReport",
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
    "consent_set",
    "erase_worker",
    "export_coco",
    "export_labelstudio",
    "export_parquet",
    "export_yolo",
    "ingest_cvat",
    "ingest_groundtruth",
    "ingest_labelstudio",
    "ingest_mturk",
    "ingest_prolific",
    "ingest_qualtrics",
    "ingest_toloka",
    "init",
    "log",
    "open_project",
    "seal_existing",
    "status",
    "verify",
]
