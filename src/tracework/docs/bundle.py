"""A publishable bundle: the dataset, its documentation and its change log, in one folder.

::

    OUT/
      coco/annotations.json                              its images are yolo/images/train/
      yolo/ (data.yaml, classes.txt, labels/, provenance.jsonl, workers.json, and given the
            task images images/train/, the one copy of each image)
      parquet/data/train-00000-of-00001.parquet          each image with its labels, for
                                                         `datasets` (the card's default config)
      records/annotations.jsonl, records/images.jsonl   one row per label / image
      DATASHEET.md, DATASHEET.html                       the datasheet
      README.md                                          the dataset card
      CREDITS.md, credits.json                           who made it, by chosen name
      ledger.jsonl, ledger-head.json                     the change log and its head
      croissant.json                                     describes and hashes all of the above

Everything is computed from one selection; if the project changes while the bundle is being
written (its change-log head moves), the export fails instead of mixing two states.
``croissant.json`` is written last and lists every other file with its SHA-256.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracework.core.errors import ConflictError, InputError
from tracework.core.project import Project
from tracework.dataset.export import export_coco, export_parquet, export_yolo
from tracework.dataset.select import select_dataset
from tracework.docs.card import export_card
from tracework.docs.credits import export_credits
from tracework.docs.croissant import CROISSANT_FILE, export_croissant, write_records
from tracework.docs.datasheet import export_datasheet
from tracework.docs.facts import gather
from tracework.docs.ledger_export import export_ledger
from tracework.formats import coco, yolo

__all__ = ["BundleReport", "export_bundle"]


@dataclass
class BundleReport:
    out: str
    files: list[str] = field(default_factory=list)
    images: int = 0
    annotations: int = 0
    workers: int = 0
    credited: int = 0
    images_copied: int = 0
    images_missing: list[str] = field(default_factory=list)
    ledger_head: str = ""
    ledger_redacted: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _is_bundle(folder: Path) -> bool:
    try:
        doc = json.loads((folder / CROISSANT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "tracework:ledgerHead" in doc


def _prepare(out: Path, replace: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("the bundle target exists and is not a folder", file=str(out))
    if out.is_dir() and any(out.iterdir()):
        if not (replace and _is_bundle(out)):
            raise ConflictError(
                f"{out} is not empty: a bundle lists every file of its folder",
                hint="Choose a new folder, or pass --replace to overwrite an earlier bundle.")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def export_bundle(project: Project, out: Path | str, *, status: str = "approved",
                  batches: Collection[str] = (), categories: Collection[str] = (),
                  images_dir: Path | str | None = None, segmentation: coco.Segmentation = "polygon",
                  yolo_task: yolo.Task = "segment", replace: bool = False) -> BundleReport:
    """Write the dataset (COCO, YOLO), its documentation and its change log into ``out``."""
    out = Path(out)
    _prepare(out, replace)
    data = select_dataset(project, status=status, batches_=batches, categories=categories)
    facts = gather(project, data)
    # One copy of each image, in YOLO's place for it; the COCO file names the same files.
    c = export_coco(project, out / "coco", status=status, batches=batches,
                    categories=categories, segmentation=segmentation,
                    images_at="../yolo/images/train" if images_dir is not None else "")
    y = export_yolo(project, out / "yolo", task=yolo_task, status=status, batches=batches,
                    categories=categories, images_dir=images_dir, identical="merge")
    pq = export_parquet(project, out / "parquet", status=status, batches=batches,
                        categories=categories, images_dir=images_dir)
    if {c.ledger_head, y.ledger_head, pq.ledger_head} != {facts.ledger_head}:
        raise ConflictError("the project changed while the bundle was written",
                            hint="Run the export again when no one is changing the project.")
    export_datasheet(project, out / "DATASHEET.md", html=True, facts=facts)
    export_credits(project, out, facts=facts)
    led = export_ledger(project, out)
    if led.head != facts.ledger_head:
        raise ConflictError("the project changed while the bundle was written",
                            hint="Run the export again when no one is changing the project.")
    # The card announces records/annotations.jsonl to the Hub, so the records go first.
    write_records(project, facts, out)
    export_card(project, out / "README.md", facts=facts)
    export_croissant(project, out / CROISSANT_FILE, facts=facts)
    report = BundleReport(str(out), images=len(data.images), annotations=len(data.annotations),
                          workers=facts.contributors, credited=len(facts.credits.names),
                          images_copied=y.images_copied, images_missing=y.images_missing,
                          ledger_head=facts.ledger_head, ledger_redacted=led.redacted)
    report.files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return report
