"""The canonical exported dataset: images, annotations with their provenance, and the
consented answers of the workers who made them. Every export format is built from these types;
:func:`tracework.dataset.select_dataset` reads them from a project."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tracework.core.project import Category

__all__ = ["LAYERS", "STATUSES", "Annotation", "Dataset", "Image", "Layer", "StatusChoice"]

STATUSES = ("approved", "submitted", "rejected", "all")
StatusChoice = Literal["approved", "submitted", "rejected", "all"]
# individual: each worker's labels; aggregate: the newest mask aggregation run's labels
# (`tracework aggregate`), marked as such; both: the two together.
LAYERS = ("individual", "aggregate", "both")
Layer = Literal["individual", "aggregate", "both"]


@dataclass(frozen=True)
class Image:
    id: int
    file_name: str
    width: int
    height: int
    uri: str
    sha256: str | None


@dataclass(frozen=True)
class Annotation:
    id: int
    image_id: int
    category: str
    kind: str                      # "mask", "bbox" or "polygon"
    bbox: tuple[float, float, float, float]
    area: float
    rle: dict[str, Any] | None     # COCO RLE with string counts, for masks
    worker: str
    attributes: dict[str, Any]
    polygon: list[list[float]] | None = None  # as drawn: [[x1, y1, x2, y2, …], …]


@dataclass
class Dataset:
    name: str
    categories: list[Category]
    images: list[Image]
    annotations: list[Annotation]
    published_answers: dict[str, dict[str, Any]]     # pseudonym -> consented answers
    workers: list[str]                               # every contributing pseudonym
    ledger_head: str
    ledger_entries: int
    filters: dict[str, Any] = field(default_factory=dict)
    # What the user should know about the selection: old category names a filter resolved,
    # labels exported under a retired category.
    notes: list[str] = field(default_factory=list)
    # The value chain in force of each batch with selected labels (by batch key, in key
    # order): what the work was for, through whom, at what pay and time budget.
    value_chains: list[dict[str, Any]] = field(default_factory=list)

    def category_index(self) -> dict[str, int]:
        return {c.name: i for i, c in enumerate(self.categories)}
