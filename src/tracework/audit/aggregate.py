"""``tracework aggregate``: one label per task from several workers' labels, stored as a layer.

Classifications (per question, tasks are the platform's tasks): majority vote or
Dawid–Skene; each worker's confusion matrix is kept, so their estimated skill is visible.
Segmentation (per asset, segmentation element and category, over every submission that drew
masks on the asset; one without this category counts as an empty mask): pixel majority or
EM. Each worker's weight (EM accuracy, or the IoU with the majority mask) is kept too.

A run is stored in the audit tables with a ledger entry for the run and one per aggregated
label; the individual labels are never touched. Running again on the same labels with the
same method and settings adds nothing (the run's input digest matches the newest run's).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from pycocotools import mask as coco_mask
from sqlalchemy import Connection, insert, select

from tracework.audit.agreement import asset_chunks, read_annotations
from tracework.audit.dawid_skene import dawid_skene, majority_vote
from tracework.audit.progress import Progress, tell
from tracework.audit.segmentation import mask_em, pixel_majority
from tracework.core import ledger
from tracework.core.compute import executor, map_bounded
from tracework.core.errors import InputError
from tracework.core.ledger import LedgerWriter, canonical
from tracework.core.project import Project
from tracework.core.store import inserted_id
from tracework.core.store.tables_audit import aggregate_labels, aggregate_workers, aggregation_runs

__all__ = ["AggregateReport", "ClassMethod", "MaskMethod", "RunReport", "WorkerSkill",
           "aggregate"]

ClassMethod = Literal["majority_vote", "dawid_skene"]
MaskMethod = Literal["pixel_majority", "mask_em"]
CLASS_METHODS: tuple[str, ...] = ("majority_vote", "dawid_skene")
MASK_METHODS: tuple[str, ...] = ("pixel_majority", "mask_em")


@dataclass(frozen=True)
class WorkerSkill:
    worker: str
    element: str          # the question, or the mask category
    labels: int
    skill: float | None   # estimated accuracy: the worker's weight in the aggregate
    confusion: dict[str, Any] | None = None


@dataclass
class RunReport:
    run: int
    kind: str
    method: str
    inputs: int
    items: int
    iterations: int | None
    repeated: bool
    params: dict[str, Any]
    workers: list[WorkerSkill] = field(default_factory=list)


@dataclass
class AggregateReport:
    runs: list[RunReport]
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Label:
    asset: int | None
    unit: str
    element: str
    kind: str
    category: str | None
    confidence: float | None
    workers: list[str]
    submissions: list[int]
    rle: dict[str, Any] | None = None


def _classes(anns: list[Any], method: str, n_iter: int, tol: float
             ) -> tuple[list[_Label], list[WorkerSkill], int | None]:
    by_element: dict[str, list[Any]] = defaultdict(list)
    for a in anns:
        if a.category is not None:
            by_element[a.element].append(a)
    labels: list[_Label] = []
    skills: list[WorkerSkill] = []
    iterations: int | None = None
    for element, items in sorted(by_element.items()):
        items.sort(key=lambda a: a.id)
        units = sorted({a.task for a in items})
        names = sorted({a.worker for a in items})
        classes = sorted({str(a.category) for a in items})
        u = {v: i for i, v in enumerate(units)}
        w = {v: i for i, v in enumerate(names)}
        c = {v: i for i, v in enumerate(classes)}
        t_codes = np.array([u[a.task] for a in items])
        w_codes = np.array([w[a.worker] for a in items])
        y_codes = np.array([c[str(a.category)] for a in items])
        if method == "dawid_skene":
            ds = dawid_skene(t_codes, w_codes, y_codes, n_tasks=len(units),
                             n_workers=len(names), n_classes=len(classes), n_iter=n_iter, tol=tol)
            chosen, probas, skill = ds.labels, ds.probas, ds.skills
            iterations = max(iterations or 0, ds.iterations)
            confusion = ds.errors
        else:
            mv = majority_vote(t_codes, w_codes, y_codes, n_tasks=len(units),
                               n_workers=len(names), n_classes=len(classes))
            chosen, probas, skill, confusion = mv.labels, mv.probas, mv.skills, None
        per_unit: dict[int, list[Any]] = defaultdict(list)
        for a in items:
            per_unit[u[a.task]].append(a)
        for i, unit in enumerate(units):
            members = per_unit[i]
            labels.append(_Label(members[0].asset or None, unit, element, "class",
                                 classes[int(chosen[i])], float(probas[i, int(chosen[i])]),
                                 sorted({a.worker for a in members}),
                                 sorted({a.submission for a in members})))
        counts = np.bincount(w_codes, minlength=len(names))
        for j, name in enumerate(names):
            matrix = None
            if confusion is not None:
                matrix = {"classes": classes, "matrix_observed_by_true":
                          [[round(float(v), 6) for v in row] for row in confusion[j]]}
            skills.append(WorkerSkill(name, element, int(counts[j]),
                                      None if np.isnan(skill[j]) else float(skill[j]), matrix))
    return labels, skills, iterations


def _decode(rle: dict[str, Any]) -> np.ndarray:
    return np.asarray(coco_mask.decode(rle), dtype=bool)


def _mask_units(anns: list[Any]) -> dict[tuple[int, str, str], dict[int, list[Any]]]:
    taking_part: dict[tuple[int, str], dict[int, str]] = defaultdict(dict)
    units: dict[tuple[int, str, str], dict[int, list[Any]]] = defaultdict(dict)
    for a in anns:
        if a.kind == "mask" and a.rle is not None and a.category is not None:
            taking_part[(a.asset, a.element)][a.submission] = a.worker
    for a in anns:
        if a.kind == "mask" and a.rle is not None and a.category is not None:
            key = (a.asset, a.element, a.category)
            if key not in units:
                units[key] = {s: [] for s in taking_part[(a.asset, a.element)]}
            units[key][a.submission].append(a)
    return units


Weights = dict[tuple[str, str], list[float]]


def mask_chunk(anns: list[Any], method: str, n_iter: int, tol: float
               ) -> tuple[list[_Label], Weights, int]:
    """The aggregated masks of whole assets (one work unit), each worker's weight per unit
    by (worker, category), and the most EM iterations a unit took."""
    workers_of = {a.submission: a.worker for a in anns}
    sizes = {(a.asset, a.element): a.rle["size"] for a in anns if a.rle is not None}
    labels: list[_Label] = []
    weights: Weights = defaultdict(list)
    iterations = 0
    for (asset, element, category), per_sub in sorted(_mask_units(anns).items()):
        subs = sorted(per_sub)
        h, w = sizes[(asset, element)]
        stack = np.zeros((len(subs), h, w), bool)
        for i, s in enumerate(subs):
            for a in per_sub[s]:
                stack[i] |= _decode(a.rle)
        if method == "mask_em":
            result = mask_em(stack, n_iter=n_iter, tol=tol)
            merged, accuracy = result.mask, result.accuracy
            iterations = max(iterations, result.iterations)
        else:
            merged = pixel_majority(stack)
            inter = (stack & merged).sum(axis=(1, 2))
            union = (stack | merged).sum(axis=(1, 2))
            accuracy = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
        for i, s in enumerate(subs):
            weights[(workers_of[s], category)].append(float(accuracy[i]))
        if not merged.any():
            continue
        rle = coco_mask.encode(np.asfortranarray(merged.astype(np.uint8)))
        labels.append(_Label(asset, f"asset:{asset}", element, "mask", category,
                             float(np.mean(accuracy)), sorted({workers_of[s] for s in subs}),
                             subs, rle))
    return labels, dict(weights), iterations


def _skills(weights: Weights) -> list[WorkerSkill]:
    return [WorkerSkill(worker, category, len(v), float(np.mean(v)))
            for (worker, category), v in sorted(weights.items())]


def aggregate_masks(anns: list[Any], method: str, n_iter: int, tol: float
                    ) -> tuple[list[_Label], list[WorkerSkill], int | None]:
    """Aggregated masks and worker weights of ``anns`` (all in memory at once)."""
    labels, weights, iterations = mask_chunk(anns, method, n_iter, tol)
    return labels, _skills(weights), (iterations if method == "mask_em" else None)


def _streamed_masks(project: Project, conn: Connection, status: str,
                    batches: Collection[str], method: str, n_iter: int, tol: float,
                    progress: Progress | None
                    ) -> tuple[list[tuple[int, int, str | None]], list[_Label],
                               list[WorkerSkill], int | None]:
    """:func:`aggregate_masks` over the masks streamed a chunk of assets at a time, each
    chunk a work unit for the project's executor; what the digest needs of each mask."""
    keys: list[tuple[int, int, str | None]] = []
    labels: list[_Label] = []
    weights: Weights = defaultdict(list)
    iterations = 0

    def calls() -> Iterator[tuple[Any, ...]]:
        for chunk in asset_chunks(conn, status=status, kinds=("mask",), batch_keys=batches):
            keys.extend((a.id, a.submission, a.category) for a in chunk)
            yield chunk, method, n_iter, tol

    with executor(project) as ex:
        for done, (got, weighed, iters) in enumerate(map_bounded(ex, mask_chunk, calls()), 1):
            labels += got
            for key, values in weighed.items():
                weights[key] += values
            iterations = max(iterations, iters)
            tell(progress, done, None)
    keys.sort()
    return keys, labels, _skills(weights), (iterations if method == "mask_em" else None)


def _digest(anns: list[tuple[int, int, str | None]], params: dict[str, Any]) -> str:
    h = hashlib.sha256(canonical(params).encode("utf-8"))
    for ident, submission, category in anns:
        h.update(f"{ident}\x1f{submission}\x1f{category}\n".encode())
    return h.hexdigest()


def _label_row(run_id: int, label: _Label) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": run_id, "asset_id": label.asset, "unit": label.unit, "element": label.element,
        "kind": label.kind, "category": label.category, "confidence": label.confidence,
        "rle_counts": None, "height": None, "width": None, "bbox_x": None, "bbox_y": None,
        "bbox_w": None, "bbox_h": None, "area": None, "workers": canonical(label.workers),
        "submissions": canonical(label.submissions)}
    if label.rle is not None:
        x, y, bw, bh = (float(v) for v in coco_mask.toBbox(label.rle))
        row.update(rle_counts=label.rle["counts"].decode("ascii"), height=label.rle["size"][0],
                   width=label.rle["size"][1], bbox_x=x, bbox_y=y, bbox_w=bw, bbox_h=bh,
                   area=float(coco_mask.area(label.rle)))
    return row


def _store(conn: Connection, log: LedgerWriter, project: Project, kind: str, method: str,
           params: dict[str, Any], digest: str, inputs: int, labels: list[_Label],
           skills: list[WorkerSkill], iterations: int | None) -> int:
    run_id = int(inserted_id(conn.execute(insert(aggregation_runs).values(
        kind=kind, method=method, params=canonical(params), inputs_sha256=digest, inputs=inputs,
        items=len(labels), iterations=iterations, actor=project.actor,
        created_at=ledger.now()))))
    rows = [_label_row(run_id, label) for label in labels]
    log.append("aggregate.run", f"aggregation:{run_id}", new={
        "kind": kind, "method": method, "params": params, "inputs_sha256": digest,
        "inputs": inputs, "items": len(rows), "iterations": iterations,
        "skills_sha256": hashlib.sha256(canonical([asdict(s) for s in skills])
                                        .encode("utf-8")).hexdigest()})
    if rows:
        result = conn.execute(insert(aggregate_labels).returning(
            aggregate_labels.c.id, sort_by_parameter_order=True), rows)
        for label_id, row in zip((int(r.id) for r in result), rows, strict=True):
            log.append("aggregate.create", f"aggregate:{label_id}", new={
                "run": run_id, "asset": row["asset_id"], "unit": row["unit"],
                "element": row["element"], "category": row["category"],
                "area": row["area"], "submissions": json.loads(row["submissions"])})
    if skills:
        conn.execute(insert(aggregate_workers), [
            {"run_id": run_id, "worker": s.worker, "element": s.element, "labels": s.labels,
             "skill": s.skill, "confusion": None if s.confusion is None else canonical(s.confusion)}
            for s in skills])
    return run_id


def _newest_run(conn: Connection, kind: str, method: str) -> Any:
    return conn.execute(select(aggregation_runs).where(
        (aggregation_runs.c.kind == kind) & (aggregation_runs.c.method == method))
        .order_by(aggregation_runs.c.id.desc()).limit(1)).first()


def aggregate(project: Project, *, classes: str | None = "dawid_skene",
              masks: str | None = "mask_em", status: str = "all",
              batches: Collection[str] = (), n_iter: int | None = None,
              tol: float | None = None, progress: Progress | None = None) -> AggregateReport:
    """Aggregate classification and segmentation labels into a new, marked layer.

    ``classes``: "dawid_skene" (default), "majority_vote" or None; ``masks``: "mask_em"
    (default), "pixel_majority" or None. ``n_iter`` and ``tol`` default to 100 and 1e-5 for
    Dawid–Skene and to 10 and 1e-5 for mask EM. Masks are read and aggregated a chunk of
    assets at a time, each chunk a work unit for the project's executor (this process, or its
    Dask cluster: the same result either way); ``progress`` is called with the chunks done.
    """
    if classes is not None and classes not in CLASS_METHODS:
        raise InputError(f"unknown class method {classes!r}; choose {', '.join(CLASS_METHODS)}",
                         field="--classes")
    if masks is not None and masks not in MASK_METHODS:
        raise InputError(f"unknown mask method {masks!r}; choose {', '.join(MASK_METHODS)}",
                         field="--masks")
    jobs = []
    with project.store.read() as conn:
        if classes is not None:
            class_anns = read_annotations(conn, status=status, kinds=("class",),
                                          batch_keys=batches)
            it, tl = n_iter or 100, 1e-5 if tol is None else tol
            labels, skills, iters = _classes(class_anns, classes, it, tl)
            params = {"method": classes, "status": status, "batches": sorted(batches),
                      **({"n_iter": it, "tol": tl} if classes == "dawid_skene" else {})}
            keys = sorted((a.id, a.submission, a.category) for a in class_anns)
            jobs.append(("class", classes, params, keys, labels, skills, iters))
        if masks is not None:
            it, tl = n_iter or 10, 1e-5 if tol is None else tol
            keys, labels, skills, iters = _streamed_masks(project, conn, status, batches,
                                                          masks, it, tl, progress)
            params = {"method": masks, "status": status, "batches": sorted(batches),
                      **({"n_iter": it, "tol": tl} if masks == "mask_em" else {})}
            jobs.append(("mask", masks, params, keys, labels, skills, iters))
    return project.store.run_write(lambda conn: _write_runs(conn, project, jobs))


def _write_runs(conn: Connection, project: Project, jobs: list[Any]) -> AggregateReport:
    log = LedgerWriter(conn, project.actor)
    runs = []
    for kind, method, params, anns, labels, skills, iters in jobs:
        if not anns:
            continue
        digest = _digest(anns, params)
        newest = _newest_run(conn, kind, method)
        if newest is not None and newest.inputs_sha256 == digest:
            runs.append(RunReport(int(newest.id), kind, method, len(anns), int(newest.items),
                                  newest.iterations, True, params, skills))
            continue
        run_id = _store(conn, log, project, kind, method, params, digest, len(anns), labels,
                        skills, iters)
        runs.append(RunReport(run_id, kind, method, len(anns), len(labels), iters, False,
                              params, skills))
    log.flush()
    return AggregateReport(runs, log.hash)
