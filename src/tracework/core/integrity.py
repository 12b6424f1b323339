"""Row seals: proof that the data tables still hold what tracework wrote.

The ledger proves its own history, but a row of ``reviews`` or ``workers`` can be edited in SQL
without touching it. So every write transaction also *seals* the rows it wrote: for each row a
keyed BLAKE2b digest of its values (under a key derived from the project secret) is kept in
``row_seals`` with the ledger entry it was written under, and ``seal_head`` binds all seals to
the ledger: per table the number of sealed rows and the sum of their digests, the ledger head
at the last sealing, and a MAC over all of it. :func:`check` streams each table in key order
beside its seals and names the first row that disagrees: its table, its key and, from a short
digest kept per column, the column.

Someone who can write to the database but does not hold ``tracework.secret`` can change,
insert or delete rows, but cannot make a seal for a changed row, a seal for an inserted one,
or a seal record that accounts for a row deleted together with its seal; restoring an older
row with its older seal changes a table's sum. Only a restore of the whole database (ledger
included) to an earlier state passes, and that is what ``verify --expect-head`` catches.

Writers call one function per transaction and table::

    integrity.seal(conn, "reviews", [review_id])        # inserted, changed or deleted rows
    integrity.seal_where(conn, "answers", "response_id", [rid])   # rows found by a column
    integrity.seal_inserted(conn, "annotations", rows)   # rows just inserted, key included

Keys are collected and sealed in bulk just before the transaction commits (the project
registers :func:`attach` on its store). Code that rewrites rows outside the commands that wrote
them (worker erasure) calls :func:`reseal` with a reason after rewriting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    Table,
    Text,
    and_,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)

from tracework.core.ledger import GENESIS, canonical
from tracework.core.store import Store, chunks, insert_rows
from tracework.core.store.schema import annotations as annotation_rows
from tracework.core.store.schema import (
    answers,
    assets,
    batches,
    bonuses,
    conflicts,
    imports,
    ledger_head,
    responses,
    reviews,
    submissions,
    taxonomy_versions,
    workers,
)
from tracework.core.store.tables_contact import batch_value_chains, contact_consent
from tracework.core.store.tables_integrity import row_seals, seal_head
from tracework.core.store.tables_notes import notes, taxonomy_changes
from tracework.core.store.tables_review import review_disputes, review_proposals

__all__ = [
    "SEALED",
    "DataCheck",
    "attach",
    "check",
    "is_legacy",
    "mark_sealed_existing",
    "reseal",
    "seal",
    "seal_inserted",
    "seal_key",
    "seal_where",
    "unsealed",
]

# The tables that carry the project's record, in the order verify reads them. Vault tables are
# not sealed (erasure destroys them); derived tables (aggregates, sessions) are not either.
SEALED: dict[str, Table] = {t.name: t for t in (
    workers, imports, batches, assets, submissions, annotation_rows, responses, answers, conflicts,
    taxonomy_versions, taxonomy_changes, reviews, review_proposals, review_disputes, bonuses,
    notes, batch_value_chains, contact_consent)}

_MOD = 1 << 256
_COL_HEX = 6          # 3 bytes per column: enough to name the column that changed
_STREAM = 5000
_MEMO = 100_000       # column digests remembered while sealing one table
_MEMO_TEXT = 64       # longest text whose column digest is remembered


def seal_key(secret: bytes) -> bytes:
    """The sealing key of a project: derived from its secret, never the pseudonym key itself."""
    return hmac.new(secret, b"tracework row seals v1", hashlib.sha256).digest()


# -- collecting what a transaction wrote ------------------------------------------------------

@dataclass
class _Pending:
    keys: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # Rows inserted by this transaction as the store returns them, sealed at commit without
    # being read back: spooled to a temporary file (memory does not grow with an import), and
    # per table the keys whose spooled values still hold (a row sealed again since is read).
    inserted: _RowSpool | None = None
    fresh: dict[str, set[str]] = field(default_factory=dict)
    legacy_done: bool = False


class _RowSpool:
    """Lists of ``(table, rows)`` pickled to an unnamed temporary file, read back in order."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="tracework-seal-")
        self._parts = 0

    def put(self, table: str, rows: list[dict[str, Any]]) -> None:
        pickle.dump((table, rows), self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self._parts += 1

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        self._file.flush()
        self._file.seek(0)
        for _ in range(self._parts):
            name, rows = pickle.load(self._file)
            if name == table:
                yield from rows

    def close(self) -> None:
        self._file.close()


# Keyed by the Connection object of one Store.write block: a rolled-back transaction's keys go
# with its connection object.
_PENDING: weakref.WeakKeyDictionary[Connection, _Pending] = weakref.WeakKeyDictionary()


def _pk(table: Table) -> Column[Any]:
    (col,) = table.primary_key.columns
    return col


def _typed(table: Table, keys: Iterable[str]) -> list[Any]:
    if _pk(table).type.python_type is int:
        return [int(k) for k in keys]
    return list(keys)


def _add(conn: Connection, table: str, keys: Iterable[Any], reason: str | None) -> None:
    if table not in SEALED:
        raise ValueError(f"{table} is not a sealed table")
    pending = _PENDING.setdefault(conn, _Pending())
    found = pending.keys.setdefault(table, {})
    fresh = pending.fresh.get(table, set())
    for key in keys:
        text = str(key)
        if reason is not None or text not in found:
            found[text] = reason
        # Changed since it was inserted, perhaps: read it at commit.
        fresh.discard(text)


def seal(conn: Connection, table: str, keys: Iterable[Any]) -> None:
    """Seal these rows of ``table`` (by primary key) when the transaction commits.

    Call it for every row a transaction inserts, changes or deletes: a deleted row's seal is
    removed. Calling it twice for a row costs nothing more.
    """
    _add(conn, table, keys, None)


def seal_where(conn: Connection, table: str, column: str, values: Iterable[Any]) -> None:
    """Seal the rows of ``table`` whose ``column`` is one of ``values``, as they are now.

    For rows written without their keys (an ``executemany`` insert of a response's answers).
    Before deleting such rows, call it too, so their seals are removed at commit.
    """
    t = SEALED[table]
    pk, col = _pk(t), t.c[column]
    for part in chunks(dict.fromkeys(values)):
        _add(conn, table, conn.execute(select(pk).where(col.in_(part))).scalars(), None)


def seal_inserted(conn: Connection, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Seal rows this transaction inserted (every column of ``table`` given, key included),
    from these values rather than reading the rows back at commit.

    For bulk writers: the values are taken as the store returns them (an integer in a float
    column reads back as a float). A row changed after its insert must be sealed again with
    :func:`seal`, which makes the commit read it.
    """
    if table not in SEALED:
        raise ValueError(f"{table} is not a sealed table")
    t = SEALED[table]
    pk = _pk(t)
    pending = _PENDING.setdefault(conn, _Pending())
    found = pending.keys.setdefault(table, {})
    fresh = pending.fresh.setdefault(table, set())
    stored = [_as_stored(t, row) for row in rows]
    for values in stored:
        key = str(values[pk.name])
        if key in found:
            # Sealed before in this transaction: reading it at commit is always right.
            fresh.discard(key)
        else:
            found[key] = None
            fresh.add(key)
    if stored:
        if pending.inserted is None:
            pending.inserted = _RowSpool()
        pending.inserted.put(table, stored)


def _as_stored(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return {name: value if value is None or read is None else read(value)
                for name, read in _readers(table) for value in (row[name],)}
    except KeyError:
        missing = [c.name for c in table.c if c.name not in row]
        raise ValueError(f"a row of {table.name} without column(s) {', '.join(missing)}") from None


@lru_cache(maxsize=32)
def _readers(table: Table) -> tuple[tuple[str, Any], ...]:
    """Per column, how a value reads back from the store (None: as it was written)."""
    out = []
    for c in table.c:
        read: Any = None
        if isinstance(c.type, Float):
            read = float
        elif isinstance(c.type, Boolean):
            read = bool
        elif isinstance(c.type, Integer):
            read = int
        out.append((c.name, read))
    return tuple(out)


def reseal(conn: Connection, table: str, keys: Iterable[Any], reason: str) -> None:
    """Seal rows rewritten outside the command that wrote them, keeping why with each seal.

    For code that rewrites existing rows on purpose (erasing a worker's data): call it inside
    the rewriting transaction, after the rows are rewritten or deleted, with the same keys;
    the reason (e.g. ``"worker.erase w_abc"``) stays on each seal. The transaction should also
    append its ledger entry, as every change does.
    """
    if not reason.strip():
        raise ValueError("a reseal needs a reason")
    _add(conn, table, keys, reason)


def attach(store: Store, secret: bytes) -> None:
    """Make every write transaction of ``store`` seal what it collected, just before commit."""
    store.before_commit.append(partial(_finish, key=seal_key(secret)))


# -- digests ------------------------------------------------------------------------------------

def _row_digest(key: bytes, table: str, ident: str, seq: int, row: Mapping[str, Any]) -> str:
    # NULL columns are left out, so a column added later (NULL in old rows) keeps old seals valid.
    values = {c: v for c, v in row.items() if v is not None}
    h = _row_hasher(key).copy()
    h.update(canonical([table, ident, seq, values]).encode("utf-8"))
    return str(h.hexdigest())


@lru_cache(maxsize=8)
def _row_hasher(key: bytes) -> Any:
    return hashlib.blake2b(key=key, digest_size=32)


@lru_cache(maxsize=8)
def _col_hasher(key: bytes) -> Any:
    # Keying BLAKE2b costs more than hashing a cell: copy a keyed state instead.
    return hashlib.blake2b(key=key, digest_size=_COL_HEX // 2)


def _col_digest(key: bytes, column: str, value: Any) -> str:
    # Only to name the column that changed (the row digest is the proof): repr is exact for
    # the str, int, float, bool and None a row holds, and cheaper than JSON per cell.
    h = _col_hasher(key).copy()
    h.update(f"{column}\x1f{value!r}".encode())
    return str(h.hexdigest())


def _cols(key: bytes, row: Mapping[str, Any], memo: dict[tuple[str, type, Any], str]) -> str:
    """The per-column digests of a row; ``memo`` keeps those of values seen before (a table's
    rows repeat most of their values: platform, worker, category, sizes)."""
    base = _col_hasher(key)
    out = []
    for column, value in row.items():
        kind = type(value)
        # Floats by their text (0.0 and -0.0 are equal but read differently); long texts
        # (raw rows, answers) are unique and large: not remembered.
        slot = None if kind is str and len(value) > _MEMO_TEXT else (
            column, kind, repr(value) if kind is float else value)
        digest = memo.get(slot) if slot is not None else None
        if digest is None:
            h = base.copy()
            h.update(f"{column}\x1f{value!r}".encode())
            digest = h.hexdigest()
            if slot is not None and len(memo) < _MEMO:
                memo[slot] = digest
        out.append(digest)
    return "".join(out)


def _changed_columns(key: bytes, row: Mapping[str, Any], stored: str) -> list[str]:
    kept = {stored[i:i + _COL_HEX] for i in range(0, len(stored), _COL_HEX)}
    return [c for c, v in row.items() if _col_digest(key, c, v) not in kept]


def _head_mac(key: bytes, seq: int, hash_: str, totals: str, legacy: bool) -> str:
    body = canonical(["seal_head", seq, hash_, totals, legacy]).encode("utf-8")
    return hashlib.blake2b(body, key=key, digest_size=32).hexdigest()


def _ledger_head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)
                       .where(ledger_head.c.id == 1)).first()
    return (int(row.seq), str(row.hash)) if row is not None else (0, GENESIS)


def _state(conn: Connection, *, lock: bool) -> Any:
    query = select(seal_head).where(seal_head.c.id == 1)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    return conn.execute(query).first()


def _mac_ok(key: bytes, state: Any) -> bool:
    if state.mac is None or state.seq is None:
        return False
    want = _head_mac(key, int(state.seq), str(state.hash), str(state.totals), bool(state.legacy))
    return hmac.compare_digest(want, str(state.mac))


# -- sealing at commit ----------------------------------------------------------------------------

def _finish(conn: Connection, *, key: bytes) -> None:
    pending = _PENDING.pop(conn, None)
    if pending is None:
        # Most writes that seal nothing (a web session) also leave the log alone: no lock.
        state = _state(conn, lock=False)
        if state is not None and (state.seq, state.hash) == _ledger_head(conn):
            return
    state = _state(conn, lock=True)
    if state is None:
        conn.execute(insert(seal_head).values(id=1, totals="{}", legacy=False))
        state = _state(conn, lock=True)
    # Read under the lock: a concurrent writer's log entries are committed by now.
    seq, hash_ = _ledger_head(conn)
    if pending is None and state.seq == seq and state.hash == hash_:
        return
    # A seal record altered outside tracework stays visibly broken: never re-MAC'd over.
    broken = state.mac is not None and not _mac_ok(key, state)
    totals: dict[str, list[Any]] = json.loads(state.totals)
    if pending is not None:
        try:
            for name, keys in pending.keys.items():
                rows, total = totals.get(name, [0, "0"])
                added, delta = _seal_table(conn, key, name, keys, seq, pending)
                totals[name] = [rows + added, format((int(total, 16) + delta) % _MOD, "x")]
        finally:
            if pending.inserted is not None:
                pending.inserted.close()
    legacy = bool(state.legacy) and not (pending is not None and pending.legacy_done)
    text = canonical(dict(sorted(totals.items())))
    mac = "" if broken else _head_mac(key, seq, hash_, text, legacy)
    conn.execute(update(seal_head).where(seal_head.c.id == 1).values(
        seq=seq, hash=hash_, totals=text, legacy=legacy, mac=mac))


def _seal_table(conn: Connection, key: bytes, name: str, keys: Mapping[str, str | None],
                seq: int, pending: _Pending) -> tuple[int, int]:
    """Replace the seals of these rows; the change in row count and in the sum of digests.
    Rows inserted with :func:`seal_inserted` are sealed from their spooled values, the
    others as read now."""
    table = SEALED[name]
    pk = _pk(table)
    fresh = pending.fresh.get(name, set())
    memo: dict[tuple[str, type, Any], str] = {}
    count, delta = 0, 0
    for part in chunks(k for k in keys if k not in fresh):
        rows = [dict(r._mapping) for r in conn.execute(
            select(table).where(pk.in_(_typed(table, part))))]
        added, change = _replace_seals(conn, key, name, part, rows, keys, seq, memo)
        count, delta = count + added, delta + change
    if pending.inserted is not None and fresh:
        spooled = (values for values in pending.inserted.rows(name)
                   if str(values[pk.name]) in fresh)
        for rows in chunks(spooled):
            part = [str(values[pk.name]) for values in rows]
            added, change = _replace_seals(conn, key, name, part, rows, keys, seq, memo)
            count, delta = count + added, delta + change
    return count, delta


def _replace_seals(conn: Connection, key: bytes, name: str, part: list[str],
                   rows: list[dict[str, Any]], reasons: Mapping[str, str | None], seq: int,
                   memo: dict[tuple[str, type, Any], str]) -> tuple[int, int]:
    """Drop the seals of ``part`` and seal ``rows`` (those of ``part`` that exist)."""
    pk = _pk(SEALED[name])
    old = {str(k): str(d) for k, d in conn.execute(
        select(row_seals.c.key, row_seals.c.digest).where(
            row_seals.c.tbl == name, row_seals.c.key.in_(part)))}
    if old:
        conn.execute(delete(row_seals).where(row_seals.c.tbl == name,
                                             row_seals.c.key.in_(list(old))))
    fresh, delta = [], 0
    for values in rows:
        ident = str(values[pk.name])
        digest = _row_digest(key, name, ident, seq, values)
        fresh.append({"tbl": name, "key": ident, "seq": seq, "digest": digest,
                      "cols": _cols(key, values, memo), "reason": reasons[ident]})
        delta += int(digest, 16)
    insert_rows(conn, row_seals, fresh)
    delta -= sum(int(d, 16) for d in old.values())
    return len(fresh) - len(old), delta


# -- checking -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataCheck:
    """The outcome of :func:`check`: rows read, and the first disagreement if any."""

    ok: bool
    rows: int
    tables: int
    problem: str = ""
    table: str | None = None
    key: str | None = None
    columns: tuple[str, ...] = ()
    hint: str = ""


_EDIT_HINT = ("Compare the row with a backup or an export, and with `tracework log --target` "
              "for its history; the change was not made through tracework.")
_LEGACY_HINT = ("This project holds rows from before tracework sealed its tables. Check them "
                "(an export, a backup), then run `tracework verify --seal-existing` once.")


def _fail(problem: str, rows: int, tables: int, *, table: str | None = None,
          key: str | None = None, columns: Iterable[str] = (), hint: str = _EDIT_HINT) -> DataCheck:
    return DataCheck(False, rows, tables, problem, table, key, tuple(columns), hint)


def _any_rows(conn: Connection) -> bool:
    return any(conn.execute(select(_pk(t)).limit(1)).first() is not None for t in SEALED.values())


def check(conn: Connection, key: bytes, head: tuple[int, str] | None = None) -> DataCheck:
    """Compare every sealed table with its seals and the seal record with the ledger head.

    ``head`` is the ledger head as the chain verification found it (read from the log's head
    record when not given). Stops at the first row that disagrees and names it.
    """
    seq, hash_ = head if head is not None else _ledger_head(conn)
    state = _state(conn, lock=False)
    if state is None or state.mac is None:
        if not _any_rows(conn):
            return DataCheck(True, 0, len(SEALED))
        if state is not None and state.legacy:
            return _fail("the tables have never been sealed", 0, 0, hint=_LEGACY_HINT)
        return _fail("the tables hold rows but the seal record is empty: it was removed "
                     "outside tracework", 0, 0)
    if not _mac_ok(key, state):
        return _fail("the seal record (row counts and digest sums per table) was altered "
                     "outside tracework", 0, 0)
    if (int(state.seq), str(state.hash)) != (seq, hash_):
        return _fail(f"the seals were last written at ledger entry {state.seq} but the log is "
                     f"at entry {seq}: the tables or the seal record were written outside "
                     "tracework", 0, 0)
    totals: dict[str, list[Any]] = json.loads(state.totals)
    rows = 0
    for number, (name, table) in enumerate(SEALED.items(), start=1):
        found = _check_table(conn, key, name, table, seq, bool(state.legacy), None)
        if isinstance(found, DataCheck):
            return _fail(found.problem, rows + found.rows, number, table=found.table,
                         key=found.key, columns=found.columns, hint=found.hint)
        count, total = found
        rows += count
        want_rows, want_total = totals.get(name, [0, "0"])
        if count != int(want_rows):
            return _fail(f"table {name}: the seal record accounts for {want_rows} rows, "
                         f"{count} are sealed: rows were deleted, or restored to an earlier "
                         "state, together with their seals", rows, number, table=name)
        if total != int(want_total, 16):
            return _fail(f"table {name}: the digests of its {count} sealed rows do not add up "
                         "to the seal record's: a row was restored to an earlier state "
                         "together with its seal", rows, number, table=name)
    return DataCheck(True, rows, len(SEALED))


def unsealed(conn: Connection, key: bytes) -> tuple[dict[str, list[str]], DataCheck | None]:
    """The keys of rows without a seal, per table (for ``verify --seal-existing``), and the
    first sealed row that disagrees, if any: an edit is never sealed over."""
    seq, _ = _ledger_head(conn)
    out: dict[str, list[str]] = {}
    for name, table in SEALED.items():
        keys: list[str] = []
        found = _check_table(conn, key, name, table, seq, True, keys)
        if isinstance(found, DataCheck):
            return out, found
        if keys:
            out[name] = keys
    return out, None


def mark_sealed_existing(conn: Connection, keys: Mapping[str, Iterable[str]], reason: str) -> None:
    """Seal the rows ``unsealed`` listed and clear the project's legacy mark at commit."""
    for name, idents in keys.items():
        _add(conn, name, idents, reason)
    _PENDING.setdefault(conn, _Pending()).legacy_done = True


def is_legacy(conn: Connection, key: bytes) -> bool:
    """Whether the store was upgraded holding rows from before sealing, and still says so under
    a valid seal record."""
    state = _state(conn, lock=False)
    if state is None or not state.legacy:
        return False
    return state.mac is None or _mac_ok(key, state)


def _check_table(conn: Connection, key: bytes, name: str, table: Table, head_seq: int,
                 legacy: bool, collect: list[str] | None) -> DataCheck | tuple[int, int]:
    """Stream one table beside its seals: (rows sealed, sum of digests), or the first problem.

    With ``collect``, rows without a seal are listed there instead of being a problem.
    """
    pk = _pk(table)
    names = [c.name for c in table.c]
    width = len(names)
    join = table.outerjoin(row_seals, and_(row_seals.c.tbl == name,
                                           row_seals.c.key == cast(pk, Text)))
    query = (select(table, row_seals.c.seq, row_seals.c.digest)
             .select_from(join).order_by(pk))
    count, total = 0, 0
    with conn.execute(query, execution_options={"yield_per": _STREAM}) as result:
        for row in result:
            values = dict(zip(names, row[:width], strict=True))
            sealed_at, digest = row[width], row[width + 1]
            ident = str(values[pk.name])
            if digest is None:
                if collect is not None:
                    collect.append(ident)
                    continue
                return _fail(f"table {name}, row {ident} has no seal: it was inserted outside "
                             "tracework", count, 0, table=name, key=ident,
                             hint=_LEGACY_HINT if legacy else _EDIT_HINT)
            if sealed_at > head_seq or _row_digest(key, name, ident, sealed_at, values) != digest:
                cols = conn.execute(select(row_seals.c.cols).where(
                    row_seals.c.tbl == name, row_seals.c.key == ident)).scalar_one()
                changed = _changed_columns(key, values, cols)
                what = (f"column {', '.join(changed)} differs" if changed
                        else "its values differ")
                return _fail(f"table {name}, row {ident}: {what} from what tracework wrote "
                             f"at ledger entry {sealed_at}", count, 0, table=name, key=ident,
                             columns=changed)
            count += 1
            total += int(digest, 16)
    sealed = conn.execute(select(func.count()).select_from(row_seals)
                          .where(row_seals.c.tbl == name)).scalar_one()
    if sealed != count:
        gone = _orphan(conn, name, table)
        if gone is not None:
            return _fail(f"table {name}, row {gone[0]} is missing: tracework wrote it at ledger "
                         f"entry {gone[1]} and it was deleted outside tracework", count, 0,
                         table=name, key=gone[0])
    return count, total % _MOD


def _orphan(conn: Connection, name: str, table: Table) -> tuple[str, int] | None:
    pk = _pk(table)
    key = row_seals.c.key if pk.type.python_type is not int else cast(row_seals.c.key, pk.type)
    query = (select(row_seals.c.key, row_seals.c.seq)
             .select_from(row_seals.outerjoin(table, pk == key))
             .where(row_seals.c.tbl == name, pk.is_(None)).order_by(row_seals.c.seq).limit(1))
    row = conn.execute(query).first()
    return (str(row.key), int(row.seq)) if row is not None else None
