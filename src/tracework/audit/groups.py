"""Do annotators from different backgrounds label differently? Audits by annotator group.

Workers are grouped by their answer to one survey question (``--by Q3``, or an alias from
``[survey.attributes]``), taken from their newest response, and only for workers who consented
to link their answers to their work. Per group and category (segmentation masks):

- ``area_ratio``: the worker's mask area over the mean area of the other workers' masks of
  that category on the same asset, averaged over the worker's masks;
- ``agreement``: mean IoU of the worker's masks with the other workers' on the same asset;
- ``presence``: share of the worker's segmentation submissions that contain the category
  (the label distribution);
- ``weight``: the worker's aggregation weight (EM accuracy) from the newest stored mask
  aggregation run, or computed on the fly when none is stored;

and for classification questions, ``share:<class>``: share of the worker's answers that chose
that class. Each figure is the mean over the group's workers of their per-worker values.

Suppression: a group with fewer than ``min_cell`` workers is not shown, with complementary
suppression (see :mod:`tracework.audit.suppress`); a figure resting on fewer than
``min_cell`` workers is not shown either, and comparisons use only shown figures, so nothing
hidden can be recomputed from what is shown.

Test: for each shown figure, a two-sided permutation test of the group's mean against the
mean of the workers of the other shown groups of that figure (group labels shuffled among
those workers, seeded, the number of permutations stated; with two groups, one test). The
p-values are adjusted with Holm's method within each metric (over its categories and groups),
so each metric's chance of a false detection stays below ``alpha``; a difference is reported
as detected when the adjusted p < ``alpha``.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Collection
from concurrent.futures import Executor, Future, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, select

from tracework.audit import records
from tracework.audit.agreement import LabelRow, mask_pairs, read_annotations
from tracework.audit.progress import Progress, tell
from tracework.audit.stats import (
    PermutationTest,
    holm,
    permutation_counts,
    permutation_tests,
)
from tracework.audit.suppress import Suppression, suppress_counts
from tracework.core.compute import executor
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.core.store.schema import answers, workers
from tracework.core.store.tables_audit import aggregate_workers, aggregation_runs

__all__ = ["GroupAudit", "GroupCell", "GroupTest", "group_audit", "group_tests"]

NO_ANSWER = "(no answer)"
METRICS = ("area_ratio", "agreement", "presence", "weight")


@dataclass(frozen=True)
class GroupCell:
    """One figure of one group: the mean of its workers' values, or hidden."""

    group: str
    metric: str
    category: str
    workers: int | None        # None: hidden (fewer than min_cell workers behind it)
    mean: float | None


@dataclass(frozen=True)
class GroupTest:
    group: str
    metric: str
    category: str
    group_mean: float
    rest_mean: float
    difference: float
    p_value: float
    p_adjusted: float
    detected: bool


@dataclass(frozen=True)
class GroupAudit:
    attribute: str
    question: str
    min_cell: int
    workers_linked: int | None            # consenting workers with work (hidden if < k)
    workers_not_linked: int               # workers with work who did not consent to linking
    groups: dict[str, int | None]         # group -> workers; None = suppressed
    suppressed: list[str]
    primary_suppressed: list[str]
    complementary_suppressed: list[str]
    cells: list[GroupCell]
    tests: list[GroupTest]
    method: str
    permutations: int
    seed: int
    alpha: float
    status: str
    weights_from: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def detected(self) -> list[GroupTest]:
        return [t for t in self.tests if t.detected]

    def as_dict(self, *, explain: bool = False) -> dict[str, Any]:
        data = asdict(self)
        data["detected"] = [asdict(t) for t in self.detected]
        if not explain:
            data.pop("rows")
        return data


def _question(project: Project, conn: Connection, by: str) -> str:
    aliases = records.survey_settings(project).attributes
    question = aliases.get(by, by)
    known = {r.question for r in conn.execute(select(answers.c.question).distinct())}
    if question not in known:
        raise InputError(f"no survey question {by!r}: neither a question id in the imported "
                         f"answers nor an alias in [survey.attributes]", field="--by",
                         hint="Questions: " + ", ".join(sorted(known)[:30])
                              + (("; aliases: " + ", ".join(sorted(aliases))) if aliases else ""))
    return question


def _membership(conn: Connection, question: str, with_work: set[str]) -> dict[str, str]:
    membership: dict[str, str] = {}
    answered = records.linked_answers(conn, question)
    linked = {r.pseudonym for r in conn.execute(select(workers.c.pseudonym).where(
        workers.c.consent_link.is_(True) & workers.c.erased.is_(False)))}
    for worker in sorted(with_work & linked):
        value = answered.get(worker)
        if isinstance(value, list):
            raise InputError(f"question {question} allows several answers; a group audit needs "
                             "a single-choice question", field="--by")
        membership[worker] = str(value).strip() if value not in (None, "") else NO_ANSWER
    return membership


def _area_ratios(anns: list[LabelRow]) -> dict[tuple[str, str], list[tuple[float, int]]]:
    """Each mask's area over the mean area of the other workers' masks of that category on
    the same asset (leave-one-out: with three workers, a median would often be the mask
    itself). Masks without another worker's mask beside them give no ratio."""
    by_unit: dict[tuple[int, str, str], list[LabelRow]] = defaultdict(list)
    for a in anns:
        if a.kind == "mask" and a.category is not None:
            by_unit[(a.asset, a.element, a.category)].append(a)
    out: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
    for (_, _, category), items in by_unit.items():
        for a in items:
            others = [b.area for b in items if b.worker != a.worker]
            if others and np.mean(others) > 0:
                out[(a.worker, category)].append((a.area / float(np.mean(others)), a.id))
    return out


def _per_worker_values(anns: list[LabelRow], weights: dict[tuple[str, str], float],
                       class_anns: list[LabelRow]
                       ) -> dict[tuple[str, str], dict[str, tuple[float, list[int]]]]:
    """(metric, category) -> worker -> (value, annotation ids behind it)."""
    values: dict[tuple[str, str], dict[str, tuple[float, list[int]]]] = defaultdict(dict)
    for (worker, category), items in _area_ratios(anns).items():
        values[("area_ratio", category)][worker] = (
            float(np.mean([r for r, _ in items])), [i for _, i in items])
    pair_scores: dict[tuple[str, str], list[tuple[float, tuple[int, ...]]]] = defaultdict(list)
    for p in mask_pairs(anns):
        pair_scores[(p.worker_a, p.category)].append((p.iou, p.annotations_a))
        pair_scores[(p.worker_b, p.category)].append((p.iou, p.annotations_b))
    for (worker, category), scored in pair_scores.items():
        values[("agreement", category)][worker] = (
            float(np.mean([s for s, _ in scored])), sorted({i for _, ids in scored for i in ids}))
    subs: dict[str, set[int]] = defaultdict(set)
    having: dict[tuple[str, str], set[int]] = defaultdict(set)
    ids: dict[tuple[str, str], list[int]] = defaultdict(list)
    for a in anns:
        if a.kind == "mask" and a.category is not None:
            subs[a.worker].add(a.submission)
            having[(a.worker, a.category)].add(a.submission)
            ids[(a.worker, a.category)].append(a.id)
    categories = sorted({a.category for a in anns if a.kind == "mask" and a.category})
    for worker, mine in subs.items():
        for category in categories:
            values[("presence", category)][worker] = (
                len(having[(worker, category)]) / len(mine), ids[(worker, category)])
    for (worker, category), w in weights.items():
        values[("weight", category)][worker] = (w, ids[(worker, category)])
    _class_shares(class_anns, values)
    return values


def _class_shares(class_anns: list[LabelRow],
                  values: dict[tuple[str, str], dict[str, tuple[float, list[int]]]]) -> None:
    by_worker: dict[tuple[str, str], list[LabelRow]] = defaultdict(list)
    for a in class_anns:
        if a.category is not None:
            by_worker[(a.worker, a.element)].append(a)
    classes: dict[str, set[str]] = defaultdict(set)
    for (_, element), items in by_worker.items():
        classes[element].update(str(a.category) for a in items)
    for (worker, element), items in by_worker.items():
        for cls in classes[element]:
            chosen = [a.id for a in items if str(a.category) == cls]
            values[(f"share:{cls}", element)][worker] = (len(chosen) / len(items), chosen)


def _weights(conn: Connection, anns: list[LabelRow]) -> tuple[dict[tuple[str, str], float], str]:
    run = conn.execute(select(aggregation_runs).where(aggregation_runs.c.kind == "mask")
                       .order_by(aggregation_runs.c.id.desc()).limit(1)).first()
    if run is not None:
        rows = conn.execute(select(aggregate_workers).where(aggregate_workers.c.run_id == run.id))
        return ({(r.worker, r.element): float(r.skill) for r in rows if r.skill is not None},
                f"aggregation run {run.id} ({run.method})")
    from tracework.audit.aggregate import aggregate_masks

    _, skills, _ = aggregate_masks(anns, "mask_em", 10, 1e-5)
    return ({(s.worker, s.element): float(s.skill) for s in skills if s.skill is not None},
            "mask EM computed for this audit (no stored aggregation run)")


def group_audit(project: Project, by: str, *, status: str = "all", permutations: int = 9999,
                seed: int = 0, alpha: float = 0.05, min_cell: int | None = None,
                categories: Collection[str] = (), progress: Progress | None = None
                ) -> GroupAudit:
    """Compare groups of consenting workers (by a survey answer) on how they label.
    ``progress`` is called with the permutation work units done and their total."""
    k = int(project.settings["min_cell"] if min_cell is None else min_cell)
    if permutations < 1:
        raise InputError("permutations must be at least 1", field="--permutations")
    with project.store.read() as conn:
        question = _question(project, conn, by)
        anns = read_annotations(conn, status=status, kinds=("mask",), categories=categories)
        class_anns = read_annotations(conn, status=status, kinds=("class",))
        with_work = {a.worker for a in anns} | {a.worker for a in class_anns}
        membership = _membership(conn, question, with_work)
        weights, weights_from = _weights(conn, anns)
    counts: dict[str, int] = defaultdict(int)
    for group in membership.values():
        counts[group] += 1
    table = suppress_counts(dict(counts), k)
    values = _per_worker_values(anns, weights, class_anns)
    cells, rows, shown = _cells(values, membership, table, k)
    with executor(project) as ex:
        tests = group_tests(shown, membership, permutations, seed, alpha, ex, progress)
    return GroupAudit(
        attribute=by, question=question, min_cell=k, workers_linked=table.total,
        workers_not_linked=len(with_work) - len(membership),
        groups={g: table.published.get(g) for g in sorted(counts)},
        suppressed=table.suppressed, primary_suppressed=table.primary,
        complementary_suppressed=table.complementary, cells=cells, tests=tests,
        method=(f"two-sided permutation test of each shown group's mean against the other "
                f"shown groups' workers, {permutations} permutations, seed {seed} (NumPy "
                f"PCG64); p = (1 + as extreme) / (1 + permutations); Holm-adjusted within "
                f"each metric ({len(tests)} tests in all); detected when adjusted p < {alpha}"),
        permutations=permutations, seed=seed, alpha=alpha, status=status,
        weights_from=weights_from, rows=rows)


def _cells(values: dict[tuple[str, str], dict[str, tuple[float, list[int]]]],
           membership: dict[str, str], table: Suppression, k: int
           ) -> tuple[list[GroupCell], list[dict[str, Any]],
                      dict[tuple[str, str], dict[str, float]]]:
    cells, rows = [], []
    shown: dict[tuple[str, str], dict[str, float]] = {}
    for (metric, category), per_worker in sorted(values.items()):
        for group in sorted(table.published):
            members = {w: v for w, v in per_worker.items() if membership.get(w) == group}
            if len(members) < k:
                cells.append(GroupCell(group, metric, category, None, None))
                continue
            mean = float(np.mean([v for v, _ in members.values()]))
            cells.append(GroupCell(group, metric, category, len(members), mean))
            shown.setdefault((metric, category), {}).update(
                {w: v for w, (v, _) in members.items()})
            rows.append({"group": group, "metric": metric, "category": category,
                         "annotations": sorted({i for _, ids in members.values() for i in ids})})
    return cells, rows, shown


def group_tests(shown: dict[tuple[str, str], dict[str, float]], membership: dict[str, str],
                permutations: int, seed: int, alpha: float, ex: Executor,
                progress: Progress | None = None) -> list[GroupTest]:
    """Every comparison of the shown figures: per (metric, category), each group's workers
    against the other shown groups' (with two groups, one comparison reported from both
    sides), Holm-adjusted within each metric.

    All comparisons share one stream of permutations of the workers behind any figure
    (seeded with ``seed``; each comparison shuffles only its own workers' labels), split into
    ranges of permutations that go to ``ex`` (this process, or a Dask cluster) as work units;
    the counts add up to the same p-values wherever and in whatever pieces they run."""
    planned: list[tuple[list[tuple[str, float, float]], str, str]] = []
    tests: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    everyone = sorted({w for per_worker in shown.values() for w in per_worker})
    column = {w: i for i, w in enumerate(everyone)}
    for (metric, category), per_worker in sorted(shown.items()):
        order = sorted(per_worker)                   # row order never matters
        x = np.array([per_worker[w] for w in order])
        groups = [membership[w] for w in order]
        present = sorted(set(groups))
        if len(present) < 2:
            continue
        where = np.array([column[w] for w in order], dtype=np.int64)
        values, among = np.zeros(len(everyone)), np.zeros(len(everyone), bool)
        values[where], among[where] = x, True
        for group in present[:1] if len(present) == 2 else present:
            inside = np.array([g == group for g in groups])
            sides = [(group, float(x[inside].mean()), float(x[~inside].mean()))]
            if len(present) == 2:
                sides.append((present[1], sides[0][2], sides[0][1]))
            planned.append((sides, metric, category))
            drawn = np.zeros(len(everyone), bool)
            drawn[where] = inside
            tests.append((values, drawn, among))
    results = _run_tests(tests, permutations, seed, ex, progress)
    raw = [(sides, metric, category, res)
           for (sides, metric, category), res in zip(planned, results, strict=True)]
    adjusted: list[float] = [1.0] * len(raw)
    for metric in sorted({r[1] for r in raw}):
        family = [i for i, r in enumerate(raw) if r[1] == metric]
        for i, adj in zip(family, holm([raw[i][3].p_value for i in family]), strict=True):
            adjusted[i] = adj
    return [GroupTest(g, metric, category, gm, rm, gm - rm, res.p_value, adj, adj < alpha)
            for (sides, metric, category, res), adj in zip(raw, adjusted, strict=True)
            for g, gm, rm in sides]


# Permutations per work unit: enough that a unit's draws outweigh sending it.
UNIT_PERMUTATIONS = 2500


def _run_tests(tests: list[tuple[np.ndarray, np.ndarray, np.ndarray]], permutations: int,
               seed: int, ex: Executor, progress: Progress | None) -> list[PermutationTest]:
    if not tests:
        return []
    observed = [t.statistic for t in permutation_tests(tests, permutations=0, seed=seed)]
    bounds = list(range(0, permutations, UNIT_PERMUTATIONS)) + [permutations]
    futures: list[Future[list[int]]] = []
    for first, stop in itertools.pairwise(bounds):
        futures.append(ex.submit(permutation_counts, tests, permutations=permutations,
                                 seed=seed, start=first, stop=stop))
        tell(progress, sum(f.done() for f in futures), len(bounds) - 1)
    for count, _ in enumerate(as_completed(futures), 1):
        tell(progress, count, len(futures))
    extreme = [sum(counts) for counts in zip(*(f.result() for f in futures), strict=True)]
    return [PermutationTest(o, (1.0 + e) / (1.0 + permutations), permutations, seed)
            for o, e in zip(observed, extreme, strict=True)]
