"""Staff actions: decide a submission, accept proposals in bulk, resolve a contest; and the
fieldnotes: list, add, reply, resolve. Each action is one call of the owning room's library
(one write transaction with its ledger entries); a browser is sent on with a 303."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from tracework.core.errors import InputError
from tracework.web import queries
from tracework.web.auth import StaffUser, require_staff, safe_next
from tracework.web.core import WRITERS, done, render, web_of
from tracework.web.rooms import rooms
from tracework.web.users import User

__all__ = ["router"]

router = APIRouter()

Writer = Annotated[User, Depends(require_staff(WRITERS))]
Short = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=4000)]


@router.post("/submissions/{sid}/decision", summary="Approve, reject or send back for rework")
def decision(request: Request, user: Writer, sid: int, decision: Short,
             reason_code: Short = "", reason_text: Long = "", seen: Short = "",
             redecide: Short = "") -> Response:
    """``redecide`` (sent by the form of a decided submission) changes the decision in force;
    the review room then requires a reason the worker can read, even to approve."""
    project = web_of(request).project
    result = rooms.decide(project, sid, decision, reason_code=reason_code, reason=reason_text,
                          seen=seen, reviewer=user.name, redecide=redecide == "1")
    with project.store.read() as conn:
        following = queries.next_submitted(conn, sid)
    to = f"/submissions/{following}" if following is not None else "/queue"
    return done(request, to, {"result": result.as_dict()})


@router.post("/submissions/{sid}/reveal",
             summary="Show the worker's survey answers on this submission, recording why")
def reveal(request: Request, user: Writer, sid: int, reason: Long) -> Response:
    result = rooms.reveal(web_of(request).project, sid, reason, reviewer=user.name)
    return done(request, f"/submissions/{sid}#worker-context", {"reveal": result.as_dict()})


@router.post("/proposals/accept", summary="Accept open rule proposals in bulk")
def accept(request: Request, user: Writer, rule: Short = "", batch: Short = "") -> Response:
    report = rooms.accept_proposals(web_of(request).project, rule=rule or None,
                                    batch=batch or None, reviewer=user.name)
    return done(request, "/queue", {"report": report.as_dict()})


@router.post("/submissions/{sid}/resolve", summary="Uphold or overturn a contested rejection")
def resolve(request: Request, user: Writer, sid: int, outcome: Short, reason: Long) -> Response:
    if outcome not in ("uphold", "overturn"):
        raise InputError("outcome must be uphold or overturn", field="outcome")
    result = rooms.resolve(web_of(request).project, sid, outcome, reason, by=user.name)
    return done(request, f"/submissions/{sid}", {"result": result.as_dict()})


@router.get("/notes", summary="Fieldnotes, newest first, filtered")
def notes_page(request: Request, user: StaffUser,
               target: Annotated[str, Query(max_length=200)] = "",
               concern: Annotated[str, Query(max_length=64)] = "",
               state: Annotated[str, Query(max_length=16)] = "",
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
    project = web_of(request).project
    found = rooms.notes_list(project, target=target or None, concern=concern or None,
                             state=state or None, limit=limit)
    return render(request, "notes.html", {
        "notes": found, "concerns": sorted(rooms.concerns(project)),
        "filters": {"target": target, "concern": concern, "state": state, "limit": limit},
        "note_target": target if target and not target.endswith("*") else ""})


def _back(back: str, default: str) -> str:
    return safe_next(back, default)


@router.post("/notes", summary="Add a fieldnote on anything shown")
def add_note(request: Request, user: Writer, target: Short, text: Long,
             concern: Annotated[str, Form(max_length=64)] = "other", back: Short = "") -> Response:
    note = rooms.add_note(web_of(request).project, target, text, concern=concern,
                          author=user.name)
    return done(request, _back(back, "/notes"), {"note": note.as_dict()})


@router.post("/notes/{nid}/reply", summary="Reply to a fieldnote")
def reply_note(request: Request, user: Writer, nid: int, text: Long,
               back: Short = "") -> Response:
    note = rooms.reply_note(web_of(request).project, nid, text, author=user.name)
    return done(request, _back(back, "/notes"), {"note": note.as_dict()})


@router.post("/notes/{nid}/resolve", summary="Resolve a fieldnote, saying why")
def resolve_note(request: Request, user: Writer, nid: int, reason: Long,
                 back: Short = "") -> Response:
    note = rooms.resolve_note(web_of(request).project, nid, reason, by=user.name)
    return done(request, _back(back, "/notes"), {"note": note.as_dict()})


def note_data(note: Any) -> dict[str, Any]:
    return note.as_dict() if hasattr(note, "as_dict") else dict(note)
