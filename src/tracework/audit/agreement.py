"""How much annotators agree: IoU between workers on the same asset, alpha for classes.

- Masks: for each asset, segmentation element and category, every pair of submissions by
  different workers that took part (a submission with masks on the asset but none of this
  category counts as an empty mask) gives the IoU of their masks; a pair where both are
  empty says nothing and is skipped.
- Boxes: per asset and category, each pair of submissions; boxes are matched greedily by IoU
  (largest first) and the pair's score is the sum of matched IoUs over the larger number of
  boxes (one box each: their IoU).
- Classifications: Krippendorff's alpha (nominal) per question, units are tasks, coders are
  workers, a worker who did not answer a task is a missing value.

Per category: mean, median and quartiles of the pair IoUs, with counts; overall: the mean over
all pairs (and the mean of the category means).
"""


import math
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask
from sqlalchemy import Connection, func

from tracework.audit import records
from tracework.audit.alpha import alpha_from_codes
from tracework.audit.progress import Progress, tell
from tracework.audit.stats import quantiles
from tracework.core.compute import executor, map_bounded
from tracework.core.project import Project
from tracework.core.store.schema import annotations, submissions
from tracework.core.taxonomy import Resolver

__all__ = ["ASSET_CHUNK", "AgreementAudit", "CategoryAgreement", "ClassAgreement", "PairIoU",
           "agreement_audit", "asset_chunks", "asset_pairs", "box_pair_iou", "mask_pairs",
           "read_annotations"]


@dataclass(frozen=True)
class PairIoU:
    """One pair of submissions on one asset and category (the rows behind each figure)."""

    kind: str                 # mask | bbox
    asset: int
    element: str
    category: str
    worker_a: str
    worker_b: str
    submission_a: int
    submission_b: int
    annotations_a: tuple[int, ...]
    annotations_b: tuple[int, ...]
    iou: float


@dataclass(frozen=True)
class CategoryAgreement:
    category: str
    kind: str
    pairs: int
    assets: int
    workers: int
    mean_iou: float | None
    median_iou: float | None
    iou_quantiles: dict[str, float | None]


@dataclass(frozen=True)
class ClassAgreement:
    element: str
    alpha: float | None
    units: int
    pairable_units: int
    values: int
    workers: int
    classes: list[str]


@dataclass(frozen=True)
class AgreementAudit:
    status: str
    masks: list[CategoryAgreement]
    boxes: list[CategoryAgreement]
    overall_mask_iou: float | None
    overall_box_iou: float | None
    mean_of_category_mask_iou: float | None
    classifications: list[ClassAgreement]
    overall_alpha: float | None
    pairs: list[PairIoU] = field(default_factory=list)
    class_rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)    # old category names a filter resolved

    def as_dict(self, *, explain: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not explain:
            data.pop("pairs")
            data.pop("class_rows")
        return data


@dataclass
class LabelRow:
    id: int
    submission: int
    worker: str
    asset: int
    element: str
    kind: str
    category: str | None
    rle: dict[str, Any] | None
    box: tuple[float, float, float, float] | None
    task: str
    area: float = 0.0


ASSET_CHUNK = 2000
"""Annotations read (and handed to a worker) together: whole assets, about this many."""


def _label_query(conn: Connection, status: str, kinds: Collection[str],
                 categories: Collection[str], batch_keys: Collection[str],
                 resolver: Resolver | None) -> tuple[Any, Resolver | None, set[str] | None]:
    cols = [annotations.c.id, annotations.c.submission_id, annotations.c.worker,
            annotations.c.asset_id, annotations.c.element, annotations.c.kind,
            annotations.c.category, annotations.c.taxonomy_version, annotations.c.rle_counts,
            annotations.c.height, annotations.c.width, annotations.c.bbox_x,
            annotations.c.bbox_y, annotations.c.bbox_w, annotations.c.bbox_h,
            annotations.c.area, submissions.c.task_id]
    query = (records.submissions_query(cols, batch_keys=batch_keys, status=status)
             .join(annotations, annotations.c.submission_id == submissions.c.id)
             .where(annotations.c.kind.in_(list(kinds))))
    resolver = resolver if resolver is not None or not _GEOMETRY & set(kinds) else \
        Resolver.of(conn)
    wanted: set[str] | None = None
    if categories and resolver is not None:
        wanted = set(resolver.choose(categories)[0])
        query = query.where(annotations.c.category.in_(sorted(resolver.sources(wanted))))
    elif categories:
        query = query.where(annotations.c.category.in_(list(categories)))
    return query, resolver, wanted


_GEOMETRY = frozenset({"mask", "bbox", "polygon"})


def _label(r: Any, resolver: Resolver | None, wanted: set[str] | None) -> LabelRow | None:
    category = r.category
    if resolver is not None and r.kind in _GEOMETRY and category is not None:
        category = resolver.resolve(category, int(r.taxonomy_version)).current
        if wanted is not None and category not in wanted:
            return None
    rle = None
    if r.kind == "mask":
        rle = {"size": [int(r.height), int(r.width)], "counts": r.rle_counts.encode("ascii")}
    box = None
    if r.kind == "bbox":
        box = (float(r.bbox_x), float(r.bbox_y), float(r.bbox_w), float(r.bbox_h))
    return LabelRow(int(r.id), int(r.submission_id), r.worker, int(r.asset_id or 0),
                    r.element, r.kind, category, rle, box, r.task_id, float(r.area or 0.0))


def read_annotations(conn: Connection, *, status: str = "all", kinds: Collection[str],
                     categories: Collection[str] = (), batch_keys: Collection[str] = (),
                     resolver: Resolver | None = None) -> list[LabelRow]:
    """Labels of ``kinds``; a mask's, box's or polygon's category resolved to the taxonomy in
    force (``categories`` filters by the resolved names; old names resolve as well)."""
    query, resolver, wanted = _label_query(conn, status, kinds, categories, batch_keys,
                                           resolver)
    rows = (_label(r, resolver, wanted) for r in conn.execute(query.order_by(annotations.c.id)))
    return [a for a in rows if a is not None]


def asset_chunks(conn: Connection, *, status: str = "all", kinds: Collection[str],
                 categories: Collection[str] = (), batch_keys: Collection[str] = (),
                 resolver: Resolver | None = None, size: int | None = None
                 ) -> Iterator[list[LabelRow]]:
    """The labels :func:`read_annotations` gives, streamed in asset order (each asset's in
    id order), a chunk of whole assets (about ``size`` labels, default :data:`ASSET_CHUNK`)
    at a time: what per-asset work needs, in memory that does not grow with the project."""
    query, resolver, wanted = _label_query(conn, status, kinds, categories, batch_keys,
                                           resolver)
    asset = func.coalesce(annotations.c.asset_id, 0)
    limit = size or ASSET_CHUNK
    chunk: list[LabelRow] = []
    with conn.execute(query.order_by(asset, annotations.c.id),
                      execution_options={"yield_per": limit}) as result:
        for r in result:
            label = _label(r, resolver, wanted)
            if label is None:
                continue
            if len(chunk) >= limit and label.asset != chunk[-1].asset:
                yield chunk
                chunk = []
            chunk.append(label)
    if chunk:
        yield chunk


def _empty_rle(size: list[int]) -> dict[str, Any]:
    # Encoding a full-size blank image costs milliseconds; every asset of a batch shares a size.
    return dict(_blank_rle(int(size[0]), int(size[1])))


@lru_cache(maxsize=64)
def _blank_rle(height: int, width: int) -> dict[str, Any]:
    rle: dict[str, Any] = coco_mask.encode(np.zeros((height, width), np.uint8, order="F"))
    return rle


def _merged(rles: list[dict[str, Any]]) -> dict[str, Any]:
    if len(rles) == 1:
        return rles[0]
    merged: dict[str, Any] = coco_mask.merge(rles, intersect=False)
    return merged


def mask_pairs(anns: list[LabelRow]) -> Iterator[PairIoU]:
    """Pairwise mask IoUs per asset, element and category (see the module's rules)."""
    taking_part: dict[tuple[int, str], dict[int, str]] = defaultdict(dict)
    by_key: dict[tuple[int, str, str], dict[int, list[LabelRow]]] = defaultdict(
        lambda: defaultdict(list))
    size: dict[tuple[int, str], list[int]] = {}
    for a in anns:
        if a.kind != "mask" or a.rle is None or a.category is None:
            continue
        taking_part[(a.asset, a.element)][a.submission] = a.worker
        by_key[(a.asset, a.element, a.category)][a.submission].append(a)
        size[(a.asset, a.element)] = a.rle["size"]
    for (asset, element, category), per_sub in sorted(by_key.items()):
        subs = sorted(taking_part[(asset, element)].items())
        empty = _empty_rle(size[(asset, element)])
        rles = [_merged([x.rle for x in per_sub[s] if x.rle is not None]) if s in per_sub
                else empty for s, _ in subs]
        ious = coco_mask.iou(rles, rles, [0] * len(rles))
        for i, j in combinations(range(len(subs)), 2):
            (sa, wa), (sb, wb) = subs[i], subs[j]
            if wa == wb or (sa not in per_sub and sb not in per_sub):
                continue
            yield PairIoU("mask", asset, element, category, wa, wb, sa, sb,
                          tuple(x.id for x in per_sub.get(sa, [])),
                          tuple(x.id for x in per_sub.get(sb, [])), float(ious[i, j]))


def _box_iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]
             ) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def box_pair_iou(boxes_a: list[tuple[float, float, float, float]],
                 boxes_b: list[tuple[float, float, float, float]]) -> float:
    """Greedy one-to-one matching by IoU; matched IoUs summed over the larger box count."""
    if not boxes_a and not boxes_b:
        return float("nan")
    candidates = sorted(((_box_iou(a, b), i, j) for i, a in enumerate(sorted(boxes_a))
                         for j, b in enumerate(sorted(boxes_b))), key=lambda c: -c[0])
    used_a: set[int] = set()
    used_b: set[int] = set()
    total = 0.0
    for iou, i, j in candidates:
        if iou > 0 and i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            total += iou
    return total / max(len(boxes_a), len(boxes_b))


def _box_pairs(anns: list[LabelRow]) -> Iterator[PairIoU]:
    taking_part: dict[tuple[int, str], dict[int, str]] = defaultdict(dict)
    by_key: dict[tuple[int, str, str], dict[int, list[LabelRow]]] = defaultdict(
        lambda: defaultdict(list))
    for a in anns:
        if a.kind != "bbox" or a.box is None or a.category is None:
            continue
        taking_part[(a.asset, a.element)][a.submission] = a.worker
        by_key[(a.asset, a.element, a.category)][a.submission].append(a)
    for (asset, element, category), per_sub in sorted(by_key.items()):
        subs = sorted(taking_part[(asset, element)].items())
        for (sa, wa), (sb, wb) in combinations(subs, 2):
            if wa == wb or (sa not in per_sub and sb not in per_sub):
                continue
            a_list, b_list = per_sub.get(sa, []), per_sub.get(sb, [])
            iou = box_pair_iou([x.box for x in a_list if x.box], [x.box for x in b_list if x.box])
            yield PairIoU("bbox", asset, element, category, wa, wb, sa, sb,
                          tuple(x.id for x in a_list), tuple(x.id for x in b_list), iou)


@dataclass
class _Tally:
    """What the figures of one category need from its pairs, kept as the pairs stream by:
    the IoUs (for the quantiles) and the assets and workers they cover, not the pairs."""

    ious: list[float] = field(default_factory=list)
    assets: set[int] = field(default_factory=set)
    workers: set[str] = field(default_factory=set)

    def add(self, p: PairIoU) -> None:
        self.ious.append(p.iou)
        self.assets.add(p.asset)
        self.workers.update((p.worker_a, p.worker_b))


class _Tallies:
    """Per-category tallies of one kind of pair, and the IoUs of all of them."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.by_category: dict[str, _Tally] = defaultdict(_Tally)

    def add(self, pairs: list[PairIoU]) -> None:
        for p in pairs:
            self.by_category[p.category].add(p)

    def overall(self) -> float | None:
        """The mean IoU of every pair (summed exactly, so the order pairs came in is moot)."""
        count = sum(len(t.ious) for t in self.by_category.values())
        if not count:
            return None
        return math.fsum(v for t in self.by_category.values() for v in t.ious) / count

    def figures(self) -> list[CategoryAgreement]:
        out = []
        for category, t in sorted(self.by_category.items()):
            q = quantiles(t.ious)
            out.append(CategoryAgreement(
                category, self.kind, len(t.ious), len(t.assets), len(t.workers),
                float(np.mean(t.ious)) if t.ious else None, q["median"], q))
        return out


def _classifications(anns: list[LabelRow]) -> tuple[list[ClassAgreement], float | None,
                                                 list[dict[str, Any]]]:
    latest: dict[tuple[str, str, str], LabelRow] = {}
    for a in sorted(anns, key=lambda a: (a.submission, a.id)):
        if a.kind == "class" and a.category is not None:
            latest[(a.element, a.task, a.worker)] = a
    by_element: dict[str, list[LabelRow]] = defaultdict(list)
    for (element, _, _), a in sorted(latest.items()):
        by_element[element].append(a)
    results = []
    units_all: list[str] = []
    values_all: list[str] = []
    for element, items in sorted(by_element.items()):
        units = [a.task for a in items]
        values = [str(a.category) for a in items]
        unit_counts: defaultdict[str, int] = defaultdict(int)
        for u in units:
            unit_counts[u] += 1
        codes = {u: i for i, u in enumerate(sorted(set(units)))}
        alpha = alpha_from_codes([codes[u] for u in units], np.array(values))
        results.append(ClassAgreement(
            element, None if np.isnan(alpha) else alpha, len(codes),
            sum(1 for c in unit_counts.values() if c >= 2), len(items),
            len({a.worker for a in items}), sorted(set(values))))
        units_all += [f"{element}\x1f{u}" for u in units]
        values_all += values
    overall = None
    if units_all:
        codes_all = {u: i for i, u in enumerate(sorted(set(units_all)))}
        value = alpha_from_codes([codes_all[u] for u in units_all], np.array(values_all))
        overall = None if np.isnan(value) else value
    rows = [{"annotation": a.id, "submission": a.submission, "worker": a.worker,
             "element": a.element, "task": a.task, "value": a.category}
            for a in sorted(latest.values(), key=lambda a: a.id)]
    return results, overall, rows


def asset_pairs(chunk: list[LabelRow]) -> tuple[list[PairIoU], list[PairIoU]]:
    """The mask and box pairs of a chunk of whole assets (one work unit of the audit)."""
    return list(mask_pairs(chunk)), [p for p in _box_pairs(chunk) if not np.isnan(p.iou)]


def agreement_audit(project: Project, *, status: str = "all",
                    categories: Collection[str] = (), batches: Collection[str] = (),
                    progress: Progress | None = None, explain: bool = False) -> AgreementAudit:
    """Pairwise IoU per category (masks, boxes) and Krippendorff's alpha per question.

    Masks and boxes are read a chunk of assets at a time, each chunk one work unit for the
    project's executor (this process, or its Dask cluster: the same result either way);
    ``progress`` is called with the chunks done (their number is not known ahead). Each
    chunk's pairs are tallied and dropped; with ``explain`` they are kept too, in ``pairs``
    (one row per pair compared: memory that grows with the project)."""
    masks, boxes = _Tallies("mask"), _Tallies("bbox")
    kept: list[PairIoU] = []
    with project.store.read() as conn:
        resolver = Resolver.of(conn, project)
        notes = resolver.choose(categories)[1]
        classes = read_annotations(conn, status=status, kinds=("class",), batch_keys=batches)
        chunks = asset_chunks(conn, status=status, kinds=("mask", "bbox"),
                              categories=categories, batch_keys=batches, resolver=resolver)
        with executor(project) as ex:
            for done, (m, b) in enumerate(
                    map_bounded(ex, asset_pairs, ((c,) for c in chunks)), 1):
                masks.add(m)
                boxes.add(b)
                if explain:
                    kept += m + b
                tell(progress, done, None)
    per_mask = masks.figures()
    per_box = boxes.figures()
    class_results, overall_alpha, class_rows = _classifications(classes)
    category_means = [c.mean_iou for c in per_mask if c.mean_iou is not None]
    return AgreementAudit(
        status=status, masks=per_mask, boxes=per_box,
        overall_mask_iou=masks.overall(),
        overall_box_iou=boxes.overall(),
        mean_of_category_mask_iou=float(np.mean(category_means)) if category_means else None,
        classifications=class_results, overall_alpha=overall_alpha,
        pairs=sorted(kept, key=lambda p: p.kind != "mask"), class_rows=class_rows,
        notes=notes)
