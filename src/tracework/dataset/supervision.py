"""What each exported annotation carries for a downstream auditor and for the dataset's users:
the value chain of its batch (who asked, through whom, for which client, at what pay and time
budget: :mod:`tracework.core.value_chain`) and, for workers who consented to be contacted, an
opaque reply handle (:mod:`tracework.core.contact`); other workers' annotations have no
``reply_handle`` key at all."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from tracework.core.contact import handles_for
from tracework.core.project import Project
from tracework.core.value_chain import chains_of

__all__ = ["annotation_extras", "batch_chains"]


def batch_chains(project: Project, conn: Connection, batch_ids: Iterable[int]
                 ) -> dict[int, dict[str, Any]]:
    """The value chain in force of each batch, as exported."""
    return {bid: chain.as_dict() for bid, chain in chains_of(project, conn, batch_ids).items()}


def annotation_extras(project: Project, conn: Connection,
                      rows: Iterable[tuple[int, str, int]]) -> dict[int, dict[str, Any]]:
    """For each (annotation id, worker, batch id): the attributes to add to its provenance."""
    rows = list(rows)
    chains = batch_chains(project, conn, {bid for _, _, bid in rows})
    handles = handles_for(conn, project.secret, ((aid, worker) for aid, worker, _ in rows))
    out: dict[int, dict[str, Any]] = {}
    for aid, _worker, bid in rows:
        extra: dict[str, Any] = {"value_chain": chains[bid]}
        if aid in handles:
            extra["reply_handle"] = handles[aid]
        out[aid] = extra
    return out
