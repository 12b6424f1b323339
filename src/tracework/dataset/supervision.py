"""What each exported annotation carries for a downstream auditor and for the dataset's users:
the value chain of its batch (who asked, through whom, for which client, at what pay and time
budget: :mod:`tracework.core.value_chain`) and, for workers who consented to be contacted, an
opaque reply handle (:mod:`tracework.core.contact`); other workers' annotations have no
``reply_handle`` key at all."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tracework.core.contact import handle_maker
from tracework.core.project import Project
from tracework.core.value_chain import chains_of

__all__ = ["COLUMNS", "Extras", "batch_chains", "columns_of"]


def batch_chains(project: Project, conn: Connection, batch_ids: Iterable[int]
                 ) -> dict[int, dict[str, Any]]:
    """The value chain in force of each batch, as exported."""
    return {bid: chain.as_dict() for bid, chain in chains_of(project, conn, batch_ids).items()}


@dataclass(frozen=True)
class Extras:
    """What a selection's annotations carry beyond their rows, read once before they stream:
    the value chain of each of its batches and whom of its workers a handle may reach."""

    chains: dict[int, dict[str, Any]]
    _handle: Callable[[int, str], str | None]

    @classmethod
    def of(cls, project: Project, conn: Connection, batch_ids: Iterable[int],
           worker_ids: Iterable[str]) -> Extras:
        return cls(batch_chains(project, conn, batch_ids),
                   handle_maker(conn, project.secret, worker_ids))

    def attributes(self, annotation_id: int, worker: str, batch_id: int) -> dict[str, Any]:
        """The attributes to add to one annotation's provenance."""
        extra: dict[str, Any] = {"value_chain": self.chains[batch_id]}
        handle = self._handle(annotation_id, worker)
        if handle is not None:
            extra["reply_handle"] = handle
        return extra

    def in_key_order(self) -> list[dict[str, Any]]:
        """The distinct value chains, by batch key."""
        return sorted(self.chains.values(), key=lambda c: str(c["batch"]))


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

