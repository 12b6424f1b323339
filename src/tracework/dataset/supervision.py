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

__all__ = ["COLUMNS", "annotation_extras", "batch_chains", "chains_in", "columns_of"]


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


#: The flat columns a table of labels (records/annotations.jsonl) carries for these attributes:
#: name, Croissant data type, description.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("requester", "sc:Text", "Who asked for the batch's work."),
    ("intermediaries", "sc:Text", "Companies between requester and client, in order, "
                                  "separated by \"; \"."),
    ("client", "sc:Text", "Who the batch's work was for in the end."),
    ("pay_cents_per_task", "sc:Integer", "Pay per task stated for the batch, in cents (-1: "
                                         "not stated)."),
    ("time_budget_s_per_task", "sc:Integer", "Time budget per task stated for the batch, in "
                                             "seconds (-1: not stated)."),
    ("reply_handle", "sc:Text", "An opaque handle to write to the worker through the project "
                                "(`tracework contact send`); empty when the worker did not "
                                "consent to be contacted."),
)


def columns_of(attributes: dict[str, Any]) -> dict[str, Any]:
    """The :data:`COLUMNS` of one annotation, from its attributes."""
    chain = attributes.get("value_chain") or {}
    pay, budget = chain.get("pay_cents_per_task"), chain.get("time_budget_s_per_task")
    return {"requester": str(chain.get("requester", "")),
            "intermediaries": "; ".join(chain.get("intermediaries", [])),
            "client": str(chain.get("client", "")),
            "pay_cents_per_task": -1 if pay is None else int(pay),
            "time_budget_s_per_task": -1 if budget is None else int(budget),
            "reply_handle": str(attributes.get("reply_handle", ""))}


def chains_in(annotations: Iterable[Any]) -> list[dict[str, Any]]:
    """The distinct value chains the annotations were made under, by batch key."""
    found: dict[str, dict[str, Any]] = {}
    for ann in annotations:
        chain = ann.attributes.get("value_chain")
        if chain is not None and chain["batch"] not in found:
            found[chain["batch"]] = chain
    return [found[k] for k in sorted(found)]
