"""Loading what the rules look at: per submission its labelled areas, annotation count, answer,
its batch's median work time and any earlier submission by the same worker on the same item.

Submissions are read :data:`CHUNK` at a time (by id, in order), each chunk's annotations with
it, so memory holds one chunk whatever the project's size. A batch's median work time is taken
in SQL, and duplicates are found among the (worker, task) and (worker, asset) pairs the
database reports more than once.
"""

import itertools
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from tracework.core.store.schema import annotations, assets, reviews, submissions
from tracework.review.common import UNDECIDED
from tracework.review.rules import Facts

__all__ = ["CHUNK", "iter_facts", "load_facts", "undecided_ids"]

CHUNK = 5000
"""Submissions read, checked and decided together."""


def _median(conn: Connection, batch_id: int) -> tuple[float | None, int]:
    """The batch's median work time and how many timed submissions it has."""
    timed = (submissions.c.batch_id == batch_id, submissions.c.work_time_s.is_not(None))
    n = int(conn.execute(select(func.count()).select_from(submissions).where(*timed)).scalar_one())
    if not n:
        return None, 0
    middle = [float(v) for v in conn.execute(
        select(submissions.c.work_time_s).where(*timed)
        .order_by(submissions.c.work_time_s).offset((n - 1) // 2).limit(2 - n % 2)).scalars()]
    return sum(middle) / len(middle), n


def _order(row: Any) -> tuple[str, int]:
    return (row.submit_time or "", int(row.id))


def _repeats(conn: Connection, key: Any) -> Iterator[list[Any]]:
    """The submissions of each (worker, ``key``) pair submitted more than once, grouped."""
    pairs = (select(submissions.c.worker, key.label("item")).where(key.is_not(None))
             .group_by(submissions.c.worker, key).having(func.count() > 1).subquery())
    query = (select(submissions.c.id, submissions.c.worker, key.label("item"),
                    submissions.c.submit_time)
             .join(pairs, (submissions.c.worker == pairs.c.worker) & (key == pairs.c.item))
             .order_by(submissions.c.worker, key, submissions.c.id))
    with conn.execute(query, execution_options={"yield_per": CHUNK}) as rows:
        for _, group in itertools.groupby(rows, key=lambda r: (r.worker, r.item)):
            yield list(group)


def _earlier(conn: Connection) -> dict[int, tuple[int, str]]:
    """For each later duplicate, the first submission it repeats, and whether by task or asset:
    the first by submit time (then id) of a worker's submissions on a task, and among a
    worker's first submissions on their tasks, the first on an asset."""
    out: dict[int, tuple[int, str]] = {}
    for group in _repeats(conn, submissions.c.task_id):
        first = min(group, key=_order)
        out.update((int(r.id), (int(first.id), "task")) for r in group if r.id != first.id)
    for group in _repeats(conn, submissions.c.asset_id):
        firsts = [r for r in group if int(r.id) not in out]
        if len(firsts) > 1:
            first = min(firsts, key=_order)
            out.update((int(r.id), (int(first.id), "asset")) for r in firsts
                       if r.id != first.id)
    return out


def _in_scope(query: Any, batch_ids: Sequence[int] | None, only_undecided: bool) -> Any:
    if only_undecided:
        decided = select(reviews.c.submission_id).distinct()
        query = query.where(submissions.c.status == UNDECIDED, submissions.c.id.not_in(decided))
    if batch_ids is not None:
        query = query.where(submissions.c.batch_id.in_(list(batch_ids)))
    return query


def undecided_ids(conn: Connection, *, batch_ids: Sequence[int] | None = None,
                  size: int | None = None) -> Iterator[list[int]]:
    """Ids of the undecided submissions in scope, in order, ``size`` at a time. Read one chunk
    after the previous one is handled, so deciding a chunk does not disturb the next."""
    last = 0
    while True:
        ids = [int(i) for i in conn.execute(_in_scope(
            select(submissions.c.id).where(submissions.c.id > last), batch_ids, True)
            .order_by(submissions.c.id).limit(size or CHUNK)).scalars()]
        if not ids:
            return
        yield ids
        last = ids[-1]


def _areas(conn: Connection, ids: list[int]) -> tuple[dict[int, dict[str, float]],
                                                        dict[int, int]]:
    areas: dict[int, dict[str, float]] = defaultdict(dict)
    counts: dict[int, int] = {}
    for row in conn.execute(
            select(annotations.c.submission_id, annotations.c.category,
                   func.sum(annotations.c.area).label("area"))
            .where(annotations.c.submission_id.in_(ids), annotations.c.kind.in_(("mask", "bbox")),
                   annotations.c.category.is_not(None))
            .group_by(annotations.c.submission_id, annotations.c.category)):
        areas[int(row.submission_id)][row.category] = float(row.area or 0.0)
    counts.update((int(r.submission_id), int(r.n)) for r in conn.execute(
        select(annotations.c.submission_id, func.count().label("n"))
        .where(annotations.c.submission_id.in_(ids)).group_by(annotations.c.submission_id)))
    return areas, counts


def iter_facts(conn: Connection, *, batch_ids: Sequence[int] | None = None,
               only_undecided: bool = True, size: int | None = None) -> Iterator[list[Facts]]:
    """Facts for the submissions in scope, in submission order, ``size`` at a time."""
    query = _in_scope(
        select(submissions.c.id, submissions.c.worker, submissions.c.task_id,
               submissions.c.asset_id, submissions.c.batch_id, submissions.c.status,
               submissions.c.time_kind, submissions.c.work_time_s, submissions.c.reward_cents,
               submissions.c.answer, assets.c.file_name.label("asset_name"))
        .select_from(submissions.outerjoin(assets, submissions.c.asset_id == assets.c.id)),
        batch_ids, only_undecided).order_by(submissions.c.id).limit(size or CHUNK)
    medians: dict[int, tuple[float | None, int]] = {}
    earlier: dict[int, tuple[int, str]] | None = None
    last = 0
    while True:
        subs = list(conn.execute(query.where(submissions.c.id > last)))
        if not subs:
            return
        last = int(subs[-1].id)
        if earlier is None:
            earlier = _earlier(conn)
        areas, counts = _areas(conn, [int(s.id) for s in subs])
        out = []
        for s in subs:
            batch = int(s.batch_id)
            if batch not in medians:
                medians[batch] = _median(conn, batch)
            median, timed = medians[batch]
            sid = int(s.id)
            out.append(Facts(
                id=sid, worker=s.worker, task_id=s.task_id, asset_id=s.asset_id,
                asset_name=s.asset_name or "", batch_id=batch, status=s.status,
                time_kind=s.time_kind, work_time_s=s.work_time_s, reward_cents=s.reward_cents,
                areas=areas.get(sid, {}), annotations=counts.get(sid, 0),
                answer=json.loads(s.answer), batch_median_s=median, batch_timed=timed,
                earlier=earlier.get(sid)))
        yield out


def load_facts(conn: Connection, *, batch_ids: Sequence[int] | None = None,
               only_undecided: bool = True) -> list[Facts]:
    """Facts for the submissions in scope, in submission order (all at once: for small
    scopes; the review commands use :func:`iter_facts`)."""
    return [f for part in iter_facts(conn, batch_ids=batch_ids, only_undecided=only_undecided)
            for f in part]
