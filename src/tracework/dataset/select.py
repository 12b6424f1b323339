"""The exported dataset in one canonical shape: what every export format is built from.

:func:`select` reads a project into a :class:`Dataset`, applying the user's choice of batch,
review status and category, and attaching to each annotation its provenance: who made it
(pseudonym), in which submission and batch, under which review status and taxonomy version,
how long it took (and which kind of time that is), and what it paid. A worker's survey answers
travel only when that worker consented to publication; otherwise the key is absent. Free-text
answers travel only where the project's ``[export]`` table publishes them; the name a worker
chose to be credited by never travels with the labels.
"""


import json
from collections.abc import Collection, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, select

from tracework.core import ledger
from tracework.core.errors import InputError
from tracework.core.model import LAYERS, STATUSES, Annotation, Dataset, Image
from tracework.core.project import Project
from tracework.core.store.schema import (
    annotations,
    answers,
    assets,
    batches,
    responses,
    submissions,
    workers,
)
from tracework.core.taxonomy import Resolved, Resolver
from tracework.dataset.supervision import annotation_extras

__all__ = ["select_dataset"]

def _published_answers(project: Project, conn: Connection,
                       pseudonyms: Collection[str]) -> dict[str, dict[str, Any]]:
    """Survey answers of workers who consented to publication, latest response per worker,
    less free text the project does not publish (the rules of :mod:`tracework.dataset.policy`;
    the credit-name column never: names leave only in the credits)."""
    from tracework.dataset.policy import survey_policy  # docs builds on this module

    policy = survey_policy(project, conn)
    consenting = [w.pseudonym for w in conn.execute(
        select(workers.c.pseudonym).where(workers.c.consent_publish.is_(True))
        .where(workers.c.erased.is_(False)))
        if w.pseudonym in pseudonyms]
    out: dict[str, dict[str, Any]] = {}
    if not consenting:
        return out
    rows = conn.execute(
        select(responses.c.id, responses.c.worker, responses.c.end_time)
        .where(responses.c.worker.in_(consenting))
        .order_by(responses.c.worker, responses.c.end_time, responses.c.id)).all()
    latest = {r.worker: r.id for r in rows}
    for worker, rid in latest.items():
        found: dict[str, Any] = {}
        for a in conn.execute(select(answers).where(answers.c.response_id == rid)
                              .order_by(answers.c.id)):
            if a.value is not None and policy.publishes(a.question):
                found[a.question] = json.loads(a.value)
            if a.other_text and policy.publishes(f"{a.question}_other"):
                found[f"{a.question}_other"] = a.other_text
        out[worker] = found
    return out


def _status_values(status: str) -> list[str] | None:
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}",
                         field="--status")
    return None if status == "all" else [status.capitalize()]


def select_dataset(project: Project, *, status: str = "approved",
                   batches_: Collection[str] = (), categories: Collection[str] = (),
                   layer: str = "individual") -> Dataset:
    """Read the annotations to export, with their provenance, from one consistent snapshot.

    ``layer`` chooses individual labels (default), aggregated ones, or both (see LAYERS).
    """
    if layer not in LAYERS:
        raise InputError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}",
                         field="--layer")
    wanted_status = _status_values(status)
    with project.store.read() as conn:
        resolver = Resolver.of(conn, project)
        chosen, notes = resolver.choose(categories)
        query = (select(annotations, submissions.c.assignment_id, submissions.c.status,
                        submissions.c.work_time_s, submissions.c.time_kind,
                        submissions.c.reward_cents, submissions.c.task_id,
                        batches.c.id.label("batch_id"), batches.c.batch_key,
                        batches.c.platform)
                 .join(submissions, annotations.c.submission_id == submissions.c.id)
                 .join(batches, submissions.c.batch_id == batches.c.id)
                 .where(annotations.c.kind.in_(["mask", "bbox", "polygon"]))
                 .order_by(annotations.c.asset_id, annotations.c.id))
        if categories:
            query = query.where(annotations.c.category.in_(sorted(resolver.sources(chosen))))
        if wanted_status is not None:
            query = query.where(submissions.c.status.in_(wanted_status))
        if batches_:
            keys = [str(b) for b in batches_]
            ids = [int(b) for b in keys if b.isdigit()]
            query = query.where(batches.c.batch_key.in_(keys) | batches.c.id.in_(ids))
        wanted = set(chosen) if categories else None
        rows = []
        for r in conn.execute(query).all() if layer != "aggregate" else []:
            found = resolver.resolve(r.category, r.taxonomy_version)
            if wanted is None or found.current in wanted:
                rows.append((r, found))
        merged = []
        if layer != "individual":
            from tracework.dataset.layer import aggregate_annotations

            merged = aggregate_annotations(conn, resolver, wanted, batches_)
        asset_ids = sorted({r.asset_id for r, _ in rows if r.asset_id is not None}
                           | {a.image_id for a in merged})
        images = [Image(a.id, a.file_name, int(a.width or 0), int(a.height or 0), a.uri,
                        a.sha256)
                  for a in conn.execute(select(assets).where(assets.c.id.in_(asset_ids))
                                        .order_by(assets.c.id))]
        contributing = sorted({r.worker for r, _ in rows}
                              | {w for a in merged for w in a.attributes["workers"]})
        published = _published_answers(project, conn, contributing)
        extras = annotation_extras(project, conn, ((r.id, r.worker, r.batch_id) for r, _ in rows))
        seq, head = ledger.head(conn)
    anns = list(_annotations(rows, published, extras))
    if layer == "both":
        for ann in anns:
            ann.attributes["layer"] = "individual"
    anns += merged
    used = {a.category for a in anns}
    shown = resolver.categories(chosen if categories else chosen + sorted(used))
    filters: dict[str, Any] = {"status": status, "batches": list(batches_),
                               "categories": [c.name for c in shown]}
    if notes:
        filters["category_notes"] = list(notes)
    if layer != "individual":
        filters["layer"] = layer
    retired = sorted(n for n in used if not resolver.in_force(n))
    if retired:
        count = sum(1 for a in anns if a.category in retired)
        notes.append(f"{count} label{'s' if count != 1 else ''} made under categories no longer "
                     f"in force {'are' if count != 1 else 'is'} exported as "
                     f"{', '.join(map(repr, retired))}; `tracework taxonomy pending` lists them "
                     "for relabelling")
    return Dataset(name=project.name, categories=shown, images=images, annotations=anns,
                   published_answers=published, workers=contributing, ledger_head=head,
                   ledger_entries=seq, filters=filters, notes=notes)


def _annotations(rows: Sequence[tuple[Any, Resolved]], published: dict[str, dict[str, Any]],
                 extras: dict[int, dict[str, Any]]) -> Iterator[Annotation]:
    for r, found in rows:
        attributes: dict[str, Any] = {
            "worker": r.worker,
            "submission": r.submission_id,
            "assignment_id": r.assignment_id,
            "task_id": r.task_id,
            "batch": r.batch_id,
            "batch_key": r.batch_key,
            "platform": r.platform,
            "review_status": r.status.lower(),
            "taxonomy_version": r.taxonomy_version,
            "original_category": found.original,
            "current_category": found.current,
            "category_history": found.history(),
            "time_on_task_s": r.work_time_s,
            "time_kind": r.time_kind,
            "reward_cents": r.reward_cents,
        }
        attributes.update(extras.get(r.id, {}))   # value chain, reply handle
        if r.worker in published:
            attributes["survey"] = published[r.worker]
        rle = None
        if r.kind in ("mask", "polygon") and r.rle_counts is not None:
            rle = {"size": [r.height, r.width], "counts": r.rle_counts}
        polygon = json.loads(r.value) if r.kind == "polygon" and r.value else None
        yield Annotation(
            id=r.id, image_id=r.asset_id, category=found.current, kind=r.kind,
            bbox=(float(r.bbox_x), float(r.bbox_y), float(r.bbox_w), float(r.bbox_h)),
            area=float(r.area), rle=rle, worker=r.worker, attributes=attributes,
            polygon=polygon)
