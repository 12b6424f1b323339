"""The canonical record of annotation work, as every platform reader hands it to ingest.

A reader (Label Studio, CVAT, SageMaker Ground Truth, Prolific, Toloka) turns its file into
one :class:`PlatformFile`: the batches it names and, streamed, one :class:`Work` per
submission. Ingest (``tracework.ingest.platforms``) writes them in one transaction, sends every
:class:`Person` to the vault and keeps only pseudonyms everywhere else.

What a reader must hold to:

- Identity lives only in :class:`Person`: the platform's id for the person and every other
  personal value the file carries (e-mail, names, user names of drafts). No personal value may
  appear in ``Work.raw``, ``Label.value``, ``Label.attributes`` or a feedback text; readers
  remove them from the raw record and put them in ``Person.personal``.
- Where a file names no person (a Ground Truth manifest without worker response files, a CVAT
  job without assignee), ``Work.worker`` is ``None`` and ``Work.attribution`` says what the work
  is attributed to; ingest then records it under the job, never under an invented worker.
- Times are timezone-aware :class:`datetime` values or ``None``; ``work_time_s`` is the time the
  file states, and ``time_kind`` names what it measures (see ``TIME_KINDS``).
- Everything the reader did not turn into a label is counted in ``Work.unconverted`` by kind,
  and kept in ``Work.raw``: nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["ATTRIBUTIONS", "LABEL_KINDS", "STATUSES", "TIME_KINDS", "Attribution", "Batch",
           "Label", "LabelKind", "Person", "PlatformFile", "Review", "Work"]

# The statuses a submission can have, in the store's own spelling (MTurk's, which the review
# room speaks). ``Returned`` is work a person gave back before submitting, ``Abandoned`` work
# that timed out: both count as time spent without pay in the labour audit.
STATUSES = ("Submitted", "Approved", "Rejected", "Returned", "Abandoned")

# What ``work_time_s`` measures.
TIME_KINDS = {
    "wall_clock_accept_to_submit": "from accepting the task to submitting it (MTurk, Toloka)",
    "active_seconds": "seconds the tool saw the person working (Label Studio lead_time)",
    "platform_time_taken": "the time the platform reports (Prolific time taken)",
    "reported_time_spent": "the time the job's worker responses report (Ground Truth)",
    "unknown": "the file states no time",
}

LabelKind = Literal["bbox", "polygon", "polyline", "mask", "keypoints", "class", "labels", "text"]
LABEL_KINDS: tuple[LabelKind, ...] = ("bbox", "polygon", "polyline", "mask", "keypoints",
                                      "class", "labels", "text")

Attribution = Literal["worker", "job_assignee", "job"]
ATTRIBUTIONS: tuple[Attribution, ...] = ("worker", "job_assignee", "job")


@dataclass(frozen=True)
class Person:
    """Who did the work, as the platform knows them: all of it goes to the vault."""

    platform_id: str
    personal: Mapping[str, str] = field(default_factory=dict)  # e-mail, names, user name …


@dataclass(frozen=True)
class Label:
    """One label in image pixels (not percent, not normalised).

    ``bbox`` is (x, y, width, height) from the top left; ``polygon`` a list of flat rings
    ``[x0, y0, x1, y1, …]``; ``mask`` a COCO RLE dict ``{"size": [h, w], "counts": str}``
    (compressed); ``keypoints`` a flat ``[x0, y0, x1, y1, …]``; ``value`` the JSON-able answer
    of a ``class``, ``labels`` or ``text`` label. ``category`` is the class name for geometry
    and single choices, ``None`` for multi-label and text answers.
    """

    element: str                      # the question or tool the label answers (from_name, …)
    kind: LabelKind
    category: str | None
    bbox: tuple[float, float, float, float] | None = None
    polygon: list[list[float]] | None = None
    mask: Mapping[str, Any] | None = None
    keypoints: list[float] | None = None
    value: Any = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Review:
    """A decision the file records about the work, with its reason when there is one."""

    status: str                       # one of STATUSES: Approved or Rejected
    reason: str = ""
    reviewer: Person | None = None
    time: datetime | None = None


@dataclass(frozen=True)
class Batch:
    """A unit of posted work: a Label Studio project, a CVAT task, a Ground Truth job, a
    Prolific study, a Toloka pool."""

    key: str
    title: str = ""
    description: str = ""
    reward_cents: int | None = None
    time_allotted_s: int | None = None
    max_assignments: int | None = None
    created_at: datetime | None = None


@dataclass
class Work:
    """One submission: one person's (or one job's) answer to one task.

    ``row`` is where it sits in the file (line, row or record number, 1-based) for error
    messages; ``assignment_id`` is unique within the platform and stable across re-downloads,
    so re-importing the same work adds nothing.
    """

    row: int
    assignment_id: str
    task_id: str
    batch_key: str
    worker: Person | None
    attribution: Attribution = "worker"
    status: str = "Submitted"
    asset_uri: str | None = None
    asset_width: int | None = None
    asset_height: int | None = None
    accept_time: datetime | None = None
    submit_time: datetime | None = None
    work_time_s: float | None = None
    time_kind: str = "unknown"
    reward_cents: int | None = None
    bonus_cents: int | None = None
    feedback: str = ""                # the requester's or reviewer's words to the worker
    labels: list[Label] = field(default_factory=list)
    review: Review | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the record as read, identity removed
    unconverted: dict[str, int] = field(default_factory=dict)


@dataclass
class PlatformFile:
    """What one file holds. ``works`` may be a generator: ingest streams it once.

    ``notes`` are sentences the import report shows as they are, e.g. that CVAT work is
    attributed to the job's assignee, or that per-worker provenance needs the Ground Truth
    worker response files.
    """

    platform: str
    batches: list[Batch]
    works: Iterable[Work]
    notes: list[str] = field(default_factory=list)
