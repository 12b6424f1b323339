"""What the people who made a dataset earned per hour, counting the work that was not paid.

Rules (each figure names the time measure it rests on, ``time_kind``):

- Paid work: submissions with status Approved (an overturned rejection is Approved), and
  rejected submissions whose newest review says they were done in good faith (paid anyway).
- Unpaid work: the other rejected submissions. Their time is counted, not dropped.
- Pending work (Submitted, or any other status): not yet decided; counted separately and left
  out of the hourly figures.
- Pay: the rewards the platform paid plus bonuses in state ``paid``. A reward counts only where
  the platform paid it: an Approved submission, except one whose rejection was overturned after
  the platform's reversal window (the platform kept the rejection; a bonus of the reward pays
  it), and never a rejection done in good faith (the top-up pays its time). Such work is paid
  once, by its bonus. Bonuses still ``planned`` are reported (``bonus_planned_cents``) but are
  not pay until marked paid; cancelled bonuses are nothing. With a batch or platform filter,
  only bonuses tied to a chosen submission count.
- ``hourly_paid`` = pay / time on paid work; ``hourly_all`` = pay / time on paid and unpaid
  work; ``hourly_with_search`` adds the search time a worker reported in the linked survey
  (``[survey] search_time_question``), only for workers who consented to linking.
- Below the floor: ``hourly_all`` under ``[pay] wage_floor_per_hour``.
- Rejection reasons: the newest review's reason code (or text) if there is one, else the
  platform's requester feedback.

Hourly figures are currency units per hour (1.80 = 1.80 USD an hour).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from tracework.audit import records
from tracework.audit.stats import quantiles
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.core.store.schema import batches as batch_table
from tracework.core.store.schema import bonuses, reviews, submissions
from tracework.core.store.tables_review import review_disputes

__all__ = ["LabourAudit", "LabourRow", "LabourSummary", "WorkerLabour", "labour_audit"]

NO_REASON = "(no reason given)"


@dataclass(frozen=True)
class WorkerLabour:
    worker: str
    submissions: int
    approved: int
    rejected: int
    pending: int
    paid_cents: int                    # rewards the platform paid
    bonus_cents: int                   # bonuses paid (planned ones are in bonus_planned_cents)
    paid_seconds: float
    unpaid_seconds: float
    search_seconds: float | None
    hourly_paid: float | None
    hourly_all: float | None
    below_floor: bool | None
    rejected_paid: int = 0             # rejected, but paid as done in good faith
    bonus_paid_cents: int = 0
    bonus_planned_cents: int = 0
    pending_seconds: float = 0.0
    hourly_with_search: float | None = None
    search_lower_bound: bool = False   # the survey answer was an open range ("more than …")


@dataclass(frozen=True)
class LabourRow:
    """One submission as the audit read it (for --explain)."""

    submission: int
    worker: str
    batch: int
    platform: str
    status: str
    paid: bool
    seconds: float | None
    reward_cents: int
    review: int | None
    reason: str
    reward_paid: bool = False          # the platform paid this reward (else a bonus pays it)


@dataclass(frozen=True)
class LabourSummary:
    """The figures of one batch or platform."""

    key: str
    workers: int
    submissions: int
    approved: int
    rejected: int
    pending: int
    rejection_rate: float
    paid_cents: int
    bonus_cents: int
    paid_hours: float
    unpaid_hours: float
    median_hourly_paid: float | None
    median_hourly_all: float | None
    share_below_floor: float | None


@dataclass(frozen=True)
class LabourAudit:
    currency: str
    time_kind: str
    floor_per_hour: float | None
    floor_source: str
    workers: list[WorkerLabour]
    submissions: int
    approved: int
    rejected: int
    pending: int
    rejection_rate: float
    rejection_reasons: dict[str, int]
    total_paid_cents: int
    total_bonus_cents: int
    total_paid_hours: float
    total_unpaid_hours: float
    median_hourly_paid: float | None
    median_hourly_all: float | None
    share_below_floor: float | None
    rejected_paid: int = 0
    total_bonus_paid_cents: int = 0
    total_bonus_planned_cents: int = 0
    total_pending_hours: float = 0.0
    total_search_hours: float = 0.0
    workers_with_search: int = 0
    median_hourly_with_search: float | None = None
    share_below_floor_with_search: float | None = None
    overall_hourly_paid: float | None = None      # all pay / all paid hours
    overall_hourly_all: float | None = None       # all pay / all paid and unpaid hours
    hourly_paid_quantiles: dict[str, float | None] = field(default_factory=dict)
    hourly_all_quantiles: dict[str, float | None] = field(default_factory=dict)
    hourly_with_search_quantiles: dict[str, float | None] = field(default_factory=dict)
    by_batch: list[LabourSummary] = field(default_factory=list)
    by_platform: list[LabourSummary] = field(default_factory=list)
    missing_time: int = 0
    notes: list[str] = field(default_factory=list)
    rows: list[LabourRow] = field(default_factory=list)
    bonus_ids: list[int] = field(default_factory=list)

    def as_dict(self, *, explain: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not explain:
            data.pop("rows")
            data.pop("bonus_ids")
        return data


@dataclass
class _Sub:
    id: int
    worker: str
    batch: int
    batch_key: str
    platform: str
    status: str
    seconds: float | None
    reward: int
    time_kind: str
    review: int | None = None
    good_faith: bool = False
    reason: str = ""
    bonus_paid: int = 0
    bonus_planned: int = 0
    overturned_by_bonus: bool = False

    @property
    def paid(self) -> bool:
        return self.status == "Approved" or (self.status == "Rejected" and self.good_faith)

    @property
    def reward_paid(self) -> bool:
        """Whether the platform paid the reward: not for a rejection (in good faith or not),
        nor for one overturned after the reversal window, which its bonus pays instead."""
        return self.status == "Approved" and not self.overturned_by_bonus

    @property
    def unpaid(self) -> bool:
        return self.status == "Rejected" and not self.good_faith


def _read(conn: Connection, batch_keys: Collection[str], platform: str | None
          ) -> list[_Sub]:
    cols = [submissions.c.id, submissions.c.worker, submissions.c.batch_id, batch_table.c.batch_key,
            submissions.c.platform, submissions.c.status, submissions.c.work_time_s,
            submissions.c.reward_cents, submissions.c.time_kind,
            submissions.c.requester_feedback]
    query = records.submissions_query(cols, batch_keys=batch_keys, platform=platform)
    subs: dict[int, _Sub] = {}
    feedback: dict[int, str] = {}
    for r in conn.execute(query.order_by(submissions.c.id)):
        subs[r.id] = _Sub(int(r.id), r.worker, int(r.batch_id), r.batch_key, r.platform,
                          r.status, None if r.work_time_s is None else float(r.work_time_s),
                          int(r.reward_cents or 0), r.time_kind)
        feedback[r.id] = (r.requester_feedback or "").strip()
    _attach_reviews(conn, subs, feedback)
    for r in conn.execute(select(review_disputes.c.submission_id).where(
            review_disputes.c.state == "overturned", review_disputes.c.payment == "bonus")):
        if r.submission_id in subs:
            subs[r.submission_id].overturned_by_bonus = True
    return list(subs.values())


def _attach_reviews(conn: Connection, subs: dict[int, _Sub], feedback: dict[int, str]) -> None:
    newest: dict[int, Any] = {}
    for r in conn.execute(select(reviews).order_by(reviews.c.created_at, reviews.c.id)):
        if r.submission_id in subs:
            newest[r.submission_id] = r
    for sid, sub in subs.items():
        review = newest.get(sid)
        reason = ""
        if review is not None:
            sub.review, sub.good_faith = int(review.id), bool(review.good_faith)
            reason = (review.reason_code or "").strip() or (review.reason_text or "").strip()
        sub.reason = reason or feedback[sid]


def _attach_bonuses(conn: Connection, project: Project, subs: list[_Sub], filtered: bool
                    ) -> tuple[dict[str, list[int]], list[int]]:
    """Bonuses onto their submissions; worker-level ones (no submission) returned per worker."""
    currency = _currency(project)
    by_id = {s.id: s for s in subs}
    loose: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    used: list[int] = []
    for b in conn.execute(select(bonuses).where(bonuses.c.state.in_(["paid", "planned"]))
                          .order_by(bonuses.c.id)):
        target = by_id.get(b.submission_id) if b.submission_id is not None else None
        if target is None and (b.submission_id is not None or filtered):
            continue
        if b.currency != currency:
            raise InputError(f"bonus {b.id} is in {b.currency}, but [pay] currency is {currency}",
                             hint="Record bonuses in the project's currency.")
        paid = b.state == "paid"
        if target is not None:
            if paid:
                target.bonus_paid += int(b.amount_cents)
            else:
                target.bonus_planned += int(b.amount_cents)
        else:
            loose[b.worker][0 if paid else 1] += int(b.amount_cents)
        used.append(int(b.id))
    return dict(loose), used


def _currency(project: Project) -> str:
    return str(project.config.get("pay", {}).get("currency", "USD"))


def _floor(project: Project) -> tuple[float | None, str]:
    pay = project.config.get("pay", {})
    try:
        value = float(pay.get("wage_floor_per_hour", 0) or 0)
    except (TypeError, ValueError):
        from tracework.core.errors import ConfigError

        raise ConfigError("tracework.toml [pay] wage_floor_per_hour must be a number") from None
    return (value if value > 0 else None), str(pay.get("floor_source", ""))


def _hourly(cents: int, seconds: float) -> float | None:
    return (cents / 100.0) / (seconds / 3600.0) if seconds > 0 else None


@dataclass
class _Search:
    minutes: dict[str, tuple[float, bool]]
    per: str


def _search_minutes(conn: Connection, project: Project) -> _Search:
    cfg = records.survey_settings(project)
    if cfg.search_time_question is None:
        return _Search({}, cfg.search_time_unit)
    out: dict[str, tuple[float, bool]] = {}
    for worker, value in records.linked_answers(conn, cfg.search_time_question).items():
        if not isinstance(value, str) or not value.strip():
            continue
        if value in cfg.search_minutes:
            out[worker] = (cfg.search_minutes[value], False)
        else:
            parsed = records.parse_minutes(value)
            if parsed is not None:
                out[worker] = parsed
    return _Search(out, cfg.search_time_unit)


def _worker(worker: str, subs: list[_Sub], loose: list[int], search: _Search,
            floor: float | None) -> WorkerLabour:
    paid = [s for s in subs if s.paid]
    unpaid = [s for s in subs if s.unpaid]
    paid_s = sum(s.seconds or 0.0 for s in paid)
    unpaid_s = sum(s.seconds or 0.0 for s in unpaid)
    reward = sum(s.reward for s in subs if s.reward_paid)
    b_paid = sum(s.bonus_paid for s in subs) + loose[0]
    b_planned = sum(s.bonus_planned for s in subs) + loose[1]
    pay = reward + b_paid          # a planned bonus is not pay until it is paid
    hourly_all = _hourly(pay, paid_s + unpaid_s)
    search_s, bound, with_search = None, False, None
    if worker in search.minutes and (paid or unpaid):
        minutes, bound = search.minutes[worker]
        worked = paid_s + unpaid_s
        search_s = (minutes * 60.0 * (len(paid) + len(unpaid)) if search.per == "task"
                    else minutes * 60.0 * worked / 3600.0)
        with_search = _hourly(pay, worked + search_s)
    return WorkerLabour(
        worker=worker, submissions=len(subs),
        approved=sum(1 for s in subs if s.status == "Approved"),
        rejected=sum(1 for s in subs if s.status == "Rejected"),
        pending=sum(1 for s in subs if s.status not in ("Approved", "Rejected")),
        paid_cents=reward, bonus_cents=b_paid, paid_seconds=paid_s,
        unpaid_seconds=unpaid_s, search_seconds=search_s, hourly_paid=_hourly(pay, paid_s),
        hourly_all=hourly_all,
        below_floor=None if floor is None or hourly_all is None else hourly_all < floor,
        rejected_paid=sum(1 for s in subs if s.status == "Rejected" and s.good_faith),
        bonus_paid_cents=b_paid, bonus_planned_cents=b_planned,
        pending_seconds=sum(s.seconds or 0.0 for s in subs if not s.paid and not s.unpaid),
        hourly_with_search=with_search, search_lower_bound=bound)


def _share_below(values: Iterable[float | None], floor: float | None) -> float | None:
    known = [v for v in values if v is not None]
    if floor is None or not known:
        return None
    return sum(1 for v in known if v < floor) / len(known)


def _per_worker(subs: list[_Sub], loose: dict[str, list[int]], search: _Search,
                floor: float | None) -> list[WorkerLabour]:
    grouped: dict[str, list[_Sub]] = defaultdict(list)
    for s in subs:
        grouped[s.worker].append(s)
    return [_worker(w, grouped[w], loose.get(w, [0, 0]), search, floor)
            for w in sorted(grouped)]


def _summary(key: str, people: list[WorkerLabour], floor: float | None) -> LabourSummary:
    approved = sum(p.approved for p in people)
    rejected = sum(p.rejected for p in people)
    return LabourSummary(
        key=key, workers=len(people), submissions=sum(p.submissions for p in people),
        approved=approved, rejected=rejected, pending=sum(p.pending for p in people),
        rejection_rate=rejected / (approved + rejected) if approved + rejected else 0.0,
        paid_cents=sum(p.paid_cents for p in people),
        bonus_cents=sum(p.bonus_cents for p in people),
        paid_hours=sum(p.paid_seconds for p in people) / 3600.0,
        unpaid_hours=sum(p.unpaid_seconds for p in people) / 3600.0,
        median_hourly_paid=quantiles([p.hourly_paid for p in people])["median"],
        median_hourly_all=quantiles([p.hourly_all for p in people])["median"],
        share_below_floor=_share_below((p.hourly_all for p in people), floor))


def _breakdown(subs: list[_Sub], key: str, search: _Search, floor: float | None
               ) -> list[LabourSummary]:
    groups: dict[str, list[_Sub]] = defaultdict(list)
    for s in subs:
        groups[s.batch_key if key == "batch" else s.platform].append(s)
    return [_summary(k, _per_worker(v, {}, search, floor), floor)
            for k, v in sorted(groups.items())]


def _time_kind(subs: list[_Sub], notes: list[str]) -> str:
    kinds = sorted({s.time_kind for s in subs})
    if len(kinds) > 1:
        notes.append("the submissions measure time in different ways (" + ", ".join(kinds)
                     + "); hours add them up as they are")
        return "mixed: " + ", ".join(kinds)
    return kinds[0] if kinds else "none"


def labour_audit(project: Project, *, batches: Collection[str] = (),
                 platform: str | None = None) -> LabourAudit:
    """Pay, paid and unpaid time and effective hourly pay per worker, batch and platform."""
    floor, floor_source = _floor(project)
    with project.store.read() as conn:
        subs = _read(conn, batches, platform)
        loose, bonus_ids = _attach_bonuses(conn, project, subs, bool(batches or platform))
        search = _search_minutes(conn, project)
    notes: list[str] = []
    kind = _time_kind(subs, notes)
    people = _per_worker(subs, loose, search, floor)
    overall = _summary("all", people, floor)
    pending = [s for s in subs if not s.paid and not s.unpaid]
    if pending:
        notes.append(f"{len(pending)} submission(s) not yet decided are left out of the hourly "
                     "figures")
    missing = sum(1 for s in subs if s.seconds is None)
    if missing:
        notes.append(f"{missing} submission(s) have no recorded time; they add no hours")
    reasons = Counter((s.reason or NO_REASON) for s in subs if s.status == "Rejected")
    pay = sum(p.paid_cents + p.bonus_cents for p in people)
    paid_s = sum(p.paid_seconds for p in people)
    unpaid_s = sum(p.unpaid_seconds for p in people)
    with_search = [p.hourly_with_search for p in people]
    rows = [LabourRow(s.id, s.worker, s.batch, s.platform, s.status, s.paid, s.seconds,
                      s.reward, s.review, s.reason, s.reward_paid)
            for s in sorted(subs, key=lambda s: s.id)]
    return LabourAudit(
        currency=_currency(project), time_kind=kind, floor_per_hour=floor,
        floor_source=floor_source, workers=people, submissions=overall.submissions,
        approved=overall.approved, rejected=overall.rejected, pending=overall.pending,
        rejection_rate=overall.rejection_rate,
        rejection_reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        total_paid_cents=overall.paid_cents, total_bonus_cents=overall.bonus_cents,
        total_paid_hours=paid_s / 3600.0, total_unpaid_hours=unpaid_s / 3600.0,
        median_hourly_paid=overall.median_hourly_paid,
        median_hourly_all=overall.median_hourly_all,
        share_below_floor=overall.share_below_floor,
        rejected_paid=sum(p.rejected_paid for p in people),
        total_bonus_paid_cents=sum(p.bonus_paid_cents for p in people),
        total_bonus_planned_cents=sum(p.bonus_planned_cents for p in people),
        total_pending_hours=sum(p.pending_seconds for p in people) / 3600.0,
        total_search_hours=sum(p.search_seconds or 0.0 for p in people) / 3600.0,
        workers_with_search=sum(1 for p in people if p.search_seconds is not None),
        median_hourly_with_search=quantiles(with_search)["median"],
        share_below_floor_with_search=_share_below(with_search, floor),
        overall_hourly_paid=_hourly(pay, paid_s), overall_hourly_all=_hourly(pay, paid_s + unpaid_s),
        hourly_paid_quantiles=quantiles([p.hourly_paid for p in people]),
        hourly_all_quantiles=quantiles([p.hourly_all for p in people]),
        hourly_with_search_quantiles=quantiles(with_search),
        by_batch=_breakdown(subs, "batch", search, floor),
        by_platform=_breakdown(subs, "platform", search, floor),
        missing_time=missing, notes=notes, rows=rows, bonus_ids=bonus_ids)
