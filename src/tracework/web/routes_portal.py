"""The worker portal: one worker's own submissions, decisions and reasons, pay and time,
receipts, and their consent. Every query here is filtered by the session's pseudonym, so an id
of another worker's object finds nothing and answers 404 like an id that does not exist."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Connection, select

from tracework.core import privacy
from tracework.core.errors import InputError, NotFound
from tracework.core.ledger import LedgerWriter
from tracework.core.store.schema import bonuses
from tracework.web import queries
from tracework.web.auth import WorkerId
from tracework.web.core import done, render, want_json, web_of
from tracework.web.media import find_image
from tracework.web.rooms import rooms
from tracework.web.routes_staff import image_response, mask_response

__all__ = ["router", "portal_summary", "portal_bonuses"]

router = APIRouter()

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CREDIT_NAME_MAX = 100


def portal_bonuses(conn: Connection, worker: str) -> dict[str, Any]:
    """The worker's bonuses, paid and planned (top-ups to the wage floor, overturned
    rejections paid by a bonus): planned is owed but not paid yet, so they are told apart."""
    rows = [{"amount_cents": int(b.amount_cents), "currency": b.currency, "reason": b.reason,
             "state": b.state, "created_at": b.created_at,
             # A top-up is anchored on one submission but pays for all the work counted.
             "submission_id": int(b.submission_id) if b.token.startswith("tw-overturn-")
             else None}
            for b in conn.execute(select(bonuses).where(bonuses.c.worker == worker,
                                                        bonuses.c.state != "cancelled")
                                  .order_by(bonuses.c.id))]
    return {"rows": rows,
            "paid_cents": sum(r["amount_cents"] for r in rows if r["state"] == "paid"),
            "planned_cents": sum(r["amount_cents"] for r in rows if r["state"] == "planned")}


def portal_summary(rows: list[dict[str, Any]], bonus_paid_cents: int = 0) -> dict[str, Any]:
    """Totals over a worker's submissions: pay by status, time, and pay per hour of work (the
    rewards paid and the bonuses paid; a planned bonus is not paid yet)."""
    paid = sum(r["reward_cents"] or 0 for r in rows if r["status"] == "Approved")
    pending = sum(r["reward_cents"] or 0 for r in rows if r["status"] == "Submitted")
    unpaid = sum(r["reward_cents"] or 0 for r in rows if r["status"] == "Rejected")
    seconds = sum(r["work_time_s"] or 0.0 for r in rows)
    per_hour = round((paid + bonus_paid_cents) / 100 / (seconds / 3600), 2) \
        if seconds > 0 else None
    return {"submissions": len(rows), "paid_cents": paid, "pending_cents": pending,
            "unpaid_rejected_cents": unpaid, "work_time_s": seconds,
            "paid_per_hour": per_hour}


@router.get("/w/", summary="A worker's own page: work, decisions, pay, consent")
def portal_home(request: Request, worker: WorkerId,
                page: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 1) -> Response:
    web = web_of(request)
    project = web.project
    with project.store.read() as conn:
        subs = queries.submission_page(conn, worker=worker, page=page, per_page=200)
        every = subs.rows if subs.total <= len(subs.rows) else queries.submission_page(
            conn, worker=worker, per_page=10_000).rows
        context = queries.worker_context(conn, worker, own=True)
        paid_bonuses = portal_bonuses(conn, worker)
    reviews = rooms.reviews_of_worker(project, worker) or {}
    for row in subs.rows:
        row["review"] = reviews.get(row["id"])
    value_chain = project.config.get("value_chain", {})
    pay = project.config.get("pay", {})
    return render(request, "portal_home.html", {
        "worker": worker, "submissions": subs.as_dict(), "summary": portal_summary(every, paid_bonuses["paid_cents"]),
        "bonuses": paid_bonuses,
        "consent": context["consent"],
        "credit_name": context["credit_name"] or "",
        "value_chain": {k: v for k, v in value_chain.items() if isinstance(v, (str, list))},
        "pay": {"currency": pay.get("currency", ""),
                "wage_floor_per_hour": pay.get("wage_floor_per_hour")},
        "categories": [c.as_dict() for c in project.categories],
        "notes": rooms.notes_by_worker(project, worker)})


def _own_submission(request: Request, worker: str, sid: int) -> dict[str, Any]:
    with web_of(request).project.store.read() as conn:
        sub = queries.submission(conn, sid, worker=worker)
        if sub is None:
            raise NotFound(f"no submission {sid}")
        sub["parts"] = queries.submission_annotations(conn, sid)
    return sub


@router.get("/w/submissions/{sid}", summary="One of the worker's own submissions")
def portal_submission(request: Request, worker: WorkerId, sid: int) -> Response:
    web = web_of(request)
    sub = _own_submission(request, worker, sid)
    colours = {c.name: c.colour for c in web.project.categories}
    for part in sub["parts"]:
        part["colour"] = colours.get(part["category"] or "", "#888888")
    return render(request, "portal_submission.html", {
        "submission": sub, "parts": sub.pop("parts"),
        "has_image": find_image(web.config.images, sub.get("file_name") or "") is not None,
        "review": rooms.review_of(web.project, sid, worker=worker)})


@router.get("/w/annotations/{aid}/mask.png", summary="The mask of one of the worker's annotations")
def portal_mask(request: Request, worker: WorkerId, aid: int) -> Response:
    return mask_response(request, aid, worker)


@router.get("/w/submissions/{sid}/image", summary="The task image of one of the worker's submissions")
def portal_image(request: Request, worker: WorkerId, sid: int) -> Response:
    sub = _own_submission(request, worker, sid)
    if sub.get("asset_id") is None:
        raise NotFound(f"no image for submission {sid}")
    return image_response(request, int(sub["asset_id"]))


def clean_credit_name(value: str) -> str | None:
    """The name to be credited by, trimmed; refused with control or bidi-override characters."""
    name = value.strip()
    if not name:
        return None
    if len(name) > CREDIT_NAME_MAX:
        raise InputError(f"the name is longer than {CREDIT_NAME_MAX} characters",
                         field="credit_name")
    if _CONTROL.search(name):
        raise InputError("the name contains control characters", field="credit_name",
                         hint="Write the name on one line, as it should be printed.")
    return name


@router.post("/w/consent", summary="Set consent: link, publish, credit by name")
def portal_consent(request: Request, worker: WorkerId,
                   link: Annotated[bool, Form()] = False, publish: Annotated[bool, Form()] = False,
                   credit: Annotated[bool, Form()] = False,
                   credit_name: Annotated[str, Form(max_length=400)] = "") -> Response:
    name = clean_credit_name(credit_name)
    if credit and name is None:
        raise InputError("write the name you want to be credited by", field="credit_name",
                         hint="Or leave 'credit me by name' unticked.")
    offered: tuple[tuple[privacy.Scope, bool], ...] = (
        ("link", link), ("publish", publish), ("credit", credit))
    granted: list[privacy.Scope] = [s for s, on in offered if on]
    project = web_of(request).project

    def work(conn: Any) -> bool:
        log = LedgerWriter(conn, worker)
        changed = privacy.set_consent(conn, log, worker, granted,
                                      credit_name=name if credit else None,
                                      reason="set by the worker in the portal")
        log.flush()
        return changed

    changed = project.store.run_write(work)
    return done(request, "/w/#consent", {"changed": changed, "consent": granted,
                                         "credit_name": name if credit else None})


@router.post("/w/submissions/{sid}/contest", summary="Contest a rejection, with a message")
def portal_contest(request: Request, worker: WorkerId, sid: int,
                   message: Annotated[str, Form(max_length=4000)]) -> Response:
    _own_submission(request, worker, sid)
    result = rooms.contest(web_of(request).project, sid, message, worker=worker)
    return done(request, f"/w/submissions/{sid}", {"result": {
        "submission_id": result.submission_id, "window_ends": result.window_ends,
        "days_left": result.days_left}})


def _note_target(request: Request, worker: str, target: str) -> str:
    """What a worker may write a note on: a category, one of their own submissions, or their
    own work in general. Anything else answers 404, like an id that does not exist."""
    if target in ("", "mine", f"worker:{worker}"):
        return f"worker:{worker}"
    kind, _, rest = target.partition(":")
    if kind == "category" and rest:
        return target
    if kind == "submission" and rest.isdigit():
        _own_submission(request, worker, int(rest))
        return f"submission:{int(rest)}"
    raise NotFound("no such thing to note on")


@router.post("/w/notes", summary="Add a note or flag a category")
def portal_note(request: Request, worker: WorkerId,
                text: Annotated[str, Form(max_length=4000)],
                target: Annotated[str, Form(max_length=200)] = "",
                concern: Annotated[str, Form(max_length=64)] = "") -> Response:
    project = web_of(request).project
    where = _note_target(request, worker, target)
    kind = concern or ("taxonomy" if where.startswith("category:") else "other")
    if kind not in rooms.concerns(project):
        raise InputError(f"unknown concern {kind!r}", field="concern")
    note = rooms.add_note(project, where, text, concern=kind, author=worker)
    return done(request, "/w/#notes", {"note": note.as_dict()})


@router.get("/w/receipt", summary="The worker's receipt (a file to keep)")
def portal_receipt(request: Request, worker: WorkerId) -> Response:
    project = web_of(request).project
    data = rooms.receipts_of(project, worker)
    if want_json(request):
        return done(request, "/w/receipt", {"receipt": data})
    html = rooms.receipt_html(project, data)
    return HTMLResponse(html, headers={
        "content-disposition": f'attachment; filename="receipt-{worker}.html"'})
