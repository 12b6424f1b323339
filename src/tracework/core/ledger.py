"""The append-only, hash-chained change log.

Every mutation of a project is an entry: actor, action, target, field, old value, new value,
reason, time. An entry's hash is SHA-256 over the previous entry's hash and a canonical
encoding of the entry (its sequence number included), so editing, deleting or reordering any
entry breaks the chain from that entry on. Cutting entries off the end leaves a valid shorter
chain; that is caught by comparing against a checkpoint: a head hash recorded earlier (in an
export, a receipt, a note), passed to :func:`verify` as ``expect_head``.

Values are stored as canonical JSON text and hashed as stored, so SQLite and PostgreSQL verify
the same bytes.

Personal values (a credit name, a note's text, a dispute message, feedback typed to a worker)
never enter an entry in the clear. A writer wraps them in :class:`Private`; the entry then holds
a salted commitment ``{"commit": "sha256:<hex>"}`` (SHA-256 over 32 random salt bytes and the
value's canonical JSON) and the salt and the value go to ``ledger_private``, tagged with the
worker they belong to. The chain verifies from the entries alone, in the project and in a
published log; :func:`reveal` puts the values back for the people allowed to read them; erasing
a worker deletes their private rows, after which a commitment opens to nothing and, salted,
cannot be guessed from a list of names either. :func:`verify` also checks that every private
row still opens its commitment.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tracework.core.errors import LedgerError
from tracework.core.store import chunks, insert_rows
from tracework.core.store.schema import ledger, ledger_head
from tracework.core.store.tables_privacy import ledger_private

__all__ = [
    "ERASED",
    "GENESIS",
    "Draft",
    "Entry",
    "LedgerWriter",
    "Private",
    "Verification",
    "canonical",
    "commitment_of",
    "entries",
    "entry_hash",
    "head",
    "is_commitment",
    "is_commitment_text",
    "now",
    "reveal",
    "verify",
]

GENESIS = "0" * 64


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# Built once: json.dumps with non-default options builds a new encoder on every call, which
# dominated the cost of an append.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False, default=str)
_BODY = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, Unicode kept."""
    if value is None:
        return "null"
    return _CANONICAL.encode(value)


@dataclass(frozen=True)
class Private:
    """A personal value for a ledger entry: the entry holds a salted commitment to it, the value
    itself goes to ``ledger_private`` under ``worker`` (None: nobody's, kept until the project
    is deleted)."""

    value: Any
    worker: str | None = None


#: What :func:`reveal` shows for a commitment whose value was erased.
ERASED = {"erased": True}


def commitment_of(salt_hex: str, value_text: str) -> str:
    """The commitment to a value's canonical JSON text under a salt (hex)."""
    digest = hashlib.sha256(bytes.fromhex(salt_hex) + value_text.encode("utf-8")).hexdigest()
    return f"sha256:{digest}"


def is_commitment(value: Any) -> bool:
    return (isinstance(value, dict) and len(value) == 1 and isinstance(value.get("commit"), str)
            and value["commit"].startswith("sha256:"))


def _commit_reason(text: str) -> str | None:
    """The commitment a stored reason holds, or None for a reason in the clear."""
    if not text.startswith('{"commit":"sha256:'):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return str(value["commit"]) if is_commitment(value) else None


def is_commitment_text(reason: str) -> bool:
    """Whether a stored reason is a commitment rather than a reason in the clear."""
    return _commit_reason(reason) is not None


@dataclass(frozen=True)
class Entry:
    seq: int
    ts: str
    actor: str
    action: str
    target: str
    field: str
    old: str
    new: str
    reason: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "ts": self.ts, "actor": self.actor, "action": self.action,
            "target": self.target, "field": self.field, "old": json.loads(self.old),
            "new": json.loads(self.new), "reason": self.reason, "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _entry_hash(prev_hash: str, seq: int, ts: str, actor: str, action: str, target: str,
                field: str, old: str, new: str, reason: str) -> str:
    body = _BODY.encode([seq, ts, actor, action, target, field, old, new, reason])
    return hashlib.sha256(prev_hash.encode("ascii") + body.encode("utf-8")).hexdigest()


def entry_hash(prev_hash: str, seq: int, ts: str, actor: str, action: str, target: str,
               field: str, old: str, new: str, reason: str) -> str:
    """The hash of one entry as :func:`verify` recomputes it (``old``/``new`` as canonical JSON
    text); what checks a published copy of the log, away from the project, uses."""
    return _entry_hash(prev_hash, seq, ts, actor, action, target, field, old, new, reason)


@dataclass(frozen=True)
class Draft:
    """One entry to append, before its sequence number, time and hash are given
    (:meth:`LedgerWriter.extend`)."""

    action: str
    target: str
    field: str = ""
    old: Any = None
    new: Any = None
    reason: str | Private = ""
    actor: str | None = None


_PLAIN = frozenset({str, int, float, bool, type(None)})


class LedgerWriter:
    """Appends entries inside one write transaction; flushes in batches with executemany.

    The head row is read and locked when the writer starts, so a concurrent writer on
    PostgreSQL waits instead of forking the chain.
    """

    FLUSH_EVERY = 2000

    def __init__(self, conn: Connection, actor: str) -> None:
        self.conn = conn
        self.actor = actor
        query = select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)
        if conn.dialect.name != "sqlite":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            conn.execute(insert(ledger_head).values(id=1, seq=0, hash=GENESIS))
            self.seq, self.hash = 0, GENESIS
        else:
            self.seq, self.hash = row.seq, row.hash
        self._pending: list[dict[str, Any]] = []
        self._private: list[dict[str, Any]] = []
        self.appended = 0

    def _seal(self, value: Any, part: str) -> Any:
        """``value`` with every :class:`Private` inside it replaced by its commitment."""
        kind = type(value)
        if kind in _PLAIN or (kind is dict and all(type(v) in _PLAIN for v in value.values())):
            return value        # most entries: nothing private inside, nothing to copy
        if isinstance(value, Private):
            salt = secrets.token_hex(32)
            text = canonical(value.value)
            commit = commitment_of(salt, text)
            self._private.append({"commit": commit, "seq": self.seq, "part": part,
                                  "salt": salt, "value": text, "worker": value.worker})
            return {"commit": commit}
        if isinstance(value, dict):
            return {k: self._seal(v, part) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._seal(v, part) for v in value]
        return value

    def append(self, action: str, target: str, *, field: str = "", old: Any = None,
               new: Any = None, reason: str | Private = "", actor: str | None = None) -> str:
        """Add one entry; returns its hash. ``old``, ``new`` (anywhere inside) and ``reason``
        may be :class:`Private`: the entry then holds a commitment, not the value."""
        return self.extend([Draft(action, target, field=field, old=old, new=new, reason=reason,
                                  actor=actor)])[-1]

    def extend(self, drafts: Iterable[Draft]) -> list[str]:
        """Add entries in order, as many appends would (the same chain, entry for entry),
        written with one ``executemany`` per :attr:`FLUSH_EVERY`; returns their hashes."""
        hashes = []
        for d in drafts:
            self.seq += 1
            ts = now()
            who = d.actor if d.actor is not None else self.actor
            old_text = canonical(self._seal(d.old, "old"))
            new_text = canonical(self._seal(d.new, "new"))
            reason = d.reason
            if isinstance(reason, Private):
                reason = canonical(self._seal(reason, "reason"))
            digest = _entry_hash(self.hash, self.seq, ts, who, d.action, d.target, d.field,
                                 old_text, new_text, reason)
            self._pending.append({
                "seq": self.seq, "ts": ts, "actor": who, "action": d.action,
                "target": d.target, "field": d.field, "old": old_text, "new": new_text,
                "reason": reason, "prev_hash": self.hash, "hash": digest,
            })
            self.hash = digest
            self.appended += 1
            hashes.append(digest)
            if len(self._pending) >= self.FLUSH_EVERY:
                self.flush()
        return hashes

    def flush(self) -> None:
        if self._pending:
            insert_rows(self.conn, ledger, self._pending)
            self._pending = []
        if self._private:
            insert_rows(self.conn, ledger_private, self._private)
            self._private = []
        self.conn.execute(update(ledger_head).where(ledger_head.c.id == 1)
                          .values(seq=self.seq, hash=self.hash))


def head(conn: Connection) -> tuple[int, str]:
    """The newest entry's sequence number and hash ((0, GENESIS) for an empty log)."""
    row = conn.execute(select(ledger.c.seq, ledger.c.hash)
                       .order_by(ledger.c.seq.desc()).limit(1)).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def entries(conn: Connection, *, target: str | None = None, actor: str | None = None,
            action: str | None = None, since: str | None = None, until: str | None = None,
            limit: int | None = None, newest_first: bool = False) -> Iterator[Entry]:
    """Entries filtered by target (exact, or prefix ending in ':' or '*'), actor, action, time."""
    query = select(ledger)
    if target:
        if target.endswith("*"):
            query = query.where(ledger.c.target.startswith(target[:-1], autoescape=True))
        else:
            query = query.where(ledger.c.target == target)
    if actor:
        query = query.where(ledger.c.actor == actor)
    if action:
        if action.endswith("*"):
            query = query.where(ledger.c.action.startswith(action[:-1], autoescape=True))
        else:
            query = query.where(ledger.c.action == action)
    if since:
        query = query.where(ledger.c.ts >= since)
    if until:
        query = query.where(ledger.c.ts <= until)
    query = query.order_by(ledger.c.seq.desc() if newest_first else ledger.c.seq)
    if limit is not None:
        query = query.limit(limit)
    for row in conn.execute(query):
        yield Entry(**row._mapping)


def _private_values(conn: Connection, commits: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for part in chunks(sorted(set(commits))):
        for row in conn.execute(select(ledger_private.c.commit, ledger_private.c.value)
                                .where(ledger_private.c.commit.in_(part))):
            found[row.commit] = json.loads(row.value)
    return found


def _commits_in(value: Any) -> Iterator[str]:
    if is_commitment(value):
        yield value["commit"]
    elif isinstance(value, dict):
        for v in value.values():
            yield from _commits_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from _commits_in(v)


def _opened(value: Any, found: dict[str, Any]) -> Any:
    if is_commitment(value):
        return found.get(value["commit"], ERASED)
    if isinstance(value, dict):
        return {k: _opened(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_opened(v, found) for v in value]
    return value


def reveal(conn: Connection, items: Iterable[Entry]) -> list[Entry]:
    """The entries as people allowed to read the project see them: each commitment replaced by
    its value from ``ledger_private``, or by ``{"erased": true}`` once erased. A revealed entry
    no longer matches its hash; verify the stored entries, never these."""
    items = list(items)
    parsed = [(json.loads(e.old), json.loads(e.new), _commit_reason(e.reason)) for e in items]
    wanted = [c for old, new, why in parsed
              for c in [*_commits_in(old), *_commits_in(new), *([why] if why else [])]]
    if not wanted:
        return items
    found = _private_values(conn, wanted)
    out = []
    for e, (old, new, why) in zip(items, parsed, strict=True):
        reason = e.reason
        if why is not None:
            opened = found.get(why)
            reason = "[erased]" if opened is None else str(opened)
        out.append(replace(e, old=canonical(_opened(old, found)),
                           new=canonical(_opened(new, found)), reason=reason))
    return out


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    head: str
    problem: str = ""
    first_bad_seq: int | None = None


def verify(conn: Connection, *, expect_head: str | None = None) -> Verification:
    """Recompute the chain. Fails naming the first bad entry; checks a checkpoint if given."""
    # Streamed per statement: Connection.execution_options would change the connection for
    # every later statement of the transaction (an INSERT on a server-side cursor fails).
    with conn.execute(select(ledger).order_by(ledger.c.seq),
                      execution_options={"yield_per": 5000}) as rows:
        outcome = _walk(rows, expect_head)
    if not outcome.ok:
        return outcome
    count, prev = outcome.entries, outcome.head
    stored = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).first()
    if stored is not None and (stored.seq, stored.hash) != (count, prev):
        return Verification(False, count, prev,
                            f"the log ends at entry {count} but its head record says entry "
                            f"{stored.seq}: entries were removed from the end", count + 1)
    return _check_private(conn, outcome)


def _check_private(conn: Connection, outcome: Verification) -> Verification:
    """Every kept personal value still opens the commitment its entry holds."""
    with conn.execute(select(ledger_private).order_by(ledger_private.c.seq),
                      execution_options={"yield_per": 5000}) as rows:
        for row in rows:
            if commitment_of(row.salt, row.value) != row.commit:
                return Verification(False, outcome.entries, outcome.head,
                                    f"the private value of entry {row.seq} ({row.part}) was "
                                    "altered: it no longer opens the entry's commitment",
                                    int(row.seq))
    return outcome


def _walk(rows: Any, expect_head: str | None) -> Verification:
    prev = GENESIS
    expected_seq = 1
    seen_checkpoint = expect_head is None or expect_head == GENESIS
    count = 0
    for row in rows:
        e = Entry(**row._mapping)
        if e.seq != expected_seq:
            return Verification(False, count, prev,
                                f"entry {expected_seq} is missing (next entry is {e.seq}): "
                                "entries were deleted or renumbered", expected_seq)
        if e.prev_hash != prev:
            return Verification(False, count, prev,
                                f"entry {e.seq} does not follow entry {e.seq - 1}: the log was "
                                "edited, reordered or had entries removed", e.seq)
        digest = _entry_hash(prev, e.seq, e.ts, e.actor, e.action, e.target, e.field, e.old,
                             e.new, e.reason)
        if digest != e.hash:
            return Verification(False, count, prev,
                                f"entry {e.seq} ({e.action} {e.target}) was altered: its content "
                                "no longer matches its hash", e.seq)
        prev = digest
        expected_seq += 1
        count += 1
        if not seen_checkpoint and digest == expect_head:
            seen_checkpoint = True
    if not seen_checkpoint:
        return Verification(False, count, prev,
                            f"checkpoint {expect_head} is not in the log: the log was truncated "
                            "or rewritten after that checkpoint was taken")
    return Verification(True, count, prev)


def require_valid(conn: Connection, *, expect_head: str | None = None) -> Verification:
    result = verify(conn, expect_head=expect_head)
    if not result.ok:
        raise LedgerError(f"the change log does not verify: {result.problem}")
    return result


def as_rows(items: Sequence[Entry]) -> list[dict[str, Any]]:
    return [e.as_dict() for e in items]
