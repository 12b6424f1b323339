"""The spreadsheet round trip: a workbook of the project's tables out, people's edits back in.

:func:`sheet_export` writes Annotations (with provenance), Submissions, Workers (pseudonyms,
and the survey answers of workers who consented to publication that the export rules let out),
the Taxonomy in force, the Notes and the Log (every ledger entry; a credit name never: names
are published only in the credits). A cell that carries a note is filled with the note's
concern colour and holds the note as a comment; a note on a row (``annotation:17``) marks the
row's key cell. Read-only columns have a grey header, editable ones a green one; sheets without
an editable column are protected. A table with more rows than a worksheet holds
(:data:`~tracework.fieldnotes.xlsx.MAX_ROWS`, its header included) continues on further sheets,
``Log (2)``, ``Log (3)`` …, each starting with the header; the report names them.

:func:`sheet_import` compares an edited workbook with the store cell by cell. Editable cells
(an annotation's category, a submission's requester feedback) that differ become one ledger
entry each, with old and new value; rows typed into the Notes sheet without an id become notes.
A table's further sheets are read as part of it. Everything else is read-only: an edit there,
a renamed or missing sheet, moved columns or a duplicated row stop the import with the sheet
and cell named, and nothing is recorded. A cell whose row changed in the store after the
export (a review, say) is not held against the workbook, but an editable cell whose stored
value moved on is a conflict. Importing the same workbook twice records nothing the second
time.

Text that a spreadsheet could run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
CR) is written with a leading ``'``, which the import takes off again.
"""


import hashlib
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Select, func, select, update

from tracework.core import integrity, taxonomy
from tracework.core import ledger as _ledger
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.project import Project
from tracework.core.store.schema import (
    annotations,
    answers,
    ledger,
    responses,
    submissions,
    workers,
)
from tracework.core.store.tables_notes import notes
from tracework.dataset.policy import SurveyPolicy, survey_policy
from tracework.fieldnotes import xlsx
from tracework.fieldnotes.xlsx import SheetWriter, WorkbookWriter, column_letter

__all__ = [
    "TABLES",
    "ImportReport",
    "SheetReport",
    "TableSpec",
    "check_cell",
    "decode_text",
    "encode_text",
    "sheet_export",
    "sheet_export_csv",
    "sheet_import",
    "table_rows",
]

META_SHEET = "_tracework"
FORMAT = "tracework-workbook/1"
MAX_CELL = 32_000            # Excel holds at most 32,767 characters in a cell
_CHUNK = 2_000
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class TableSpec:
    name: str                      # used by cell:TABLE:… targets and --csv TABLE
    title: str                     # the sheet's name
    columns: tuple[str, ...]       # the first is the row key
    editable: frozenset[str] = frozenset()
    kind: str | None = None        # the row's target kind (annotation:N) for notes and ledger

    @property
    def key(self) -> str:
        return self.columns[0]


TABLES: dict[str, TableSpec] = {t.name: t for t in (
    TableSpec("annotations", "Annotations",
              ("id", "submission", "asset", "worker", "batch", "element", "kind", "category",
               "taxonomy_version", "review_status", "bbox_x", "bbox_y", "bbox_w", "bbox_h",
               "area", "value", "time_on_task_s", "time_kind", "reward_cents"),
              frozenset({"category"}), "annotation"),
    TableSpec("submissions", "Submissions",
              ("id", "assignment_id", "task_id", "batch", "asset", "worker", "status",
               "accept_time", "submit_time", "work_time_s", "time_kind", "reward_cents",
               "requester_feedback", "content_sha256"),
              frozenset({"requester_feedback"}), "submission"),
    TableSpec("workers", "Workers",
              ("worker", "platform", "consent_link", "consent_publish", "consent_credit"),
              kind="worker"),
    TableSpec("taxonomy", "Taxonomy",
              ("name", "colour", "description", "guideline", "retired", "replaced_by",
               "version"), kind="category"),
    TableSpec("notes", "Notes",
              ("id", "target", "concern", "text", "author", "created_at", "reply_to", "state",
               "state_by", "state_reason", "answered_by_version"), kind="note"),
    TableSpec("log", "Log",
              ("seq", "ts", "actor", "action", "target", "field", "old", "new", "reason",
               "hash")),
)}
_INT_KEYS = {"annotations", "submissions", "notes", "log"}
_NAME_FIELDS = frozenset({"credit_name"})
_WITHHELD = '"(withheld: names are published only in the credits)"'
_NOTE_INPUT = ("target", "concern", "text", "author", "reply_to")


# -- cell text --------------------------------------------------------------------------------

# Characters XML 1.0 cannot hold (tab, LF and CR can).
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def encode_text(text: str) -> str:
    """The text written for a text cell: control characters XML cannot hold replaced, cut to
    what a cell holds, and a leading ``'`` where a spreadsheet could run it as a formula."""
    text = _ILLEGAL.sub("\ufffd", text)
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL] + f"…[cut: {len(text)} characters]"
    if text.lstrip("'").startswith(_FORMULA):
        return "'" + text
    return text


def decode_text(text: str) -> str:
    """The text a person meant, from a cell written by :func:`encode_text` or typed."""
    if text.startswith("'") and text[1:].lstrip("'").startswith(_FORMULA):
        return text[1:]
    return text


def _cell_value(value: Any) -> Any:
    if isinstance(value, str):
        return encode_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _same(written: Any, read: Any) -> bool:
    """Whether a cell read back still holds what was written (numbers come back as floats)."""
    if written is None or written == "":
        return read is None or read == ""
    if isinstance(written, bool):
        return bool(read == written)
    if isinstance(written, (int, float)):
        return (isinstance(read, (int, float)) and not isinstance(read, bool)
                and math.isclose(written, read, rel_tol=1e-9, abs_tol=1e-9))
    return isinstance(read, str) and read == written


def _typed(read: Any) -> str | None:
    """A cell a person edited, as text (a number typed into a text column included)."""
    if read is None or read == "":
        return None
    if isinstance(read, bool):
        return "true" if read else "false"
    if isinstance(read, float) and read.is_integer():
        return str(int(read))
    if isinstance(read, (int, float)):
        return repr(read)
    return decode_text(str(read))


def _ref(col: int, row: int) -> str:
    return f"{column_letter(col)}{row}"


# -- reading the store ------------------------------------------------------------------------

def _answer_text(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return value


def _published(conn: Connection, policy: SurveyPolicy | None) -> dict[str, dict[str, Any]]:
    """Latest survey answers of workers who consented to publication, as far as the policy
    lets them out (no free text it does not publish, never the credit-name column); none
    without a policy."""
    if policy is None:
        return {}
    rows = conn.execute(
        select(responses.c.id, responses.c.worker)
        .join(workers, workers.c.pseudonym == responses.c.worker)
        .where(workers.c.consent_publish.is_(True), workers.c.erased.is_(False))
        .order_by(responses.c.worker, responses.c.end_time, responses.c.id)).all()
    latest = {r.worker: r.id for r in rows}
    out: dict[str, dict[str, Any]] = {w: {} for w in latest}
    by_response = {rid: w for w, rid in latest.items()}
    if not by_response:
        return out
    for a in conn.execute(select(answers).where(answers.c.response_id.in_(list(by_response)))
                          .order_by(answers.c.id)):
        found = out[by_response[a.response_id]]
        if a.value is not None and policy.publishes(a.question):
            found[f"answer:{a.question}"] = _answer_text(json.loads(a.value))
        if a.other_text and policy.publishes(f"{a.question}_other"):
            found[f"answer:{a.question}_other"] = a.other_text
    return out


def _query(spec: TableSpec) -> Select[Any]:
    if spec.name == "annotations":
        return (select(annotations.c.id, annotations.c.submission_id, annotations.c.asset_id,
                       annotations.c.worker, submissions.c.batch_id, annotations.c.element,
                       annotations.c.kind, annotations.c.category,
                       annotations.c.taxonomy_version, submissions.c.status,
                       annotations.c.bbox_x, annotations.c.bbox_y, annotations.c.bbox_w,
                       annotations.c.bbox_h, annotations.c.area, annotations.c.value,
                       submissions.c.work_time_s, submissions.c.time_kind,
                       submissions.c.reward_cents)
                .join(submissions, submissions.c.id == annotations.c.submission_id))
    if spec.name == "submissions":
        s = submissions.c
        return select(s.id, s.assignment_id, s.task_id, s.batch_id, s.asset_id, s.worker,
                      s.status, s.accept_time, s.submit_time, s.work_time_s, s.time_kind,
                      s.reward_cents, s.requester_feedback, s.content_sha256)
    if spec.name == "workers":
        w = workers.c
        return select(w.pseudonym, w.platform, w.consent_link, w.consent_publish,
                      w.consent_credit).where(w.erased.is_(False))
    if spec.name == "notes":
        n = notes.c
        return select(n.id, n.target, n.concern, n.text, n.author, n.created_at, n.reply_to,
                      n.state, n.state_by, n.state_reason, n.answered_by_version)
    if spec.name == "log":
        g = ledger.c
        return select(g.seq, g.ts, g.actor, g.action, g.target, g.field, g.old, g.new, g.reason,
                      g.hash)
    raise ValueError(spec.name)


def _key_column(spec: TableSpec) -> Any:
    return {"annotations": annotations.c.id, "submissions": submissions.c.id,
            "workers": workers.c.pseudonym, "notes": notes.c.id,
            "log": ledger.c.seq}[spec.name]


def _taxonomy_rows(conn: Connection) -> list[list[Any]]:
    tax = taxonomy.current(conn)
    if tax is None:
        return []
    return [[e["name"], e["colour"], e["description"], e["guideline"], e["retired"],
             "; ".join(e["replaced_by"]), tax.version] for e in tax.entries]


class _Reader:
    """Rows of one table from one connection, whole (streamed) or for given keys."""

    def __init__(self, conn: Connection, spec: TableSpec,
                 policy: SurveyPolicy | None = None) -> None:
        self.conn, self.spec = conn, spec
        self.published = _published(conn, policy) if spec.name == "workers" else {}
        self.extra = sorted({q for a in self.published.values() for q in a})

    @property
    def columns(self) -> tuple[str, ...]:
        return self.spec.columns + tuple(self.extra)

    def _row(self, row: Any) -> list[Any]:
        values = list(row)
        if self.spec.name == "workers":
            found = self.published.get(values[0], {})
            values += [found.get(q) for q in self.extra]
        elif self.spec.name == "log" and values[5] in _NAME_FIELDS:
            # A chosen name beside the pseudonym it belongs to would join the person to their
            # work: names are published only in the credits.
            values[6] = values[7] = _WITHHELD
        return values

    def all(self) -> Iterator[list[Any]]:
        if self.spec.name == "taxonomy":
            yield from _taxonomy_rows(self.conn)
            return
        query = _query(self.spec).order_by(_key_column(self.spec))
        with self.conn.execute(query, execution_options={"yield_per": 5000}) as rows:
            for row in rows:
                yield self._row(row)

    def some(self, keys: Sequence[Any]) -> dict[Any, list[Any]]:
        if self.spec.name == "taxonomy":
            return {r[0]: r for r in _taxonomy_rows(self.conn) if r[0] in set(keys)}
        query = _query(self.spec).where(_key_column(self.spec).in_(list(keys)))
        return {r[0]: self._row(r) for r in self.conn.execute(query)}


def table_rows(project: Project, table: str) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of one workbook table, as exported (values not yet encoded)."""
    spec = _spec(table)
    with project.store.read() as conn:
        reader = _Reader(conn, spec, survey_policy(project, conn))
        return list(reader.columns), list(reader.all())


def _spec(table: str) -> TableSpec:
    if table not in TABLES:
        raise InputError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}",
                         field="TABLE")
    return TABLES[table]


def check_cell(conn: Connection, ref: str) -> None:
    """Validate ``TABLE:ROWKEY:COLUMN`` (the part of a ``cell:`` note target after ``cell:``)."""
    table, sep, rest = ref.partition(":")
    key, sep2, column = rest.rpartition(":")
    if not sep or not sep2 or not key:
        raise InputError(f"cell target cell:{ref} is not cell:TABLE:ROWKEY:COLUMN",
                         field="TARGET", hint="e.g. cell:annotations:17:category")
    spec = TABLES.get(table)
    if spec is None or spec.name in ("log", "notes"):
        raise InputError(f"table {table!r} cannot carry cell notes; use annotations, "
                         "submissions, workers or taxonomy", field="TARGET")
    if column not in spec.columns:
        raise NotFound(f"table {table} has no column {column!r} "
                       f"(columns: {', '.join(spec.columns)})")
    wanted: Any = int(key) if table in _INT_KEYS and key.isdigit() else key
    if not _Reader(conn, spec).some([wanted]):
        raise NotFound(f"table {table} has no row {key}")


# -- export -----------------------------------------------------------------------------------

@dataclass
class SheetReport:
    """What :func:`sheet_export` wrote: rows per table (below the header), and the sheets of
    each table too long for one worksheet (``split``: title → sheet names, in order), which
    holds ``max_rows`` rows with its header."""

    out: str
    rows: dict[str, int] = field(default_factory=dict)
    split: dict[str, list[str]] = field(default_factory=dict)
    max_rows: int = xlsx.MAX_ROWS
    noted_cells: int = 0
    ledger_head: str = ""
    ledger_entries: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _cell_of(target: str) -> tuple[str, str, str] | None:
    """Which (table, row key, column) a note's target marks in the workbook."""
    kind, _, rest = target.partition(":")
    if kind == "cell":
        table, _, more = rest.partition(":")
        key, _, column = more.rpartition(":")
        return table, key, column
    for spec in TABLES.values():
        if spec.kind == kind and spec.name != "notes":
            return spec.name, rest, spec.key
    return None


def _note_marks(conn: Connection) -> dict[tuple[str, str, str], list[Any]]:
    marks: dict[tuple[str, str, str], list[Any]] = {}
    for n in conn.execute(select(notes).order_by(notes.c.id)):
        cell = _cell_of(n.target)
        if cell is not None:
            marks.setdefault(cell, []).append(n)
    return marks


_READ_ONLY, _EDITABLE = "#D9D9D9", "#B6D7A8"


def _comment(items: list[Any]) -> tuple[str, str]:
    text = "\n\n".join(f"[{n.concern}, {n.state}] {n.author}: {n.text}" for n in items)
    return items[0].author, encode_text(text)


def part_title(title: str, part: int) -> str:
    """The name of a table's ``part``-th sheet: ``Log``, ``Log (2)``, ``Log (3)`` …"""
    return title if part == 1 else f"{title} ({part})"


_Row = tuple[list[Any], dict[int, str] | None, dict[int, tuple[str, str]] | None]


def _header_row(spec: TableSpec, columns: Sequence[str]) -> _Row:
    return list(columns), {i: "editable+bold" if (c in spec.editable or spec.name == "notes")
                           else "read_only+bold" for i, c in enumerate(columns)}, None


def _sheet_rows(spec: TableSpec, reader: _Reader, marks: dict[Any, list[Any]],
                concerns: dict[str, str], noted: list[int]) -> Iterator[_Row]:
    """The rows of one table as cells, styles and comments; counts noted cells in
    ``noted[0]``."""
    index = {c: i for i, c in enumerate(reader.columns)}
    by_row: dict[str, list[tuple[int, list[Any]]]] = {}
    for (table, key, column), items in marks.items():
        if table == spec.name and column in index:
            by_row.setdefault(key, []).append((index[column], items))
    concern_at = index.get("concern") if spec.name == "notes" else None
    for values in reader.all():
        cells = [_cell_value(v) for v in values]
        styles: dict[int, str] | None = None
        comments: dict[int, tuple[str, str]] | None = None
        found = by_row.get(str(values[0])) if by_row else None
        if found:
            styles, comments = {}, {}
            for col, items in found:
                concern = items[0].concern
                styles[col] = f"concern:{concern}" if concern in concerns else "read_only"
                comments[col] = _comment(items)
                noted[0] += 1
        if concern_at is not None and values[concern_at] in concerns:
            styles = {concern_at: f"concern:{values[concern_at]}"}
        yield cells, styles, comments


def _add_table(book: WorkbookWriter, spec: TableSpec, reader: _Reader,
               marks: dict[Any, list[Any]], concerns: dict[str, str]) -> tuple[int, list[str],
                                                                               int]:
    """Write one table as one sheet or, past :data:`~tracework.fieldnotes.xlsx.MAX_ROWS` rows
    (its header included), as several, each with the header: (rows below the headers, sheet
    names, noted cells)."""
    noted = [0]
    rows = _sheet_rows(spec, reader, marks, concerns, noted)
    header = _header_row(spec, reader.columns)
    pending = next(rows, None)
    titles: list[str] = []
    total = 0

    def fill(sheet: SheetWriter) -> None:
        nonlocal pending
        sheet.row(*header)
        while pending is not None and sheet.rows < xlsx.MAX_ROWS:
            sheet.row(*pending)
            pending = next(rows, None)

    while True:
        titles.append(part_title(spec.title, len(titles) + 1))
        total += book.add_sheet(titles[-1], fill,
                                protect=not spec.editable and spec.name != "notes") - 1
        if pending is None:
            return total, titles, noted[0]


def sheet_export(project: Project, out: Path | str) -> SheetReport:
    """Write the workbook (see the module's docstring) atomically to ``out``."""
    from tracework.fieldnotes import notes as _notes

    target = Path(out)
    if target.suffix.lower() != ".xlsx":
        raise InputError(f"{target} does not end in .xlsx", field="OUT",
                         hint="Name the workbook OUT.xlsx, or use --csv TABLE for one table.")
    concerns = _notes.concerns(project)
    fills = {"read_only": _READ_ONLY, "editable": _EDITABLE,
             **{f"concern:{k}": v for k, v in concerns.items()}}
    report = SheetReport(out=str(target), max_rows=xlsx.MAX_ROWS)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    book = WorkbookWriter(tmp, fills)
    try:
        with project.store.read() as conn:
            seq, head = _ledger.head(conn)
            first = conn.execute(select(ledger.c.hash).where(ledger.c.seq == 1)).scalar()
            marks = _note_marks(conn)
            policy = survey_policy(project, conn)
            for spec in TABLES.values():
                rows, titles, noted = _add_table(book, spec, _Reader(conn, spec, policy),
                                                 marks, concerns)
                report.rows[spec.title] = rows
                report.noted_cells += noted
                if len(titles) > 1:
                    report.split[spec.title] = titles
        meta = (("format", FORMAT), ("project", encode_text(project.name)),
                ("ledger_first", first or ""), ("ledger_seq", seq), ("ledger_head", head),
                ("exported_at", _ledger.now()))
        book.add_sheet(META_SHEET, lambda w: [w.row(list(m)) for m in meta], protect=True,
                       hidden=True, freeze=False)
        book.close()
        tmp.replace(target)
    finally:
        book.abort()
        tmp.unlink(missing_ok=True)
    report.ledger_head, report.ledger_entries = head, seq
    return report


def sheet_export_csv(project: Project, table: str, out: Path | str) -> int:
    """One table as a formula-safe CSV; returns the number of rows."""
    from tracework.core.safecsv import write_csv

    header, rows = table_rows(project, table)
    write_csv(out, header, rows)
    return len(rows)


# -- import -----------------------------------------------------------------------------------

@dataclass
class ImportReport:
    file: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    notes_added: list[int] = field(default_factory=list)
    stale_cells: int = 0          # read-only cells whose row changed in the store since export
    ledger_entries: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Workbook:
    """An edited workbook, read with calamine (fast) and checked for its structure."""

    def __init__(self, path: Path) -> None:
        from python_calamine import CalamineWorkbook

        self.path = path
        try:
            self.book = CalamineWorkbook.from_path(str(path))
        except Exception as exc:   # calamine's errors say what is wrong with the file
            raise InputError(f"cannot read the workbook: {exc}", file=path.name,
                             hint="Give the .xlsx written by `tracework sheet export`.") from None
        names = set(self.book.sheet_names)
        for title in [s.title for s in TABLES.values()] + [META_SHEET]:
            if title not in names:
                raise InputError(f"sheet {title!r} is missing (sheets now: "
                                 f"{', '.join(self.book.sheet_names)}); sheets must not be "
                                 "renamed or deleted; nothing was recorded", file=path.name,
                                 field=title,
                                 hint="Export a new workbook and edit its cells only.")
        self.meta = {str(r[0]): r[1] for r in self._sheet(META_SHEET).to_python() if r}
        if self.meta.get("format") != FORMAT:
            raise InputError(f"{META_SHEET}!B1: not a tracework workbook (format "
                             f"{self.meta.get('format')!r}); nothing was recorded",
                             file=path.name)

    def _sheet(self, title: str) -> Any:
        return self.book.get_sheet_by_name(title)

    def parts(self, spec: TableSpec) -> list[str]:
        """The sheets a table was written to: its own, then ``TITLE (2)`` … while present."""
        names = set(self.book.sheet_names)
        found = [spec.title]
        while part_title(spec.title, len(found) + 1) in names:
            found.append(part_title(spec.title, len(found) + 1))
        return found

    def rows(self, spec: TableSpec, columns: Sequence[str]
             ) -> Iterator[tuple[str, int, list[Any]]]:
        """(sheet, row number, cells) of a table's sheets, each after its header checked
        out."""
        for title in self.parts(spec):
            for number, cells in self._rows(spec, title, columns):
                yield title, number, cells

    def _rows(self, spec: TableSpec, title: str, columns: Sequence[str]
              ) -> Iterator[tuple[int, list[Any]]]:
        sheet = self._sheet(title)
        start = tuple(sheet.start) if sheet.start is not None else (0, 0)
        if start != (0, 0):
            raise self.error(title, _ref(0, 1), "the sheet no longer starts with its header in "
                             "A1 (rows or columns above or left of it were deleted)")
        it = iter(sheet.iter_rows())
        header = [str(c) for c in next(it, [])]
        for i, name in enumerate(columns):
            found = header[i] if i < len(header) else ""
            if found != name:
                raise self.error(title, _ref(i, 1), f"expected column {name!r}, found "
                                 f"{found!r}: columns must not be moved, renamed or removed")
        for i in range(len(columns), len(header)):
            if header[i] != "":
                raise self.error(title, _ref(i, 1), f"column {header[i]!r} was added")
        width = len(columns)
        for number, cells in enumerate(it, 2):
            cells = list(cells)
            for i in range(width, len(cells)):
                if cells[i] not in ("", None):
                    raise self.error(title, _ref(i, number), "a cell outside the table's "
                                     "columns holds a value")
            cells = (cells + [""] * width)[:width]
            if all(c in ("", None) for c in cells):
                continue
            yield number, cells

    def error(self, title: str, ref: str, message: str) -> InputError:
        """A refusal naming the sheet and cell."""
        return InputError(f"{title}!{ref}: {message}; nothing was recorded",
                          file=self.path.name,
                          hint="Export a new workbook, and edit only the green-headed columns "
                               "and new rows of the Notes sheet.")


def _key_of(spec: TableSpec, cell: Any) -> Any:
    if spec.name in _INT_KEYS:
        if isinstance(cell, float) and cell.is_integer():
            return int(cell)
        if isinstance(cell, str) and cell.isdigit():
            return int(cell)
        return None
    return decode_text(cell) if isinstance(cell, str) and cell else None


class _Importer:
    def __init__(self, project: Project, conn: Connection, book: _Workbook, actor: str) -> None:
        self.project, self.conn, self.book, self.actor = project, conn, book, actor
        self.log = _ledger.LedgerWriter(conn, actor)
        self.report = ImportReport(file=book.path.name)
        self.since = int(book.meta.get("ledger_seq") or 0)
        first = conn.execute(select(ledger.c.hash).where(ledger.c.seq == 1)).scalar()
        if (book.meta.get("ledger_first") or "") != (first or ""):
            raise InputError("this workbook was exported from another project (its log does "
                             "not start like this project's)", file=book.path.name)
        if self.since > _ledger.head(conn)[0]:
            raise InputError(f"the workbook says the log had {self.since} entries, but this "
                             "project's log is shorter", file=book.path.name)
        self.touched = {t for (t,) in conn.execute(
            select(ledger.c.target).where(ledger.c.seq > self.since).distinct())}
        self.pending: list[tuple[str, Any, dict[str, Any], str]] = []
        self.refused: list[str] = []
        self.new_notes: list[tuple[str, dict[str, str | None], str, int | None, str]] = []
        self.versions: dict[int, set[str]] = {}

    def run(self) -> ImportReport:
        for spec in TABLES.values():
            self._table(spec)
        if self.refused:
            shown = "; ".join(self.refused[:10])
            more = f" and {len(self.refused) - 10} more" if len(self.refused) > 10 else ""
            raise InputError(f"read-only cells were edited: {shown}{more}; nothing was "
                             "recorded", file=self.book.path.name,
                             hint="Undo those edits (only green-headed columns and new Notes "
                                  "rows are taken in), or export a new workbook.")
        for target, key, change, ref in self.pending:
            self._apply(target, key, change, ref)
        for note in self.new_notes:
            self._add_note(*note)
        self.log.flush()
        self.report.ledger_entries = self.log.appended
        return self.report

    def _table(self, spec: TableSpec) -> None:
        reader = _Reader(self.conn, spec, survey_policy(self.project, self.conn))
        if spec.name == "workers":
            columns: Sequence[str] = spec.columns + tuple(
                c for c in self._header(spec)[len(spec.columns):] if c)
        else:
            columns = reader.columns
        seen: dict[Any, str] = {}
        chunk: list[tuple[str, int, Any, list[Any]]] = []
        for title, number, cells in self.book.rows(spec, columns):
            if spec.name == "notes" and cells[0] in ("", None):
                self._new_note(title, number, cells, columns)
                continue
            key = _key_of(spec, cells[0])
            if key is None:
                raise self.book.error(title, _ref(0, number), f"{cells[0]!r} is not a "
                                      f"{spec.key}")
            if key in seen:
                raise self.book.error(title, _ref(0, number), f"{spec.key} {key} appears "
                                      f"twice (first in {seen[key]}): rows must not be "
                                      "duplicated")
            seen[key] = f"row {number}" if title == spec.title else f"{title}!A{number}"
            chunk.append((title, number, key, cells))
            if len(chunk) >= _CHUNK:
                self._compare(spec, reader, columns, chunk)
                chunk = []
        self._compare(spec, reader, columns, chunk)

    def _header(self, spec: TableSpec) -> list[str]:
        sheet = self.book._sheet(spec.title)
        first: list[Any] = next(iter(sheet.iter_rows()), [])
        return [str(c) for c in first]

    def _compare(self, spec: TableSpec, reader: _Reader, columns: Sequence[str],
                 chunk: list[tuple[str, int, Any, list[Any]]]) -> None:
        if not chunk:
            return
        stored = reader.some([k for _, _, k, _ in chunk])
        index = {c: i for i, c in enumerate(reader.columns)}
        for title, number, key, cells in chunk:
            row = stored.get(key)
            if row is None:
                raise self.book.error(title, _ref(0, number), f"{spec.key} {key} is not in the "
                                      "store: rows cannot be added to this sheet")
            target = f"{spec.kind}:{key}" if spec.kind else f"ledger:{key}"
            if spec.kind == "category":
                target = "taxonomy:*"
            for i, name in enumerate(columns):
                written = _cell_value(row[index[name]]) if name in index else None
                if _same(written, cells[i]):
                    continue
                ref = f"{title}!{_ref(i, number)}"
                if name in spec.editable:
                    self._edit(spec, key, name, row[index[name]], cells[i], ref, target)
                elif self._stale(target):
                    self.report.stale_cells += 1
                else:
                    self.refused.append(f"{ref} ({name}: {written!r} → {cells[i]!r})")

    def _stale(self, target: str) -> bool:
        if target == "taxonomy:*":
            return any(t.startswith("taxonomy:") for t in self.touched)
        return target in self.touched

    def _edit(self, spec: TableSpec, key: Any, column: str, old: Any, cell: Any, ref: str,
              target: str) -> None:
        new = _typed(cell)
        if column == "requester_feedback":
            new = new or ""
        if new == old:
            return
        moved = self.conn.execute(
            select(func.count()).select_from(ledger)
            .where(ledger.c.seq > self.since, ledger.c.target == target,
                   ledger.c.field == column)).scalar_one()
        if moved:
            raise ConflictError(f"{ref}: {target} {column} changed in the store after this "
                                "workbook was exported; nothing was recorded",
                                hint="Export a new workbook and make the edit there.")
        if column == "category":
            self._check_category(key, new, ref)
        self.pending.append((target, key, {"column": column, "old": old, "new": new}, ref))

    def _check_category(self, annotation_id: int, name: str | None, ref: str) -> None:
        version = self.conn.execute(select(annotations.c.taxonomy_version)
                                    .where(annotations.c.id == annotation_id)).scalar_one()
        if version not in self.versions:
            tax = taxonomy.stored_version(self.conn, version)
            self.versions[version] = {c.name for c in tax.active()}
        if name not in self.versions[version]:
            raise InputError(f"{ref}: {name!r} is not a category of taxonomy version {version}, "
                             f"under which annotation {annotation_id} was made (categories: "
                             f"{', '.join(sorted(self.versions[version]))}); nothing was "
                             "recorded", file=self.book.path.name)

    def _apply(self, target: str, key: Any, change: dict[str, Any], ref: str) -> None:
        column = change["column"]
        table = annotations if target.startswith("annotation:") else submissions
        self.conn.execute(update(table).where(table.c.id == key)
                          .values({column: change["new"]}))
        integrity.seal(self.conn, table.name, [key])
        kind = target.split(":", 1)[0]
        self.log.append(f"{kind}.{column}", target, field=column, old=change["old"],
                        new=change["new"], reason=f"edited in workbook {self.book.path.name} "
                                                  f"({ref})")
        self.report.changes.append({"cell": ref, "target": target, "field": column,
                                    "old": change["old"], "new": change["new"]})

    def _new_note(self, title: str, number: int, cells: list[Any],
                  columns: Sequence[str]) -> None:
        index = {c: i for i, c in enumerate(columns)}
        for name in columns:
            if name not in _NOTE_INPUT and cells[index[name]] not in ("", None):
                raise self.book.error(title, _ref(index[name], number), f"a new note sets only "
                                      f"{', '.join(_NOTE_INPUT)}; leave {name} empty")
        values = {n: _typed(cells[index[n]]) for n in _NOTE_INPUT}
        missing = "text" if not values["text"] else (
            "target" if not values["target"] and not values["reply_to"] else None)
        if missing:
            raise self.book.error(title, _ref(index[missing], number),
                                  "a new note needs a text, and a target or a reply_to")
        author = values["author"] or self.actor
        reply_to = int(values["reply_to"]) if values["reply_to"] else None
        digest = hashlib.sha256(_ledger.canonical(
            [values["target"], values["concern"], values["text"], author, reply_to]
        ).encode("utf-8")).hexdigest()
        source = f"sheet:{digest}"
        if source in {n[4] for n in self.new_notes} or self.conn.execute(
                select(notes.c.id).where(notes.c.source == source)).first():
            return
        self.new_notes.append((f"{title}!A{number}", values, author, reply_to, source))

    def _add_note(self, ref: str, values: dict[str, str | None], author: str,
                  reply_to: int | None, source: str) -> None:
        from tracework.fieldnotes import notes as _notes

        try:
            note_id = _notes.add_in(self.conn, self.log, self.project, values["target"] or "",
                                    values["text"] or "", concern=values["concern"] or "other",
                                    author=author, reply_to=reply_to, source=source)
        except (InputError, NotFound) as exc:
            raise InputError(f"{ref}: {exc.message}; nothing was recorded",
                             file=self.book.path.name, hint=exc.hint) from None
        self.report.notes_added.append(note_id)


def sheet_import(project: Project, path: Path | str, *, actor: str | None = None) -> ImportReport:
    """Take in the edits of a workbook written by :func:`sheet_export` (one transaction)."""
    source = Path(path)
    if not source.is_file():
        raise InputError("no such file", file=str(source))
    book = _Workbook(source)
    who = actor or project.actor
    return project.store.run_write(lambda conn: _Importer(project, conn, book, who).run())

