"""The value chain of each batch: who asked for the work, through which intermediaries, for
which client, at what pay and time budget per task.

A statement is set per batch with :func:`set_batch_chain` (``tracework batch value-chain``;
a ledger entry, a sealed row) or in ``tracework.toml``::

    [value_chain.batches."BATCH_KEY"]
    client = "Acme Robotics"
    intermediaries = ["DataVendor Ltd"]
    pay_cents = 12
    time_budget_s = 300

A statement set in the store wins over the file; what neither says comes from the project's
``[value_chain]`` (requester, intermediaries, end_client) and from the batch itself (its
reward and time allotted, in ``[pay] currency``). :func:`chains_of` gives the statement in
force for each batch; every exported annotation carries its batch's (``value_chain``), and so
do the work records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from tracework.core import integrity
from tracework.core.errors import ConfigError, InputError, NotFound
from tracework.core.ledger import LedgerWriter, now
from tracework.core.project import Project
from tracework.core.store import chunks
from tracework.core.store.schema import batches
from tracework.core.store.tables_contact import batch_value_chains

__all__ = ["ValueChain", "chains_of", "set_batch_chain", "value_chain_of_batch"]


@dataclass(frozen=True)
class ValueChain:
    """The conditions one batch's labels were made under."""

    batch: str
    requester: str
    intermediaries: tuple[str, ...]
    client: str
    pay_cents: int | None
    currency: str
    time_budget_s: int | None
    note: str
    source: str              # "batch" (set in the store), "file" (tracework.toml), "project"

    def as_dict(self) -> dict[str, Any]:
        return {"batch": self.batch, "requester": self.requester,
                "intermediaries": list(self.intermediaries), "client": self.client,
                "pay_cents_per_task": self.pay_cents, "currency": self.currency,
                "time_budget_s_per_task": self.time_budget_s, "note": self.note,
                "stated_in": self.source}


def _names(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value] if value else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"tracework.toml: {where} must be a list of names")
    return tuple(v.strip() for v in value if v.strip())


def _optional_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"tracework.toml: {where} must be a whole number of 0 or more")
    return value


def _file_statements(project: Project) -> dict[str, dict[str, Any]]:
    found = project.config.get("value_chain", {}).get("batches", {})
    if not isinstance(found, dict):
        raise ConfigError("tracework.toml: [value_chain.batches] must be a table of batches")
    return {str(k): v for k, v in found.items() if isinstance(v, dict)}


def chains_of(project: Project, conn: Connection, batch_ids: Iterable[int]
              ) -> dict[int, ValueChain]:
    """The statement in force for each of these batches (by batch id)."""
    chain = project.config.get("value_chain", {})
    currency = str(project.config.get("pay", {}).get("currency", ""))
    files = _file_statements(project)
    out: dict[int, ValueChain] = {}
    for part in chunks(sorted(set(batch_ids))):
        stored = {r.batch_id: r for r in conn.execute(
            select(batch_value_chains).where(batch_value_chains.c.batch_id.in_(part)))}
        for b in conn.execute(select(batches.c.id, batches.c.batch_key, batches.c.reward_cents,
                                     batches.c.time_allotted_s).where(batches.c.id.in_(part))):
            key = str(b.batch_key)
            row = stored.get(b.id)
            if row is not None:
                out[int(b.id)] = ValueChain(
                    key, row.requester, tuple(json.loads(row.intermediaries)), row.client,
                    row.pay_cents, row.currency or currency, row.time_budget_s, row.note,
                    "batch")
                continue
            stated = files.get(key, {})
            where = f"[value_chain.batches.{key!r}]"
            out[int(b.id)] = ValueChain(
                key, str(stated.get("requester", chain.get("requester", ""))),
                _names(stated.get("intermediaries", chain.get("intermediaries", [])),
                       f"{where} intermediaries"),
                str(stated.get("client", chain.get("end_client", ""))),
                _optional_int(stated.get("pay_cents", b.reward_cents), f"{where} pay_cents"),
                str(stated.get("currency", currency)),
                _optional_int(stated.get("time_budget_s", b.time_allotted_s),
                              f"{where} time_budget_s"),
                str(stated.get("note", "")), "file" if stated else "project")
    return out


def _batch_id(conn: Connection, batch: str) -> int:
    query = select(batches.c.id).where(batches.c.batch_key == batch)
    if batch.isdigit():
        query = select(batches.c.id).where((batches.c.batch_key == batch)
                                           | (batches.c.id == int(batch)))
    found = conn.execute(query).scalars().all()
    if not found:
        raise NotFound(f"no batch {batch!r}", hint="Name it by key or id, as `tracework status` "
                                                   "lists batches.")
    if len(found) > 1:
        raise InputError(f"{batch!r} names several batches (one per platform)", field="BATCH",
                         hint="Name it by its id.")
    return int(found[0])


def value_chain_of_batch(project: Project, batch: str) -> ValueChain:
    with project.store.read() as conn:
        bid = _batch_id(conn, batch)
        return chains_of(project, conn, [bid])[bid]


def set_batch_chain(project: Project, batch: str, *, client: str, requester: str | None = None,
                    intermediaries: Sequence[str] = (), pay_cents: int | None = None,
                    time_budget_s: int | None = None, currency: str | None = None,
                    note: str = "") -> ValueChain:
    """State (or replace) a batch's value chain: one ledger entry, a sealed row."""
    if not client.strip():
        raise InputError("a value chain names the client the work is for", field="--client")
    for name, value in (("--pay-cents", pay_cents), ("--time-budget-s", time_budget_s)):
        if value is not None and value < 0:
            raise InputError(f"{name} must be 0 or more", field=name)
    chain = project.config.get("value_chain", {})
    row = {"requester": (requester if requester is not None
                         else str(chain.get("requester", ""))).strip(),
           "intermediaries": json.dumps([i.strip() for i in intermediaries if i.strip()],
                                        ensure_ascii=False),
           "client": client.strip(), "pay_cents": pay_cents, "time_budget_s": time_budget_s,
           "currency": (currency if currency is not None
                        else str(project.config.get("pay", {}).get("currency", ""))).strip(),
           "note": note.strip()}

    def work(conn: Connection) -> ValueChain:
        bid = _batch_id(conn, batch)
        before = chains_of(project, conn, [bid])[bid]
        conn.execute(delete(batch_value_chains).where(batch_value_chains.c.batch_id == bid))
        conn.execute(insert(batch_value_chains).values(batch_id=bid, set_at=now(), **row))
        integrity.seal(conn, "batch_value_chains", [bid])
        after = chains_of(project, conn, [bid])[bid]
        log = LedgerWriter(conn, project.actor)
        log.append("batch.value_chain", f"batch:{bid}", old=before.as_dict(),
                   new=after.as_dict())
        log.flush()
        return after

    return project.store.run_write(work)
