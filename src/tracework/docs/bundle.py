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

Everything is computed from one selection, read once: each image with its labels goes to
every writer in turn, so memory stays flat as the dataset grows. If the project changes while
the bundle is being written (its change-log head moves), the export fails instead of mixing
two states.
``croissant.json`` is written last and lists every other file with its SHA-256.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracework.core.errors import ConflictError, InputError
from tracework.core.project import Project
from tracework.dataset.export import (
    ExportReport,
    Progress,
    coco_writer,
    parquet_writer,
    yolo_writer,
)
from tracework.dataset.select import Selection, open_selection
from tracework.docs.card import export_card
from tracework.docs.credits import export_credits
from tracework.docs.croissant import CROISSANT_FILE, export_croissant, records_writer
from tracework.docs.datasheet import export_datasheet
from tracework.docs.facts import Facts, gather
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
                  yolo_task: yolo.Task = "segment", replace: bool = False,
                  progress: Progress | None = None) -> BundleReport:
    """Write the dataset (COCO, YOLO, Parquet, records), its documentation and its change log
    into ``out``. The selection is read once, image by image, and each image with its labels
    goes to every writer in turn; ``progress(done, total)`` hears of the annotations written.
    """
    out = Path(out)
    _prepare(out, replace)
    with open_selection(project, status=status, batches_=batches,
                        categories=categories) as chosen:
        data = chosen.data
        facts = gather(project, data, chosen.labels)
        if facts.ledger_head != data.ledger_head:
            raise ConflictError("the project changed while the bundle was written",
                                hint="Run the export again when no one is changing the project.")
        y = _write_dataset(project, out, chosen, facts, images_dir=images_dir,
                           segmentation=segmentation, yolo_task=yolo_task, progress=progress)
    export_datasheet(project, out / "DATASHEET.md", html=True, facts=facts)
    export_credits(project, out, facts=facts)
    led = export_ledger(project, out)
    if led.head != facts.ledger_head:
        raise ConflictError("the project changed while the bundle was written",
                            hint="Run the export again when no one is changing the project.")
    export_card(project, out / "README.md", facts=facts)
    export_croissant(project, out / CROISSANT_FILE, facts=facts, records=False)
    report = BundleReport(str(out), images=len(data.images), annotations=chosen.labels.total,
                          workers=facts.contributors, credited=len(facts.credits.names),
                          images_copied=y.images_copied, images_missing=y.images_missing,
                          ledger_head=facts.ledger_head, ledger_redacted=led.redacted)
    report.files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return report


def _write_dataset(project: Project, out: Path, chosen: Selection, facts: Facts, *,
                   images_dir: Path | str | None, segmentation: coco.Segmentation,
                   yolo_task: yolo.Task, progress: Progress | None) -> ExportReport:
    """COCO, YOLO, Parquet and the record files, in one pass over the selection; the YOLO
    report (which holds the one copy of each image)."""
    reports = {name: ExportReport(name, str(out / name), ledger_head=chosen.data.ledger_head)
               for name in ("coco", "yolo", "parquet")}
    total, done = chosen.labels.total, 0
    with ExitStack() as stack:
        # One copy of each image, in YOLO's place for it; the COCO file names the same files.
        to_coco = stack.enter_context(coco_writer(
            project, out / "coco", chosen, reports["coco"], segmentation=segmentation,
            images_at="../yolo/images/train" if images_dir is not None else ""))
        to_yolo = stack.enter_context(yolo_writer(
            project, out / "yolo", chosen, reports["yolo"], task=yolo_task,
            images_dir=images_dir, identical="merge"))
        to_parquet = stack.enter_context(parquet_writer(
            project, out / "parquet", chosen, reports["parquet"], images_dir=images_dir))
        # The card announces records/annotations.jsonl to the Hub: the records are written
        # before it.
        to_records = stack.enter_context(records_writer(project, facts, out))
        if progress is not None:
            progress(0, total)
        for image, anns in chosen.by_image():
            for ann in anns:
                to_coco(ann)
                to_records(ann)
            to_yolo(image, anns)
            to_parquet(image, anns)
            done += len(anns)
            if progress is not None:
                progress(done, total)
    return reports["yolo"]
