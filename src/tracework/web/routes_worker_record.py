"""The worker portal's record and mailbox: a worker downloads their signed work record (leaving
out what they choose), sets whether the dataset's users may write to them, reads the messages
written to them (private ones opened with their session's key) and answers, ignores, blocks or
reports each. Every query is filtered by the session's pseudonym: another worker's message
answers 404 like one that does not exist."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from tracework.core import contact
from tracework.core.errors import InputError
from tracework.docs import record
from tracework.web.auth import WorkerId
from tracework.web.core import done, render, want_json, web_of
from tracework.web.security import SESSION_COOKIE

__all__ = ["router"]

router = APIRouter()

_ACTIONS = ("answer", "read", "ignore", "block", "report")


@router.get("/w/record", summary="Choose what goes into a signed work record")
def record_page(request: Request, worker: WorkerId) -> Response:
    project = web_of(request).project
    return render(request, "portal_record.html", {
        "worker": worker, "excludable": list(record.EXCLUDABLE),
        "public_key": record.project_public_key(project)})


@router.get("/w/record/download", summary="The worker's signed work record (a JSON file)")
def record_download(request: Request, worker: WorkerId,
                    exclude: Annotated[list[str], Query(max_length=8)] = []) -> Response:  # noqa: B006
    data = record.work_record(web_of(request).project, worker, exclude=exclude)
    if want_json(request):
        return done(request, "/w/record", {"record": data})
    body = json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    return Response(body, media_type="application/json", headers={
        "content-disposition": f'attachment; filename="work-record-{worker}.json"'})


@router.get("/w/messages", summary="Messages from the dataset's users, and contact consent")
def messages_page(request: Request, worker: WorkerId) -> Response:
    project = web_of(request).project
    found = contact.inbox(project, worker, session_token=request.cookies.get(SESSION_COOKIE))
    with project.store.read() as conn:
        consent = contact.contact_consent_of(conn, [worker])
    return render(request, "portal_messages.html", {
        "worker": worker, "messages": [m.as_dict() for m in found],
        "contactable": worker in consent, "linkable": consent.get(worker, False)})


@router.post("/w/contact", summary="Set whether the dataset's users may write to the worker")
def contact_consent(request: Request, worker: WorkerId,
                    contactable: Annotated[bool, Form()] = False,
                    linkable: Annotated[bool, Form()] = False) -> Response:
    changed = contact.set_contact_consent(
        web_of(request).project, worker, contactable=contactable,
        linkable=linkable and contactable, reason="set by the worker in the portal",
        actor=worker)
    return done(request, "/w/messages#consent", {"changed": changed,
                                                 "contactable": contactable,
                                                 "linkable": linkable and contactable})


@router.post("/w/messages/{mid}", summary="Answer, ignore, block or report a message")
def message_act(request: Request, worker: WorkerId, mid: int,
                action: Annotated[str, Form(max_length=16)],
                text: Annotated[str, Form(max_length=contact.MESSAGE_MAX)] = "",
                reveal: Annotated[str, Form(max_length=contact.SENDER_MAX)] = "") -> Response:
    if action not in _ACTIONS:
        raise InputError(f"unknown action {action!r}", field="action")
    project = web_of(request).project
    result: dict[str, Any]
    if action == "answer":
        result = {"answer": contact.answer(project, worker, mid, text, reveal=reveal)}
    else:
        chosen: Literal["read", "ignore", "block", "report"] = (
            "read" if action == "read" else "ignore" if action == "ignore"
            else "block" if action == "block" else "report")
        result = {"state": contact.act_on(project, worker, mid, chosen)}
    return done(request, f"/w/messages#m{mid}", result)
