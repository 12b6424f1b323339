"""Traceable dataset exports: COCO and YOLO, each label with its maker.

Files are written atomically (to a temporary name in the same folder, then renamed), so a
crash never leaves a half-written file under its final name; names built from project data
keep only ``[A-Za-z0-9._-]``. Every export records the tracework version, the ledger head at
export time (a checkpoint for ``tracework verify --expect-head``) and the settings used with the
source that set each one.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracework.core.errors import InputError
from tracework.core.files import copy_atomic, safe_name, write_atomic
from tracework.core.model import Dataset, Image
from tracework.core.project import Project
from tracework.dataset.select import select_dataset
from tracework.formats import coco, yolo

__all__ = ["ExportReport", "export_coco", "export_yolo"]



@dataclass
class ExportReport:
    format: str
    out: str
    files: list[str] = field(default_factory=list)
    images: int = 0
    annotations: int = 0
    workers: int = 0
    workers_with_published_answers: int = 0
    images_copied: int = 0
    images_missing: list[str] = field(default_factory=list)
    ledger_head: str = ""
    notes: list[str] = field(default_factory=list)      # see Dataset.notes

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _info(project: Project, data: Dataset, fmt: str) -> dict[str, Any]:
    from tracework.core import __version__

    chain = project.config.get("value_chain", {})
    return {
        "contributor": chain.get("requester", ""),
        "tracework": {
            "version": __version__,
            "format": fmt,
            "ledger_head": data.ledger_head,
            "ledger_entries": data.ledger_entries,
            "filters": data.filters,
            "settings": project.settings.manifest(),
            "provenance": "each annotation's attributes name its worker (pseudonym), "
                          "submission, batch, review status, taxonomy version, time on task "
                          "and reward; survey answers only for workers who consented to "
                          "publication",
        },
    }


def _find_image(images_dir: Path, image: Image) -> Path | None:
    candidate = images_dir / image.file_name
    try:
        if candidate.is_file() and candidate.resolve().is_relative_to(images_dir.resolve()):
            return candidate
    except OSError:
        return None
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_images(images: list[Image], images_dir: Path | None, dest: Path,
                 report: ExportReport, names: dict[int, str] | None = None) -> None:
    """Copy each image's file, checking it is the one recorded at ingest."""
    if images_dir is None:
        return
    for image in images:
        src = _find_image(images_dir, image)
        if src is None:
            report.images_missing.append(image.file_name)
            continue
        if image.sha256 is not None and _sha256(src) != image.sha256:
            raise InputError(f"{image.file_name} differs from the image recorded at ingest "
                             f"(sha256 {image.sha256[:12]}…)", file=str(src),
                             hint="Point --images at the original task images.")
        target = names[image.id] if names else safe_name(image.file_name, f"image_{image.id}")
        copy_atomic(src, dest / target)
        report.images_copied += 1


def _check_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise InputError("the export target exists and is not a folder", file=str(out))
    out.mkdir(parents=True, exist_ok=True)
    return out


def export_coco(project: Project, out: Path | str, *, status: str = "approved",
                batches: Collection[str] = (), categories: Collection[str] = (),
                segmentation: coco.Segmentation = "rle",
                images_dir: Path | str | None = None, layer: str = "individual") -> ExportReport:
    """Write ``OUT/annotations.json`` (COCO) and, given the task images, ``OUT/images/``.

    ``layer``: "individual" (each worker's labels), "aggregate" (the aggregated labels of
    `tracework aggregate`, marked ``"layer": "aggregate"``) or "both"."""
    out = _check_out(Path(out))
    data = select_dataset(project, status=status, batches_=batches, categories=categories,
                          layer=layer)
    meta = project.config.get("project", {})
    doc = coco.to_coco(data, info=_info(project, data, "coco"), segmentation=segmentation,
                       license_name=str(meta.get("license", "")))
    report = ExportReport("coco", str(out), ledger_head=data.ledger_head, notes=data.notes)
    for im in doc["images"]:
        im["file_name"] = safe_name(im["file_name"], f"image_{im['id']}")
    write_atomic(out / "annotations.json", json.dumps(doc, ensure_ascii=False, indent=1))
    report.files.append("annotations.json")
    _copy_images(data.images, Path(images_dir) if images_dir else None, out / "images", report)
    report.images, report.annotations = len(data.images), len(data.annotations)
    report.workers = len(data.workers)
    report.workers_with_published_answers = len(data.published_answers)
    return report


def export_yolo(project: Project, out: Path | str, *, task: yolo.Task = "detect",
                status: str = "approved", batches: Collection[str] = (),
                categories: Collection[str] = (), per_worker: bool = False,
                images_dir: Path | str | None = None, layer: str = "individual") -> ExportReport:
    """Write a YOLO dataset: data.yaml, images/train, labels/train, and the provenance sidecars.

    ``per_worker`` gives every (image, worker) pair its own image copy and label file, so
    each file holds one person's labels; otherwise an image's file holds the labels of
    everyone who labelled it, told apart by ``provenance.jsonl``. ``layer`` as for
    :func:`export_coco` (aggregated rows are marked in ``provenance.jsonl``).
    """
    out = _check_out(Path(out))
    data = select_dataset(project, status=status, batches_=batches, categories=categories,
                          layer=layer)
    class_ids = data.category_index()
    by_image: dict[tuple[int, str], list[Any]] = defaultdict(list)
    for ann in data.annotations:
        by_image[(ann.image_id, ann.worker if per_worker else "")].append(ann)
    images = {im.id: im for im in data.images}
    report = ExportReport("yolo", str(out), ledger_head=data.ledger_head, notes=data.notes)
    provenance: list[str] = []
    names: dict[tuple[int, str], str] = {}
    for (image_id, worker), anns in sorted(by_image.items()):
        image = images[image_id]
        base = safe_name(image.file_name, f"image_{image_id}")
        stem, dot, ext = base.rpartition(".")
        if not dot:
            stem, ext = base, "jpg"
        if per_worker:
            stem = f"{stem}__{safe_name(worker)}"
        names[(image_id, worker)] = f"{stem}.{ext}"
        lines = yolo.label_lines(image, anns, class_ids, task)
        label_rel = f"labels/train/{stem}.txt"
        write_atomic(out / label_rel, "".join(line + "\n" for line, _ in lines))
        report.files.append(label_rel)
        for number, (_, ann) in enumerate(lines, 1):
            # Survey answers live once per worker in workers.json, not on every row.
            attrs = {k: v for k, v in ann.attributes.items() if k != "survey"}
            provenance.append(json.dumps({
                "label_file": label_rel, "line": number, "image": names[(image_id, worker)],
                "annotation": ann.id, "category": ann.category, **attrs}, ensure_ascii=False))
    write_atomic(out / "provenance.jsonl", "".join(p + "\n" for p in provenance))
    workers_doc = {
        "about": "Workers who made these labels, by pseudonym. Survey answers appear only for "
                 "workers who consented to publication.",
        "ledger_head": data.ledger_head,
        "workers": {w: ({"survey": data.published_answers[w]} if w in data.published_answers
                        else {}) for w in data.workers},
    }
    write_atomic(out / "workers.json", json.dumps(workers_doc, ensure_ascii=False, indent=1))
    write_atomic(out / "data.yaml", yolo.data_yaml([c.name for c in data.categories]))
    manifest = _info(project, data, f"yolo-{task}")
    write_atomic(out / "tracework.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    report.files += ["provenance.jsonl", "workers.json", "data.yaml", "tracework.json"]
    if images_dir is not None:
        src_dir = Path(images_dir)
        for (image_id, _worker), name in sorted(names.items()):
            _copy_images([images[image_id]], src_dir, out / "images" / "train", report,
                         {image_id: name})
    report.images, report.annotations = len(names), len(data.annotations)
    report.workers = len(data.workers)
    report.workers_with_published_answers = len(data.published_answers)
    return report
