"""Qualtrics "Data & Analysis" CSV/TSV export → typed :class:`SurveyResponse` records.

A current export has three header rows: the column id (``Q5``, ``Q5_7_TEXT``, ``workerId``), a
label (question text) and an ImportId JSON object (``{"ImportId":"QID5"}``; older files write
``{'ImportId': 'QID5'}``). A file without the third row is refused rather than guessed at: when
rows 2–3 were deleted the question text would otherwise be read as somebody's answers.

Columns are recognised by ImportId first and by column id second (ids follow the export's
language and the survey author's renames; ImportIds do not):

- metadata (``startDate``, ``_recordId``, ``status``…) becomes the typed fields of a response;
  the identifying ones (IP address, location, recipient name and email, external reference)
  go to :attr:`SurveyResponse.identifying` only, never to ``values``;
- every other column, question or embedded data, is kept verbatim in ``values``;
- question columns are also grouped per question into :class:`Answer` values: breakout
  columns of one multiple-answer question (``QID9_1``, ``QID9_2`` or ``{"ImportId": "QID9",
  "choiceId": "1"}``) become one tuple of the selected choices; ``<Q>_<n>_TEXT`` columns become
  the ``other_text`` of question ``<Q>``; ``_DO`` display-order and timing columns stay in
  ``values`` only. Matrix questions share the breakout id pattern and are read the same way.

With "Use numeric values" a selected breakout cell holds ``1`` and the choice is named from
the row-2 label (the text after its last `` - ``); with "Use choice text" it holds the choice
text. A single-answer question's value is the cell as written: its recode value in a numeric
export (the header rows carry no table of codes to translate it).

A column named in ``multi_select`` holds the selections joined by commas and is split on every
comma, so a choice text that itself contains a comma cannot be told apart from two choices:
export with "Split multi-value fields into columns" when choices contain commas.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import cached_property
from os import PathLike
from types import TracebackType
from typing import Any, Literal, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracework.core.errors import InputError
from tracework.formats.csvio import (
    DEFAULT_MAX_COLUMNS,
    DEFAULT_MAX_FIELD_BYTES,
    Table,
    loads_json,
    masked,
    open_table,
    quote_cell,
    sha256_file,
)
from tracework.formats.dates import SheetDates, parse_iso

__all__ = [
    "IDENTIFYING_COLUMNS",
    "METADATA_COLUMNS",
    "Answer",
    "Column",
    "EXCLUDED_TYPES",
    "RESPONSE_TYPES",
    "Question",
    "QuestionKind",
    "Survey",
    "SurveyResponse",
    "ValueMode",
    "read_survey",
]

#: Standard metadata columns: the column id of a current English export and its ImportId.
METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("StartDate", "startDate"),
    ("EndDate", "endDate"),
    ("Status", "status"),
    ("IPAddress", "ipAddress"),
    ("Progress", "progress"),
    ("Duration (in seconds)", "duration"),
    ("Finished", "finished"),
    ("RecordedDate", "recordedDate"),
    ("ResponseId", "_recordId"),
    ("RecipientLastName", "recipientLastName"),
    ("RecipientFirstName", "recipientFirstName"),
    ("RecipientEmail", "recipientEmail"),
    ("ExternalReference", "externalDataReference"),
    ("LocationLatitude", "locationLatitude"),
    ("LocationLongitude", "locationLongitude"),
    ("DistributionChannel", "distributionChannel"),
    ("UserLanguage", "userLanguage"),
)

#: Metadata that identifies a person; kept apart so the ingest layer can vault it.
IDENTIFYING_COLUMNS: tuple[str, ...] = (
    "IPAddress", "LocationLatitude", "LocationLongitude", "RecipientLastName",
    "RecipientFirstName", "RecipientEmail", "ExternalReference",
)

_DATES = ("StartDate", "EndDate", "RecordedDate")
_PREVIEW_STATUSES = frozenset({"Survey Preview", "1"})
#: Response types (``Status``) by numeric code and by choice text, lower case. Qualtrics
#: documents 0 IP address, 1 preview, 2 test, 4 imported, 8 spam, 16 offline; unknown codes
#: are kept as written.
RESPONSE_TYPES: dict[str, str] = {
    "0": "normal", "ip address": "normal", "anonymous": "normal", "": "normal",
    "1": "preview", "survey preview": "preview",
    "2": "test", "survey test": "test", "test": "test",
    "4": "imported", "imported": "imported",
    "8": "spam", "spam": "spam",
    "16": "offline", "offline": "offline", "offline app": "offline",
}
#: Response types an import leaves out unless asked: they are nobody's real answers.
EXCLUDED_TYPES: frozenset[str] = frozenset({"preview", "test", "spam"})
_TRUE = frozenset({"1", "True", "true", "TRUE"})
_FALSE = frozenset({"0", "False", "false", "FALSE"})
_INT = re.compile(r"\d{1,18}")
_SHEET_LIKE = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}")

ValueMode: TypeAlias = Literal["text", "numeric", "unknown"]
QuestionKind: TypeAlias = Literal["single", "multi", "text", "other"]

_REEXPORT = ('Re-export from Qualtrics: Data & Analysis → Export & Import → Export data → CSV, '
             'with the default options, and import that file unedited.')


@dataclass(frozen=True)
class Column:
    """One column as the three header rows describe it."""

    id: str
    label: str
    import_id: str
    import_meta: dict[str, Any]


@dataclass(frozen=True)
class Question:
    """A question and the columns that hold its answer (grouping is best effort)."""

    id: str
    label: str
    columns: tuple[str, ...]
    kind: QuestionKind
    import_id: str = ""


@dataclass(frozen=True)
class Answer:
    """One question's answer: a string, the tuple of selected choices, or None if empty."""

    question: str
    value: str | tuple[str, ...] | None
    other_text: str | None


@dataclass(frozen=True)
class SurveyResponse:
    """One response. Times are UTC-aware. ``worker_key`` is the raw embedded worker id."""

    row: int
    line: int
    response_id: str
    status: str
    response_type: str
    is_preview: bool
    finished: bool | None
    progress: int | None
    start: datetime | None
    end: datetime | None
    recorded: datetime | None
    duration_s: int | None
    language: str | None
    worker_key: str | None = field(repr=False)
    values: dict[str, str] = field(repr=False)
    answers: dict[str, Answer] = field(repr=False)
    identifying: dict[str, str] = field(repr=False)


# -- header ------------------------------------------------------------------------------------

def _import_meta(cell: str) -> dict[str, Any] | None:
    """The parsed ImportId object of a row-3 cell, or None if the cell is not one."""
    text = cell.strip()
    if not text.startswith("{"):
        return None
    meta: object
    try:
        meta = loads_json(text)
    except ValueError:
        meta = _single_quoted_object(text)
    if isinstance(meta, dict) and isinstance(meta.get("ImportId"), str):
        return meta
    return None


def _single_quoted_object(text: str) -> dict[str, str] | None:
    """``{'ImportId': 'QID1'}`` as older exports wrote it, parsed without evaluating code."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    node = tree.body
    if not isinstance(node, ast.Dict):
        return None
    result: dict[str, str] = {}
    for key, value in zip(node.keys, node.values):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)
                and isinstance(value, ast.Constant) and isinstance(value.value, str)):
            return None
        result[key.value] = value.value
    return result


def _check_header(table: Table) -> None:
    """Refuse a file whose header rows 2–3 are missing, before anything reads them as data."""
    header, extra = table.header, table.extra_header_rows
    if len(extra) == 2:
        ids = [_import_meta(c) for c in extra[1]]
        filled = [(name, c, m) for name, c, m in zip(header, extra[1], ids) if c.strip()]
        good = [name for name, _, m in filled if m is not None]
        bad = [name for name, _, m in filled if m is None]
        if good and not bad:
            return
        if good:
            raise InputError(
                "header row 3 should hold an ImportId object (like {\"ImportId\":\"QID4\"}) "
                f"in every column; it does not for {', '.join(map(repr, bad[:10]))}",
                file=table.name, field=bad[0], hint=_REEXPORT)
    second = dict(zip(header, extra[0])) if extra else {}
    if "V1" in header and "ResponseID" in second.values():
        problem = ("this is a legacy Qualtrics export with 2 header rows (column ids V1, V2…), "
                   "which has no ImportId row")
    elif second.get("StartDate") == "Start Date" or second.get("ResponseId") == "Response ID":
        problem = ("the third header row (ImportId objects such as {\"ImportId\":\"QID4\"}) "
                   "is missing")
    else:
        problem = ("header rows 2 and 3 (question text and ImportId objects) are missing: the "
                   "second row looks like a response")
    raise InputError(
        f"{problem}. tracework needs Qualtrics' three header rows to tell question text from "
        "answers; without them question text could be imported as somebody's answer",
        file=table.name, hint=_REEXPORT)


def _timezone(table_name: str, column: Column) -> tzinfo:
    name = column.import_meta.get("timeZone")
    if name is None or name == "":
        return UTC
    if not isinstance(name, str):
        raise InputError("header row 3: timeZone must be a time zone name", file=table_name,
                         field=column.id)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InputError(f"header row 3: unknown time zone {quote_cell(name)}", file=table_name,
                         field=column.id,
                         hint="Use an IANA name such as America/Denver or UTC.") from None


_QID = re.compile(r"(QID\d+)(?:_(.*))?")
_OTHER = re.compile(r"(\d+)_TEXT")
_STEM = re.compile(r"(.+?)_(?:\d+_TEXT|\d+)")

_Part: TypeAlias = tuple[str, str, str]  # (qid, role, choice id)


def _question_part(column: Column) -> _Part | None:
    """Which question a column belongs to and as what; None for non-question columns."""
    match = _QID.fullmatch(column.import_id)
    if match is None:
        return None
    qid, suffix = match.group(1), match.group(2)
    if suffix is None:
        choice = column.import_meta.get("choiceId")
        if choice not in (None, ""):
            return qid, "choice", str(choice)
        return qid, "main", ""
    if suffix == "TEXT":
        return qid, "text", ""
    other = _OTHER.fullmatch(suffix)
    if other:
        return qid, "other", other.group(1)
    if suffix.isdigit():
        return qid, "choice", suffix
    # _DO display order, timing (_FIRST_CLICK…) and the like: values only.
    return qid, "extra", suffix


def _choice_label(label: str) -> str:
    return label.rsplit(" - ", 1)[-1].strip()


def _question_label(label: str, *, breakout: bool) -> str:
    if breakout and " - " in label:
        label = label.rsplit(" - ", 1)[0]
    return label.removesuffix(" - Selected Choice").strip()


@dataclass
class _Group:
    qid: str
    main: list[Column] = field(default_factory=list)
    choices: list[Column] = field(default_factory=list)
    others: list[Column] = field(default_factory=list)

    def question(self, multi_select: Collection[str]) -> Question:
        first = (self.main or self.choices or self.others)[0]
        stem = None if self.main else _STEM.fullmatch(first.id)
        qid_id = stem.group(1) if stem else first.id
        label = _question_label(first.label.removesuffix(" - Text"), breakout=not self.main)
        kind: QuestionKind
        if self.choices or any(c.id in multi_select for c in self.main):
            kind = "multi"
        elif self.main:
            kind = "text" if self.main[0].import_id.endswith("_TEXT") else "single"
        else:
            kind = "other"
        columns = tuple(c.id for c in (*self.main, *self.choices, *self.others))
        return Question(qid_id, label, columns, kind, self.qid)


def _named_apart(path: str, columns: list[Column]) -> list[Column]:
    """Columns sharing an export tag (row 1) renamed ``<tag>#<ImportId>``; refused when their
    ImportIds (row 3) are the same too, as then nothing tells them apart."""
    count: dict[str, int] = {}
    for column in columns:
        count[column.id] = count.get(column.id, 0) + 1
    if all(n == 1 for n in count.values()):
        return columns
    out, seen = [], set()
    for position, column in enumerate(columns, start=1):
        name = column.id
        if count[name] > 1:
            name = f"{column.id}#{column.import_id}"
            if name in seen or column.import_id == column.id:
                raise InputError(
                    f"header: column {column.id!r} appears twice (again at column "
                    f"{position}) with the same ImportId, so nothing tells the two apart",
                    file=path, field=column.id, hint=_REEXPORT)
        seen.add(name)
        out.append(Column(name, column.label, column.import_id, column.import_meta))
    return out


# -- the file ----------------------------------------------------------------------------------

class Survey:
    """An open Qualtrics export; iterate for :class:`SurveyResponse` records."""

    def __init__(self, path: str | PathLike[str], *, worker_column: str | None,
                 multi_select: Collection[str], max_field_bytes: int,
                 date_format: str | None = None,
                 max_columns: int = DEFAULT_MAX_COLUMNS) -> None:
        self.path = str(path)
        self.worker_column = worker_column
        self._table = open_table(path, max_field_bytes=max_field_bytes, header_rows=3,
                                 check_header=_check_header, duplicate_names=True,
                                 max_columns=max_columns)
        self._sheet_dates = SheetDates(date_format)
        try:
            self._read_header(tuple(multi_select))
        except BaseException:
            self._table.close()
            raise

    def _read_header(self, multi_select: tuple[str, ...]) -> None:
        table = self._table
        labels, imports = table.extra_header_rows
        width = len(table.header)
        # Qualtrics may end every line with a delimiter: a nameless last column, dropped.
        if width > 1 and not (table.header[-1] or labels[-1] or imports[-1].strip()):
            width -= 1
        self._width = width
        self.columns = _named_apart(self.path, [
            Column(table.header[i], labels[i], str(meta.get("ImportId", "")) or table.header[i],
                   meta)
            for i in range(width) for meta in [_import_meta(imports[i]) or {}]])
        self._roles = self._find_metadata()
        self._zones = {role: _timezone(self.path, self.columns[i])
                       for role, i in self._roles.items() if role in _DATES}
        if "ResponseId" not in self._roles:
            raise InputError("missing the ResponseId column (ImportId _recordId)",
                             file=self.path, hint=_REEXPORT)
        metadata = set(self._roles.values())
        self._value_columns = [i for i in range(width) if i not in metadata]
        self._worker_index = self._column_index(self.worker_column, "worker column")
        for name in multi_select:
            self._column_index(name, "multi_select column")
        self._build_questions(set(multi_select))
        self.value_mode = self._detect_mode()

    def _find_metadata(self) -> dict[str, int]:
        by_import = {imp: role for role, imp in METADATA_COLUMNS}
        by_id = {role for role, _ in METADATA_COLUMNS}
        roles: dict[str, int] = {}
        for i, column in enumerate(self.columns):
            role = by_import.get(column.import_id)
            if role is not None:
                roles.setdefault(role, i)
        taken = set(roles.values())
        for i, column in enumerate(self.columns):
            if column.id in by_id and i not in taken:
                roles.setdefault(column.id, i)
        return roles

    def _column_index(self, name: str | None, what: str) -> int | None:
        if name is None:
            return None
        for i, column in enumerate(self.columns):
            if column.id == name:
                return i
        available = [c.id for c in self.columns if _question_part(c) is None]
        raise InputError(
            f"the {what} {name!r} is not in the file; columns other than questions are: "
            f"{', '.join(available)}", file=self.path, field=name,
            hint="Name the column by its id in the first header row (e.g. workerId or "
                 "PROLIFIC_PID), spelled exactly as there.")

    def _build_questions(self, multi_select: set[str]) -> None:
        groups: dict[str, _Group] = {}
        for i in self._value_columns:
            column = self.columns[i]
            part = _question_part(column)
            if part is None:
                if column.id in multi_select:
                    raise InputError("a multi_select column must be a question column",
                                     file=self.path, field=column.id)
                continue
            qid, role, _ = part
            group = groups.setdefault(qid, _Group(qid))
            if role in ("main", "text"):
                group.main.append(column)
            elif role == "choice":
                group.choices.append(column)
            elif role == "other":
                group.others.append(column)
        self._multi_select = multi_select
        self.questions: dict[str, Question] = {}
        self._groups: dict[str, _Group] = {}
        for group in groups.values():
            if not (group.main or group.choices or group.others):
                continue
            question = group.question(multi_select)
            qid = question.id
            if qid in self.questions:  # two QIDs exported under one tag: keep both apart
                qid = f"{qid} ({group.qid})"
                question = Question(qid, question.label, question.columns, question.kind,
                                    question.import_id)
            self.questions[qid] = question
            self._groups[qid] = group

    def _detect_mode(self) -> ValueMode:
        first = self._table.peek()
        if first is None:
            return "unknown"
        cells = first[2]
        finished = self._cell(cells, "Finished")
        if finished in ("0", "1"):
            return "numeric"
        if finished in ("True", "False"):
            return "text"
        status = self._cell(cells, "Status")
        if status:
            return "numeric" if status.isdigit() else "text"
        return "unknown"

    def _cell(self, cells: list[str], role: str) -> str:
        index = self._roles.get(role)
        return cells[index] if index is not None else ""

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the file's bytes (read separately, on first use)."""
        return sha256_file(self.path)

    # -- rows ----------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[SurveyResponse]:
        seen: dict[str, int] = {}
        for row, line, cells in self._table:
            worker = cells[self._worker_index] if self._worker_index is not None else None
            try:
                response = self._response(row, line, cells, worker)
                first = seen.setdefault(response.response_id, row)
                if first != row:
                    raise self._fail(row, line, "ResponseId",
                                     f"the same ResponseId as row {first}; each response "
                                     "must appear once")
            except InputError as exc:
                raise masked(exc, worker or "") from None
            yield response

    def _fail(self, row: int, line: int, field_name: str | None, message: str,
              hint: str | None = None) -> InputError:
        return InputError(f"{message} (line {line})", file=self.path, row=row,
                          field=field_name, hint=hint)

    def _response(self, row: int, line: int, cells: list[str],
                  worker: str | None) -> SurveyResponse:
        for extra in cells[self._width:]:
            if extra:
                raise self._fail(row, line, None, "the nameless last column holds data")
        response_id = self._cell(cells, "ResponseId").strip()
        if not response_id:
            raise self._fail(row, line, self.columns[self._roles["ResponseId"]].id, "is empty")
        status = self._cell(cells, "Status")
        channel = self._cell(cells, "DistributionChannel")
        values = {self.columns[i].id: cells[i] for i in self._value_columns}
        identifying = {role: cells[i] for role, i in self._roles.items()
                       if role in IDENTIFYING_COLUMNS and cells[i]}
        for i, cell in enumerate(cells[:self._width]):
            if "\x00" in cell:
                raise self._fail(row, line, self.columns[i].id, "holds a NUL character "
                                 "(U+0000), which no database text column can store",
                                 hint="Remove the NUL characters from the cell and import "
                                      "again.")
        kind = RESPONSE_TYPES.get(status.strip().lower(), status.strip())
        if channel.strip().lower() == "preview":
            kind = "preview"
        return SurveyResponse(
            row=row, line=line, response_id=response_id, status=status, response_type=kind,
            is_preview=status.strip() in _PREVIEW_STATUSES or channel.strip().lower() == "preview",
            finished=self._flag(cells), progress=self._integer(row, line, cells, "Progress"),
            start=self._date(row, line, cells, "StartDate"),
            end=self._date(row, line, cells, "EndDate"),
            recorded=self._date(row, line, cells, "RecordedDate"),
            duration_s=self._integer(row, line, cells, "Duration (in seconds)"),
            language=self._cell(cells, "UserLanguage") or None,
            worker_key=worker, values=values, answers=self._answers(values),
            identifying=identifying,
        )

    def _flag(self, cells: list[str]) -> bool | None:
        cell = self._cell(cells, "Finished").strip()
        return True if cell in _TRUE else False if cell in _FALSE else None

    def _integer(self, row: int, line: int, cells: list[str], role: str) -> int | None:
        cell = self._cell(cells, role).strip()
        if not cell:
            return None
        if not _INT.fullmatch(cell):
            raise self._fail(row, line, self.columns[self._roles[role]].id,
                             f"{quote_cell(cell)} is not a whole number")
        return int(cell)

    def _date(self, row: int, line: int, cells: list[str], role: str) -> datetime | None:
        cell = self._cell(cells, role).strip()
        if not cell:
            return None
        zone = self._zones[role]
        try:
            parsed = self._sheet_dates.parse(cell, zone)
            return parsed if parsed is not None else parse_iso(cell, zone)
        except ValueError as exc:
            hint = None
            if _SHEET_LIKE.match(cell):
                hint = ("A spreadsheet program re-saved the dates; tell tracework how to read "
                        "them with --date-format, e.g. --date-format '%m/%d/%Y %H:%M' (month "
                        "first) or '%d/%m/%Y %H:%M' (day first).")
            raise self._fail(row, line, self.columns[self._roles[role]].id,
                             f"{quote_cell(cell)} is not a date like '2024-05-01 13:45:00' "
                             f"({exc})", hint=hint) from None

    def _answers(self, values: dict[str, str]) -> dict[str, Answer]:
        answers = {}
        for qid, question in self.questions.items():
            group = self._groups[qid]
            value: str | tuple[str, ...] | None
            if group.choices:
                value = self._selected(group.choices, values)
            elif group.main:
                cell = values[group.main[0].id]
                if not cell:
                    value = None
                elif question.kind == "multi":
                    value = tuple(cell.split(","))
                else:
                    value = cell
            else:
                value = None
            texts = [values[c.id] for c in group.others if values[c.id]]
            answers[qid] = Answer(qid, value, "\n".join(texts) if texts else None)
        return answers

    def _selected(self, choices: list[Column], values: dict[str, str]) -> tuple[str, ...] | None:
        picked = []
        for column in choices:
            cell = values[column.id]
            if not cell:
                continue
            if self.value_mode == "numeric":
                if cell == "0":
                    continue
                # A matrix row holds a scale value rather than 1: kept as written.
                picked.append(_choice_label(column.label) if cell == "1" else cell)
            else:
                picked.append(cell)
        return tuple(picked) or None

    def close(self) -> None:
        self._table.close()

    def __enter__(self) -> Survey:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def read_survey(path: str | PathLike[str], *, worker_column: str | None,
                multi_select: Collection[str] = (),
                max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
                date_format: str | None = None,
                max_columns: int = DEFAULT_MAX_COLUMNS) -> Survey:
    """Open a Qualtrics export (CSV, or the UTF-16 TSV) for streaming.

    ``worker_column`` names, by column id, the embedded-data column holding the platform worker
    id (``workerId``, ``PROLIFIC_PID``…); ``multi_select`` names question columns that hold
    comma-joined selections. Header problems raise :class:`~tracework.core.errors.InputError` at
    once; row problems while iterating. Dates re-saved by a spreadsheet (``11/11/2017 2:48``)
    are read too; ``date_format`` (``strftime`` codes) says how when day and month could be
    either. Export tags shared by two questions are told apart by ImportId (``Q22a#QID47``).
    """
    return Survey(path, worker_column=worker_column, multi_select=multi_select,
                  max_field_bytes=max_field_bytes, date_format=date_format,
                  max_columns=max_columns)
