"""Audit results kept in the store, keyed by what was asked and the ledger head they rest on.

Every change to a project's data is a ledger entry, so the ledger head names the state an
audit read: while the head and the question (the audit, its parameters, the project's
configuration, the shape of the result) are the same, the stored result is the result, and
``tracework report`` and the web ``/audit`` page read it instead of re-running permutation
tests. After any change the head moves on and the next ``current`` read recomputes.

Two ways to read:

- ``current`` (the CLI, the report): the result at today's head, computed and stored on a miss.
- ``latest`` (the web page, which must never compute inside a request): the newest stored
  result whatever its head, with its time and whether it is still current; :class:`NotComputed`
  when the audit was never run. ``tracework audit refresh`` (or the page's refresh button,
  which runs it in the background) brings it up to date.

Results are serialised with pydantic's ``TypeAdapter`` from the audit's own dataclasses, so a
stored result reads back as the same typed value; the adapter's JSON schema is part of the key,
so a release that changes an audit's fields never reads an older shape.
"""

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter
from sqlalchemy import Connection, delete, insert, select

from tracework.core import ledger
from tracework.core.project import Project
from tracework.core.store.tables_audit import audit_results

__all__ = ["CacheMode", "Cached", "NotComputed", "Stored", "cached", "clear", "stored"]

T = TypeVar("T")
CacheMode = Literal["current", "latest"]


class NotComputed(LookupError):
    """No stored result of this audit exists yet (``latest`` reads never compute)."""


@dataclass(frozen=True)
class Cached(Generic[T]):
    value: T
    computed_at: str          # ISO time the result was computed
    seconds: float            # how long it took
    ledger_head: str          # the head it rests on
    current: bool             # whether the head is still today's
    hit: bool                 # read from the store rather than computed now


_ADAPTERS: dict[type[Any], tuple[TypeAdapter[Any], str]] = {}


def _adapter(kind: type[Any]) -> tuple[TypeAdapter[Any], str]:
    """The adapter of a result type and the digest of its JSON schema (its shape)."""
    if kind not in _ADAPTERS:
        adapter: TypeAdapter[Any] = TypeAdapter(kind)
        schema = json.dumps(adapter.json_schema(), sort_keys=True)
        _ADAPTERS[kind] = adapter, hashlib.sha256(schema.encode("utf-8")).hexdigest()
    return _ADAPTERS[kind]


def _key(project: Project, kind: str, params: Mapping[str, Any], result_type: type[Any]) -> str:
    settings = {k: v for k, v in project.settings.values.items() if k != "database_url"}
    question = {"kind": kind, "params": dict(params), "config": project.config,
                "settings": settings, "shape": _adapter(result_type)[1]}
    text = json.dumps(question, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read(conn: Connection, key: str, head: str | None) -> Any:
    query = select(audit_results).where(audit_results.c.key == key)
    if head is not None:
        query = query.where(audit_results.c.ledger_head == head)
    return conn.execute(query.order_by(audit_results.c.id.desc()).limit(1)).first()


def cached(project: Project, kind: str, params: Mapping[str, Any], result_type: type[T],
           compute: Callable[[], T], *, mode: CacheMode = "current",
           refresh: bool = False) -> Cached[T]:
    """The audit ``kind`` asked with ``params``, from the store when it rests on today's
    ledger head (or, with ``mode="latest"``, on any head), else computed by ``compute``."""
    key = _key(project, kind, params, result_type)
    adapter = _adapter(result_type)[0]
    with project.store.read() as conn:
        _, head = ledger.head(conn)
        if not refresh:
            row = _read(conn, key, head) or (_read(conn, key, None) if mode == "latest" else None)
            if row is not None:
                return Cached(adapter.validate_json(row.result), row.computed_at, row.seconds,
                              row.ledger_head, row.ledger_head == head, True)
    if mode == "latest" and not refresh:
        raise NotComputed(kind)
    started = time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - started
    at = ledger.now()
    text = adapter.dump_json(value).decode("utf-8")

    def store(conn: Connection) -> bool:
        seq, now_head = ledger.head(conn)
        if now_head != head:       # the data changed while we computed: keep nothing stale
            return False
        # One result per question: the older ones can never be read as current again.
        conn.execute(delete(audit_results).where(audit_results.c.key == key))
        conn.execute(insert(audit_results).values(
            kind=kind, key=key, params=json.dumps(dict(params), sort_keys=True, default=str),
            ledger_seq=seq, ledger_head=head, computed_at=at, seconds=seconds, result=text))
        return True

    project.store.run_write(store)
    return Cached(value, at, seconds, head, True, False)


@dataclass(frozen=True)
class Stored:
    kind: str
    params: str
    computed_at: str
    seconds: float
    current: bool            # rests on today's ledger head
    ledger_seq: int = 0      # the ledger entry it rests on
    changes_since: int = 0   # ledger entries written after it (0 while current)


def stored(project: Project) -> list[Stored]:
    """Every stored result, newest first, and whether each is still current."""
    with project.store.read() as conn:
        seq, head = ledger.head(conn)
        rows = conn.execute(select(audit_results.c.kind, audit_results.c.params,
                                   audit_results.c.computed_at, audit_results.c.seconds,
                                   audit_results.c.ledger_head, audit_results.c.ledger_seq)
                            .order_by(audit_results.c.computed_at.desc()))
        return [Stored(r.kind, r.params, r.computed_at, r.seconds, r.ledger_head == head,
                       int(r.ledger_seq), max(0, seq - int(r.ledger_seq)))
                for r in rows]


def clear(project: Project) -> int:
    """Forget every stored result (they are derived: the next read recomputes)."""
    def work(conn: Connection) -> int:
        return int(conn.execute(delete(audit_results)).rowcount or 0)
    return project.store.run_write(work)
