"""Staff pages that read: the dashboard, the queue of submissions, a submission, the dataset
browser, an asset, the change log and the taxonomy; and the images those pages show."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from tracework.core.errors import InputError, NotFound
from tracework.core.status import log as ledger_log
from tracework.core.status import status as project_status
from tracework.web import queries
from tracework.web.audit_view import FIGURES, audit_page
from tracework.web.auth import StaffUser
from tracework.web.core import done, render, web_of
from tracework.web.history import describe
from tracework.web.media import (
    PATTERNS,
    THUMB_SIZES,
    WORKER_COLOURS,
    find_image,
    mask_png,
    thumbnail,
    worker_colour,
)
from tracework.web.rooms import rooms

__all__ = ["router", "choice", "opt_int"]

router = APIRouter()

Text = Annotated[str, Query(max_length=200)]
PageNo = Annotated[int, Query(ge=1, le=queries.MAX_PAGE)]


def choice(value: str, allowed: tuple[str, ...] | list[str], field: str) -> str | None:
    """An optional filter value from an allow-list ("" means no filter)."""
    if not value:
        return None
    if value not in allowed:
        raise InputError(f"unknown {field} {value!r}", field=field,
                         hint=f"Choose one of {', '.join(allowed)}.")
    return value


def opt_int(value: str, field: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or len(value) > 12:
        raise InputError(f"{field} must be a number", field=field)
    return int(value)


def _worker_filter(value: str) -> str | None:
    if not value:
        return None
    if len(value) > 32 or not value.startswith("w_"):
        raise InputError("worker must be a pseudonym like w_abcdefghijkl", field="worker")
    return value


@router.get("/", summary="Dashboard: what the project holds, audit figures")
def dashboard(request: Request, user: StaffUser) -> Response:
    project = web_of(request).project
    report = project_status(project)
    return render(request, "dashboard.html", {"status": report.as_dict()})


@router.get("/audit", summary="The audits' figures in words, from the stored results")
def audit(request: Request, user: StaffUser) -> Response:
    return _audit(request, None)


@router.get("/audit/{figure}", summary="One figure of the audits (the twin of its section)")
def audit_figure(request: Request, user: StaffUser, figure: str) -> Response:
    if figure not in FIGURES:
        raise NotFound(f"no audit figure {figure!r}", hint=f"One of {', '.join(FIGURES)}.")
    return _audit(request, figure)


def _audit(request: Request, only: str | None) -> Response:
    # Read from the stored results only: the audits read every submission and run permutation
    # tests, never inside a request. The refresh below runs them in the background.
    web = web_of(request)
    figures = audit_page(web.project, only)
    figures["refreshing"] = web.background.running
    figures["refresh_error"] = web.background.last_error
    return render(request, "audit.html", {"audit": figures, "only": only or ""})


@router.post("/audit/refresh", summary="Recompute the audits in the background")
def audit_refresh(request: Request, user: StaffUser) -> Response:
    web = web_of(request)
    started = web.background.start(lambda: rooms.refresh_audits(web.project))
    return done(request, "/audit", {"started": started, "running": True})


@router.get("/queue", summary="Review queue: submissions, 50 a page")
def queue(request: Request, user: StaffUser, status: Text = "submitted", batch: Text = "",
          worker: Text = "", page: PageNo = 1) -> Response:
    web = web_of(request)
    with web.project.store.read() as conn:
        batches = queries.batch_keys(conn)
    batch_id = opt_int(batch, "batch")
    batch_key = next((b["batch_key"] for b in batches if b["id"] == batch_id), None)
    if batch_id is not None and batch_key is None:
        raise InputError(f"no batch {batch_id}", field="batch")
    who = _worker_filter(worker)
    per_page = web.config.page_size
    states = rooms.states()
    chosen = choice(status, states, "status")
    rows, more = rooms.queue(web.project, state=chosen, worker=who, batch=batch_key,
                             page=page, per_page=per_page)
    return render(request, "queue.html", {
        "rows": rows, "page": page, "more": more,
        "filters": {"status": chosen or "", "batch": batch_id or "", "worker": who or ""},
        "statuses": states, "batches": batches,
        "can_decide": user.role in ("owner", "reviewer"),
        "rules": [r["code"] for r in rooms.reasons(web.project)]})


def _worded(entry: dict[str, Any]) -> dict[str, Any]:
    """A ledger entry with what it changed in words (``words``), for the page and its twin."""
    entry["words"] = describe(entry)
    return entry


def submission_view(request: Request, sid: int, viewer: str) -> dict[str, Any]:
    """Everything the submission page shows to the staff member ``viewer``: blind (no survey
    answers, no credit name) unless ``viewer`` revealed them here with a recorded reason."""
    web = web_of(request)
    project = web.project
    with project.store.read() as conn:
        sub = queries.submission(conn, sid)
        if sub is None:
            raise NotFound(f"no submission {sid}")
        parts = queries.submission_annotations(conn, sid)
        context = queries.worker_context(conn, sub["worker"])
    reveals = rooms.reveals(project, sid, viewer)
    blind = {"on": not reveals, "hidden": len(context["answers"]) if not reveals else 0,
             "credit_hidden": bool(context["credit_name"]) and not reveals,
             "reveals": reveals}
    if not reveals:
        context = {**context, "answers": [], "credit_name": None}
    colours = {c.name: c.colour for c in project.categories}
    for part in parts:
        part["colour"] = colours.get(part["category"] or "", "#888888")
    history = [_worded(e.as_dict()) for e in ledger_log(project, target=f"submission:{sid}",
                                                          limit=200, newest_first=True)]
    return {"submission": sub, "parts": parts, "context": context, "blind": blind,
            "history": history,
            "has_image": find_image(web.config.images, sub.get("file_name") or "") is not None,
            "review": rooms.review_of(project, sid, owner=sub["worker"]),
            "notes": rooms.notes_on(project, f"submission:{sid}"),
            "note_target": f"submission:{sid}", "concerns": sorted(rooms.concerns(project)),
            "reasons": rooms.reasons(project)}


@router.get("/submissions/{sid}", summary="A submission: image, masks, proposals, decision")
def submission_page(request: Request, user: StaffUser, sid: int) -> Response:
    data = submission_view(request, sid, user.name)
    data["can_decide"] = user.role in ("owner", "reviewer")
    with web_of(request).project.store.read() as conn:
        data["next_id"] = queries.next_submitted(conn, sid)
    return render(request, "submission.html", data)


Hue = Annotated[int | None, Query(ge=0, lt=len(WORKER_COLOURS))]
Pattern = Annotated[int | None, Query(ge=0, lt=len(PATTERNS))]


@router.get("/annotations/{aid}/mask.png", summary="An annotation's mask as a coloured PNG")
def annotation_mask(request: Request, user: StaffUser, aid: int, hue: Hue = None,
                    pattern: Pattern = None) -> Response:
    """In its category's colour; with ``hue`` and ``pattern`` (the asset page's colouring by
    worker), in that worker's hue with the part's pattern inside an outline."""
    return mask_response(request, aid, None, hue=hue, pattern=pattern)


def mask_response(request: Request, aid: int, worker: str | None, *, hue: int | None = None,
                  pattern: int | None = None) -> Response:
    project = web_of(request).project
    with project.store.read() as conn:
        row = queries.annotation(conn, aid, worker=worker)
    if row is None or row.get("kind") not in ("mask", "bbox"):
        raise NotFound(f"no mask {aid}")
    colours = {c.name: c.colour for c in project.categories}
    if hue is not None:
        png = mask_png(row, worker_colour(hue), PATTERNS[pattern or 0])
    else:
        png = mask_png(row, colours.get(row.get("category") or "", "#888888"))
    return Response(png, media_type="image/png")


ThumbSize = Annotated[int, Query()]


@router.get("/assets/{asset_id}/thumb.jpg",
            summary="A small JPEG of an asset's image, optionally with one worker's parts")
def asset_thumb(request: Request, user: StaffUser, asset_id: int, size: ThumbSize = 160,
                worker: Text = "") -> Response:
    """Made once per asset hash, size and drawing, then served from the project's cache
    folder (``.cache/thumbnails``)."""
    if size not in THUMB_SIZES:
        raise InputError(f"size must be one of {', '.join(map(str, THUMB_SIZES))}",
                         field="size")
    who = _worker_filter(worker)
    web = web_of(request)
    project = web.project
    with project.store.read() as conn:
        row = queries.asset(conn, asset_id)
        parts = queries.worker_masks(conn, asset_id, who) if row is not None and who else []
    found = find_image(web.config.images, row["file_name"]) if row else None
    if row is None or found is None or (who and not parts):
        raise NotFound(f"no thumbnail for asset {asset_id}",
                       hint="Set [web] images in tracework.toml to the folder of the task images.")
    colours = {c.name: c.colour for c in project.categories}
    overlays = [(p, colours.get(p.get("category") or "", "#888888")) for p in parts]
    key = row.get("sha256") or f"asset{asset_id}-{found[0].stat().st_size}"
    data = thumbnail(project.root / ".cache" / "thumbnails", found[0], key, size, overlays)
    return Response(data, media_type="image/jpeg",
                    headers={"cache-control": "private, max-age=86400"})


@router.get("/assets/{asset_id}/image", summary="The task image of an asset")
def asset_image(request: Request, user: StaffUser, asset_id: int) -> Response:
    return image_response(request, asset_id)


def image_response(request: Request, asset_id: int) -> Response:
    web = web_of(request)
    with web.project.store.read() as conn:
        row = queries.asset(conn, asset_id)
    found = find_image(web.config.images, row["file_name"]) if row else None
    if found is None:
        raise NotFound(f"no image for asset {asset_id}",
                       hint="Set [web] images in tracework.toml to the folder of the task images.")
    path, media = found
    return Response(path.read_bytes(), media_type=media,
                    headers={"content-disposition": "inline"})


@router.get("/dataset", summary="Dataset browser: assets, annotations and who made each")
def dataset(request: Request, user: StaffUser, category: Text = "", worker: Text = "",
            status: Text = "", batch: Text = "", concern: Text = "",
            page: PageNo = 1) -> Response:
    web = web_of(request)
    project = web.project
    names = [c.name for c in project.categories]
    concerns = sorted(rooms.concerns(project))
    chosen_category = choice(category, names, "category")
    chosen_worker = _worker_filter(worker)
    chosen_status = choice(status, queries.STATUSES, "status")
    chosen_batch = opt_int(batch, "batch")
    filters = {"category": chosen_category, "worker": chosen_worker, "status": chosen_status,
               "batch": chosen_batch}
    chosen_concern = choice(concern, concerns, "concern")
    targets = rooms.note_targets(project, chosen_concern) if chosen_concern else None
    with project.store.read() as conn:
        among = queries.assets_of_targets(conn, targets) if targets is not None else None
        result = queries.asset_page(conn, page=page, per_page=web.config.page_size,
                                    among=among, category=chosen_category,
                                    worker=chosen_worker, status=chosen_status,
                                    batch=chosen_batch)
        batches = queries.batch_keys(conn)
    return render(request, "dataset.html", {
        "assets": result.as_dict(),
        "filters": {**{k: v or "" for k, v in filters.items()}, "concern": chosen_concern or ""},
        "categories": [c.as_dict() for c in project.categories], "concerns": concerns,
        "statuses": list(queries.STATUSES), "batches": batches,
        "has_images": web.config.images is not None})


@router.get("/assets/{asset_id}", summary="An asset: its annotations, makers and their history")
def asset_page(request: Request, user: StaffUser, asset_id: int) -> Response:
    web = web_of(request)
    project = web.project
    with project.store.read() as conn:
        row = queries.asset(conn, asset_id)
    if row is None:
        raise NotFound(f"no asset {asset_id}")
    colours = {c.name: c.colour for c in project.categories}
    makers, parts = _legend(row["annotations"], [c.name for c in project.categories])
    for ann in row["annotations"][:200]:
        ann["category_colour"] = colours.get(ann["category"] or "", "#888888")
        hue, pattern = makers[ann["worker"]]["hue"], parts[ann["category"] or ""]["index"]
        ann["colour"] = worker_colour(hue)
        ann["pattern"] = PATTERNS[pattern]
        ann["mask_src"] = f"/annotations/{ann['id']}/mask.png?hue={hue}&pattern={pattern}"
        ann["history"] = [_worded(e.as_dict()) for e in ledger_log(
            project, target=f"annotation:{ann['id']}", limit=50)]
    return render(request, "asset.html", {
        "asset": row, "has_image": find_image(web.config.images, row["file_name"]) is not None,
        "makers": list(makers.values()), "patterns": list(parts.values()),
        "notes": rooms.notes_on(project, f"asset:{asset_id}"), "note_target": f"asset:{asset_id}",
        "concerns": sorted(rooms.concerns(project))})


def _legend(annotations: list[dict[str, Any]], categories: list[str]
            ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Who is who on an asset page: one hue per worker (in order of their first part) and one
    pattern per category (in taxonomy order, retired names after)."""
    makers: dict[str, dict[str, Any]] = {}
    for ann in annotations:
        if ann["worker"] not in makers:
            hue = len(makers) % len(WORKER_COLOURS)
            makers[ann["worker"]] = {"worker": ann["worker"], "hue": hue,
                                     "colour": worker_colour(hue), "parts": 0}
        makers[ann["worker"]]["parts"] += 1
    names = categories + sorted({a["category"] or "" for a in annotations} - set(categories))
    parts = {name: {"category": name, "index": i % len(PATTERNS),
                    "pattern": PATTERNS[i % len(PATTERNS)]} for i, name in enumerate(names)}
    return makers, parts


@router.get("/log", summary="The change log, filtered")
def log_page(request: Request, user: StaffUser, target: Text = "", actor: Text = "",
             action: Text = "", since: Text = "", until: Text = "",
             limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Response:
    filters = {"target": target or None, "actor": actor or None, "action": action or None,
               "since": since or None, "until": until or None}
    entries = ledger_log(web_of(request).project, limit=limit, newest_first=True, **filters)
    return render(request, "log.html", {
        "entries": [e.as_dict() for e in entries],
        "filters": {**{k: v or "" for k, v in filters.items()}, "limit": limit}})


@router.get("/taxonomy", summary="The taxonomy, its history and workers' flags")
def taxonomy(request: Request, user: StaffUser) -> Response:
    project = web_of(request).project
    history = rooms.taxonomy_history(project)
    if history is None:
        history = [{"version": int(e.target.split(":")[1]), "created_at": e.ts, "author": e.actor,
                    "reason": e.reason, "categories": e.as_dict()["new"]}
                   for e in ledger_log(project, action="taxonomy.version", newest_first=True,
                                       limit=100)]
    return render(request, "taxonomy.html", {
        "categories": [c.as_dict() for c in project.categories], "versions": history[:100],
        "flags": rooms.category_flags(project)})


@router.get("/workers/{worker}", summary="A worker: consented context and submissions")
def worker_page(request: Request, user: StaffUser, worker: str,
                page: PageNo = 1) -> Response:
    web = web_of(request)
    with web.project.store.read() as conn:
        if len(worker) > 32 or not queries.worker_exists(conn, worker):
            raise NotFound("no such worker")
        context = queries.worker_context(conn, worker)
        subs = queries.submission_page(conn, worker=worker, page=page,
                                       per_page=web.config.page_size)
    # Blind like the decision screen: the answers show only to a staff member who revealed
    # them, with a recorded reason, on one of this worker's submissions.
    seen = rooms.revealed_worker(web.project, worker, user.name)
    blind = {"on": not seen, "hidden": 0 if seen else len(context["answers"]),
             "credit_hidden": bool(context["credit_name"]) and not seen}
    if not seen:
        context = {**context, "answers": [], "credit_name": None}
    return render(request, "worker.html", {
        "context": context, "submissions": subs.as_dict(), "blind": blind,
        "notes": rooms.notes_on(web.project, f"worker:{worker}"), "note_target": f"worker:{worker}",
        "concerns": sorted(rooms.concerns(web.project))})
