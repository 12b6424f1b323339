"""Loading what the rules look at: per submission its labelled areas, annotation count, answer,
its batch's median work time and any earlier submission by the same worker on the same item."""


import json
import statistics
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, func, select

from tracework.core.store.schema import annotations, assets, reviews, submissions
from tracework.review.common import UNDECIDED
from tracework.review.rules import Facts

__all__ = ["load_facts"]


def _medians(conn: Connection, batch_ids: set[int]) -> dict[int, tuple[float, int]]:
    times: dict[int, list[float]] = defaultdict(list)
    query = select(submissions.c.batch_id, submissions.c.work_time_s).where(
        submissions.c.work_time_s.is_not(None))
    if batch_ids:
        query = query.where(submissions.c.batch_id.in_(sorted(batch_ids)))
    for row in conn.execute(query):
        times[int(row.batch_id)].append(float(row.work_time_s))
    return {b: (statistics.median(t), len(t)) for b, t in times.items()}


def _earlier(conn: Connection, workers: set[str]) -> dict[int, tuple[int, str]]:
    """For each later duplicate, the first submission it repeats, and whether by task or asset."""
    query = select(submissions.c.id, submissions.c.worker, submissions.c.task_id,
                   submissions.c.asset_id, submissions.c.submit_time)
    if workers:
        query = query.where(submissions.c.worker.in_(sorted(workers)))
    rows = sorted(conn.execute(query), key=lambda r: (r.submit_time or "", r.id))
    first_task: dict[tuple[str, str], int] = {}
    first_asset: dict[tuple[str, int], int] = {}
    out: dict[int, tuple[int, str]] = {}
    for r in rows:
        t = first_task.setdefault((r.worker, r.task_id), r.id)
        if t != r.id:
            out[r.id] = (t, "task")
            continue
        if r.asset_id is not None:
            a = first_asset.setdefault((r.worker, r.asset_id), r.id)
            if a != r.id:
                out[r.id] = (a, "asset")
    return out


def load_facts(conn: Connection, *, batch_ids: Sequence[int] | None = None,
               only_undecided: bool = True) -> list[Facts]:
    """Facts for the submissions in scope, in submission order."""
    query = (select(submissions.c.id, submissions.c.worker, submissions.c.task_id,
                    submissions.c.asset_id, submissions.c.batch_id, submissions.c.status,
                    submissions.c.time_kind, submissions.c.work_time_s,
                    submissions.c.reward_cents, submissions.c.answer,
                    assets.c.file_name.label("asset_name"))
             .select_from(submissions.outerjoin(assets, submissions.c.asset_id == assets.c.id))
             .order_by(submissions.c.id))
    if only_undecided:
        decided = select(reviews.c.submission_id).distinct()
        query = query.where(submissions.c.status == UNDECIDED,
                            submissions.c.id.not_in(decided))
    if batch_ids is not None:
        query = query.where(submissions.c.batch_id.in_(list(batch_ids)))
    subs = list(conn.execute(query))
    if not subs:
        return []
    in_scope = {int(s.batch_id) for s in subs}
    areas: dict[int, dict[str, float]] = defaultdict(dict)
    counts: dict[int, int] = defaultdict(int)
    scope = submissions.c.batch_id.in_(sorted(in_scope))
    joined = annotations.join(submissions, annotations.c.submission_id == submissions.c.id)
    for row in conn.execute(
            select(annotations.c.submission_id, annotations.c.category,
                   func.sum(annotations.c.area).label("area"))
            .select_from(joined).where(scope, annotations.c.kind.in_(("mask", "bbox")),
                                       annotations.c.category.is_not(None))
            .group_by(annotations.c.submission_id, annotations.c.category)):
        areas[int(row.submission_id)][row.category] = float(row.area or 0.0)
    for row in conn.execute(
            select(annotations.c.submission_id, func.count().label("n")).select_from(joined)
            .where(scope).group_by(annotations.c.submission_id)):
        counts[int(row.submission_id)] = int(row.n)
    medians = _medians(conn, in_scope)
    earlier = _earlier(conn, {s.worker for s in subs})
    out = []
    for s in subs:
        median, timed = medians.get(int(s.batch_id), (None, 0))
        out.append(Facts(
            id=int(s.id), worker=s.worker, task_id=s.task_id, asset_id=s.asset_id,
            asset_name=s.asset_name or "", batch_id=int(s.batch_id), status=s.status,
            time_kind=s.time_kind, work_time_s=s.work_time_s, reward_cents=s.reward_cents,
            areas=areas.get(int(s.id), {}), annotations=counts.get(int(s.id), 0),
            answer=json.loads(s.answer), batch_median_s=median, batch_timed=timed,
            earlier=earlier.get(int(s.id))))
    return out
