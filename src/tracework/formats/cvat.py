"""CVAT for images 1.1 XML → :class:`~tracework.formats.canonical.PlatformFile`.

The file (``annotations.xml`` of a "CVAT for images 1.1" export, for a task, a job or a
project) is ``<annotations>`` with ``<version>1.1</version>``, a ``<meta>`` block and one
``<image id name width height>`` per frame. What becomes what:

- Each job is a :class:`Batch` (key ``<task id>/job-<job id>``): the ``<segments>`` of a
  ``<task>`` (``<segment>``: ``id``, first and last frame ``start``/``stop``, ``url`` ending in
  the job id), the one job of a ``<job>`` export, the jobs of each task of a ``<project>``
  export. The task itself is a batch too (key: its id), for images no job holds. A job is the
  unit a person is assigned, so work attributed to a job stays apart from the task's other
  jobs.
- Each ``<image>`` is one :class:`Work`: the image's labels. CVAT records no author per shape,
  only the person a job is assigned to, so the work is attributed to the job whose frame range
  holds the image: to its assignee (attribution ``job_assignee``) when the file names one (the
  ``<assignee>`` of a job export, or an ``<assignee>`` inside the segment), otherwise to the
  job itself (attribution ``job``, no worker). A task's own ``<assignee>`` and ``<owner>`` are
  not taken as the author and are not stored. An image in the overlap of two jobs goes to the
  first. In a project export frame numbers are not per task, so an image is attributed to its
  task's job only when the task has one job; otherwise to the task as a whole.
  :attr:`PlatformFile.notes` says all of this in the import report.
- Shapes, in image pixels: ``<box>`` → ``bbox`` (a ``rotation``, degrees clockwise about the
  box's centre, is kept in ``attributes`` with the drawn box, and ``bbox`` is the axis-aligned
  box around the rotated one); ``<polygon>`` → ``polygon``; ``<polyline>`` → ``polyline``
  (its points in ``polygon``); ``<points>`` → ``keypoints``; ``<mask>`` → ``mask`` (CVAT's
  run-length list: counts alternating from background, row-major over the mask's own
  ``width`` × ``height`` box placed at ``left``/``top``; decoded onto the full image and stored
  as COCO RLE); ``<tag>`` → ``class``. ``occluded``, ``z_order``, ``source``, ``group_id`` and
  ``outside`` are kept in ``attributes``, the ``<attribute name>`` children under
  ``attributes["attributes"]``. Other shapes (``skeleton``, ``cuboid``, ``ellipse``) are
  counted in ``Work.unconverted`` and kept in ``Work.raw``.
- No time, pay or status is in the file: works are ``Submitted`` with ``time_kind``
  ``unknown``.

The XML is parsed as a stream with the standard library, and a document type declaration is
refused: without one, no entity can be declared, so entity expansion ("billion laughs") and
external entities cannot happen. A "CVAT for video" file (``<track>``) is refused with the
export to choose. Malformed input raises :class:`~tracework.core.errors.InputError` naming the
file, the image (its 1-based place in the file, as ``row``) and the field.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from pycocotools import mask as coco_mask

from tracework.core.errors import InputError
from tracework.formats.canonical import Attribution, Batch, Label, Person, PlatformFile, Work
from tracework.formats.dates import parse_iso

__all__ = ["DEFAULT_MAX_PIXELS", "PLATFORM", "read_cvat"]

PLATFORM = "cvat"
DEFAULT_MAX_PIXELS = 50_000_000
_CHUNK = 1 << 16
_SHAPES = ("box", "polygon", "polyline", "points", "mask", "tag")
_OTHER_SHAPES = ("skeleton", "cuboid", "ellipse", "cuboid_3d")
_KEPT_ATTRIBUTES = ("occluded", "z_order", "source", "group_id", "outside")
_JOB_URL = re.compile(r"(?:[?&]id=|/jobs/)(\d+)\s*$")


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Builder:
    """A tree builder that records start/end events and refuses a document type."""

    def __init__(self) -> None:
        self.tree = ET.TreeBuilder()
        self.events: list[tuple[str, ET.Element]] = []

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        element = self.tree.start(tag, attrs)
        self.events.append(("start", element))
        return element

    def end(self, tag: str) -> ET.Element:
        element = self.tree.end(tag)
        self.events.append(("end", element))
        return element

    def data(self, text: str) -> None:
        self.tree.data(text)

    def close(self) -> ET.Element:
        return self.tree.close()

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _Refused("has a document type declaration (<!DOCTYPE …>); CVAT never writes one, "
                       "and it could declare entities, so the file is refused")


def _events(name: str, stream: BinaryIO) -> Iterator[tuple[str, ET.Element]]:
    builder = _Builder()
    parser = ET.XMLParser(target=builder)
    try:
        while chunk := stream.read(_CHUNK):
            parser.feed(chunk)
            yield from builder.events
            builder.events.clear()
        parser.close()
        yield from builder.events
    except _Refused as exc:
        raise InputError(exc.message, file=name) from None
    except ET.ParseError as exc:
        line, column = exc.position
        raise InputError(f"is not well-formed XML at line {line}, column {column + 1}: "
                         f"{str(exc).split(':')[0]}", file=name) from None


# -- the meta block -------------------------------------------------------------------------


@dataclass
class _Job:
    key: str
    start: int
    stop: int
    assignee: Person | None = None


@dataclass
class _Task:
    key: str
    batch: Batch
    jobs: list[_Job] = field(default_factory=list)


def _text(element: ET.Element | None, tag: str) -> str:
    found = element.find(tag) if element is not None else None
    return (found.text or "").strip() if found is not None else ""


def _person(element: ET.Element | None) -> Person | None:
    if element is None:
        return None
    username, email = _text(element, "username"), _text(element, "email")
    if not username and not email:
        return None
    return Person(username or email, {"email": email} if email and username else {})


def _created(element: ET.Element, name: str) -> datetime | None:
    text = _text(element, "created")
    if not text:
        return None
    try:
        return parse_iso(text, UTC)
    except ValueError as exc:
        raise InputError(f"{exc}: {text[:40]!r}", file=name, field="meta/created") from None


def _frame(element: ET.Element, tag: str, name: str, where: str) -> int:
    text = _text(element, tag)
    if not text.isdigit():
        raise InputError(f"must be a frame number, not {text[:20]!r}", file=name,
                         field=f"{where}/{tag}")
    return int(text)


def _task(element: ET.Element, name: str, job_assignee: Person | None) -> _Task:
    key = _text(element, "task_id") or _text(element, "id") or "task"
    batch = Batch(key, title=_text(element, "name"), created_at=_created(element, name))
    task = _Task(key, batch)
    segments = element.find("segments")
    for i, segment in enumerate(segments.findall("segment") if segments is not None else [], 1):
        where = f"meta/segments/segment[{i}]"
        start, stop = _frame(segment, "start", name, where), _frame(segment, "stop", name, where)
        url = _JOB_URL.search(_text(segment, "url"))
        job_id = url.group(1) if url else _text(segment, "id") or str(i)
        assignee = _person(segment.find("assignee")) or job_assignee
        task.jobs.append(_Job(job_id, start, stop, assignee))
    return task


@dataclass
class _Meta:
    kind: str                                  # task, job or project
    tasks: dict[str, _Task]
    owners: int = 0
    task_assignees: int = 0


def _meta(meta: ET.Element, name: str) -> _Meta:
    for kind in ("task", "job", "project"):
        element = meta.find(kind)
        if element is not None:
            break
    else:
        raise InputError("has no <task>, <job> or <project> in <meta>", file=name, field="meta")
    if kind == "project":
        elements = element.findall("tasks/task")
        if not elements:
            elements = [element]
    else:
        elements = [element]
    tasks: dict[str, _Task] = {}
    result = _Meta(kind, tasks)
    for item in elements:
        job_assignee = _person(item.find("assignee")) if kind == "job" else None
        task = _task(item, name, job_assignee)
        tasks[task.key] = task
        result.owners += _person(item.find("owner")) is not None
        result.task_assignees += kind != "job" and _person(item.find("assignee")) is not None
    return result


# -- shapes ---------------------------------------------------------------------------------


class _Image:
    def __init__(self, name: str, row: int, element: ET.Element, max_pixels: int) -> None:
        self.name, self.row, self.element = name, row, element
        self.id = element.get("id", "")
        if not self.id.isdigit():
            raise self.fail(f"must be the image's frame number, not {self.id[:20]!r}", "@id")
        self.width = self.dimension("width", max_pixels)
        self.height = self.dimension("height", max_pixels)
        if self.width and self.height and self.width * self.height > max_pixels:
            raise self.fail(f"an image of {self.width}×{self.height} pixels is more than the "
                            f"limit of {max_pixels:,}", "width")

    def fail(self, message: str, where: str) -> InputError:
        return InputError(message, file=self.name, row=self.row,
                          field=f"image[id={self.id}]/{where}")

    def dimension(self, key: str, max_pixels: int) -> int | None:
        text = self.element.get(key)
        if text is None:
            return None
        if not text.isdigit() or not 0 < int(text) <= max_pixels:
            raise self.fail(f"must be a positive whole number, not {text[:20]!r}", key)
        return int(text)

    def number(self, shape: ET.Element, key: str, where: str) -> float:
        text = shape.get(key)
        try:
            value = float(text) if text is not None else math.nan
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise self.fail(f"must be a number, not {(text or '')[:20]!r}", f"{where}@{key}")
        return value

    def points(self, shape: ET.Element, where: str, least: int) -> list[float]:
        text = shape.get("points", "")
        flat: list[float] = []
        for pair in filter(None, text.split(";")):
            xy = pair.split(",")
            try:
                values = [float(v) for v in xy]
            except ValueError:
                values = []
            if len(values) != 2 or not all(map(math.isfinite, values)):
                raise self.fail(f"must be 'x,y;x,y;…', not {pair[:30]!r}", f"{where}@points")
            flat += values
        if len(flat) < 2 * least:
            raise self.fail(f"needs at least {least} point{'s' if least > 1 else ''}",
                            f"{where}@points")
        return flat

    def attributes(self, shape: ET.Element) -> dict[str, Any]:
        kept: dict[str, Any] = {}
        for key in _KEPT_ATTRIBUTES:
            value = shape.get(key)
            if value is None:
                continue
            if key in ("occluded", "outside"):
                kept[key] = value in ("1", "true", "True")
            elif key in ("z_order", "group_id") and value.lstrip("-").isdigit():
                kept[key] = int(value)
            else:
                kept[key] = value
        named = {a.get("name", ""): (a.text or "") for a in shape.findall("attribute")}
        if named:
            kept["attributes"] = named
        return kept

    def label(self, shape: ET.Element, where: str) -> Label:
        tag = shape.tag
        category = shape.get("label")
        if not category:
            raise self.fail("missing: every shape names its label", f"{where}@label")
        attributes = self.attributes(shape)
        if tag == "box":
            return self.box(shape, where, category, attributes)
        if tag == "polygon":
            return Label(tag, "polygon", category, polygon=[self.points(shape, where, 3)],
                         attributes=attributes)
        if tag == "polyline":
            return Label(tag, "polyline", category, polygon=[self.points(shape, where, 2)],
                         attributes=attributes)
        if tag == "points":
            return Label(tag, "keypoints", category, keypoints=self.points(shape, where, 1),
                         attributes=attributes)
        if tag == "mask":
            return Label(tag, "mask", category, mask=self.mask(shape, where),
                         attributes=attributes)
        return Label(tag, "class", category, value=category, attributes=attributes)

    def box(self, shape: ET.Element, where: str, category: str,
            attributes: dict[str, Any]) -> Label:
        xtl, ytl = self.number(shape, "xtl", where), self.number(shape, "ytl", where)
        xbr, ybr = self.number(shape, "xbr", where), self.number(shape, "ybr", where)
        if xbr < xtl or ybr < ytl:
            raise self.fail("the bottom-right corner is above or left of the top-left one",
                            f"{where}@xbr")
        box = (xtl, ytl, xbr - xtl, ybr - ytl)
        if shape.get("rotation") is not None:
            rotation = self.number(shape, "rotation", where)
            if rotation % 360:
                attributes["rotation"] = rotation
                attributes["rotated_box"] = list(box)
                box = _rotated_about_centre(*box, rotation)
        return Label("box", "bbox", category, bbox=box, attributes=attributes)

    def mask(self, shape: ET.Element, where: str) -> dict[str, Any]:
        if self.width is None or self.height is None:
            raise self.fail("a mask needs the image's width and height", "width")
        box = []
        for key in ("left", "top", "width", "height"):
            text = shape.get(key, "")
            if not text.isdigit():
                raise self.fail(f"must be a whole number of pixels, not {text[:20]!r}",
                                f"{where}@{key}")
            box.append(int(text))
        left, top, width, height = box
        if left + width > self.width or top + height > self.height:
            raise self.fail(f"the mask's box {width}×{height} at ({left}, {top}) leaves the "
                            f"{self.width}×{self.height} image", f"{where}@left")
        try:
            counts = [int(v) for v in shape.get("rle", "").split(",")]
        except ValueError:
            raise self.fail("must be a comma-separated list of whole numbers",
                            f"{where}@rle") from None
        if any(c < 0 for c in counts):
            raise self.fail("holds a negative run", f"{where}@rle")
        if sum(counts) != width * height:
            raise self.fail(f"its runs cover {sum(counts):,} pixels, not the mask's "
                            f"{width}×{height} = {width * height:,}", f"{where}@rle")
        values = np.zeros(len(counts), np.uint8)
        values[1::2] = 1
        piece = np.repeat(values, counts).reshape(height, width)
        full = np.zeros((self.height, self.width), np.uint8, order="F")
        full[top:top + height, left:left + width] = piece
        encoded = coco_mask.encode(full)
        raw = encoded["counts"]
        return {"size": [self.height, self.width],
                "counts": raw.decode("ascii") if isinstance(raw, bytes) else raw}


def _rotated_about_centre(x: float, y: float, w: float, h: float,
                          degrees: float) -> tuple[float, float, float, float]:
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    cx, cy = x + w / 2, y + h / 2
    half_w = abs(w / 2 * c) + abs(h / 2 * s)
    half_h = abs(w / 2 * s) + abs(h / 2 * c)
    return (cx - half_w, cy - half_h, 2 * half_w, 2 * half_h)


def _job_batch(task: _Task, job: _Job) -> Batch:
    """A job as a batch: the unit a person is assigned, so work attributed to a job without
    an assignee is kept apart from the task's other jobs."""
    title = f"{task.batch.title}, job {job.key}" if task.batch.title else f"job {job.key}"
    return Batch(f"{task.key}/job-{job.key}", title=title, created_at=task.batch.created_at)


def _as_raw(element: ET.Element) -> dict[str, Any]:
    raw: dict[str, Any] = {"tag": element.tag, **dict(element.attrib)}
    children = [_as_raw(child) for child in element]
    if children:
        raw["children"] = children
    text = (element.text or "").strip()
    if text:
        raw["text"] = text
    return raw


# -- the file -------------------------------------------------------------------------------


class _Reader:
    def __init__(self, path: Path, meta: _Meta, max_pixels: int) -> None:
        self.path, self.name = path, str(path)
        self.meta = meta
        self.max_pixels = max_pixels

    def owner(self, image: ET.Element) -> tuple[_Task, _Job | None]:
        tasks = self.meta.tasks
        task = tasks.get(image.get("task_id", "")) if image.get("task_id") else None
        if task is None:
            task = next(iter(tasks.values()))
        frame = image.get("id", "")
        if self.meta.kind == "project" and len(task.jobs) != 1:
            return task, None
        if self.meta.kind == "project":
            return task, task.jobs[0]
        holding = [j for j in task.jobs if frame.isdigit() and j.start <= int(frame) <= j.stop]
        return task, holding[0] if holding else None

    def work(self, row: int, element: ET.Element) -> Work:
        image = _Image(self.name, row, element, self.max_pixels)
        task, job = self.owner(element)
        labels: list[Label] = []
        unconverted: dict[str, int] = {}
        counters: dict[str, int] = {}
        for shape in element:
            counters[shape.tag] = counters.get(shape.tag, 0) + 1
            where = f"{shape.tag}[{counters[shape.tag]}]"
            if shape.tag in _SHAPES:
                labels.append(image.label(shape, where))
            else:
                unconverted[shape.tag] = unconverted.get(shape.tag, 0) + 1
        job_key = job.key if job is not None else f"task-{task.key}"
        attribution: Attribution = "job_assignee" if job and job.assignee else "job"
        return Work(
            row=row, assignment_id=f"task-{task.key}/job-{job_key}/image-{image.id}",
            task_id=f"task-{task.key}/image-{image.id}",
            batch_key=_job_batch(task, job).key if job is not None else task.key,
            worker=job.assignee if job else None, attribution=attribution,
            asset_uri=element.get("name"), asset_width=image.width, asset_height=image.height,
            labels=labels, unconverted=unconverted,
            raw={"image": dict(element.attrib), "job": job_key,
                 "shapes": [_as_raw(shape) for shape in element]})

    def works(self) -> Iterator[Work]:
        with self.path.open("rb") as stream:
            row = 0
            depth = 0
            root: ET.Element | None = None
            seen: dict[str, int] = {}
            for event, element in _events(self.name, stream):
                if event == "start":
                    depth += 1
                    if depth == 1:
                        root = element
                    elif depth == 2 and element.tag == "track":
                        raise InputError(
                            "holds <track> elements: this is a 'CVAT for video' file",
                            file=self.name, hint="Export the task as 'CVAT for images 1.1'.")
                    continue
                depth -= 1
                if depth == 1 and element.tag == "image":
                    row += 1
                    work = self.work(row, element)
                    first = seen.setdefault(work.assignment_id, row)
                    if first != row:
                        raise InputError(f"the image id is given twice (first at image {first})",
                                         file=self.name, row=row,
                                         field=f"image[id={element.get('id', '')}]")
                    yield work
                    if root is not None:
                        root.remove(element)


def _read_meta(path: Path) -> _Meta:
    name = str(path)
    with path.open("rb") as stream:
        depth = 0
        for event, element in _events(name, stream):
            if event == "start":
                depth += 1
                if depth == 1 and element.tag != "annotations":
                    raise InputError(f"is not a CVAT XML file: its root is <{element.tag}>, not "
                                     "<annotations>", file=name)
                continue
            depth -= 1
            if depth == 1 and element.tag == "version" and (element.text or "").strip() != "1.1":
                raise InputError(f"is CVAT XML version {(element.text or '').strip()[:10]!r}; "
                                 "this reader knows 1.1", file=name, field="version")
            if depth == 1 and element.tag == "meta":
                return _meta(element, name)
            if depth == 1 and element.tag == "image":
                break
    raise InputError("has no <meta> block before its images", file=name, field="meta")


def _notes(meta: _Meta) -> list[str]:
    notes = ["CVAT records no author per shape, only who a job is assigned to: each image's "
             "labels are attributed to the assignee of the job whose frames hold it, or to the "
             "job itself when the file names no assignee."]
    if meta.kind == "project":
        notes.append("In a project export frame numbers are not per task: an image is "
                     "attributed to its task's job only when the task has one job, otherwise "
                     "to the task as a whole.")
    if any(a is not b and a.start <= b.stop and b.start <= a.stop
           for t in meta.tasks.values() for a in t.jobs for b in t.jobs):
        notes.append("Frames in the overlap of two jobs are attributed to the first job.")
    if meta.owners or meta.task_assignees:
        notes.append("The task owner and the task's assignee are not taken as the authors and "
                     "are not stored.")
    return notes


def read_cvat(path: str | PathLike[str], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> PlatformFile:
    """Read a CVAT for images 1.1 XML file. The meta block is read at once; ``works`` streams
    the images, one :class:`Work` each."""
    file = Path(path)
    meta = _read_meta(file)
    reader = _Reader(file, meta, max_pixels)
    batches = [b for t in meta.tasks.values()
               for b in ([_job_batch(t, j) for j in t.jobs] if meta.kind != "project"
                         or len(t.jobs) == 1 else []) + [t.batch]]
    return PlatformFile(PLATFORM, batches, reader.works(), _notes(meta))
