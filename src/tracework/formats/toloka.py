"""Toloka's "Download results" TSV → the canonical :class:`~tracework.formats.canonical.PlatformFile`.

The file (Toloka docs, "Receiving responses"; Toloka-Kit ``GetAssignmentsTsvParameters``) is
tab-separated, often with CRLF line ends and JSON inside cells. Columns are named by role:

``INPUT:<field>``
    the task's input data (an image URL, a text …);
``OUTPUT:<field>``
    the Toloker's answer; for training tasks the first attempt;
``GOLDEN:<field>`` / ``HINT:text``
    the control answer of a control task / the hint of a training task;
``ASSIGNMENT:<field>``
    the task suite's assignment, the same on every row of the suite: ``assignment_id``,
    ``task_id``, ``task_suite_id``, ``worker_id``, ``status`` (``SUBMITTED``, ``APPROVED``
    — the API says ``ACCEPTED`` —, ``REJECTED``, ``SKIPPED``, ``EXPIRED``, ``ACTIVE``), the
    times ``started``, ``submitted``, ``accepted``, ``rejected``, ``skipped``, ``expired``
    (ISO 8601 without a zone: read as UTC, which is what Toloka's API serves), ``reward``
    (the suite's price) and ``link``;
``ACCEPT:verdict`` / ``ACCEPT:comment``
    a review prepared offline: ``+`` accepts, ``-`` rejects with the comment as its reason.
    Toloka asks for the verdict once per assignment, so only one row of a suite carries it.

**One Work per task, not per suite.** A task suite shows several tasks (rows) on one page and
is paid, timed and reviewed as a whole, but each task has its own input — usually its own
image — and a :class:`~tracework.formats.canonical.Work` holds one asset. So every row becomes
its own Work, carrying its suite's status, times and review; the suite's reward and duration
are divided evenly among its tasks (cents: the remainder goes to the first tasks), so each
worker's totals, and so their effective hourly pay, are the suite's exactly. ``raw`` keeps the
assignment id and the suite's size.

Answers become labels by what the cell holds: a JSON list of Toloka image-annotation shapes
(``rectangle`` with relative ``p1``/``p2``, ``polygon`` with relative points, ``point``) becomes
boxes, polygons and keypoints in pixels of the task's image, when its size is known (pass
``image_size``); a JSON list of strings a multi-label answer; a short one-line value a single
choice (``class``), a longer one free text. Everything else is counted in ``unconverted`` and
kept in ``raw``. Blank separator lines (empty, or only tabs) are skipped. Rows of assignments
still ``ACTIVE`` (in progress) are left out, counted in the notes.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from os import PathLike
from pathlib import Path
from typing import Any

from tracework.core.errors import InputError
from tracework.formats.canonical import Batch, Label, Person, PlatformFile, Review, Work
from tracework.formats.csvio import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_FIELD_BYTES,
    loads_json,
    masked,
    open_table,
    quote_cell,
)
from tracework.formats.dates import parse_iso

__all__ = ["PLATFORM", "STATUS_MAP", "ImageSize", "image_sizes_in", "read_toloka"]

PLATFORM = "toloka"

#: Toloka's assignment status → the store's. SKIPPED is a suite the Toloker gave back and
#: EXPIRED one whose time ran out: both unpaid time.
STATUS_MAP = {"SUBMITTED": "Submitted", "APPROVED": "Approved", "ACCEPTED": "Approved",
              "REJECTED": "Rejected", "SKIPPED": "Returned", "EXPIRED": "Abandoned"}

ImageSize = Callable[[str], "tuple[int, int] | None"]

_ASSIGNMENT, _INPUT, _OUTPUT, _GOLDEN = "ASSIGNMENT:", "INPUT:", "OUTPUT:", "GOLDEN:"
_ID, _WORKER, _STATUS = "ASSIGNMENT:assignment_id", "ASSIGNMENT:worker_id", "ASSIGNMENT:status"
_VERDICT, _COMMENT = "ACCEPT:verdict", "ACCEPT:comment"
_REQUIRED = (_ID, _WORKER, _STATUS)
_IMAGE = re.compile(r"\.(?:jpe?g|png|webp|bmp|gif|tiff?)(?:\?.*)?$", re.IGNORECASE)
_POOL_IN_LINK = re.compile(r"/task/(\d+)(?:/|$)")
_SHORT_ANSWER = 100
_EDGE = 1e-6  # relative coordinates may touch 0 and 1; a hair beyond is rounding


def image_sizes_in(directory: str | PathLike[str]) -> ImageSize:
    """Image sizes looked up by file name (the URL's last part) in a local folder."""
    from PIL import Image, UnidentifiedImageError

    root = Path(directory)
    cache: dict[str, tuple[int, int] | None] = {}

    def size(uri: str) -> tuple[int, int] | None:
        name = uri.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        if name not in cache:
            path = root / name
            try:
                with Image.open(path) as img:
                    cache[name] = (int(img.width), int(img.height))
            except (OSError, UnidentifiedImageError):
                cache[name] = None
        return cache[name]

    return size


class _Rows:
    """The rows of one file grouped by assignment, in the order assignments first appear."""

    def __init__(self, path: str, header: list[str]) -> None:
        self.path = path
        self.header = header
        self.groups: dict[str, list[tuple[int, int, dict[str, str]]]] = {}
        self.active = 0

    def fail(self, row: int, line: int, field: str | None, message: str,
             worker: str = "") -> InputError:
        return masked(InputError(f"{message} (line {line})", file=self.path, row=row,
                                 field=field), worker)


def _check_header(path: str, header: list[str]) -> None:
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise InputError(f"header: no column {', '.join(missing)}; this does not look like "
                         "a Toloka results file", file=path, field=missing[0],
                         hint="Download the results with \"Download results\" on the pool "
                              "page, as TSV.")
    if not any(c.startswith(_OUTPUT) for c in header):
        raise InputError("header: no OUTPUT: column, so the file holds no answers",
                         file=path, field="OUTPUT:")


def _time(rows: _Rows, row: int, line: int, cells: dict[str, str], name: str) -> datetime | None:
    cell = cells.get(name, "").strip()
    if not cell:
        return None
    try:
        return parse_iso(cell, UTC)
    except ValueError as exc:
        raise rows.fail(row, line, name, f"{quote_cell(cell)} is not a date ({exc})") from None


def _reward(rows: _Rows, row: int, line: int, cell: str) -> Decimal | None:
    text = cell.strip().lstrip("$")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise rows.fail(row, line, "ASSIGNMENT:reward",
                        f"{quote_cell(cell)} is not an amount") from None
    if not value.is_finite() or value < 0 or value > 10_000:
        raise rows.fail(row, line, "ASSIGNMENT:reward", f"{quote_cell(cell)} is not an amount "
                        "a task suite is paid")
    return value


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _relative(rows: _Rows, where: tuple[int, int, str], point: object) -> tuple[float, float]:
    row, line, name = where
    if (not isinstance(point, dict) or not isinstance(point.get("x"), (int, float))
            or not isinstance(point.get("y"), (int, float)) or isinstance(point.get("x"), bool)):
        raise rows.fail(row, line, name, "a shape's point is not {\"x\": …, \"y\": …} with numbers")
    x, y = float(point["x"]), float(point["y"])
    if not (-_EDGE <= x <= 1 + _EDGE and -_EDGE <= y <= 1 + _EDGE):
        raise rows.fail(row, line, name, f"a shape's point ({x}, {y}) is outside the image "
                        "(Toloka writes coordinates relative to it, from 0 to 1)")
    return min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)


def _shape_label(rows: _Rows, where: tuple[int, int, str], element: str, shape: dict[str, Any],
                 size: tuple[int, int], attributes: dict[str, Any]) -> Label | None:
    w, h = size
    kind, data = shape.get("type"), shape.get("data")
    category = shape.get("label")
    category = str(category) if category is not None else None
    if kind == "rectangle":
        if not isinstance(data, dict):
            raise rows.fail(*where, "a rectangle has no p1/p2 points")
        x1, y1 = _relative(rows, where, data.get("p1"))
        x2, y2 = _relative(rows, where, data.get("p2"))
        return Label(element, "bbox", category, bbox=(min(x1, x2) * w, min(y1, y2) * h,
                                                      abs(x2 - x1) * w, abs(y2 - y1) * h),
                     attributes=attributes)
    if kind == "polygon":
        if not isinstance(data, list) or len(data) < 3:
            raise rows.fail(*where, "a polygon needs a list of at least 3 points")
        ring: list[float] = []
        for point in data:
            x, y = _relative(rows, where, point)
            ring += [x * w, y * h]
        return Label(element, "polygon", category, polygon=[ring], attributes=attributes)
    if kind == "point":
        x, y = _relative(rows, where, data)
        return Label(element, "keypoints", category, keypoints=[x * w, y * h],
                     attributes=attributes)
    return None


def _is_shapes(value: object) -> bool:
    return (isinstance(value, list) and bool(value)
            and all(isinstance(s, dict) and isinstance(s.get("type"), str) for s in value))


class _Converter:
    def __init__(self, rows: _Rows, image_size: ImageSize | None) -> None:
        self.rows, self.image_size = rows, image_size

    def size(self, asset: str | None) -> tuple[int, int] | None:
        return self.image_size(asset) if (self.image_size and asset) else None

    def labels(self, row: int, line: int, cells: dict[str, str], asset: str | None,
               unconverted: dict[str, int]) -> list[Label]:
        out: list[Label] = []
        for column, cell in cells.items():
            if not column.startswith(_OUTPUT) or not cell.strip():
                continue
            element = column[len(_OUTPUT):]
            golden = cells.get(_GOLDEN + element, "")
            attributes = {"golden": golden} if golden.strip() else {}
            value = self._json(cell)
            if _is_shapes(value):
                out += self._shapes(row, line, column, element, value, asset, attributes,
                                    unconverted)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                out.append(Label(element, "labels", None, value=value, attributes=attributes))
            elif value is not None:
                unconverted[f"{column} (JSON)"] = unconverted.get(f"{column} (JSON)", 0) + 1
            elif len(cell) <= _SHORT_ANSWER and "\n" not in cell:
                out.append(Label(element, "class", cell, value=cell, attributes=attributes))
            else:
                out.append(Label(element, "text", None, value=cell, attributes=attributes))
        return out

    @staticmethod
    def _json(cell: str) -> object:
        text = cell.strip()
        if not text.startswith(("[", "{")):
            return None
        try:
            return loads_json(text)
        except ValueError:
            return None  # a typed answer that happens to start with a bracket

    def _shapes(self, row: int, line: int, column: str, element: str, shapes: Any,
                asset: str | None, attributes: dict[str, Any],
                unconverted: dict[str, int]) -> list[Label]:
        size = self.size(asset)
        if size is None:
            key = "image-annotation shape (image size unknown)"
            unconverted[key] = unconverted.get(key, 0) + len(shapes)
            return []
        out = []
        for shape in shapes:
            label = _shape_label(self.rows, (row, line, column), element, shape, size,
                                 attributes)
            if label is None:
                key = f"image-annotation shape {str(shape.get('type'))[:40]}"
                unconverted[key] = unconverted.get(key, 0) + 1
            else:
                out.append(label)
        return out


def _read_rows(path: str, max_field_bytes: int, max_columns: int) -> _Rows:
    with open_table(path, delimiter="\t", blank_lines=True, max_field_bytes=max_field_bytes,
                    max_columns=max_columns) as table:
        _check_header(path, table.header)
        rows = _Rows(path, table.header)
        for row, line, cells in table:
            record = dict(zip(table.header, cells, strict=True))
            status = record[_STATUS].strip().upper()
            worker = record[_WORKER].strip()
            if not record[_ID].strip():
                raise rows.fail(row, line, _ID, "the assignment id is empty", worker)
            if not worker:
                raise rows.fail(row, line, _WORKER, "the Toloker's id is empty")
            if status == "ACTIVE":
                rows.active += 1
                continue
            if status not in STATUS_MAP:
                raise rows.fail(row, line, _STATUS, f"{quote_cell(record[_STATUS])} is not a "
                                f"Toloka status ({', '.join(sorted(STATUS_MAP))} or ACTIVE)",
                                worker)
            rows.groups.setdefault(record[_ID].strip(), []).append((row, line, record))
    return rows


def _same(rows: _Rows, group: list[tuple[int, int, dict[str, str]]], name: str) -> str:
    """The one value a column has over a suite's rows (blank rows aside)."""
    first_row, _, first = group[0]
    values = {r[2].get(name, "").strip() for r in group} - {""}
    if len(values) > 1:
        row, line, _ = group[-1]
        raise rows.fail(row, line, name, f"the rows of assignment {quote_cell(group[0][2][_ID])} "
                        f"disagree on {name}", first[_WORKER])
    return values.pop() if values else ""


def _review(rows: _Rows, group: list[tuple[int, int, dict[str, str]]],
            accepted: datetime | None, rejected: datetime | None) -> Review | None:
    verdict = _same(rows, group, _VERDICT)
    comment = _same(rows, group, _COMMENT)
    if not verdict:
        return None
    if verdict not in ("+", "-"):
        row, line, record = next(g for g in group if g[2].get(_VERDICT, "").strip())
        raise rows.fail(row, line, _VERDICT, f"{quote_cell(verdict)} is not a verdict: Toloka "
                        "takes + (accept) or - (reject)", record[_WORKER])
    if verdict == "-":
        return Review("Rejected", reason=comment, time=rejected)
    return Review("Approved", reason=comment, time=accepted)


def _task_id(record: dict[str, str]) -> str:
    given = record.get("ASSIGNMENT:task_id", "").strip()
    if given:
        return given
    inputs = {k: v for k, v in record.items() if k.startswith(_INPUT)}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"input:{digest[:16]}"


def _asset(record: dict[str, str]) -> str | None:
    for column, value in record.items():
        if column.startswith(_INPUT) and _IMAGE.search(value.strip()):
            return value.strip()
    return None


def _suite_works(rows: _Rows, assignment: str, group: list[tuple[int, int, dict[str, str]]],
                 pool: str, converter: _Converter) -> list[Work]:
    row0, line0, first = group[0]
    worker = _same(rows, group, _WORKER)
    status = STATUS_MAP[_same(rows, group, _STATUS).upper()]
    times = {name: _time(rows, row0, line0, first, f"{_ASSIGNMENT}{name}")
             for name in ("started", "submitted", "accepted", "rejected")}
    reward = _reward(rows, row0, line0, _same(rows, group, "ASSIGNMENT:reward"))
    review = _review(rows, group, times["accepted"], times["rejected"])
    n = len(group)
    cents = None
    if reward is not None:
        cents = _split(int((reward * 100).quantize(Decimal(1), ROUND_HALF_UP)), n)
    duration = None
    if times["started"] and times["submitted"]:
        duration = max((times["submitted"] - times["started"]).total_seconds(), 0.0) / n
    works = []
    for k, (row, line, record) in enumerate(group):
        task = _task_id(record)
        asset = _asset(record)
        size = converter.size(asset)
        unconverted: dict[str, int] = {}
        labels = converter.labels(row, line, record, asset, unconverted)
        raw: dict[str, Any] = {c: ("<worker>" if v.strip() == worker else v)
                               for c, v in record.items() if c != _WORKER}
        raw["suite"] = {"assignment_id": assignment, "tasks": n, "position": k + 1}
        raw["control_task"] = any(v.strip() for c, v in record.items() if c.startswith(_GOLDEN))
        raw["training_task"] = bool(record.get("HINT:text", "").strip())
        works.append(Work(
            row=row, assignment_id=assignment if n == 1 else f"{assignment}/{k + 1}",
            task_id=task, batch_key=pool, worker=Person(worker), status=status,
            asset_uri=asset, asset_width=size[0] if size else None,
            asset_height=size[1] if size else None, accept_time=times["started"], submit_time=times["submitted"],
            work_time_s=duration, time_kind="wall_clock_accept_to_submit",
            reward_cents=cents[k] if cents else None, feedback=review.reason if review else "",
            labels=labels, review=review, raw=raw, unconverted=unconverted))
    return works


def _pool_key(rows: _Rows, given: str | None) -> str:
    if given:
        return given
    for group in rows.groups.values():
        found = _POOL_IN_LINK.search(group[0][2].get("ASSIGNMENT:link", ""))
        if found:
            return found.group(1)
    return Path(rows.path).stem


def read_toloka(path: str | PathLike[str], *, pool: str | None = None,
                image_size: ImageSize | None = None,
                max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
                max_columns: int = DEFAULT_MAX_COLUMNS) -> PlatformFile:
    """Read a Toloka results TSV whole (checking every row) into one Work per task.

    ``pool`` names the batch (default: the pool id in ``ASSIGNMENT:link``, else the file
    name); ``image_size`` gives a task image's ``(width, height)`` from its URL, to turn
    relative shapes into pixels (see :func:`image_sizes_in`).
    """
    name = str(path)
    rows = _read_rows(name, max_field_bytes, max_columns)
    key = _pool_key(rows, pool)
    converter = _Converter(rows, image_size)
    works: list[Work] = []
    for assignment, group in rows.groups.items():
        works += _suite_works(rows, assignment, group, key, converter)
    notes = [f"Each task suite's reward and time are divided evenly among its tasks; "
             f"{sum(len(g) > 1 for g in rows.groups.values())} of "
             f"{len(rows.groups)} assignments are suites of several tasks."]
    if rows.active:
        notes.append(f"Left out: {rows.active} row(s) of assignments still in progress "
                     "(ACTIVE); download and import the results again when they are done.")
    unknown = sum(w.unconverted.get("image-annotation shape (image size unknown)", 0)
                  for w in works)
    if unknown:
        notes.append(f"{unknown} image-annotation shapes are kept raw, not converted: Toloka "
                     "writes them relative to the image, whose size the file does not hold "
                     "(give the images' folder).")
    notes.append("Pay is the suite's ASSIGNMENT:reward where the file has it; bonuses are "
                 "not in Toloka's file.")
    return PlatformFile(platform=PLATFORM, batches=[Batch(key=key, title=f"Toloka pool {key}")],
                        works=works, notes=notes)
