"""The dataset a project exports: :func:`select_dataset` reads the canonical
:class:`~tracework.core.model.Dataset` (each annotation with its provenance, consented answers
only, the aggregated layer when asked for), and :mod:`~tracework.dataset.export` writes COCO
YOLO and Parquet from it, atomically, with a manifest of the ledger head and the settings used.
The exports read it through :func:`open_selection`, which streams the annotations from the
store instead of holding them, so their memory does not grow with the dataset.

May import: :mod:`tracework.core` and :mod:`tracework.formats`.
"""

from __future__ import annotations

from tracework.core.model import LAYERS, STATUSES, Annotation, Dataset, Image
from tracework.dataset.export import (
           ExportReport,
           export_coco,
           export_labelstudio,
           export_parquet,
           export_yolo,
)
from tracework.dataset.select import Labels, Selection, open_selection, select_dataset

__all__ = ["LAYERS", "STATUSES", "Annotation", "Dataset", "ExportReport", "Image", "Labels",
           "Selection", "export_coco", "export_labelstudio", "export_parquet", "export_yolo",
           "open_selection", "select_dataset"]
