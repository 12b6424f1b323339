"""The exported dataset in one canonical shape: what every export format is built from.

:func:`select` reads a project into a :class:`Dataset`, applying the user's choice of batch,
review status and category, and attaching to each annotation its provenance: who made it
(pseudonym), in which submission and batch, under which review status and taxonomy version,
how long it took (and which kind of time that is), and what it paid. A worker's survey answers
travel only when that worker consented to publication; otherwise the key is absent. Free-text
answers travel only where the project's ``[export]`` table publishes them; the name a worker
chose to be credited by never travels with the labels.
"""


import heapq
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Select, select

from tracework.core import ledger
from tracework.core.errors import InputError
from tracework.core.model import LAYERS, STATUSES, Annotation, Dataset, Image
from tracework.core.project import Category, Project
from tracework.core.store import chunks
from tracework.core.store.schema import (
    annotations,
    assets,
    batches,
    submissions,
)
from tracework.core.taxonomy import Resolved, Resolver
from tracework.dataset.policy import consenting, latest_answers, survey_policy
from tracework.dataset.supervision import Extras

__all__ = ["STREAM_ROWS", "Labels", "Selection", "open_selection", "select_dataset"]


# Rows read from the store at a time while streaming the selection.
STREAM_ROWS = 2_000


def _published_answers(project: Project, conn: Connection,
                       pseudonyms: Collection[str]) -> dict[str, dict[str, Any]]:
    """Survey answers of workers who consented to publication, latest response per worker,
    less free text the project does not publish (the rules of :mod:`tracework.dataset.policy`;
    the credit-name column never: names leave only in the credits)."""
    policy = survey_policy(project, conn)
    return latest_answers(conn, consenting(conn, pseudonyms, link=False), policy.publishes)


def _status_values(status: str) -> list[str] | None:
    if status not in STATUSES:
        raise InputError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}",
                         field="--status")
    return None if status == "all" else [status.capitalize()]


@dataclass
class Labels:
    """What the selected labels add up to, counted without holding them."""

    total: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    kinds: tuple[str, ...] = ()
    people: dict[int, int] = field(default_factory=dict)      # image id -> annotators
    per_image: dict[int, int] = field(default_factory=dict)   # image id -> labels

    @classmethod
    def of(cls, anns: Iterable[Annotation]) -> "Labels":
        by_category: Counter[str] = Counter()
        kinds: set[str] = set()
        people: dict[int, set[str]] = defaultdict(set)
        per_image: Counter[int] = Counter()
        total = 0
        for ann in anns:
            total += 1
            by_category[ann.category] += 1
            kinds.add(ann.kind)
            people[ann.image_id].add(ann.worker)
            per_image[ann.image_id] += 1
        return cls(total, dict(by_category), tuple(sorted(kinds)),
                   {image: len(who) for image, who in people.items()}, dict(per_image))


@dataclass
class Selection:
    """A selection read in one consistent snapshot, its labels streamed from the store.

    ``data`` is the :class:`Dataset` without its annotations (categories, images, workers,
    published answers, ledger head, filters, notes); ``labels`` counts them; iterate
    :meth:`annotations` (in export order) or :meth:`by_image` (each image with its labels)
    while the selection is open.
    """

    data: Dataset
    labels: Labels
    _conn: Connection
    _query: Select[Any] | None
    _resolver: Resolver
    _wanted: set[str] | None
    _aggregates: Callable[[], Iterator[Annotation]] | None
    _both: bool
    _extras: Extras

    def annotations(self) -> Iterator[Annotation]:
        """Every selected label: the individual ones by image, then the aggregated ones."""
        yield from self._individual()
        if self._aggregates is not None:
            yield from self._aggregates()

    def by_image(self) -> Iterator[tuple[Image, list[Annotation]]]:
        """Each image (in id order) with its labels, individual ones first."""
        images = {im.id: im for im in self.data.images}
        layers = [self._individual()]
        if self._aggregates is not None:
            layers.append(self._aggregates())
        merged = heapq.merge(*layers, key=lambda a: a.image_id)
        for image_id, anns in groupby(merged, key=lambda a: a.image_id):
            yield images[image_id], list(anns)

    def _individual(self) -> Iterator[Annotation]:
        if self._query is None:
            return
        published = self.data.published_answers
        with self._conn.execute(self._query,
                                execution_options={"yield_per": STREAM_ROWS}) as rows:
            for r in rows:
                found = self._resolver.resolve(r.category, r.taxonomy_version)
                if self._wanted is None or found.current in self._wanted:
                    ann = _annotation(r, found, published, self._extras)
                    if self._both:
                        ann.attributes["layer"] = "individual"
                    yield ann


def select_dataset(project: Project, *, status: str = "approved",
                   batches_: Collection[str] = (), categories: Collection[str] = (),
                   layer: str = "individual") -> Dataset:
    """Read the annotations to export, with their provenance, from one consistent snapshot.

    ``layer`` chooses individual labels (default), aggregated ones, or both (see LAYERS).
    Holds every annotation in memory: the exports stream through :func:`open_selection`.
    """
    with open_selection(project, status=status, batches_=batches_, categories=categories,
                        layer=layer) as chosen:
        chosen.data.annotations = list(chosen.annotations())
        return chosen.data


def _query(resolver: Resolver, chosen: list[str], wanted_status: list[str] | None,
           batches_: Collection[str], categories: Collection[str],
           columns: Sequence[Any]) -> Select[Any]:
    query = (select(*columns)
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
    return query


@contextmanager
def open_selection(project: Project, *, status: str = "approved",
                   batches_: Collection[str] = (), categories: Collection[str] = (),
                   layer: str = "individual") -> Iterator[Selection]:
    """The selection of :func:`select_dataset`, its annotations streamed: a first pass reads
    only what the header needs (image, worker, category of each label), the labels
    themselves are read when iterated, in chunks, inside the same snapshot."""
    if layer not in LAYERS:
        raise InputError(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}",
                         field="--layer")
    wanted_status = _status_values(status)
    with project.store.read() as conn:
        resolver = Resolver.of(conn, project)
        chosen, notes = resolver.choose(categories)
        wanted = set(chosen) if categories else None
        light = [annotations.c.asset_id, annotations.c.worker, annotations.c.category,
                 annotations.c.taxonomy_version, annotations.c.kind,
                 batches.c.id.label("batch_id")]
        query: Select[Any] | None = None
        labels = Labels()
        asset_ids: set[int] = set()
        workers_: set[str] = set()
        batch_ids: set[int] = set()
        if layer != "aggregate":
            query = _query(resolver, chosen, wanted_status, batches_, categories, [
                annotations, submissions.c.assignment_id, submissions.c.status,
                submissions.c.work_time_s, submissions.c.time_kind, submissions.c.reward_cents,
                submissions.c.task_id, batches.c.id.label("batch_id"), batches.c.batch_key,
                batches.c.platform])
            labels = _count(conn, _query(resolver, chosen, wanted_status, batches_, categories,
                                         light), resolver, wanted, asset_ids, workers_,
                            batch_ids)
        aggregates: Callable[[], Iterator[Annotation]] | None = None
        if layer != "individual":
            from tracework.dataset.layer import iter_aggregates

            def aggregates() -> Iterator[Annotation]:
                return iter_aggregates(conn, resolver, wanted, batches_)

            counted = Labels.of(_collect(aggregates(), asset_ids, workers_))
            labels = _add(labels, counted)
        images = _images(conn, sorted(asset_ids))
        contributing = sorted(workers_)
        published = _published_answers(project, conn, contributing)
        extras = Extras.of(project, conn, batch_ids, contributing)
        seq, head = ledger.head(conn)
        shown, filters = _shown(resolver, chosen, notes, labels, status=status,
                                batches_=batches_, categories=categories, layer=layer)
        data = Dataset(name=project.name, categories=shown, images=images, annotations=[],
                       published_answers=published, workers=contributing, ledger_head=head,
                       ledger_entries=seq, filters=filters, notes=notes,
                       value_chains=extras.in_key_order())
        yield Selection(data, labels, conn, query, resolver, wanted, aggregates,
                        layer == "both", extras)


def _shown(resolver: Resolver, chosen: list[str], notes: list[str], labels: Labels, *,
           status: str, batches_: Collection[str], categories: Collection[str],
           layer: str) -> tuple[list[Category], dict[str, Any]]:
    """The categories the export lists and the filters its manifest records; a note added
    to ``notes`` for labels made under categories no longer in force."""
    used = set(labels.by_category)
    shown = resolver.categories(chosen if categories else chosen + sorted(used))
    filters: dict[str, Any] = {"status": status, "batches": list(batches_),
                               "categories": [c.name for c in shown]}
    if notes:
        filters["category_notes"] = list(notes)
    if layer != "individual":
        filters["layer"] = layer
    retired = sorted(n for n in used if not resolver.in_force(n))
    if retired:
        count = sum(labels.by_category[n] for n in retired)
        notes.append(f"{count} label{'s' if count != 1 else ''} made under categories no "
                     f"longer in force {'are' if count != 1 else 'is'} exported as "
                     f"{', '.join(map(repr, retired))}; `tracework taxonomy pending` lists "
                     "them for relabelling")
    return shown, filters


def _count(conn: Connection, query: Select[Any], resolver: Resolver, wanted: set[str] | None,
           asset_ids: set[int], workers_: set[str], batch_ids: set[int]) -> Labels:
    """The header pass: count the labels the full query will yield, by category, kind and
    annotators per image, collecting their images and workers."""
    by_category: Counter[str] = Counter()
    kinds: set[str] = set()
    people: dict[int, set[str]] = defaultdict(set)
    per_image: Counter[int] = Counter()
    total = 0
    with conn.execute(query, execution_options={"yield_per": STREAM_ROWS}) as rows:
        for r in rows:
            current = resolver.resolve(r.category, r.taxonomy_version).current
            if wanted is not None and current not in wanted:
                continue
            total += 1
            by_category[current] += 1
            kinds.add(r.kind)
            people[r.asset_id].add(r.worker)
            per_image[r.asset_id] += 1
            workers_.add(r.worker)
            batch_ids.add(int(r.batch_id))
            if r.asset_id is not None:
                asset_ids.add(r.asset_id)
    return Labels(total, dict(by_category), tuple(sorted(kinds)),
                  {image: len(who) for image, who in people.items()}, dict(per_image))


def _collect(anns: Iterator[Annotation], asset_ids: set[int],
             workers_: set[str]) -> Iterator[Annotation]:
    """``anns`` as they pass, their images and the workers they combine collected."""
    for ann in anns:
        asset_ids.add(ann.image_id)
        workers_.update(ann.attributes["workers"])
        yield ann


def _add(a: Labels, b: Labels) -> Labels:
    """Both counts together (an image's annotators add: the aggregate is one more maker)."""
    return Labels(a.total + b.total, dict(Counter(a.by_category) + Counter(b.by_category)),
                  tuple(sorted(set(a.kinds) | set(b.kinds))),
                  dict(Counter(a.people) + Counter(b.people)),
                  dict(Counter(a.per_image) + Counter(b.per_image)))


def _images(conn: Connection, asset_ids: list[int]) -> list[Image]:
    return [Image(a.id, a.file_name, int(a.width or 0), int(a.height or 0), a.uri, a.sha256)
            for part in chunks(asset_ids)
            for a in conn.execute(select(assets).where(assets.c.id.in_(part))
                                  .order_by(assets.c.id))]


def _annotation(r: Any, found: Resolved, published: dict[str, dict[str, Any]],
                extras: Extras) -> Annotation:
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
    attributes.update(extras.attributes(r.id, r.worker, r.batch_id))  # value chain, handle
    if r.worker in published:
        attributes["survey"] = published[r.worker]
    rle = None
    if r.kind in ("mask", "polygon") and r.rle_counts is not None:
        rle = {"size": [r.height, r.width], "counts": r.rle_counts}
    polygon = json.loads(r.value) if r.kind == "polygon" and r.value else None
    return Annotation(
        id=r.id, image_id=r.asset_id, category=found.current, kind=r.kind,
        bbox=(float(r.bbox_x), float(r.bbox_y), float(r.bbox_w), float(r.bbox_h)),
        area=float(r.area), rle=rle, worker=r.worker, attributes=attributes,
        polygon=polygon)
