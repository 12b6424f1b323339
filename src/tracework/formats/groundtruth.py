"""SageMaker Ground Truth output → the canonical :class:`~tracework.formats.canonical.PlatformFile`.

The **output manifest** (``<job>/manifests/output/output.manifest``; AWS SageMaker developer
guide, "Output data") is JSON Lines: each input line copied, plus for every labelling job the
line went through a label attribute ``<attr>`` and its ``<attr>-metadata`` (``job-name``,
``type``, ``creation-date`` without a zone, read as UTC, ``human-annotated``, ``confidence``).
By ``type``:

``groundtruth/object-detection``
    ``{"image_size": [{"width", "height", "depth"}], "annotations": [{"class_id", "left",
    "top", "width", "height"}]}`` in pixels; metadata ``class-map`` (string keys) and
    ``objects[].confidence`` in the same order: one box label each;
``groundtruth/semantic-segmentation``
    the attribute ends in ``-ref`` and holds the consolidated PNG's S3 URI; metadata
    ``internal-color-map`` ``{"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"}, …}``.
    When the PNG is found by name in the ``images`` folder it is decoded through
    :mod:`tracework.formats.masks` (the BACKGROUND colour is the background) into one mask
    per class; otherwise the answer is kept raw and counted;
``groundtruth/image-classification``, ``text-classification``, ``label-verification``
    ``class-name`` in the metadata: one ``class`` label (verification adds the workers'
    ``worker-feedback`` comments as an attribute);
``…-multilabel``
    a list of class ids and the ``class-map``: one ``labels`` label.

Other types (text spans, video, point clouds, custom jobs) are counted and kept raw.

The manifest names **no worker**. Without the job's **worker response files**
(``annotations/worker-response/iteration-N/<dataset object id>/<time>.json``, the object id being
the manifest line's 0-based index) each labelled line becomes one Work attributed to the job
(``attribution="job"``), never to an invented worker, and the notes say that per-worker
provenance needs those files. With them, each ``answers[]`` entry is one person's Work:
``workerId`` and ``workerMetadata.identityData`` (``sub``, ``issuer``, …: all to the vault),
``acceptanceTime``, ``submissionTime`` and ``timeSpentInSeconds`` (active time), and the
``answerContent`` (the crowd element's output: bounding boxes, classifier labels,
segmentation PNGs, polygons) turned into labels in pixels. The manifest's consolidated label of
an object that has worker responses is Ground Truth's combination of them, so it is not stored
again as the job's work; the notes count those objects.

Ground Truth's files hold no pay (the price per task is in the job's settings) and no review.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

from tracework.core.errors import ConfigError, InputError, MaskError
from tracework.formats.canonical import Batch, Label, Person, PlatformFile, Work
from tracework.formats.csvio import DEFAULT_MAX_FIELD_BYTES, loads_json, quote_cell
from tracework.formats.dates import parse_iso
from tracework.formats.masks import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    decode_label_png,
    decode_mask_cell,
)

__all__ = ["PLATFORM", "read_groundtruth", "response_files"]

PLATFORM = "groundtruth"
_META = "-metadata"
_ITERATION = re.compile(r"iteration-(\d+)")
_CLASSIFICATION = ("groundtruth/image-classification", "groundtruth/text-classification",
                   "groundtruth/label-verification")
_NO_PNG = "semantic-segmentation label map (PNG not found: give the images folder)"


@dataclass
class _Object:
    """One manifest line."""

    index: int
    source: str | None
    record: dict[str, Any]
    width: int | None = None
    height: int | None = None


@dataclass
class _Context:
    manifest: str
    images: Path | None
    max_bytes: int
    max_pixels: int
    machine: int = 0
    unlabelled: int = 0
    jobs: dict[str, Batch] = field(default_factory=dict)

    def fail(self, row: int | None, field_name: str | None, message: str,
             file: str | None = None) -> InputError:
        return InputError(message, file=file or self.manifest, row=row, field=field_name)


def _lines(path: str, max_line: int) -> Iterator[tuple[int, str]]:
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InputError("file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", file=path) from None
    with handle:
        blank_at: int | None = None
        for number, raw in enumerate(handle, start=1):
            if len(raw) > max_line:
                raise InputError(f"line {number} is longer than {max_line:,} bytes", file=path,
                                 row=number)
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"line {number} is not valid UTF-8 (byte offset {exc.start})",
                                 file=path, row=number) from None
            if not text.strip():
                blank_at = blank_at or number
                continue
            if blank_at is not None:
                # A blank line would shift every later line's dataset object id.
                raise InputError(f"a blank line between records (line {blank_at}); each line "
                                 "must be one JSON object", file=path, row=blank_at)
            yield number, text


def _number(ctx: _Context, row: int, where: str, value: object, file: str | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ctx.fail(row, where, f"{quote_cell(str(value))} is not a number", file)
    return float(value)


def _job(ctx: _Context, attr: str, meta: Mapping[str, Any], row: int) -> str:
    job = meta.get("job-name", attr)
    if not isinstance(job, str) or not job.strip():
        raise ctx.fail(row, f"{attr}{_META}.job-name", "the job name is not text")
    job = job.strip().removeprefix("labeling-job/")
    if job not in ctx.jobs:
        ctx.jobs[job] = Batch(key=job, title=f"Ground Truth job {job}")
    return job


def _created(ctx: _Context, attr: str, meta: Mapping[str, Any], row: int) -> datetime | None:
    text = meta.get("creation-date")
    if text is None:
        return None
    try:
        return parse_iso(str(text), UTC)
    except ValueError as exc:
        raise ctx.fail(row, f"{attr}{_META}.creation-date",
                       f"{quote_cell(str(text))} is not a date ({exc})") from None


def _boxes(ctx: _Context, obj: _Object, attr: str, value: Any, meta: Mapping[str, Any]
           ) -> list[Label]:
    row = obj.index + 1
    if not isinstance(value, dict) or not isinstance(value.get("annotations"), list):
        raise ctx.fail(row, attr, "a bounding-box label must hold an 'annotations' list")
    sizes = value.get("image_size")
    if isinstance(sizes, list) and sizes and isinstance(sizes[0], dict):
        obj.width = int(_number(ctx, row, f"{attr}.image_size.width", sizes[0].get("width")))
        obj.height = int(_number(ctx, row, f"{attr}.image_size.height", sizes[0].get("height")))
    classes = meta.get("class-map") or {}
    objects = meta.get("objects") or []
    labels = []
    for k, box in enumerate(value["annotations"]):
        where = f"{attr}.annotations[{k}]"
        if not isinstance(box, dict):
            raise ctx.fail(row, where, "a box must be an object")
        x, y, w, h = (_number(ctx, row, f"{where}.{n}", box.get(n))
                      for n in ("left", "top", "width", "height"))
        if w < 0 or h < 0:
            raise ctx.fail(row, where, "a box has a negative width or height")
        class_id = str(box.get("class_id"))
        attributes: dict[str, Any] = {"class_id": box.get("class_id")}
        if k < len(objects) and isinstance(objects[k], dict) and "confidence" in objects[k]:
            attributes["confidence"] = objects[k]["confidence"]
        labels.append(Label(attr, "bbox", str(classes.get(class_id, class_id)),
                            bbox=(x, y, w, h), attributes=attributes))
    return labels


def _local(ctx: _Context, uri: str) -> Path | None:
    if ctx.images is None:
        return None
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    path = ctx.images / name
    return path if name and path.is_file() else None


def _segmentation(ctx: _Context, obj: _Object, attr: str, value: Any, meta: Mapping[str, Any],
                  unconverted: dict[str, int]) -> list[Label]:
    row = obj.index + 1
    colours: dict[str, str] = {}
    background: str | None = None
    cmap = meta.get("internal-color-map")
    if not isinstance(cmap, dict):
        raise ctx.fail(row, f"{attr}{_META}.internal-color-map", "missing or not an object")
    for index, entry in cmap.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("hex-color"), str):
            raise ctx.fail(row, f"{attr}{_META}.internal-color-map.{index}",
                           "each class needs a class-name and a hex-color")
    # The class named BACKGROUND is the background; without one, class 0 is.
    named = [k for k, e in cmap.items() if str(e.get("class-name", "")).upper() == "BACKGROUND"]
    back = named[0] if named else ("0" if "0" in cmap else None)
    for index, entry in cmap.items():
        if index == back:
            background = entry["hex-color"]
        else:
            colours[str(entry.get("class-name", index))] = entry["hex-color"]
    path = _local(ctx, value) if isinstance(value, str) else None
    if path is None:
        unconverted[_NO_PNG] = unconverted.get(_NO_PNG, 0) + 1
        return []
    try:
        result = decode_label_png(path.read_bytes(), colours, background=background,
                                  max_pixels=ctx.max_pixels)
    except MaskError as exc:
        raise exc.located(file=str(path), row=row, field=attr) from None
    except ConfigError as exc:  # the background colour the manifest gives is not a colour
        raise ctx.fail(row, f"{attr}{_META}.internal-color-map", str(exc)) from None
    obj.width, obj.height = result.width, result.height
    confidence = {str(e.get("class-name")): e.get("confidence") for e in cmap.values()}
    return [Label(attr, "mask", part.category, bbox=part.bbox, mask=part.rle,
                  attributes={"area": part.area, "confidence": confidence.get(part.category)})
            for part in result.parts]


def _manifest_labels(ctx: _Context, obj: _Object, attr: str, meta: Mapping[str, Any],
                     unconverted: dict[str, int]) -> list[Label]:
    kind = str(meta.get("type", ""))
    value = obj.record[attr]
    if kind == "groundtruth/object-detection":
        return _boxes(ctx, obj, attr, value, meta)
    if kind == "groundtruth/semantic-segmentation":
        return _segmentation(ctx, obj, attr, value, meta, unconverted)
    if kind in _CLASSIFICATION:
        attributes: dict[str, Any] = {"confidence": meta.get("confidence")}
        feedback = meta.get("worker-feedback")
        if isinstance(feedback, list):
            attributes["worker_feedback"] = [f.get("comment") for f in feedback
                                             if isinstance(f, dict)]
        return [Label(attr, "class", str(meta.get("class-name")), value=value,
                      attributes=attributes)]
    if kind.endswith("-multilabel"):
        classes = meta.get("class-map") or {}
        ids = value if isinstance(value, list) else [value]
        return [Label(attr, "labels", None, value=[str(classes.get(str(i), i)) for i in ids],
                      attributes={"confidence-map": meta.get("confidence-map")})]
    key = f"type {kind or '(none)'}"
    unconverted[key] = unconverted.get(key, 0) + 1
    return []


def _label_attributes(record: Mapping[str, Any]) -> list[str]:
    return [k for k in record if not k.endswith(_META) and isinstance(
        record.get(k + _META), dict)]


def _read_manifest(ctx: _Context, max_line: int) -> list[_Object]:
    objects = []
    for number, text in _lines(ctx.manifest, max_line):
        try:
            record = loads_json(text)
        except ValueError as exc:
            raise ctx.fail(number, None, str(exc)) from None
        if not isinstance(record, dict):
            raise ctx.fail(number, None, "each line must be a JSON object")
        source = record.get("source-ref", record.get("source"))
        if source is not None and not isinstance(source, str):
            raise ctx.fail(number, "source-ref", "must be text (an S3 URI)")
        objects.append(_Object(index=number - 1, source=source, record=record))
    if not objects:
        raise InputError("no records: the manifest is empty", file=ctx.manifest)
    return objects


def _job_work(ctx: _Context, obj: _Object, attr: str) -> Work:
    meta = obj.record[attr + _META]
    row = obj.index + 1
    job = _job(ctx, attr, meta, row)
    unconverted: dict[str, int] = {}
    labels = _manifest_labels(ctx, obj, attr, meta, unconverted)
    machine = str(meta.get("human-annotated", "yes")).lower() == "no"
    ctx.machine += machine
    raw = {k: v for k, v in obj.record.items()
           if k == attr or k == attr + _META or not isinstance(obj.record.get(k + _META), dict)
           and not k.endswith(_META)}
    return Work(row=row, assignment_id=f"{job}/{obj.index}/{attr}", task_id=str(obj.index),
                batch_key=job, worker=None, attribution="job",
                asset_uri=obj.source if "source-ref" in obj.record else None,
                asset_width=obj.width, asset_height=obj.height,
                submit_time=_created(ctx, attr, meta, row), labels=labels, raw=raw,
                unconverted=unconverted)


def _iteration_dirs(base: Path) -> list[Path]:
    if _ITERATION.fullmatch(base.name):
        return [base]
    for candidate in (base, base / "worker-response", base / "annotations" / "worker-response"):
        if candidate.is_dir():
            found = sorted(p for p in candidate.iterdir()
                           if p.is_dir() and _ITERATION.fullmatch(p.name))
            if found:
                return found
    raise InputError("no iteration-N folders of worker responses found (expected "
                     "annotations/worker-response/iteration-1/…)", file=str(base))


def response_files(root: str | PathLike[str]) -> list[tuple[int, int, Path]]:
    """``(iteration, dataset object id, file)`` of every worker response under ``root`` (the
    job's folder, its ``annotations`` or ``worker-response`` folder, or one iteration)."""
    base = Path(root)
    if not base.is_dir():
        raise InputError("is not a folder of worker responses", file=str(base))
    found = []
    for folder in _iteration_dirs(base):
        match = _ITERATION.fullmatch(folder.name)
        number = int(match.group(1)) if match else 0
        for obj_dir in folder.iterdir():
            if obj_dir.is_dir() and obj_dir.name.isdigit():
                found += [(number, int(obj_dir.name), f) for f in obj_dir.glob("*.json")]
    return sorted(found)


def _redacted(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        return "<worker>" if value.strip() in secrets else value
    if isinstance(value, list):
        return [_redacted(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v, secrets) for k, v in value.items()}
    return value


@dataclass
class _Answer:
    """Where one worker answer sits, for its labels and error messages."""

    ctx: _Context
    file: str
    row: int
    obj: _Object
    unconverted: dict[str, int] = field(default_factory=dict)

    def fail(self, where: str, message: str) -> InputError:
        return self.ctx.fail(self.row, where, message, self.file)

    def count(self, key: str) -> None:
        self.unconverted[key] = self.unconverted.get(key, 0) + 1

    def size(self, value: Mapping[str, Any], where: str) -> None:
        props = value.get("inputImageProperties")
        if isinstance(props, dict):
            self.obj.width = int(_number(self.ctx, self.row, f"{where}.width",
                                         props.get("width"), self.file))
            self.obj.height = int(_number(self.ctx, self.row, f"{where}.height",
                                          props.get("height"), self.file))

    def labels(self, content: Mapping[str, Any]) -> list[Label]:
        out: list[Label] = []
        for key, value in content.items():
            where = f"answerContent.{key}"
            if not isinstance(value, dict):
                self.count(f"answer {key}")
                continue
            self.size(value, f"{where}.inputImageProperties")
            if isinstance(value.get("boundingBoxes"), list):
                out += self.boxes(key, value["boundingBoxes"], where)
            elif isinstance(value.get("labeledImage"), dict):
                out += self.mask(key, value, where)
            elif isinstance(value.get("polygons"), list):
                out += self.polygons(key, value["polygons"], where)
            elif isinstance(value.get("label"), str):
                out.append(Label(key, "class", value["label"], value=value["label"]))
            elif isinstance(value.get("labels"), list):
                out.append(Label(key, "labels", None, value=[str(v) for v in value["labels"]]))
            else:
                self.count(f"answer {key}")
        return out

    def boxes(self, key: str, boxes: list[Any], where: str) -> list[Label]:
        out = []
        for k, box in enumerate(boxes):
            at = f"{where}.boundingBoxes[{k}]"
            if not isinstance(box, dict):
                raise self.fail(at, "a box must be an object")
            x, y, w, h = (_number(self.ctx, self.row, f"{at}.{n}", box.get(n), self.file)
                          for n in ("left", "top", "width", "height"))
            if w < 0 or h < 0:
                raise self.fail(at, "a box has a negative width or height")
            out.append(Label(key, "bbox", str(box.get("label")), bbox=(x, y, w, h)))
        return out

    def polygons(self, key: str, polygons: list[Any], where: str) -> list[Label]:
        out = []
        for k, polygon in enumerate(polygons):
            at = f"{where}.polygons[{k}]"
            vertices = polygon.get("vertices") if isinstance(polygon, dict) else None
            if not isinstance(vertices, list) or len(vertices) < 3:
                raise self.fail(at, "a polygon needs at least 3 vertices")
            ring: list[float] = []
            for vertex in vertices:
                if not isinstance(vertex, dict):
                    raise self.fail(at, "a vertex must be {\"x\": …, \"y\": …}")
                ring += [_number(self.ctx, self.row, f"{at}.x", vertex.get("x"), self.file),
                         _number(self.ctx, self.row, f"{at}.y", vertex.get("y"), self.file)]
            out.append(Label(key, "polygon", str(polygon.get("label")), polygon=[ring]))
        return out

    def mask(self, key: str, value: Mapping[str, Any], where: str) -> list[Label]:
        png = value["labeledImage"].get("pngImageData")
        colours: dict[str, str] = {}
        names: dict[str, str] = {}
        mappings = value.get("labelMappings")
        if isinstance(mappings, dict):
            for label, entry in mappings.items():
                if isinstance(entry, dict) and isinstance(entry.get("color"), str):
                    colours[label], names[label] = entry["color"], label
        for k, instance in enumerate(value.get("instances") or []):
            if isinstance(instance, dict) and isinstance(instance.get("color"), str):
                colours[f"{instance.get('label')}\x1f{k}"] = instance["color"]
                names[f"{instance.get('label')}\x1f{k}"] = str(instance.get("label"))
        if not isinstance(png, str):
            raise self.fail(f"{where}.labeledImage.pngImageData", "missing")
        try:
            result = decode_mask_cell(png, colours, max_bytes=self.ctx.max_bytes,
                                      max_pixels=self.ctx.max_pixels)
        except MaskError as exc:
            raise exc.located(file=self.file, row=self.row,
                              field=f"{where}.labeledImage.pngImageData") from None
        self.obj.width, self.obj.height = result.width, result.height
        return [Label(key, "mask", names.get(p.category, p.category), bbox=p.bbox, mask=p.rle,
                      attributes={"area": p.area}) for p in result.parts]


def _time(ctx: _Context, file: str, row: int, answer: Mapping[str, Any],
          name: str) -> datetime | None:
    text = answer.get(name)
    if text is None or text == "":
        return None
    try:
        return parse_iso(str(text), UTC)
    except ValueError as exc:
        raise ctx.fail(row, name, f"{quote_cell(str(text))} is not a date ({exc})",
                       file) from None


def _person(ctx: _Context, file: str, row: int, answer: Mapping[str, Any]) -> Person:
    worker = answer.get("workerId")
    if not isinstance(worker, str) or not worker.strip():
        raise ctx.fail(row, "workerId", "missing or not text", file)
    personal: dict[str, str] = {}
    meta = answer.get("workerMetadata")
    identity = meta.get("identityData") if isinstance(meta, dict) else None
    if isinstance(identity, dict):
        # The provider's type (Cognito, Oidc) names a service, not the person.
        personal = {f"identity {k}": str(v) for k, v in identity.items()
                    if isinstance(v, (str, int)) and str(v) and k != "identityProviderType"}
    return Person(worker.strip(), personal)


def _response_works(ctx: _Context, objects: list[_Object], job: str, iteration: int, index: int,
                    path: Path) -> list[Work]:
    file = str(path)
    if index >= len(objects):
        raise InputError(f"dataset object {index} is not in the manifest, which has "
                         f"{len(objects)} lines: the responses are from another job",
                         file=file)
    obj = objects[index]
    row = index + 1
    try:
        data = loads_json(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ctx.fail(None, None, f"not a worker response file: {exc}", file) from None
    answers = data.get("answers") if isinstance(data, dict) else None
    if not isinstance(answers, list):
        raise ctx.fail(None, "answers", "a worker response file holds an 'answers' list", file)
    works = []
    for k, answer in enumerate(answers):
        if not isinstance(answer, dict):
            raise ctx.fail(row, f"answers[{k}]", "must be an object", file)
        person = _person(ctx, file, row, answer)
        content = answer.get("answerContent")
        parser = _Answer(ctx, file, row, obj)
        labels = parser.labels(content) if isinstance(content, dict) else []
        if not isinstance(content, dict):
            parser.count("answerContent (not an object)")
        spent = answer.get("timeSpentInSeconds")
        seconds = None if spent is None else _number(ctx, row, "timeSpentInSeconds", spent, file)
        secrets = {person.platform_id, *person.personal.values()}
        works.append(Work(
            row=row, assignment_id=f"{job}/iteration-{iteration}/{index}/{path.stem}#{k + 1}",
            task_id=str(index), batch_key=job, worker=person, attribution="worker",
            asset_uri=obj.source if "source-ref" in obj.record else None,
            asset_width=obj.width, asset_height=obj.height,
            accept_time=_time(ctx, file, row, answer, "acceptanceTime"),
            submit_time=_time(ctx, file, row, answer, "submissionTime"),
            work_time_s=seconds, time_kind="reported_time_spent", labels=labels,
            raw={"response_file": f"iteration-{iteration}/{index}/{path.name}",
                 "answerContent": _redacted(content, secrets)},
            unconverted=parser.unconverted))
    return works


def _target(ctx: _Context, objects: list[_Object], responses: Path,
            label_attribute: str | None) -> tuple[str, str]:
    attrs: dict[str, str] = {}
    for obj in objects:
        for attr in _label_attributes(obj.record):
            if attr not in attrs:
                attrs[attr] = _job(ctx, attr, obj.record[attr + _META], obj.index + 1)
    if label_attribute is not None:
        if label_attribute not in attrs:
            raise InputError(f"label attribute {label_attribute!r} is not in the manifest "
                             f"(it has {', '.join(attrs) or 'none'})", file=ctx.manifest,
                             field="--label-attribute")
        return label_attribute, attrs[label_attribute]
    if len(attrs) == 1:
        return next(iter(attrs.items()))
    parts = set(responses.resolve().parts)
    named = [(a, j) for a, j in attrs.items() if j.rsplit("/", 1)[-1] in parts]
    if len(named) == 1:
        return named[0]
    raise InputError("the manifest has several label attributes "
                     f"({', '.join(attrs) or 'none'}); say which job the worker responses "
                     "belong to", file=ctx.manifest, field="--label-attribute")


def read_groundtruth(manifest: str | PathLike[str], *,
                     responses: str | PathLike[str] | None = None,
                     images: str | PathLike[str] | None = None,
                     label_attribute: str | None = None,
                     max_line_bytes: int = DEFAULT_MAX_FIELD_BYTES,
                     max_bytes: int = DEFAULT_MAX_BYTES,
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> PlatformFile:
    """Read an output manifest and, when given, the job's worker responses (checked whole).

    ``images`` is a folder holding the segmentation label maps (the PNGs the ``-ref``
    attributes point to), found by file name; ``label_attribute`` says which job the
    ``responses`` belong to when the manifest went through several.
    """
    ctx = _Context(str(manifest), Path(images) if images is not None else None, max_bytes,
                   max_pixels)
    objects = _read_manifest(ctx, max_line_bytes * 4)
    target: tuple[str, str] | None = None
    answered: set[int] = set()
    response_works: list[Work] = []
    if responses is not None:
        target = _target(ctx, objects, Path(responses), label_attribute)
        for iteration, index, path in response_files(responses):
            response_works += _response_works(ctx, objects, target[1], iteration, index, path)
            answered.add(index)
    works: list[Work] = []
    consolidated = 0
    for obj in objects:
        attrs = _label_attributes(obj.record)
        ctx.unlabelled += not attrs
        for attr in attrs:
            if target is not None and attr == target[0] and obj.index in answered:
                consolidated += 1
                continue
            works.append(_job_work(ctx, obj, attr))
    return PlatformFile(platform=PLATFORM, batches=list(ctx.jobs.values()),
                        works=works + response_works,
                        notes=_notes(ctx, works, response_works, consolidated, target))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _notes(ctx: _Context, job_works: list[Work], response_works: list[Work], consolidated: int,
           target: tuple[str, str] | None) -> list[str]:
    notes = []
    if job_works:
        notes.append(f"{len(job_works)} labelled objects are attributed to their Ground Truth "
                     "job, not to people: the output manifest names no worker. Per-worker "
                     "provenance needs the job's worker response files "
                     "(annotations/worker-response/…): give them with --responses.")
    if target is not None:
        notes.append(f"{len(response_works)} worker answers read for job {target[1]} "
                     f"(label attribute {target[0]}); the manifest's consolidated labels of "
                     f"those {consolidated} objects are Ground Truth's combination of them and "
                     "are not stored again as the job's work.")
    if ctx.machine:
        notes.append(f"{_count(ctx.machine, 'object')} labelled by automated data labelling "
                     "(human-annotated: no), not by people.")
    if ctx.unlabelled:
        notes.append(f"{_count(ctx.unlabelled, 'manifest line')} without a label yet.")
    missing = sum(w.unconverted.get(_NO_PNG, 0) for w in job_works)
    if missing:
        notes.append(f"{_count(missing, 'segmentation label map')} not found in the images folder: "
                     "kept raw, not turned into masks.")
    notes.append("Ground Truth's files hold no pay (the price per task is in the job's "
                 "settings) and no review.")
    return notes
