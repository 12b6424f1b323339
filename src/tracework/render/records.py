"""What the pictures show, read from the records: each worker's work on each asset.

A :class:`Contribution` is one submission on one asset: its annotations, the worker's pseudonym
(never the name they chose to be credited by: a name beside the labels, the review and the
answers would join the person to all of it; names appear only on the closing credits), the
survey answers they consented to publish, what the work paid, how long it took
and how it was reviewed. Annotations and consented answers come from
:func:`tracework.dataset.select_dataset`, the same selection the exports make.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, func, select

from tracework.core.errors import ConfigError, InputError
from tracework.core.model import Annotation, Dataset, Image
from tracework.core.project import Project
from tracework.core.store import chunks
from tracework.core.store.schema import answers, bonuses, reviews, workers
from tracework.core.store.tables_review import review_disputes
from tracework.dataset.select import select_dataset
from tracework.docs.facts import Credits, credits_of
from tracework.render.overlay import Shape
from tracework.review.queue import decisions_in_force

__all__ = [
    "Contribution",
    "Credits",
    "Selection",
    "credits",
    "load_image",
    "select_contributions",
]


@dataclass(frozen=True)
class Contribution:
    """One worker's submission on one asset, as a frame shows it."""

    asset: Image
    submission: int
    worker: str                       # pseudonym, the only name a frame or caption shows
    status: str                       # review status: approved, rejected, submitted, ...
    reason: str                       # the reason of the decision in force, if any
    reward_cents: int | None
    bonus_cents: int
    currency: str
    time_s: float | None
    time_kind: str
    published: bool                   # the worker consented to publish their answers
    survey: tuple[tuple[str, str], ...]           # (question text, answer), consented only
    annotations: tuple[Annotation, ...] = field(default=(), repr=False)
    # Shapes already decoded (e.g. masks in memory); drawn instead of ``annotations`` if given.
    shapes: tuple[Shape, ...] = field(default=(), repr=False)
    bonus_planned_cents: int = 0      # bonuses planned for it, not yet paid (bonus_cents: paid)
    paid_by_bonus: bool = False       # overturned after the reversal window: a bonus pays it
    good_faith: bool = False          # rejected, but done in good faith

    def drawn_shapes(self) -> list[Shape]:
        if self.shapes:
            return list(self.shapes)
        return [Shape(a.category, a.bbox, rle=a.rle) for a in self.annotations]


@dataclass
class Selection:
    """Contributions grouped by asset, in asset order, with the dataset they came from."""

    dataset: Dataset
    by_asset: list[tuple[Image, list[Contribution]]]

    @property
    def contributions(self) -> list[Contribution]:
        return [c for _, group in self.by_asset for c in group]


def _render_config(project: Project) -> dict[str, Any]:
    cfg = project.config.get("render", {})
    if not isinstance(cfg, dict):
        raise ConfigError("tracework.toml [render] must be a table")
    return cfg


def shown_questions(project: Project) -> list[str] | None:
    """``[render] survey_questions``: the questions frames show (None: every consented one)."""
    value = _render_config(project).get("survey_questions")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("tracework.toml [render] survey_questions must be a list of question "
                          "ids, e.g. [\"Q1\", \"Q4\", \"Q9\", \"Q10\"]")
    return list(value)


def _answer_text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value if v not in (None, ""))
    if value is None:
        return ""
    return str(value)


def _survey_items(answers_: dict[str, Any], labels: dict[str, str], hidden: set[str],
                  shown: list[str] | None) -> tuple[tuple[str, str], ...]:
    """(question text, answer) pairs to show, in the order of ``shown`` when given."""
    keys = [k for k in answers_ if k.removesuffix("_other") not in hidden]
    if shown is not None:
        rank = {q: i for i, q in enumerate(shown)}
        keys = sorted((k for k in keys if k.removesuffix("_other") in rank),
                      key=lambda k: (rank[k.removesuffix("_other")], k.endswith("_other")))
    out = []
    for key in keys:
        text = _answer_text(answers_[key])
        if text:
            question = key.removesuffix("_other")
            label = labels.get(question) or question
            out.append((f"{label} (other)" if key != question else label, text))
    return tuple(out)


def _latest_reasons(conn: Connection, submission_ids: Collection[int]) -> dict[int, str]:
    if not submission_ids:
        return {}
    rows = conn.execute(select(reviews.c.submission_id, reviews.c.reason_text,
                               reviews.c.reason_code)
                        .where(reviews.c.submission_id.in_(sorted(submission_ids)))
                        .order_by(reviews.c.submission_id, reviews.c.created_at, reviews.c.id))
    return {r.submission_id: (r.reason_text or r.reason_code or "") for r in rows}


@dataclass
class _Pay:
    """What pays each submission besides its reward."""

    bonus_paid: dict[int, int] = field(default_factory=dict)
    bonus_planned: dict[int, int] = field(default_factory=dict)
    by_bonus: set[int] = field(default_factory=set)
    good_faith: set[int] = field(default_factory=set)


def _pay(conn: Connection, submission_ids: Collection[int]) -> _Pay:
    out = _Pay()
    for part in chunks(sorted(submission_ids)):
        for sid, state, total in conn.execute(
                select(bonuses.c.submission_id, bonuses.c.state, func.sum(bonuses.c.amount_cents))
                .where(bonuses.c.submission_id.in_(part), bonuses.c.state.in_(["paid", "planned"]))
                .group_by(bonuses.c.submission_id, bonuses.c.state)):
            target = out.bonus_paid if state == "paid" else out.bonus_planned
            target[int(sid)] = int(total or 0)
        out.by_bonus.update(int(r.submission_id) for r in conn.execute(
            select(review_disputes.c.submission_id).where(
                review_disputes.c.submission_id.in_(part), review_disputes.c.state == "overturned",
                review_disputes.c.payment == "bonus")))
    decided = decisions_in_force(conn, submission_ids)
    out.good_faith = {sid for sid, d in decided.items() if d.good_faith}
    return out


def _people(conn: Connection, pseudonyms: Collection[str]) -> dict[str, Any]:
    rows = conn.execute(select(workers).where(workers.c.pseudonym.in_(sorted(pseudonyms))))
    return {r.pseudonym: r for r in rows}


def select_contributions(project: Project, *, status: str = "all",
                         batches: Collection[str] = (),
                         categories: Collection[str] = ()) -> Selection:
    """Every (asset, submission) with annotations in the selection, grouped by asset."""
    data = select_dataset(project, status=status, batches_=batches, categories=categories)
    by_submission: dict[int, list[Annotation]] = defaultdict(list)
    for ann in data.annotations:
        by_submission[int(ann.attributes["submission"])].append(ann)
    currency = str(project.config.get("pay", {}).get("currency") or "USD")
    hidden = {str(project.consent_config().get("credit_name_column") or "")}
    shown = shown_questions(project)
    with project.store.read() as conn:
        reasons = _latest_reasons(conn, by_submission)
        pay = _pay(conn, by_submission)
        people = _people(conn, data.workers)
        labels = {r.question: r.label for r in conn.execute(
            select(answers.c.question, answers.c.label).distinct()) if r.label}
    images = {im.id: im for im in data.images}
    grouped: dict[int, list[Contribution]] = defaultdict(list)
    for sid, anns in sorted(by_submission.items()):
        first = anns[0]
        attrs = first.attributes
        person = people.get(first.worker)
        survey = attrs.get("survey")
        published = survey is not None and not (person is not None and person.erased)
        grouped[first.image_id].append(Contribution(
            asset=images[first.image_id], submission=sid, worker=first.worker,
            status=str(attrs["review_status"]), reason=reasons.get(sid, ""),
            reward_cents=attrs.get("reward_cents"), bonus_cents=pay.bonus_paid.get(sid, 0),
            bonus_planned_cents=pay.bonus_planned.get(sid, 0), paid_by_bonus=sid in pay.by_bonus,
            good_faith=sid in pay.good_faith,
            currency=currency, time_s=attrs.get("time_on_task_s"),
            time_kind=str(attrs.get("time_kind") or ""), published=published,
            survey=_survey_items(survey, labels, hidden, shown) if published and survey else (),
            annotations=tuple(anns)))
    by_asset = [(images[i], sorted(grouped[i], key=lambda c: (c.worker, c.submission)))
                for i in sorted(grouped)]
    return Selection(data, by_asset)


def credits(project: Project, contributors: Sequence[str]) -> Credits:
    """The credits of ``contributors``, as the published credits give them: names of workers
    who consented to be credited and were not erased; everyone else counted."""
    with project.store.read() as conn:
        return credits_of(conn, list(contributors))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_image(images_dir: Path | None, asset: Image) -> NDArray[np.uint8]:
    """The asset's image (BGR), checked against the SHA-256 recorded at ingest.

    Without ``images_dir`` the annotations are drawn on a plain grey canvas of the asset's size.
    """
    width, height = max(1, asset.width), max(1, asset.height)
    if images_dir is None:
        return np.full((height, width, 3), 72, np.uint8)
    candidate = images_dir / asset.file_name
    try:
        inside = candidate.is_file() and candidate.resolve().is_relative_to(images_dir.resolve())
    except OSError:
        inside = False
    if not inside:
        raise InputError(f"the image of asset {asset.id} ({asset.file_name}) is not in "
                         f"{images_dir}", file=asset.file_name,
                         hint="Point --images at the folder holding the task images.")
    if asset.sha256 is not None and _sha256(candidate) != asset.sha256:
        raise InputError(f"{asset.file_name} differs from the image recorded at ingest "
                         f"(sha256 {asset.sha256[:12]}…)", file=str(candidate),
                         hint="Point --images at the original task images.")
    read = cv2.imread(str(candidate), cv2.IMREAD_COLOR)
    if read is None:
        raise InputError("cannot be read as an image", file=str(candidate),
                         hint="Use the JPEG/PNG files the tasks showed.")
    image = np.asarray(read, np.uint8)
    if (image.shape[1], image.shape[0]) != (width, height) and asset.width and asset.height:
        raise InputError(f"is {image.shape[1]}x{image.shape[0]} pixels, the asset was recorded "
                         f"as {width}x{height}", file=str(candidate),
                         hint="Point --images at the original task images.")
    return image

