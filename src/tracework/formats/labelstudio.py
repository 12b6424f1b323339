"""Label Studio JSON export → :class:`~tracework.formats.canonical.PlatformFile`.

The export ("JSON" in Label Studio's export dialog) is one JSON array of tasks; a file holding
one task object (what cloud target storage writes, ``<task_id>.json``) is read as a list of one.
``JSON_MIN`` is refused: it keeps one flattened answer per task without the annotator's work
objects, their times or result types.

What becomes what:

- One :class:`Work` per object of a task's ``annotations``: ``assignment_id`` is the annotation's
  ``id``, ``task_id`` the task's, the batch the task's ``project``.
- ``completed_by`` is the person: an integer user id (current exports) or a user object
  (``id``, ``email``, ``first_name``, ``last_name``: older exports). The id becomes
  ``Person.platform_id``; the e-mail and names go to ``Person.personal``. ``created_username``
  (``"e-mail, id"``) and ``updated_by`` of the annotation go there too, and so do the plain
  e-mails of its drafts (``drafts[].user``, ``drafts[].created_username``), even when
  ``completed_by`` is an integer. None of these stay in ``Work.raw``.
- Times: ``lead_time`` is the seconds Label Studio saw the person working (``time_kind``
  ``active_seconds``); ``created_at`` (when the annotation was submitted) is the submit time;
  ``updated_at`` stays in the raw record. Dates without a zone are UTC, as Label Studio stores.
- Status: a cancelled annotation (``was_cancelled``: the person pressed Skip) is ``Returned``:
  time spent without a submission, counted as unpaid time in the labour audit. A reviewed one,
  skipped or not (Label Studio Enterprise ``reviews``: ``accepted`` true or false, ``comment``,
  ``created_by``), takes the last review's decision, ``Approved`` or ``Rejected``, with the comment as the
  reason and the reviewer as a :class:`Person`; a ``review_result`` of ``"accepted"`` or
  ``"rejected"`` is read the same way when there is no ``reviews`` list. Otherwise
  ``Submitted``.
- A draft that belongs to no annotation of its task (work saved but never submitted or
  skipped) is a Work of its own, ``Abandoned``, identified by its e-mail: drafts carry no user
  id, so the same person's drafts and annotations have different pseudonyms.
- Model ``predictions`` are not human work and are not imported; tasks without annotations
  add nothing. Both are counted in :attr:`PlatformFile.notes`. Task fields that name users
  but not the work's author (``updated_by``, ``comment_authors``, ``annotators``, …) are
  removed from the raw record and not stored; the notes say how many.

Results (coordinates are percent of the result's ``original_width``/``original_height`` and
become pixels):

``rectanglelabels``
    ``bbox`` (x, y, width, height). A ``rotation`` (degrees, clockwise about the top-left
    corner, as Label Studio draws it) is kept in ``attributes["rotation"]`` with the drawn box
    in ``attributes["rotated_box"]``, and ``bbox`` is the axis-aligned box around the rotated
    one.
``polygonlabels``
    one ring ``[x0, y0, …]``; ``closed`` kept when given.
``brushlabels``
    Label Studio's own RLE decoded exactly (:mod:`tracework.formats.brushrle`): the alpha
    channel of the RGBA stroke is the mask, stored as COCO compressed RLE.
``keypointlabels``
    ``keypoints`` ``[x, y]``; the point's drawn ``width`` kept as an attribute.
``choices``
    one choice: kind ``class`` with the choice as category; several: kind ``labels``.
``textarea``
    kind ``text``, the text (a list when the person wrote several).

A shape drawn with a tool that carries no labels (``rectangle``, ``polygon``, ``keypoint``,
``brush``) is read like its labelled type; its category comes from the ``labels`` result that
shares its region ``id`` (a separate Labels control), and is ``None`` when there is none.

Any other result type (relations, ratings, a ``labels`` result of no shape, …) is counted in
``Work.unconverted`` by type and kept in ``Work.raw``. A malformed file is refused with an
:class:`~tracework.core.errors.InputError` naming the file, the task (its 1-based place in the
array, as ``row``) and the field path; nothing of it is kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from tracework.core.errors import InputError
from tracework.formats.brushrle import BrushRLEError, brush_mask
from tracework.formats.canonical import Batch, Label, Person, PlatformFile, Review, Work
from tracework.formats.csvio import loads_json
from tracework.formats.dates import parse_iso

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "PLATFORM", "read_labelstudio"]

PLATFORM = "labelstudio"
DEFAULT_MAX_BYTES = 2 * 2**30
DEFAULT_MAX_PIXELS = 50_000_000
_MAX_JSON_DEPTH = 64

#: Keys of an annotation (or draft, or review) that hold a person's identity.
_PERSON_KEYS = ("completed_by", "created_username", "updated_by", "user", "created_by")
#: Task keys naming users who are not the author of any one annotation: removed, not stored.
_TASK_USER_KEYS = ("updated_by", "comment_authors", "annotators", "reviewers", "assigned_to",
                   "created_by", "created_username")
_IMAGE_KEYS = ("image", "img", "url")


class _Where:
    """Where in the file a value sits, for error messages."""

    def __init__(self, file: str, row: int, path: str) -> None:
        self.file, self.row, self.path = file, row, path

    def at(self, key: str | int) -> _Where:
        sub = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else key)
        return _Where(self.file, self.row, self.path + sub)

    def fail(self, message: str, hint: str | None = None) -> InputError:
        return InputError(message, file=self.file, row=self.row, field=self.path or None,
                          hint=hint)


# -- scalar checks --------------------------------------------------------------------------


def _number(value: object, where: _Where) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise where.fail(f"must be a number, not {_show(value)}")
    return float(value)


def _dimension(value: object, where: _Where, max_pixels: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= max_pixels:
        raise where.fail(f"must be a positive whole number of pixels, not {_show(value)}")
    return value


def _ident(value: object, where: _Where) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise where.fail(f"must be an integer or a non-empty text id, not {_show(value)}")
    return str(value)


def _date(value: object, where: _Where) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise where.fail(f"must be an ISO 8601 date, not {_show(value)}")
    try:
        return parse_iso(value, UTC)
    except ValueError as exc:
        raise where.fail(f"{exc}: {value[:40]!r}") from None


def _strings(value: object, where: _Where) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.fail(f"must be a list of texts, not {_show(value)}")
    return value


def _show(value: object) -> str:
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 30 else text[:30] + "…"


# -- people ---------------------------------------------------------------------------------


def _user(value: object, where: _Where) -> tuple[str, dict[str, str]]:
    """A Label Studio user (an id, or an object with id, e-mail, names) as id and personal
    values. Never puts the value itself in a message: it may be an e-mail."""
    if isinstance(value, dict):
        personal = {str(k): v for k, v in value.items() if k != "id" and isinstance(v, str) and v}
        if "id" in value and value["id"] is not None:
            return _ident(value["id"], where.at("id")), personal
        if "email" in personal:
            return personal["email"], personal
        raise where.fail("a user object without an id or an e-mail")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or value == "":
        raise where.fail("must be a user id or a user object")
    return str(value), {}


def _person_of(annotation: dict[str, Any], where: _Where) -> Person:
    if "completed_by" not in annotation or annotation["completed_by"] is None:
        raise where.at("completed_by").fail("missing: every annotation names who made it")
    platform_id, personal = _user(annotation["completed_by"], where.at("completed_by"))
    for key, name in (("created_username", "created_username"), ("updated_by", "updated_by")):
        value = annotation.get(key)
        if isinstance(value, str) and value:
            personal[name] = value
        elif isinstance(value, (int, dict)) and not isinstance(value, bool):
            other, extra = _user(value, where.at(key))
            personal[f"{name}_id"] = other
            personal.update({f"{name}_{k}": v for k, v in extra.items()})
    return Person(platform_id, personal)


def _strip(record: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in keys}


# -- results --------------------------------------------------------------------------------


class _Results:
    """Turns one annotation's ``result`` list into labels; records image size and leftovers."""

    def __init__(self, where: _Where, max_pixels: int) -> None:
        self.where = where
        self.max_pixels = max_pixels
        self.labels: list[Label] = []
        self.unconverted: dict[str, int] = {}
        self.size: tuple[int, int] | None = None
        self.source: str | None = None
        self.named: dict[str, tuple[int, Any]] = {}

    def read(self, results: object) -> None:
        if results is None:
            return
        if not isinstance(results, list):
            raise self.where.fail("must be a list of results")
        # A Rectangle/Polygon/KeyPoint/Brush tool used with a separate Labels control writes
        # two results sharing the region id: the bare shape and a "labels" result.
        named: dict[str, tuple[int, Any]] = {}
        shaped: set[str] = set()
        for i, item in enumerate(results):
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                kind = str(item.get("type", "")).lower()
                value = item.get("value")
                if kind == "labels" and isinstance(value, dict) and "labels" in value:
                    named[item["id"]] = (i, value["labels"])
                elif kind in _BARE:
                    shaped.add(item["id"])
        self.named = {k: v for k, v in named.items() if k in shaped}
        for i, item in enumerate(results):
            if (isinstance(item, dict) and str(item.get("type", "")).lower() == "labels"
                    and item.get("id") in self.named):
                continue
            self.one(item, self.where.at(i))

    def one(self, item: object, where: _Where) -> None:
        if not isinstance(item, dict):
            raise where.fail("each result must be an object")
        kind = item.get("type")
        if not isinstance(kind, str) or not kind:
            raise where.at("type").fail("missing: every result names its type")
        kind = kind.lower()
        if isinstance(item.get("source"), str) and self.source is None:
            self.source = item["source"]
        value = item.get("value")
        if kind in _BARE:
            if not isinstance(value, dict):
                raise where.at("value").fail("must be an object")
            region = self.named.get(str(item.get("id")))
            if region is not None:
                index, names = region
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise self.where.at(index).at("value").at("labels").fail(
                        "must be a list of texts")
                value = {**value, _BARE[kind]: names}
            kind = _BARE[kind]
        reader = _READERS.get(kind)
        if reader is None:
            self.unconverted[kind] = self.unconverted.get(kind, 0) + 1
            return
        if not isinstance(value, dict):
            raise where.at("value").fail("must be an object")
        element = item.get("from_name")
        element = element if isinstance(element, str) and element else kind
        attributes: dict[str, Any] = {}
        for key in ("id", "to_name", "origin"):
            if isinstance(item.get(key), str):
                attributes["region_id" if key == "id" else key] = item[key]
        self.labels.append(reader(self, item, value, element, attributes, where))

    def image_size(self, item: dict[str, Any], where: _Where) -> tuple[int, int]:
        width = _dimension(item.get("original_width"), where.at("original_width"), self.max_pixels)
        height = _dimension(item.get("original_height"), where.at("original_height"),
                            self.max_pixels)
        if width * height > self.max_pixels:
            raise where.fail(f"an image of {width}×{height} pixels is more than the limit of "
                             f"{self.max_pixels:,}")
        if self.size is None:
            self.size = (width, height)
        return width, height


def _category(value: dict[str, Any], key: str, where: _Where,
              attributes: dict[str, Any]) -> str | None:
    if key not in value:
        return None
    names = _strings(value[key], where.at("value").at(key))
    if len(names) > 1:
        attributes["labels"] = names
    return names[0] if names else None


def _rectangle(r: _Results, item: dict[str, Any], value: dict[str, Any], element: str,
               attributes: dict[str, Any], where: _Where) -> Label:
    width, height = r.image_size(item, where)
    v = where.at("value")
    x = _number(value.get("x"), v.at("x")) * width / 100
    y = _number(value.get("y"), v.at("y")) * height / 100
    w = _number(value.get("width"), v.at("width")) * width / 100
    h = _number(value.get("height"), v.at("height")) * height / 100
    if w < 0 or h < 0:
        raise v.fail("a rectangle's width and height must not be negative")
    rotation = _number(value.get("rotation", 0), v.at("rotation"))
    box = (x, y, w, h)
    if rotation % 360:
        attributes["rotation"] = rotation
        attributes["rotated_box"] = [x, y, w, h]
        box = _rotated_bounds(x, y, w, h, rotation)
    return Label(element, "bbox", _category(value, "rectanglelabels", where, attributes),
                 bbox=box, attributes=attributes)


def _rotated_bounds(x: float, y: float, w: float, h: float,
                    degrees: float) -> tuple[float, float, float, float]:
    """The axis-aligned box around a w × h box turned clockwise (y points down) about (x, y)."""
    t = math.radians(degrees)
    c, s = math.cos(t), math.sin(t)
    xs = [x + dx * c - dy * s for dx, dy in ((0, 0), (w, 0), (0, h), (w, h))]
    ys = [y + dx * s + dy * c for dx, dy in ((0, 0), (w, 0), (0, h), (w, h))]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def _polygon(r: _Results, item: dict[str, Any], value: dict[str, Any], element: str,
             attributes: dict[str, Any], where: _Where) -> Label:
    width, height = r.image_size(item, where)
    points = value.get("points")
    pw = where.at("value").at("points")
    if not isinstance(points, list) or len(points) < 3:
        raise pw.fail("must be a list of at least 3 [x, y] points")
    ring: list[float] = []
    for i, point in enumerate(points):
        if not isinstance(point, list) or len(point) != 2:
            raise pw.at(i).fail("each point must be [x, y]")
        ring += [_number(point[0], pw.at(i)) * width / 100,
                 _number(point[1], pw.at(i)) * height / 100]
    if isinstance(value.get("closed"), bool):
        attributes["closed"] = value["closed"]
    return Label(element, "polygon", _category(value, "polygonlabels", where, attributes),
                 polygon=[ring], attributes=attributes)


def _brush(r: _Results, item: dict[str, Any], value: dict[str, Any], element: str,
           attributes: dict[str, Any], where: _Where) -> Label:
    width, height = r.image_size(item, where)
    v = where.at("value")
    if value.get("format", "rle") != "rle":
        raise v.at("format").fail(f"brush format {_show(value.get('format'))} is not read; "
                                  "Label Studio's brush export writes \"rle\"")
    rle = value.get("rle")
    if not isinstance(rle, list):
        raise v.at("rle").fail("must be the list of bytes Label Studio writes")
    try:
        mask = brush_mask(rle, width, height)
    except BrushRLEError as exc:
        raise v.at("rle").fail(str(exc)) from None
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    counts = encoded["counts"]
    rle_out = {"size": [height, width],
               "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}
    return Label(element, "mask", _category(value, "brushlabels", where, attributes),
                 mask=rle_out, attributes=attributes)


def _keypoint(r: _Results, item: dict[str, Any], value: dict[str, Any], element: str,
              attributes: dict[str, Any], where: _Where) -> Label:
    width, height = r.image_size(item, where)
    v = where.at("value")
    x = _number(value.get("x"), v.at("x")) * width / 100
    y = _number(value.get("y"), v.at("y")) * height / 100
    if "width" in value:
        attributes["point_width"] = _number(value["width"], v.at("width")) * width / 100
    return Label(element, "keypoints", _category(value, "keypointlabels", where, attributes),
                 keypoints=[x, y], attributes=attributes)


def _choices(r: _Results, item: dict[str, Any], value: dict[str, Any], element: str,
             attributes: dict[str, Any], where: _Where) -> Label:
    chosen = _strings(value.get("choices"), where.at("value").at("choices"))
    if len(chosen) == 1:
        return Label(element, "class", chosen[0], value=chosen[0], attributes=attributes)
    return Label(element, "labels", None, value=chosen, attributes=attributes)


def _textarea(r: _Results, item: dict[str, Any], value: dict[str, Any], element: str,
              attributes: dict[str, Any], where: _Where) -> Label:
    text = _strings(value.get("text"), where.at("value").at("text"))
    return Label(element, "text", None, value=text[0] if len(text) == 1 else text,
                 attributes=attributes)


#: Shapes drawn with a tool that has no labels of its own, and the labelled type they read as.
_BARE = {"rectangle": "rectanglelabels", "polygon": "polygonlabels",
         "keypoint": "keypointlabels", "brush": "brushlabels"}

_READERS = {"rectanglelabels": _rectangle, "polygonlabels": _polygon, "brushlabels": _brush,
            "keypointlabels": _keypoint, "choices": _choices, "textarea": _textarea}


# -- reviews --------------------------------------------------------------------------------


def _review(annotation: dict[str, Any], where: _Where) -> tuple[Review | None, Any]:
    """The last review's decision, and the reviews as they go to the raw record."""
    reviews = annotation.get("reviews")
    if isinstance(reviews, list) and reviews:
        kept = []
        last: Review | None = None
        for i, item in enumerate(reviews):
            w = where.at("reviews").at(i)
            if not isinstance(item, dict) or not isinstance(item.get("accepted"), bool):
                raise w.fail("each review must be an object with accepted true or false")
            reviewer = None
            if item.get("created_by") is not None:
                rid, personal = _user(item["created_by"], w.at("created_by"))
                reviewer = Person(rid, personal)
            comment = item.get("comment")
            if comment is not None and not isinstance(comment, str):
                raise w.at("comment").fail("must be text")
            last = Review("Approved" if item["accepted"] else "Rejected", comment or "",
                          reviewer, _date(item.get("created_at"), w.at("created_at")))
            kept.append(_strip(item, _PERSON_KEYS))
        return last, kept
    result = annotation.get("review_result")
    if isinstance(result, str) and result.lower() in ("accepted", "rejected"):
        return Review("Approved" if result.lower() == "accepted" else "Rejected"), None
    return None, None


# -- the file -------------------------------------------------------------------------------


def _load(path: Path, max_bytes: int) -> list[Any]:
    name = str(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"is {size:,} bytes, more than the limit of {max_bytes:,}", file=name)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"is not UTF-8 (byte {exc.start:,})", file=name) from None
    if not text.strip():
        raise InputError("is empty: no tasks", file=name)
    try:
        doc = loads_json(text, max_depth=_MAX_JSON_DEPTH)
    except ValueError as exc:
        raise InputError(str(exc), file=name) from None
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise InputError("must hold a JSON list of tasks (Label Studio's JSON export)", file=name)
    for row, task in enumerate(doc, 1):
        if not isinstance(task, dict):
            raise InputError("each task must be an object", file=name, row=row)
        if "annotations" not in task and "data" not in task:
            json_min = "annotator" in task or "annotation_id" in task
            raise InputError(
                "is not a task of Label Studio's JSON export (no 'data', no 'annotations')",
                file=name, row=row,
                hint=("This looks like JSON_MIN, which leaves out who did each annotation and "
                      "their times: export as JSON instead.") if json_min else None)
    return doc


def _asset(task: dict[str, Any], source: str | None) -> str | None:
    data = task.get("data")
    if not isinstance(data, dict):
        return None
    if source and source.startswith("$") and isinstance(data.get(source[1:]), str):
        return str(data[source[1:]])
    for key in _IMAGE_KEYS:
        if isinstance(data.get(key), str):
            return str(data[key])
    texts = [v for v in data.values() if isinstance(v, str)]
    return texts[0] if len(texts) == 1 else None


class _Reader:
    def __init__(self, path: Path, tasks: list[Any], max_pixels: int) -> None:
        self.name = str(path)
        self.tasks = tasks
        self.max_pixels = max_pixels
        self.notes: list[str] = []
        self.seen: dict[str, int] = {}
        self.this_task: set[str] = set()

    def batches(self) -> list[Batch]:
        keys: dict[str, Batch] = {}
        for task in self.tasks:
            key = self.batch_key(task)
            keys.setdefault(key, Batch(key, title=f"Label Studio project {key}"))
        return list(keys.values())

    @staticmethod
    def batch_key(task: dict[str, Any]) -> str:
        project = task.get("project")
        return str(project) if isinstance(project, (int, str)) and project != "" else "labelstudio"

    def works(self) -> Iterator[Work]:
        for row, task in enumerate(self.tasks, 1):
            yield from self.task_works(row, task)

    def task_works(self, row: int, task: dict[str, Any]) -> Iterator[Work]:
        top = _Where(self.name, row, "")
        self.this_task = set()
        task_id = _ident(task.get("id"), top.at("id"))
        raw_task = _strip(task, ("annotations", "drafts", "predictions", *_TASK_USER_KEYS))
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            raise top.at("annotations").fail("must be a list")
        drafts = task.get("drafts") or []
        if not isinstance(drafts, list):
            raise top.at("drafts").fail("must be a list")
        by_annotation: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        loose: list[tuple[int, dict[str, Any]]] = []
        for i, draft in enumerate(drafts):
            if not isinstance(draft, dict):
                raise top.at("drafts").at(i).fail("each draft must be an object")
            parent = draft.get("annotation")
            if parent is not None:
                by_annotation.setdefault(_ident(parent, top.at("drafts").at(i).at("annotation")),
                                         []).append((i, draft))
            else:
                loose.append((i, draft))
        for i, annotation in enumerate(annotations):
            where = top.at("annotations").at(i)
            if not isinstance(annotation, dict):
                raise where.fail("each annotation must be an object")
            work = self.annotation_work(row, task, task_id, raw_task, annotation, where)
            self.once(work, where.at("id"))
            self.attach_drafts(work, by_annotation.pop(work.assignment_id, []), top)
            yield work
        for orphans in by_annotation.values():
            loose += orphans
        for i, draft in sorted(loose, key=lambda d: d[0]):
            work = self.draft_work(row, task, task_id, raw_task, draft, top.at("drafts").at(i))
            self.once(work, top.at("drafts").at(i).at("id"))
            yield work

    def once(self, work: Work, where: _Where) -> None:
        """Refuse an annotation (or draft) id seen before in the file: one work, one id."""
        first = self.seen.setdefault(work.assignment_id, work.row)
        if first != work.row or work.assignment_id in self.this_task:
            raise where.fail(f"the id {work.assignment_id} is given twice (first in task "
                             f"{first}): an export holds each annotation once")
        self.this_task.add(work.assignment_id)

    def base_work(self, row: int, task: dict[str, Any], task_id: str, assignment_id: str,
                  person: Person, record: dict[str, Any], where: _Where) -> Work:
        results = _Results(where.at("result"), self.max_pixels)
        results.read(record.get("result"))
        lead = record.get("lead_time")
        if lead is not None and _number(lead, where.at("lead_time")) < 0:
            raise where.at("lead_time").fail("must not be negative: it counts seconds")
        size = results.size
        return Work(
            row=row, assignment_id=assignment_id, task_id=task_id,
            batch_key=self.batch_key(task), worker=person,
            asset_uri=_asset(task, results.source),
            asset_width=size[0] if size else None, asset_height=size[1] if size else None,
            work_time_s=None if lead is None else _number(lead, where.at("lead_time")),
            time_kind="unknown" if lead is None else "active_seconds",
            labels=results.labels, unconverted=results.unconverted)

    def annotation_work(self, row: int, task: dict[str, Any], task_id: str,
                        raw_task: dict[str, Any], annotation: dict[str, Any],
                        where: _Where) -> Work:
        assignment_id = _ident(annotation.get("id"), where.at("id"))
        person = _person_of(annotation, where)
        work = self.base_work(row, task, task_id, assignment_id, person, annotation, where)
        work.submit_time = _date(annotation.get("created_at"), where.at("created_at"))
        _date(annotation.get("updated_at"), where.at("updated_at"))
        cancelled = annotation.get("was_cancelled", False)
        if not isinstance(cancelled, bool):
            raise where.at("was_cancelled").fail("must be true or false")
        review, reviews_raw = _review(annotation, where)
        if review is not None:
            work.status = review.status
        elif cancelled:
            work.status = "Returned"
        work.review = review
        raw = _strip(annotation, ("reviews", *_PERSON_KEYS))
        if reviews_raw is not None:
            raw["reviews"] = reviews_raw
        work.raw = {"task": raw_task, "annotation": raw}
        return work

    def attach_drafts(self, work: Work, drafts: list[tuple[int, dict[str, Any]]],
                      top: _Where) -> None:
        if not drafts or work.worker is None:
            return
        personal = dict(work.worker.personal)
        kept = []
        for n, (i, draft) in enumerate(drafts):
            suffix = "" if n == 0 else f"_{n + 1}"
            for key in ("user", "created_username"):
                value = draft.get(key)
                if value is not None:
                    if not isinstance(value, str):
                        raise top.at("drafts").at(i).at(key).fail("must be text")
                    personal[f"draft_{key}{suffix}"] = value
            kept.append(_strip(draft, _PERSON_KEYS))
        work.worker = Person(work.worker.platform_id, personal)
        work.raw["drafts"] = kept

    def draft_work(self, row: int, task: dict[str, Any], task_id: str,
                   raw_task: dict[str, Any], draft: dict[str, Any], where: _Where) -> Work:
        user = draft.get("user")
        if not isinstance(user, str) or not user:
            raise where.at("user").fail("a draft must name its user (an e-mail)")
        personal = {"email": user}
        if isinstance(draft.get("created_username"), str):
            personal["created_username"] = draft["created_username"]
        draft_id = _ident(draft.get("id"), where.at("id"))
        work = self.base_work(row, task, task_id, f"draft-{draft_id}", Person(user, personal),
                              draft, where)
        work.status = "Abandoned"
        _date(draft.get("created_at"), where.at("created_at"))
        work.raw = {"task": raw_task, "draft": _strip(draft, _PERSON_KEYS)}
        return work

    def summarise(self) -> None:
        predictions = sum(len(t.get("predictions") or []) for t in self.tasks
                          if isinstance(t.get("predictions"), list))
        empty = sum(1 for t in self.tasks if not t.get("annotations") and not t.get("drafts"))
        users = sum(1 for t in self.tasks for k in _TASK_USER_KEYS if k in t)
        loose = sum(1 for t in self.tasks for d in (t.get("drafts") or [])
                    if isinstance(d, dict) and d.get("annotation") is None)
        if predictions:
            self.notes.append(f"{predictions} model prediction{'s' if predictions != 1 else ''} "
                              "not imported: they are not human work.")
        if empty:
            self.notes.append(f"{empty} task{'s' if empty != 1 else ''} without annotations "
                              "or drafts added nothing.")
        if loose:
            self.notes.append(
                f"{loose} draft{'s' if loose != 1 else ''} never submitted imported as Abandoned "
                "work of the draft's user, known by e-mail only (drafts carry no user id).")
        if users:
            self.notes.append(
                f"{users} task field{'s' if users != 1 else ''} naming users who are not an "
                "annotation's author (updated_by, comment_authors, …) removed, not stored.")


def read_labelstudio(path: str | PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> PlatformFile:
    """Read a Label Studio JSON export. The file is parsed and its structure checked at once;
    ``works`` converts one task at a time (brush masks are decoded as they are reached)."""
    file = Path(path)
    tasks = _load(file, max_bytes)
    reader = _Reader(file, tasks, max_pixels)
    reader.summarise()
    return PlatformFile(PLATFORM, reader.batches(), reader.works(), reader.notes)

