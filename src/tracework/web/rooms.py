"""The web app's door to the other rooms' libraries: review, fieldnotes, receipts, audits.

Each method calls the room's public functions and shapes the result for a page; the web app
writes no SQL of its own for their data.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tracework import review
from tracework.core.errors import NotFound
from tracework.core.project import Project
from tracework.fieldnotes import notes, taxonomy
from tracework.pay import receipts
from tracework.render.html_report import refresh_audits
from tracework.review.common import as_decision
from tracework.review.disputes import as_outcome
from tracework.review.queue import decisions_in_force

__all__ = ["rooms", "acting_as"]

def acting_as(project: Project, actor: str) -> Project:
    """The same project (same store) with ``actor`` recorded as the author of its changes, for
    library functions that take the actor from the project (a worker contesting in the portal,
    a signed-in reviewer resolving)."""
    values = dict(project.settings.values)
    values["actor"] = actor
    sources = dict(project.settings.sources)
    sources["actor"] = "cli"
    settings = dataclasses.replace(project.settings, values=values, sources=sources)
    return dataclasses.replace(project, settings=settings)


def _current(item: Any, *, for_worker: bool) -> dict[str, Any] | None:
    if item.decision is None:
        return None
    current = {"decision": item.decision, "reason_code": item.reason_code,
               "reason_text": item.reason_text, "rule": item.rule,
               "good_faith": item.good_faith, "decided_at": item.decided_at,
               "source": item.decision_source}
    if not for_worker:
        current["reviewer"] = item.reviewer
    return current


class _Rooms:
    # -- review --------------------------------------------------------------------------------

    def queue(self, project: Project, *, state: str | None, worker: str | None,
              batch: str | None, page: int, per_page: int) -> tuple[list[dict[str, Any]], bool]:
        """One page of the review queue and whether another follows."""
        items = review.review_list(project, status=state, worker=worker,
                                   batches=[batch] if batch else (),
                                   limit=page * per_page + 1)
        rows = [i.as_dict() for i in items[(page - 1) * per_page: page * per_page]]
        return rows, len(items) > page * per_page

    def states(self) -> list[str]:
        return list(review.STATES)

    def _shape_review(self, item: Any, version: str, *, for_worker: bool) -> dict[str, Any]:
        dispute = item.dispute
        return {
            "current": _current(item, for_worker=for_worker),
            "proposals": [] if for_worker else [
                {**p, "reason_text": p.get("reason", "")} for p in item.proposals],
            "disputes": [dispute] if dispute else [],
            "version": version,
            "state": item.state,
            "can_contest": item.status == "Rejected" and not (
                dispute is not None and dispute["state"] == "open"),
        }

    def reviews_of_worker(self, project: Project, worker: str, *, for_worker: bool = True
                          ) -> dict[int, dict[str, Any]] | None:
        """Every submission of ``worker`` with its review, by submission id (one query)."""
        return {i.submission_id: self._shape_review(i, "", for_worker=for_worker)
                for i in review.review_list(project, worker=worker)}

    def review_of(self, project: Project, sid: int, *, worker: str | None = None,
                  owner: str | None = None) -> dict[str, Any] | None:
        """The decision in force, proposals and dispute of one submission. ``worker``: seen by
        that worker (their own submission only); ``owner``: the submission's worker, for staff."""
        who = worker or owner
        items = [i for i in review.review_list(project, worker=who) if i.submission_id == sid] \
            if who else []
        if not items:
            raise NotFound(f"no submission {sid}")
        with project.store.read() as conn:
            row = decisions_in_force(conn, [sid]).get(sid)
        return self._shape_review(items[0], "" if row is None else str(row.id),
                                  for_worker=worker is not None)

    def reasons(self, project: Project) -> list[dict[str, Any]]:
        return [{"code": r.code, "text": r.describe(), "decision": r.decision}
                for r in review.review_config(project).rules]

    def decide(self, project: Project, sid: int, decision: str, *, reason_code: str,
               reason: str, seen: str, reviewer: str, redecide: bool = False) -> Any:
        expect: Any = int(seen) if seen.isdigit() else None
        if redecide and expect is None:
            # Decided on the platform, never here: no decision of ours to compare with.
            expect = review.UNSET
        return review.decide(project, sid, as_decision(decision), reason_code=reason_code or None,
                             reason=reason or None, expect_review=expect, reviewer=reviewer,
                             redecide=redecide)

    def reveal(self, project: Project, sid: int, reason: str, *, reviewer: str) -> Any:
        return review.reveal(project, sid, reason, reviewer=reviewer)

    def reveals(self, project: Project, sid: int, reviewer: str) -> list[dict[str, Any]]:
        """The reasons ``reviewer`` gave for seeing this submission's worker unblinded."""
        return [{"ts": e.ts, "reason": e.reason, "seq": e.seq}
                for e in review.revealed(project, sid, reviewer)]

    def revealed_worker(self, project: Project, worker: str, reviewer: str) -> bool:
        return review.revealed_worker(project, worker, reviewer)

    def accept_proposals(self, project: Project, *, rule: str | None, batch: str | None,
                         reviewer: str) -> Any:
        return review.accept_proposals(project, rule=rule, batches=[batch] if batch else (),
                                       reviewer=reviewer)

    def contest(self, project: Project, sid: int, message: str, *, worker: str) -> Any:
        return review.contest(acting_as(project, worker), sid, message, channel="portal")

    def resolve(self, project: Project, sid: int, outcome: str, reason: str, *, by: str) -> Any:
        return review.resolve(acting_as(project, by), sid, as_outcome(outcome), reason)

    def receipts_of(self, project: Project, worker: str) -> dict[str, Any]:
        return receipts.receipt_data(project, worker)

    def receipt_html(self, project: Project, data: dict[str, Any]) -> str:
        currency = str(project.config.get("pay", {}).get("currency", "USD"))
        return str(receipts.render_html(data, currency))

    # -- fieldnotes ----------------------------------------------------------------------------

    def concerns(self, project: Project) -> dict[str, str]:
        return dict(notes.concerns(project))

    def _shape(self, project: Project, found: list[Any]) -> list[dict[str, Any]]:
        colours = self.concerns(project)
        out = []
        for n in found:
            item = n.as_dict()
            item["colour"] = colours.get(n.concern, "#b7b7b7")
            item["resolved"] = n.state == "resolved"
            _, replies = notes.get(project, n.id)
            item["replies"] = [r.as_dict() for r in replies]
            out.append(item)
        return out

    def notes_on(self, project: Project, target: str) -> list[dict[str, Any]] | None:
        return self._shape(project, notes.list_notes(project, target=target)[-100:])

    def notes_list(self, project: Project, *, target: str | None, concern: str | None,
                   state: str | None, limit: int) -> list[dict[str, Any]] | None:
        found = notes.list_notes(project, target=target, concern=concern, state=state)
        return self._shape(project, found[-limit:][::-1])

    def note_targets(self, project: Project, concern: str) -> list[str] | None:
        """The targets of the notes (not replies) of one concern type."""
        return sorted({n.target for n in notes.list_notes(project, concern=concern)})

    def notes_by_worker(self, project: Project, worker: str) -> list[dict[str, Any]] | None:
        return self._shape(project, notes.list_notes(project, author=worker)[-100:])

    def note_thread(self, project: Project, note_id: int) -> tuple[Any, list[Any]]:
        return notes.get(project, note_id)

    def add_note(self, project: Project, target: str, text: str, *, concern: str,
                 author: str) -> Any:
        return notes.add(project, target, text, concern=concern,
                                               author=author)

    def reply_note(self, project: Project, note_id: int, text: str, *, author: str) -> Any:
        return notes.reply(project, note_id, text, author=author)

    def resolve_note(self, project: Project, note_id: int, reason: str, *, by: str) -> Any:
        return notes.resolve(project, note_id, reason=reason, by=by)

    def category_flags(self, project: Project) -> list[dict[str, Any]] | None:
        return [n.as_dict() | {"resolved": n.state == "resolved"}
                for n in notes.list_notes(project, target="category:*")[-200:]]

    def taxonomy_history(self, project: Project) -> list[dict[str, Any]] | None:
        return [t.as_dict() for t in taxonomy.history(project)][::-1]

    # -- audits --------------------------------------------------------------------------------

    def refresh_audits(self, project: Project) -> dict[str, float]:
        return refresh_audits(project)


rooms = _Rooms()
