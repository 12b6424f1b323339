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
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from tracework.core.errors import InputError
from tracework.core.files import copy_atomic, open_atomic, safe_name, write_atomic
from tracework.core.model import Annotation, Dataset, Image
from tracework.core.project import Project
from tracework.dataset.select import Selection, open_selection, select_dataset
from tracework.formats import coco, yolo

__all__ = ["PARQUET_FILE", "ExportReport", "Identical", "Progress", "coco_writer", "export_coco",
           "export_labelstudio", "export_parquet", "export_yolo", "parquet_writer",
           "yolo_label_groups", "yolo_writer"]



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
    label_rows: int = 0           # YOLO: rows written, one per annotation with a shape
    label_files_split: int = 0    # YOLO: images given per-worker files to keep rows distinct
    rows_shared: int = 0          # YOLO, identical="merge": annotations on another's row

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
                segmentation: coco.Segmentation = "polygon",
                images_dir: Path | str | None = None, layer: str = "individual",
                layout: coco.Layout = "tracework", split: str = "default",
                images_at: str = "", progress: Progress | None = None) -> ExportReport:
    """Write ``OUT/annotations.json`` (COCO) and, given the task images, ``OUT/images/``.

    ``segmentation``: masks as polygons (default; ``area`` and ``bbox`` stay the mask's) or as
    exact RLE; crowd regions are RLE either way. ``layout="datumaro"`` writes
    ``OUT/annotations/instances_<split>.json`` and ``OUT/images/<split>/`` instead.
    ``images_at`` records in ``info`` where the images are, relative to the annotation file,
    when they are not copied beside it. ``layer``: "individual" (each worker's labels),
    "aggregate" (the aggregated labels of `tracework aggregate`, marked
    ``"layer": "aggregate"``) or "both". ``progress(done, total)`` hears of the annotations
    written. The document is written as the annotations are read, never held whole."""
    out = _check_out(Path(out))
    _, images_rel = coco.layout_paths(layout, _split_name(split))
    with open_selection(project, status=status, batches_=batches, categories=categories,
                        layer=layer) as chosen:
        report = _report("coco", out, chosen)
        tick = _ticker(progress, chosen.labels.total)
        with coco_writer(project, out, chosen, report, segmentation=segmentation,
                         layout=layout, split=split, images_at=images_at) as add:
            for ann in chosen.annotations():
                add(ann)
                tick()
        _copy_images(chosen.data.images, Path(images_dir) if images_dir else None,
                     out / images_rel, report)
    report.images = len(chosen.data.images)
    return report


Progress = Callable[[int, int | None], None]

# Annotations between two calls of a progress callback.
_TICK = 500


def _ticker(progress: Progress | None, total: int) -> Callable[[], None]:
    """A function to call once per annotation written; it tells ``progress`` now and then,
    and always at the last one."""
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None and (done % _TICK == 0 or done == total):
            progress(done, total)

    if progress is not None:
        progress(0, total)
    return tick


def _report(fmt: str, out: Path, chosen: Selection) -> ExportReport:
    data = chosen.data
    return ExportReport(fmt, str(out), ledger_head=data.ledger_head, notes=data.notes,
                        annotations=chosen.labels.total, workers=len(data.workers),
                        workers_with_published_answers=len(data.published_answers))


@contextmanager
def coco_writer(project: Project, out: Path, chosen: Selection, report: ExportReport, *,
                segmentation: coco.Segmentation = "polygon", layout: coco.Layout = "tracework",
                split: str = "default", images_at: str = "",
                ) -> Iterator[Callable[[Annotation], None]]:
    """The COCO file of :func:`export_coco`, written as the block adds each annotation (in
    :meth:`Selection.annotations` order); it gets its name when the block ends."""
    data = chosen.data
    ann_rel, _ = coco.layout_paths(layout, _split_name(split))
    meta = project.config.get("project", {})
    head = coco.head(data, info=_info(project, data, "coco"),
                     license_name=str(meta.get("license", "")))
    if images_at:
        head["info"]["tracework"]["images"] = images_at
    for im in head["images"]:
        im["file_name"] = safe_name(im["file_name"], f"image_{im['id']}")
    cat_ids = coco.category_ids(data)
    with open_atomic(out / ann_rel) as fh:
        writer = coco.Writer(fh, head)
        yield lambda ann: writer.add(coco.annotation(ann, cat_ids, segmentation))
        writer.close()
    report.files.append(ann_rel)


def _split_name(split: str) -> str:
    name = safe_name(split, "")
    if not name or name != split:
        raise InputError(f"a split name takes only letters, digits, '.', '_' and '-': {split!r}",
                         field="--split")
    return name


def export_yolo(project: Project, out: Path | str, *, task: yolo.Task = "detect",
                status: str = "approved", batches: Collection[str] = (),
                categories: Collection[str] = (), per_worker: bool = False,
                images_dir: Path | str | None = None, layer: str = "individual",
                identical: Identical = "split", progress: Progress | None = None) -> ExportReport:
    """Write a YOLO dataset: data.yaml, images/train, labels/train, and the provenance sidecars.

    ``per_worker`` gives every (image, worker) pair its own image copy and label file, so
    each file holds one person's labels; otherwise an image's file holds the labels of
    everyone who labelled it, told apart by ``provenance.jsonl``, except where two rows would
    be identical (see :func:`yolo_label_groups`; ``identical="merge"`` instead writes such a
    row once and lists every annotation it stands for under ``same_row`` on its provenance
    line, so each image has one copy). Line N of ``provenance.jsonl``'s entries for
    a label file is row N of that file, one row per annotation, as Ultralytics' loader reads
    it. ``layer`` as for :func:`export_coco` (aggregated rows are marked in
    ``provenance.jsonl``); ``progress`` as there. Images are read and written one at a time.
    """
    out = _check_out(Path(out))
    with open_selection(project, status=status, batches_=batches, categories=categories,
                        layer=layer) as chosen:
        report = _report("yolo", out, chosen)
        tick = _ticker(progress, chosen.labels.total)
        with yolo_writer(project, out, chosen, report, task=task, per_worker=per_worker,
                         images_dir=images_dir, identical=identical) as add:
            for image, anns in chosen.by_image():
                add(image, anns)
                for _ in anns:
                    tick()
    return report


@contextmanager
def yolo_writer(project: Project, out: Path, chosen: Selection, report: ExportReport, *,
                task: yolo.Task = "detect", per_worker: bool = False,
                images_dir: Path | str | None = None, identical: Identical = "split",
                ) -> Iterator[Callable[[Image, list[Annotation]], None]]:
    """The YOLO dataset of :func:`export_yolo`, written as the block adds each image with its
    labels (in :meth:`Selection.by_image` order); the sidecars are complete when it ends."""
    data = chosen.data
    class_ids = data.category_index()
    src_dir = Path(images_dir) if images_dir is not None else None
    label_files: list[str] = []

    def add(image: Image, anns: list[Annotation], provenance: BinaryIO) -> None:
        groups = _image_groups(image, anns, class_ids, task=task, per_worker=per_worker,
                               identical=identical)
        if not per_worker and any(key for key in groups):
            report.label_files_split += 1
        base = safe_name(image.file_name, f"image_{image.id}")
        for worker, lines in sorted(groups.items()):
            stem, dot, ext = base.rpartition(".")
            if not dot:
                stem, ext = base, "jpg"
            if worker:
                stem = f"{stem}__{safe_name(worker)}"
            name = f"{stem}.{ext}"
            label_rel = f"labels/train/{stem}.txt"
            rows = dict.fromkeys(text for text, _ in lines)     # distinct, in order
            # One sync per label file would cost more than the export: a crash is answered
            # by exporting again, and no file is ever seen half-written under its name.
            write_atomic(out / label_rel, "".join(text + "\n" for text in rows), sync=False)
            label_files.append(label_rel)
            entries = _provenance_rows(lines)
            for number, entry in enumerate(entries, 1):
                provenance.write((json.dumps({
                    "label_file": label_rel, "line": number, "image": name, **entry},
                    ensure_ascii=False) + "\n").encode("utf-8"))
            report.images += 1
            report.label_rows += len(entries)
            report.rows_shared += len(lines) - len(entries)
            if src_dir is not None:
                _copy_images([image], src_dir, out / "images" / "train", report,
                             {image.id: name})

    with open_atomic(out / "provenance.jsonl") as provenance:
        yield lambda image, anns: add(image, anns, provenance)
    workers_doc = {
        "about": "Workers who made these labels, by pseudonym. Survey answers appear only for "
                 "workers who consented to publication.",
        "ledger_head": data.ledger_head,
        "workers": {w: ({"survey": data.published_answers[w]} if w in data.published_answers
                        else {}) for w in data.workers},
    }
    write_atomic(out / "workers.json", json.dumps(workers_doc, ensure_ascii=False, indent=1))
    write_atomic(out / "data.yaml", yolo.data_yaml([c.name for c in data.categories]))
    write_atomic(out / "classes.txt", yolo.classes_txt([c.name for c in data.categories]))
    manifest = _info(project, data, f"yolo-{task}")
    write_atomic(out / "tracework.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    report.files += [*label_files, "provenance.jsonl", "workers.json", "data.yaml",
                     "classes.txt", "tracework.json"]


YoloGroups = dict[tuple[int, str], list[tuple[str, Annotation]]]
Identical = Literal["split", "merge"]


def yolo_label_groups(data: Dataset, *, task: yolo.Task = "detect", per_worker: bool = False,
                      identical: Identical = "split") -> YoloGroups:
    """The YOLO label files to write, keyed by (image id, file suffix), with their rows.

    An image's rows share one file (suffix ``""``) unless two of them would be identical:
    Ultralytics' loader keeps one of identical rows and reorders the rest, which would leave
    provenance lines pointing at labels it dropped. Such an image gets one file (and one image
    copy) per worker instead, suffixed with the pseudonym, and per submission if one worker's
    rows still collide. ``per_worker`` splits every image by worker. ``identical="merge"``
    keeps one file per image and writes identical rows once: the row's annotations are then
    listed together (see :func:`export_yolo`).
    """
    class_ids = data.category_index()
    images = {im.id: im for im in data.images}
    by_image: dict[int, list[Annotation]] = defaultdict(list)
    for ann in data.annotations:
        by_image[ann.image_id].append(ann)
    out: YoloGroups = {}
    for image_id, anns in by_image.items():
        for key, lines in _image_groups(images[image_id], anns, class_ids, task=task,
                                        per_worker=per_worker, identical=identical).items():
            out[(image_id, key)] = lines
    return out


def _image_groups(image: Image, anns: list[Annotation], class_ids: dict[str, int], *,
                  task: yolo.Task, per_worker: bool,
                  identical: Identical) -> dict[str, list[tuple[str, Annotation]]]:
    """One image's label files (by suffix) with their rows: see :func:`yolo_label_groups`."""
    lines = yolo.label_lines(image, anns, class_ids, task)
    if (identical == "merge" and not per_worker) or (not per_worker and _distinct(lines)):
        return {"": lines}
    by_worker: dict[str, list[tuple[str, Annotation]]] = defaultdict(list)
    for line in lines:
        by_worker[line[1].worker].append(line)
    out: dict[str, list[tuple[str, Annotation]]] = {}
    for worker, rows in by_worker.items():
        if _distinct(rows):
            out[worker] = rows
            continue
        for line in rows:
            key = f"{worker}__s{line[1].attributes.get('submission', line[1].id)}"
            out.setdefault(key, []).append(line)
    return out


def _provenance_rows(lines: list[tuple[str, Annotation]]) -> list[dict[str, Any]]:
    """One provenance entry per distinct row, in row order; an annotation whose row repeats an
    earlier one is listed under that row's ``same_row`` (only ``identical="merge"`` leaves
    repeats in a file)."""
    entries: list[dict[str, Any]] = []
    first: dict[str, dict[str, Any]] = {}
    for text, ann in lines:
        # Survey answers live once per worker in workers.json, not on every row.
        attrs = {k: v for k, v in ann.attributes.items() if k != "survey"}
        entry = {"annotation": ann.id, "category": ann.category, **attrs}
        if text in first:
            first[text].setdefault("same_row", []).append(entry)
            continue
        first[text] = entry
        entries.append(entry)
    return entries


def _distinct(lines: list[tuple[str, Annotation]]) -> bool:
    return len({text for text, _ in lines}) == len(lines)


PARQUET_FILE = "data/train-00000-of-00001.parquet"


def export_parquet(project: Project, out: Path | str, *, status: str = "approved",
                   batches: Collection[str] = (), categories: Collection[str] = (),
                   images_dir: Path | str | None = None, layer: str = "individual",
                   progress: Progress | None = None) -> ExportReport:
    """Write ``OUT/data/train-00000-of-00001.parquet``: one row per image, with the image's
    bytes (given the task images) and its labels, each with its provenance (see
    :mod:`tracework.formats.parquet`), plus ``OUT/tracework.json``.

    ``datasets.load_dataset("parquet", data_files=...)`` reads ``image`` as an image;
    polars and pyarrow read the same file. Written a row group at a time; ``progress`` as for
    :func:`export_coco`.
    """
    out = _check_out(Path(out))
    with open_selection(project, status=status, batches_=batches, categories=categories,
                        layer=layer) as chosen:
        report = _report("parquet", out, chosen)
        tick = _ticker(progress, chosen.labels.total)
        with parquet_writer(project, out, chosen, report, images_dir=images_dir) as add:
            for image, anns in chosen.by_image():
                add(image, anns)
                for _ in anns:
                    tick()
    return report


@contextmanager
def parquet_writer(project: Project, out: Path, chosen: Selection, report: ExportReport, *,
                   images_dir: Path | str | None = None,
                   ) -> Iterator[Callable[[Image, list[Annotation]], None]]:
    """The Parquet file of :func:`export_parquet`, written as the block adds each image with
    its labels (every selected image must come, in :meth:`Selection.by_image` order)."""
    from tracework.formats import parquet

    data = chosen.data
    class_ids = data.category_index()
    src_dir = Path(images_dir) if images_dir is not None else None

    def add(image: Image, anns: list[Annotation], writer: parquet.Writer) -> None:
        path = _checked_image(src_dir, image, report) if src_dir is not None else None
        content = None
        if path is not None:
            content = path.read_bytes()
            report.images_copied += 1
        writer.add(parquet.row(image, anns, class_ids, content,
                               safe_name(image.file_name, f"image_{image.id}")))
        report.images += 1

    # Each image comes when its labels do; an image is only ever selected with a label.
    with open_atomic(out / PARQUET_FILE) as fh:
        writer = parquet.Writer(fh, [c.name for c in data.categories])
        yield lambda image, anns: add(image, anns, writer)
        writer.close()
    write_atomic(out / "tracework.json",
                 json.dumps(_info(project, data, "parquet"), ensure_ascii=False, indent=1))
    report.files += [PARQUET_FILE, "tracework.json"]


def _checked_image(images_dir: Path, image: Image, report: ExportReport) -> Path | None:
    src = _find_image(images_dir, image)
    if src is None:
        report.images_missing.append(image.file_name)
        return None
    if image.sha256 is not None and _sha256(src) != image.sha256:
        raise InputError(f"{image.file_name} differs from the image recorded at ingest "
                         f"(sha256 {image.sha256[:12]}…)", file=str(src),
                         hint="Point --images at the original task images.")
    return src


def export_labelstudio(project: Project, out: Path | str, *, status: str = "approved",
                       batches: Collection[str] = (), categories: Collection[str] = (),
                       image_url: str = "/data/local-files/?d=",
                       images_dir: Path | str | None = None,
                       layer: str = "individual") -> ExportReport:
    """Write ``OUT/tasks.json`` (Label Studio's JSON export: one task per image, one
    annotation object per submission, ``completed_by`` the worker's pseudonym) and
    ``OUT/label_config.xml`` (the labelling interface to create the project with), and given
    the task images, ``OUT/images/``. ``image_url`` is put before each file name in
    ``data.image``: the default suits Label Studio's local-files storage.
    """
    from tracework.formats import labelstudio_tasks as labelstudio

    out = _check_out(Path(out))
    data = select_dataset(project, status=status, batches_=batches, categories=categories,
                          layer=layer)
    report = ExportReport("labelstudio", str(out), ledger_head=data.ledger_head, notes=data.notes)
    names = {im.id: safe_name(im.file_name, f"image_{im.id}") for im in data.images}
    tasks = labelstudio.to_tasks(data, image_url, names)
    write_atomic(out / "tasks.json", json.dumps(tasks, ensure_ascii=False, indent=1))
    write_atomic(out / "label_config.xml",
                 labelstudio.label_config([(c.name, c.colour) for c in data.categories]))
    write_atomic(out / "tracework.json",
                 json.dumps(_info(project, data, "labelstudio"), ensure_ascii=False, indent=1))
    report.files += ["tasks.json", "label_config.xml", "tracework.json"]
    _copy_images(data.images, Path(images_dir) if images_dir else None, out / "images", report,
                 names)
    report.images, report.annotations = len(data.images), len(data.annotations)
    report.workers = len(data.workers)
    report.workers_with_published_answers = 0   # survey answers do not travel to Label Studio
    return report
