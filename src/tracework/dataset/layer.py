"""The aggregated labels as export annotations: the newest mask aggregation run, marked.

Each aggregated annotation's attributes say ``"layer": "aggregate"``, the method and run, and
which workers and submissions it combines, so it can never be mistaken for one person's
label. Its id is the largest individual annotation id plus its own id, so ids never collide.
"""


import json
from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import Connection, func, select

from tracework.core.model import Annotation
from tracework.core.store.schema import annotations, batches, submissions
from tracework.core.store.tables_audit import aggregate_labels, aggregation_runs
from tracework.core.taxonomy import Resolver

__all__ = ["aggregate_annotations", "iter_aggregates"]


# Rows read from the store at a time.
_STREAM_ROWS = 2_000


def aggregate_annotations(conn: Connection, resolver: Resolver, categories: Collection[str] | None,
                          batch_keys: Collection[str] = ()) -> list[Annotation]:
    """The newest mask run's labels, each category resolved to the taxonomy in force (a run
    keeps the names it was made with); ``categories``: the resolved ones to keep (None: all)."""
    return list(iter_aggregates(conn, resolver, categories, batch_keys))


def iter_aggregates(conn: Connection, resolver: Resolver, categories: Collection[str] | None,
                    batch_keys: Collection[str] = ()) -> Iterator[Annotation]:
    """The labels of :func:`aggregate_annotations`, by image, read from the store in chunks
    as they are iterated."""
    run = conn.execute(select(aggregation_runs).where(aggregation_runs.c.kind == "mask")
                       .order_by(aggregation_runs.c.id.desc()).limit(1)).first()
    if run is None:
        return
    offset = int(conn.execute(select(func.max(annotations.c.id))).scalar() or 0)
    allowed: set[int] | None = None
    if batch_keys:
        keys = [str(b) for b in batch_keys]
        ids = [int(b) for b in keys if b.isdigit()]
        allowed = {int(r.id) for r in conn.execute(
            select(submissions.c.id).join(batches, submissions.c.batch_id == batches.c.id)
            .where(batches.c.batch_key.in_(keys) | batches.c.id.in_(ids)))}
    params: dict[str, Any] = json.loads(run.params)
    query = (select(aggregate_labels).where(aggregate_labels.c.run_id == run.id)
             .where(aggregate_labels.c.kind == "mask")
             .order_by(aggregate_labels.c.asset_id, aggregate_labels.c.id))
    with conn.execute(query, execution_options={"yield_per": _STREAM_ROWS}) as rows:
        for r in rows:
            found = resolver.resolve_name(str(r.category))
            if categories is not None and found.current not in categories:
                continue
            subs = json.loads(r.submissions)
            if allowed is not None and not allowed.intersection(subs):
                continue
            attributes = {"layer": "aggregate", "method": run.method, "run": int(run.id),
                          "aggregate_id": int(r.id), "params": params,
                          "workers": json.loads(r.workers), "submissions": subs,
                          "confidence": r.confidence, "created_at": run.created_at,
                          "original_category": r.category, "current_category": found.current,
                          "category_history": found.history()}
            yield Annotation(
                id=offset + int(r.id), image_id=int(r.asset_id), category=found.current,
                kind="mask",
                bbox=(float(r.bbox_x), float(r.bbox_y), float(r.bbox_w), float(r.bbox_h)),
                area=float(r.area), rle={"size": [r.height, r.width], "counts": r.rle_counts},
                worker="aggregate", attributes=attributes)
