"""Keyed, cell-level differences: between two exported tables, or two points of the ledger.

Two tables (CSV, or a sheet of an .xlsx workbook) are joined on a key column, every value read
as text, so ``1`` and ``1.0`` differ exactly as the files do. The result names rows added, rows
removed and each changed cell with its old and new value, in the order of the second table.
The join runs in Polars (the fastest keyed join measured for this size of table).

Between two points of the ledger (``seq1`` < ``seq2``), the change is what the entries after
``seq1`` up to ``seq2`` did: a target created is a row added; a field changed several times
shows its value before the first change and after the last, and not at all when it ended
where it began.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import select

from tracework.core.errors import InputError
from tracework.core.ledger import Entry, reveal
from tracework.core.project import Project
from tracework.core.store.schema import ledger

__all__ = ["CellChange", "DiffResult", "diff_files", "diff_ledger", "diff_tables", "read_table"]


class CellChange(NamedTuple):
    """One changed cell (a tuple: tens of thousands are built per diff)."""

    key: str
    column: str
    old: str | None
    new: str | None


@dataclass
class DiffResult:
    key: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[CellChange] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.columns_added
                    or self.columns_removed)

    def rows(self) -> Iterator[tuple[str, str, str, str | None, str | None]]:
        """(change, key, column, old, new), change being ``column added``, ``column removed``,
        ``added`` (a row), ``removed`` (a row) or ``changed`` (a cell)."""
        for c in self.columns_added:
            yield ("column added", "", c, None, None)
        for c in self.columns_removed:
            yield ("column removed", "", c, None, None)
        for k in self.added:
            yield ("added", k, "", None, None)
        for k in self.removed:
            yield ("removed", k, "", None, None)
        for ch in self.changed:
            yield ("changed", ch.key, ch.column, ch.old, ch.new)

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "added": self.added, "removed": self.removed,
                "changed": [ch._asdict() for ch in self.changed],
                "columns_added": self.columns_added, "columns_removed": self.columns_removed}


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table(path: Path | str, *, sheet: str | None = None) -> Any:
    """A CSV file or one sheet of a workbook as a Polars frame of text columns."""
    import polars as pl

    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    if path.suffix.lower() == ".xlsx":
        from python_calamine import CalamineWorkbook

        from tracework.fieldnotes.sheet import TABLES

        book = CalamineWorkbook.from_path(str(path))
        title = TABLES[sheet].title if sheet in TABLES else sheet
        if title is None or title not in book.sheet_names:
            raise InputError(f"give --sheet: one of {', '.join(book.sheet_names)}",
                             file=path.name, field="--sheet")
        rows = book.get_sheet_by_name(title).to_python(skip_empty_area=False)
        if not rows:
            raise InputError("the sheet is empty", file=path.name, field=title)
        header = [str(h) for h in rows[0]]
        _check_header(header, path)
        columns: list[Sequence[str]] = (list(zip(*[[_text(v) for v in r] for r in rows[1:]]))
                                        or [[] for _ in header])
        return pl.DataFrame({h: list(c) for h, c in zip(header, columns)},
                            schema={h: pl.String for h in header})
    import csv

    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            _check_header(next(csv.reader(fh), []), path)
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except Exception as exc:   # Polars names the line and the problem
        raise InputError(f"cannot read as CSV: {exc}", file=path.name) from None
    _check_header(frame.columns, path)
    # An empty cell is no value, whether the writer quoted it or not (as in a workbook).
    return frame.with_columns(pl.all().replace("", None))


def _check_header(header: list[str], path: Path) -> None:
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise InputError(f"column {h!r} appears twice in the header", file=path.name,
                             row=0, field=h)
        seen.add(h)


def _unique_keys(frame: Any, key: str, name: str) -> None:
    import polars as pl

    if key not in frame.columns:
        raise InputError(f"no key column {key!r} (columns: {', '.join(frame.columns)})",
                         file=name, field="--key")
    if frame[key].null_count():
        row = int(frame.with_row_index("__row").filter(pl.col(key).is_null())["__row"][0])
        raise InputError("the key is empty", file=name, row=row + 1, field=key)
    if frame[key].n_unique() == frame.height:
        return
    dup = frame.filter(frame[key].is_duplicated())
    raise InputError(f"key {dup[key][0]!r} appears more than once", file=name, field=key,
                     hint="Choose a key column whose values are unique (--key).")


_JOIN = "\x00join"
_ROW = "\x00row"


def _with_join_key(a: Any, b: Any, key: str) -> tuple[Any, Any]:
    """Both frames with a 64-bit hash of the key to join on: joining on integers is several
    times faster than on text. When two keys share a hash, the text key is used instead."""
    import polars as pl

    ha, hb = a[key].hash(seed=7), b[key].hash(seed=7)
    if ha.n_unique() == a.height and hb.n_unique() == b.height:
        return a.with_columns(ha.alias(_JOIN)), b.with_columns(hb.alias(_JOIN))
    return a.with_columns(pl.col(key).alias(_JOIN)), b.with_columns(pl.col(key).alias(_JOIN))


def diff_tables(a: Any, b: Any, *, key: str, names: tuple[str, str] = ("A", "B")) -> DiffResult:
    """The keyed, cell-level difference of two frames of text columns."""
    import polars as pl

    _unique_keys(a, key, names[0])
    _unique_keys(b, key, names[1])
    result = DiffResult(key=key)
    result.columns_added = [c for c in b.columns if c not in a.columns]
    result.columns_removed = [c for c in a.columns if c not in b.columns]
    common = [c for c in b.columns if c in a.columns and c != key]
    ja, jb = _with_join_key(a.select([key, *common]), b.select([key, *common]), key)
    jb = jb.with_row_index(_ROW)
    both = jb.join(ja.rename({c: c + "\x00a" for c in [key, *common]}), on=_JOIN,
                   how="inner")
    if both.height and not (both[key] == both[key + "\x00a"]).all():
        # Two different keys met on one hash: join on the text itself.
        ja, jb = ja.with_columns(pl.col(key).alias(_JOIN)), jb.with_columns(pl.col(key).alias(_JOIN))
        both = jb.join(ja.rename({c: c + "\x00a" for c in [key, *common]}), on=_JOIN,
                       how="inner")
    result.removed = ja.join(jb.select(_JOIN), on=_JOIN, how="anti")[key].to_list()
    result.added = jb.join(ja.select(_JOIN), on=_JOIN, how="anti")[key].to_list()
    differs = [pl.col(c).ne_missing(pl.col(c + "\x00a")) for c in common]
    if differs:
        rows = both.filter(pl.any_horizontal(differs))
        cells = pl.concat([
            rows.filter(d).select(pl.col(_ROW), pl.col(key), pl.lit(i, pl.UInt32).alias("col"),
                                  pl.col(c + "\x00a").alias("old"), pl.col(c).alias("new"))
            for i, (c, d) in enumerate(zip(common, differs))]).sort([_ROW, "col"])
        columns = [common[i] for i in cells["col"].to_list()]
        result.changed = list(map(CellChange._make, zip(
            cells[key].to_list(), columns, cells["old"].to_list(), cells["new"].to_list())))
    return result


def diff_files(a: Path | str, b: Path | str, *, key: str | None = None,
               sheet: str | None = None) -> DiffResult:
    """The difference of two exported tables (CSV, or the same sheet of two workbooks); the
    key defaults to the first column of the first table."""
    left, right = read_table(a, sheet=sheet), read_table(b, sheet=sheet)
    chosen = key or (left.columns[0] if left.columns else "")
    return diff_tables(left, right, key=chosen, names=(Path(a).name, Path(b).name))


def diff_ledger(project: Project, seq1: int, seq2: int) -> DiffResult:
    """What the ledger entries after ``seq1`` up to ``seq2`` changed, keyed by target."""
    if seq1 < 0 or seq2 < seq1:
        raise InputError(f"give two ledger positions with SEQ1 <= SEQ2 (got {seq1} and {seq2})",
                         field="--ledger")
    result = DiffResult(key="target")
    firsts: dict[tuple[str, str], str] = {}
    lasts: dict[tuple[str, str], str] = {}
    created: list[str] = []
    with project.store.read() as conn:
        head = conn.execute(select(ledger.c.seq).order_by(ledger.c.seq.desc()).limit(1)).scalar()
        if seq2 > (head or 0):
            raise InputError(f"the ledger ends at entry {head or 0}, not {seq2}",
                             field="--ledger")
        query = (select(ledger).where(ledger.c.seq > seq1, ledger.c.seq <= seq2)
                 .order_by(ledger.c.seq))
        # Staff read the project's own values here, not the commitments the entries hold.
        for e in reveal(conn, (Entry(**r._mapping) for r in conn.execute(query))):
            if e.action.endswith(".create"):
                created.append(e.target)
                continue
            cell = (e.target, e.field or e.action)
            firsts.setdefault(cell, e.old)
            lasts[cell] = e.new
    result.added = list(dict.fromkeys(created))
    for cell, old in firsts.items():
        new = lasts[cell]
        if old != new:
            result.changed.append(CellChange(cell[0], cell[1], _ledger_text(old),
                                             _ledger_text(new)))
    return result


def _ledger_text(value: str) -> str | None:
    decoded = json.loads(value)
    if decoded is None:
        return None
    return decoded if isinstance(decoded, str) else value
