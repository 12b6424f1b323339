"""Mechanical Turk Requester UI "Batch results" CSV → typed :class:`Assignment` records.

One row of the file is one assignment: 27 fixed columns, one ``Input.<name>`` per input column,
the ``Answer.*`` columns and ``Approve``/``Reject``. Columns are found by name only (old files sort
the answer columns alphabetically). Answers come in three layouts, told apart by the header:

``taskAnswers``
    one ``Answer.taskAnswers`` cell holding a JSON array with one object (crowd-form);
``dotted``
    the crowd-form object flattened into ``Answer.a.b.c`` columns; list leaves
    (``boundingBoxes``, ``labels``) hold JSON (``labels`` also a Python list literal) and
    ``true``/``false`` become booleans. In ``Answer.<x>.labelMappings.<Label>.color`` the label
    is everything between ``labelMappings.`` and the last ``.color``, so labels may contain dots;
``plain``
    classic HTML forms: one ``Answer.<field>`` per form field, kept as strings.

An empty cell is read as "no value" (a batch's columns are the union over all its rows, so an
empty cell usually means the worker's form did not send that key). Known crowd-element outputs
become :data:`Element` records; everything else is kept raw as :class:`FormField`. Colours are
normalised to lowercase ``#rrggbb``; the short form ``#rgb`` is expanded.

This module is pure: it reads the file and returns records. Raw worker ids appear in the
records (the ingest layer moves them to the vault) but never in an error message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from os import PathLike
from types import TracebackType
from typing import Any, Literal, TypeAlias

from tracework.core.errors import InputError
from tracework.formats.csvio import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_FIELD_BYTES,
    masked,
    open_table,
    quote_cell,
    sha256_file,
)
from tracework.formats.dates import parse_platform_date
from tracework.formats.mturk_answers import (
    ANSWER_PREFIX,
    DEFAULT_MAX_PIXELS,
    TASK_ANSWERS,
    UNCONVERTED_KEYS,
    Answers,
    BoundingBoxes,
    Box,
    Choice,
    Element,
    FormField,
    Layout,
    MultiChoice,
    Polygon,
    Polygons,
    Segmentation,
    Unconverted,
    element_tag,
    plan_answers,
)

__all__ = [
    "ANSWER_PREFIX",
    "FIXED_COLUMNS",
    "INPUT_PREFIX",
    "REQUIRED_COLUMNS",
    "HIT_MUTABLE_COLUMNS",
    "NON_CONTENT_COLUMNS",
    "REVIEW_COLUMNS",
    "STATUSES",
    "ApprovalRate",
    "Assignment",
    "Batch",
    "BoundingBoxes",
    "Box",
    "Choice",
    "DEFAULT_MAX_PIXELS",
    "Polygon",
    "Polygons",
    "UNCONVERTED_KEYS",
    "Unconverted",
    "element_tag",
    "Element",
    "FormField",
    "Layout",
    "MultiChoice",
    "Segmentation",
    "Status",
    "content_fields",
    "read_batch",
]

FIXED_COLUMNS: tuple[str, ...] = (
    "HITId", "HITTypeId", "Title", "Description", "Keywords", "Reward", "CreationTime",
    "MaxAssignments", "RequesterAnnotation", "AssignmentDurationInSeconds",
    "AutoApprovalDelayInSeconds", "Expiration", "NumberOfSimilarHITs", "LifetimeInSeconds",
    "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime", "SubmitTime",
    "AutoApprovalTime", "ApprovalTime", "RejectionTime", "RequesterFeedback",
    "WorkTimeInSeconds", "LifetimeApprovalRate", "Last30DaysApprovalRate",
    "Last7DaysApprovalRate",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("HITId", "AssignmentId", "WorkerId", "AssignmentStatus")

#: Columns about the review of the work, not the work: they change between two downloads of
#: the same batch (a decision, a rate update) while the submitted work stays the same.
REVIEW_COLUMNS: frozenset[str] = frozenset({
    "AssignmentStatus", "AutoApprovalTime", "ApprovalTime", "RejectionTime",
    "RequesterFeedback", "LifetimeApprovalRate", "Last30DaysApprovalRate",
    "Last7DaysApprovalRate", "Approve", "Reject",
})

#: Columns of the HIT that its requester may change after work was submitted (extending a
#: HIT adds assignments and time); they describe the task's publication, not the work.
HIT_MUTABLE_COLUMNS: frozenset[str] = frozenset({
    "Expiration", "MaxAssignments", "NumberOfSimilarHITs", "LifetimeInSeconds",
})

#: Everything that is not the submitted work itself.
NON_CONTENT_COLUMNS: frozenset[str] = REVIEW_COLUMNS | HIT_MUTABLE_COLUMNS

INPUT_PREFIX = "Input."

Status: TypeAlias = Literal["Submitted", "Approved", "Rejected"]
STATUSES: tuple[Status, ...] = ("Submitted", "Approved", "Rejected")

_DATE_COLUMNS = ("CreationTime", "Expiration", "AcceptTime", "SubmitTime", "AutoApprovalTime",
                 "ApprovalTime", "RejectionTime")
_RATE_COLUMNS = {"lifetime": "LifetimeApprovalRate", "last30": "Last30DaysApprovalRate",
                 "last7": "Last7DaysApprovalRate"}
#: Keys that mark the output of a crowd element tracework keeps raw, and the element's tag.





@dataclass(frozen=True)
class ApprovalRate:
    """A worker's approval rate with this requester as MTurk prints it, e.g. ``98% (49/50)``."""

    percent: float
    approved: int | None
    total: int | None


@dataclass(frozen=True)
class Assignment:
    """One row of a batch results file. Times are UTC-aware; empty cells are None or ''."""

    row: int
    line: int
    cells: dict[str, str] = field(repr=False)
    hit_id: str
    hit_type_id: str
    title: str
    description: str
    keywords: str
    reward_cents: int | None
    creation_time: datetime | None
    max_assignments: int | None
    requester_annotation: str
    batch_key: str
    assignment_duration_s: int | None
    auto_approval_delay_s: int | None
    expiration: datetime | None
    lifetime_s: int | None
    assignment_id: str
    worker_id: str = field(repr=False)
    status: Status
    accept_time: datetime | None
    submit_time: datetime | None
    auto_approval_time: datetime | None
    approval_time: datetime | None
    rejection_time: datetime | None
    requester_feedback: str
    work_time_s: int | None
    approval_rates: dict[str, ApprovalRate | None]
    inputs: dict[str, str]
    answer: dict[str, Any] = field(repr=False)
    elements: tuple[Element, ...] = field(repr=False)
    approve_mark: str
    reject_mark: str


def content_fields(a: Assignment) -> dict[str, str]:
    """The cells that define the submitted work: the row without :data:`NON_CONTENT_COLUMNS`.

    Two downloads of one assignment with equal content fields hold the same work, whatever
    happened to its review, or to the HIT's expiry and size, in between.
    """
    return {k: v for k, v in a.cells.items() if k not in NON_CONTENT_COLUMNS}


# -- cell parsers ------------------------------------------------------------------------------

_REWARD = re.compile(r"\$?\s*(\d{1,9})(?:\.(\d{1,2}))?")
_INT = re.compile(r"\d{1,18}")
_RATE = re.compile(r"\s*(\d{1,3}(?:\.\d+)?)\s*%\s*(?:\(\s*(\d+)\s*/\s*(\d+)\s*\))?\s*")
_BATCH_ID = re.compile(r"(?:^|;)\s*BatchId:\s*(\d+)")
_COLOUR = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


class _Row:
    """One row being read: cell access plus errors that name the file, row and field."""

    def __init__(self, file: str, row: int, line: int, cells: dict[str, str]) -> None:
        self.file, self.row, self.line, self.cells = file, row, line, cells

    def fail(self, field_name: str | None, message: str, hint: str | None = None) -> InputError:
        return InputError(f"{message} (line {self.line})", file=self.file, row=self.row,
                          field=field_name, hint=hint)

    def text(self, column: str) -> str:
        return self.cells.get(column, "")

    def integer(self, column: str) -> int | None:
        cell = self.text(column).strip()
        if not cell:
            return None
        if not _INT.fullmatch(cell):
            raise self.fail(column, f"{quote_cell(cell)} is not a whole number")
        return int(cell)

    def date(self, column: str) -> datetime | None:
        cell = self.text(column).strip()
        if not cell:
            return None
        try:
            return parse_platform_date(cell)
        except ValueError as exc:
            raise self.fail(column, f"{quote_cell(cell)}: {exc}",
                            hint="Import the file as MTurk wrote it; a spreadsheet program "
                                 "may have rewritten its dates.") from None

    def reward(self, column: str) -> int | None:
        cell = self.text(column).strip()
        if not cell:
            return None
        match = _REWARD.fullmatch(cell)
        if match is None:
            raise self.fail(column, f"{quote_cell(cell)} is not an amount in dollars like '$0.15'")
        dollars, cents = match.groups()
        return int(dollars) * 100 + int((cents or "0").ljust(2, "0"))

    def rate(self, column: str) -> ApprovalRate | None:
        # Informational and of unverified format: anything unexpected is simply unknown.
        match = _RATE.fullmatch(self.text(column))
        if match is None:
            return None
        percent, approved, total = match.groups()
        return ApprovalRate(float(percent), int(approved) if approved else None,
                            int(total) if total else None)



# -- the file ----------------------------------------------------------------------------------

#: Trailing columns the platform's download leaves out of a row when they are empty.
_OPTIONAL_TRAILING = frozenset({"Approve", "Reject", ""})

_ID = re.compile(r"[A-Za-z0-9]{8,64}")


def _is_status(cell: str) -> bool:
    return cell in STATUSES


def _is_id(cell: str) -> bool:
    return _ID.fullmatch(cell) is not None


def _is_int_or_empty(cell: str) -> bool:
    return not cell.strip() or _INT.fullmatch(cell.strip()) is not None


def _is_date_or_empty(cell: str) -> bool:
    if not cell.strip():
        return True
    try:
        parse_platform_date(cell.strip())
    except ValueError:
        return False
    return True


#: Fixed columns whose cells have a recognisable shape: they show when columns moved.
_ANCHORS = {
    "HITId": _is_id, "HITTypeId": _is_id, "CreationTime": _is_date_or_empty,
    "MaxAssignments": _is_int_or_empty, "AssignmentDurationInSeconds": _is_int_or_empty,
    "AutoApprovalDelayInSeconds": _is_int_or_empty, "Expiration": _is_date_or_empty,
    "AssignmentId": _is_id, "WorkerId": _is_id, "AssignmentStatus": _is_status,
    "AcceptTime": _is_date_or_empty, "SubmitTime": _is_date_or_empty,
    "WorkTimeInSeconds": _is_int_or_empty,
}


def _optional_tail(header: list[str]) -> int:
    count = 0
    for name in reversed(header):
        if name not in _OPTIONAL_TRAILING:
            break
        count += 1
    return count


def _padded(cells: list[str], width: int) -> list[str]:
    return cells + [""] * (width - len(cells)) if len(cells) < width else cells

class Batch:
    """An open batch results file; iterate for :class:`Assignment` records, one row at a time."""

    def __init__(self, path: str | PathLike[str], *, max_field_bytes: int,
                 max_pixels: int, max_columns: int) -> None:
        self.path = str(path)
        self._table = open_table(path, max_field_bytes=max_field_bytes, ragged=True,
                                 max_columns=max_columns)
        self.max_pixels = max_pixels
        try:
            self.header: list[str] = list(self._table.header)
            self._check_columns()
            answers = [c for c in self.header if c.startswith(ANSWER_PREFIX)]
            flattened = [c for c in answers if c != TASK_ANSWERS]
            self.layout: Layout = (
                "taskAnswers" if TASK_ANSWERS in answers
                else "dotted" if any("." in c[len(ANSWER_PREFIX):] for c in flattened)
                else "plain")
            self.answer_columns = answers
            self.input_columns = [c for c in self.header if c.startswith(INPUT_PREFIX)]
            self._plan = plan_answers(self.path, flattened)
            self._optional_tail = _optional_tail(self.header)
        except BaseException:
            self._table.close()
            raise

    def _check_columns(self) -> None:
        present = set(self.header)
        missing = [c for c in REQUIRED_COLUMNS if c not in present]
        if not any(c.startswith(ANSWER_PREFIX) for c in self.header):
            missing.append("Answer.* (at least one answer column)")
        if missing:
            raise InputError(
                f"missing required column(s): {', '.join(missing)}", file=self.path,
                hint="Use the file from Manage → Results → Download CSV in the MTurk Requester "
                     "UI, unedited; column order does not matter, names do.")

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the file's bytes (read separately, on first use)."""
        return sha256_file(self.path)

    def __iter__(self) -> Iterator[Assignment]:
        for row, line, cells in self._table:
            record = dict(zip(self.header, cells, strict=False))
            try:
                self._check_shape(row, line, cells)
                record = dict(zip(self.header, _padded(cells, len(self.header)), strict=True))
                r = _Row(self.path, row, line, record)
                try:
                    assignment = self._assignment(r)
                except InputError as exc:
                    if exc.field in _ANCHORS:
                        raise self._shifted(r, cells) or exc from None
                    raise
            except InputError as exc:
                raise masked(exc, record.get("WorkerId", "")) from None
            yield assignment

    def _check_shape(self, row: int, line: int, cells: list[str]) -> None:
        """Rows may leave out the platform's optional trailing cells; any other width is an
        error, explained as shifted columns when the fixed columns show a shift."""
        missing = len(self.header) - len(cells)
        if missing == 0 or 0 < missing <= self._optional_tail:
            return
        r = _Row(self.path, row, line, dict(zip(self.header, cells, strict=False)))
        shifted = self._shifted(r, cells)
        if shifted is not None:
            raise shifted
        tail = ", ".join(self.header[len(self.header) - self._optional_tail:]) or "none"
        raise r.fail(None, f"{len(cells)} cells where the header has {len(self.header)} "
                     f"columns", hint="A row may leave out only the trailing optional "
                     f"columns ({tail}); re-download the file from MTurk, or check the row "
                     "for a cell that lost or gained a delimiter.")

    def _shifted(self, r: _Row, cells: list[str]) -> InputError | None:
        """An error naming the likely cause when the fixed columns read right only shifted."""
        index = {name: i for i, name in enumerate(self.header)}
        anchors = [(index[c], c) for c in _ANCHORS if c in index]
        anchors.sort()

        def fits(i: int, name: str, shift: int) -> bool:
            j = i + shift
            return 0 <= j < len(cells) and _ANCHORS[name](cells[j])

        ok = [i for i, name in anchors if fits(i, name, 0)]
        broken = [(i, name) for i, name in anchors if not fits(i, name, 0)]
        # One odd cell is a bad value, not a shift: a shift breaks several fixed columns.
        if len(broken) < 2:
            return None
        first = broken[0][0]
        for shift in (1, 2, 3, -1, -2, -3):
            later = [(i, n) for i, n in anchors if i >= first]
            if all(fits(i, n, shift) for i, n in later):
                before = max((i for i in ok if i < first), default=-1)
                gap = [self.header[k] for k in range(before + 1, first)
                       if self.header[k] not in _ANCHORS]
                where = gap[-1] if len(gap) == 1 else " or ".join(gap) if gap else \
                    self.header[first - 1] if first else "the first column"
                return r.fail(self.header[first], f"the columns after {where} look shifted "
                              f"by {shift}: a cell holds a ';' or ',' that split it, or lost "
                              "one", hint="Import the file as MTurk wrote it; if it was "
                              "edited in a spreadsheet, re-download it from MTurk.")
        return None

    def _assignment(self, r: _Row) -> Assignment:
        for column in ("HITId", "AssignmentId", "WorkerId"):
            if not r.text(column).strip():
                raise r.fail(column, "is empty")
        status = r.text("AssignmentStatus")
        if status not in STATUSES:
            raise r.fail("AssignmentStatus", f"{quote_cell(status)} is not one of "
                         f"{', '.join(STATUSES)}")
        dates = {c: r.date(c) for c in _DATE_COLUMNS}
        for column, cell in r.cells.items():
            if "\x00" in cell:
                raise r.fail(column, "holds a NUL character (U+0000), which no database text "
                             "column can store", hint="Remove the NUL characters from the cell "
                             "(they are invisible in most editors) and import again.")
        builder = Answers(r, self.layout, self.max_pixels)
        answer = builder.build(self._plan)
        batch = _BATCH_ID.search(r.text("RequesterAnnotation"))
        return Assignment(
            row=r.row, line=r.line, cells=r.cells,
            hit_id=r.text("HITId"), hit_type_id=r.text("HITTypeId"), title=r.text("Title"),
            description=r.text("Description"), keywords=r.text("Keywords"),
            reward_cents=r.reward("Reward"), creation_time=dates["CreationTime"],
            max_assignments=r.integer("MaxAssignments"),
            requester_annotation=r.text("RequesterAnnotation"),
            batch_key=f"BatchId:{batch.group(1)}" if batch else r.text("HITTypeId"),
            assignment_duration_s=r.integer("AssignmentDurationInSeconds"),
            auto_approval_delay_s=r.integer("AutoApprovalDelayInSeconds"),
            expiration=dates["Expiration"], lifetime_s=r.integer("LifetimeInSeconds"),
            assignment_id=r.text("AssignmentId"), worker_id=r.text("WorkerId"),
            status=status,
            accept_time=dates["AcceptTime"], submit_time=dates["SubmitTime"],
            auto_approval_time=dates["AutoApprovalTime"], approval_time=dates["ApprovalTime"],
            rejection_time=dates["RejectionTime"],
            requester_feedback=r.text("RequesterFeedback"),
            work_time_s=r.integer("WorkTimeInSeconds"),
            approval_rates={k: r.rate(c) for k, c in _RATE_COLUMNS.items()},
            inputs={c[len(INPUT_PREFIX):]: r.text(c) for c in self.input_columns},
            answer=answer, elements=builder.elements(answer),
            approve_mark=r.text("Approve"), reject_mark=r.text("Reject"),
        )

    def close(self) -> None:
        self._table.close()

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def read_batch(path: str | PathLike[str], *,
               max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
               max_pixels: int = DEFAULT_MAX_PIXELS,
               max_columns: int = DEFAULT_MAX_COLUMNS) -> Batch:
    """Open a Requester UI batch results CSV (or a legacy tab-separated one).

    Raises :class:`~tracework.core.errors.InputError` at once for a bad header (missing required
    columns, duplicates, no rows) and, while iterating, for the first bad row. Rows may leave
    out the trailing ``Approve``/``Reject`` cells (and nameless trailing columns), as the
    platform's own download does. ``max_pixels`` caps the image size an answer may declare.
    """
    return Batch(path, max_field_bytes=max_field_bytes, max_pixels=max_pixels,
                 max_columns=max_columns)
