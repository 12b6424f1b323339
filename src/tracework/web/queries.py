"""Read models of the pages over the core tables (submissions, assets, annotations, workers).

Everything here only reads, bounds its result with a LIMIT, takes filters as bound parameters
and sorts by fixed columns. Data owned by other rooms (reviews, notes, audits) is read through
their own library functions, never from here.
"""


import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from tracework.core.store.schema import (
    annotations,
    answers,
    assets,
    batches,
    responses,
    submissions,
    workers,
)

__all__ = [
    "MAX_PAGE",
    "Page",
    "submission_page",
    "submission",
    "submission_annotations",
    "next_submitted",
    "annotation",
    "worker_masks",
    "worker_context",
    "asset_page",
    "asset",
    "batch_keys",
    "worker_exists",
    "assets_of_targets",
]

MAX_PAGE = 2000   # deeper than this, narrow the filters: OFFSET cost grows with the page
STATUSES = ("Submitted", "Approved", "Rejected")


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "page": self.page, "per_page": self.per_page,
                "total": self.total, "pages": self.pages}


def _submission_columns() -> list[Any]:
    return [submissions.c.id, submissions.c.worker, submissions.c.status,
            submissions.c.task_id, submissions.c.asset_id, submissions.c.submit_time,
            submissions.c.work_time_s, submissions.c.time_kind, submissions.c.reward_cents,
            submissions.c.requester_feedback, batches.c.id.label("batch_id"),
            batches.c.batch_key, assets.c.file_name]


def _submission_query() -> Any:
    return (select(*_submission_columns())
            .select_from(submissions.join(batches, submissions.c.batch_id == batches.c.id)
                         .outerjoin(assets, submissions.c.asset_id == assets.c.id)))


def submission_page(conn: Connection, *, status: str | None = None, batch: int | None = None,
                    worker: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Submissions, oldest first, filtered by status, batch id and worker pseudonym."""
    page = min(max(page, 1), MAX_PAGE)
    conditions = []
    if status:
        conditions.append(submissions.c.status == status)
    if batch is not None:
        conditions.append(submissions.c.batch_id == batch)
    if worker:
        conditions.append(submissions.c.worker == worker)
    total = int(conn.execute(select(func.count()).select_from(submissions)
                             .where(*conditions)).scalar_one())
    rows = conn.execute(_submission_query().where(*conditions).order_by(submissions.c.id)
                        .limit(per_page).offset((page - 1) * per_page)).mappings().all()
    return Page([dict(r) for r in rows], page, per_page, total)


def submission(conn: Connection, sid: int, *, worker: str | None = None) -> dict[str, Any] | None:
    """One submission; with ``worker``, only if it is that worker's."""
    query = _submission_query().add_columns(
        submissions.c.assignment_id, submissions.c.accept_time, submissions.c.answer,
        assets.c.width, assets.c.height, batches.c.title.label("batch_title"),
        batches.c.time_allotted_s).where(submissions.c.id == sid)
    if worker is not None:
        query = query.where(submissions.c.worker == worker)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["answer_fields"] = _free_fields(out.pop("answer"))
    return out


def _free_fields(answer_text: str) -> dict[str, str]:
    """The worker's own typed answers (comments and the like), not the mask payloads."""
    try:
        answer = json.loads(answer_text)
    except ValueError:
        return {}
    out: dict[str, str] = {}
    if isinstance(answer, dict):
        for key, value in answer.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                text = str(value)
                if len(text) <= 2000:
                    out[str(key)] = text
    return out


def next_submitted(conn: Connection, after: int) -> int | None:
    """The next submission waiting for a decision after ``after`` (wrapping to the first)."""
    waiting = select(submissions.c.id).where(submissions.c.status == "Submitted")
    found = conn.execute(waiting.where(submissions.c.id > after)
                         .order_by(submissions.c.id).limit(1)).scalar()
    if found is None:
        found = conn.execute(waiting.where(submissions.c.id != after)
                             .order_by(submissions.c.id).limit(1)).scalar()
    return int(found) if found is not None else None


def submission_annotations(conn: Connection, sid: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(annotations.c.id, annotations.c.category, annotations.c.kind,
               annotations.c.bbox_x, annotations.c.bbox_y, annotations.c.bbox_w,
               annotations.c.bbox_h, annotations.c.area, annotations.c.taxonomy_version,
               annotations.c.element)
        .where(annotations.c.submission_id == sid).order_by(annotations.c.id)).mappings().all()
    return [dict(r) for r in rows]


def annotation(conn: Connection, aid: int, *, worker: str | None = None) -> dict[str, Any] | None:
    """One annotation with its mask RLE; with ``worker``, only if that worker made it."""
    query = select(annotations).where(annotations.c.id == aid)
    if worker is not None:
        query = query.where(annotations.c.worker == worker)
    row = conn.execute(query).mappings().first()
    return dict(row) if row is not None else None


def worker_masks(conn: Connection, asset_id: int, worker: str) -> list[dict[str, Any]]:
    """One worker's masks and boxes on one asset, with their RLE (at most 100)."""
    rows = conn.execute(select(annotations).where(annotations.c.asset_id == asset_id)
                        .where(annotations.c.worker == worker)
                        .where(annotations.c.kind.in_(("mask", "bbox")))
                        .order_by(annotations.c.id).limit(100)).mappings().all()
    return [dict(r) for r in rows]


def worker_exists(conn: Connection, worker: str) -> bool:
    return conn.execute(select(workers.c.pseudonym).where(workers.c.pseudonym == worker)
                        .where(workers.c.erased.is_(False))).first() is not None


def worker_context(conn: Connection, worker: str, *, own: bool = False) -> dict[str, Any]:
    """What a reviewer may know of a worker: consent, and survey answers only when the worker
    consented to linking them to their work. ``own``: for the worker themself (their credit
    name even when crediting is off; no survey answers, which the page does not show)."""
    row = conn.execute(select(workers).where(workers.c.pseudonym == worker)).first()
    if row is None:
        return {"worker": worker, "consent": {}, "answers": []}
    context: dict[str, Any] = {
        "worker": worker,
        "consent": {"link": bool(row.consent_link), "publish": bool(row.consent_publish),
                    "credit": bool(row.consent_credit)},
        "credit_name": row.credit_name if (row.consent_credit or own) else None,
        "answers": [],
    }
    if row.consent_link and not own:
        latest = conn.execute(select(responses.c.id).where(responses.c.worker == worker)
                              .order_by(responses.c.end_time.desc(), responses.c.id.desc())
                              .limit(1)).scalar()
        if latest is not None:
            context["answers"] = [
                {"question": a.question, "label": a.label,
                 "value": json.loads(a.value) if a.value is not None else None,
                 "other_text": a.other_text}
                for a in conn.execute(select(answers).where(answers.c.response_id == latest)
                                      .order_by(answers.c.id))]
    return context


def asset_page(conn: Connection, *, category: str | None = None, worker: str | None = None,
               status: str | None = None, batch: int | None = None,
               among: Collection[int] | None = None, page: int = 1,
               per_page: int = 50) -> Page:
    """Assets that have annotations matching the filters, each with the matching annotations'
    makers and categories. ``among``: only these assets (e.g. those a fieldnote concerns)."""
    page = min(max(page, 1), MAX_PAGE)
    conditions: list[ColumnElement[bool]] = [annotations.c.asset_id.is_not(None)]
    if among is not None:
        conditions.append(annotations.c.asset_id.in_(sorted(among)))
    if category:
        conditions.append(annotations.c.category == category)
    if worker:
        conditions.append(annotations.c.worker == worker)
    if status:
        conditions.append(submissions.c.status == status)
    if batch is not None:
        conditions.append(submissions.c.batch_id == batch)
    joined = annotations.join(submissions, annotations.c.submission_id == submissions.c.id)
    matching = (select(annotations.c.asset_id).select_from(joined).where(*conditions)
                .distinct().subquery())
    total = int(conn.execute(select(func.count()).select_from(matching)).scalar_one())
    ids = [r.asset_id for r in conn.execute(
        select(matching.c.asset_id).order_by(matching.c.asset_id).limit(per_page)
        .offset((page - 1) * per_page))]
    found: dict[int, dict[str, Any]] = {}
    if ids:
        for a in conn.execute(select(assets).where(assets.c.id.in_(ids)).order_by(assets.c.id)):
            found[a.id] = {"id": a.id, "file_name": a.file_name, "width": a.width,
                           "height": a.height, "annotations": []}
        for r in conn.execute(
                select(annotations.c.id, annotations.c.asset_id, annotations.c.category,
                       annotations.c.worker, annotations.c.submission_id, annotations.c.area,
                       annotations.c.kind, submissions.c.status)
                .select_from(joined).where(annotations.c.asset_id.in_(ids), *conditions[1:])
                .order_by(annotations.c.id)).mappings():
            found[r["asset_id"]]["annotations"].append(dict(r))
    return Page([found[i] for i in ids if i in found], page, per_page, total)


def asset(conn: Connection, asset_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(assets).where(assets.c.id == asset_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["annotations"] = [dict(r) for r in conn.execute(
        select(annotations.c.id, annotations.c.category, annotations.c.worker,
               annotations.c.submission_id, annotations.c.kind, annotations.c.area,
               annotations.c.taxonomy_version, submissions.c.status, batches.c.batch_key)
        .select_from(annotations.join(submissions, annotations.c.submission_id == submissions.c.id)
                     .join(batches, submissions.c.batch_id == batches.c.id))
        .where(annotations.c.asset_id == asset_id).order_by(annotations.c.id)).mappings()]
    return out


def assets_of_targets(conn: Connection, targets: Iterable[str]) -> set[int]:
    """The assets that note targets concern: ``asset:N`` itself, the asset of
    ``annotation:N`` and of ``submission:N``; other kinds of target concern no asset."""
    ids: dict[str, set[int]] = {"asset": set(), "annotation": set(), "submission": set()}
    for target in targets:
        kind, _, rest = target.partition(":")
        if kind in ids and rest.isdigit():
            ids[kind].add(int(rest))
    found = set(ids["asset"])
    for table, key in ((annotations, "annotation"), (submissions, "submission")):
        wanted = sorted(ids[key])
        for start in range(0, len(wanted), 500):     # bounded IN lists on every database
            found |= {int(r.asset_id) for r in conn.execute(
                select(table.c.asset_id).where(table.c.id.in_(wanted[start:start + 500]))
                .where(table.c.asset_id.is_not(None)))}
    return found


def batch_keys(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        select(batches.c.id, batches.c.batch_key, batches.c.title).order_by(batches.c.id)
        .limit(500)).mappings()]
