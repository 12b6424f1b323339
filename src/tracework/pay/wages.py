"""Pay to the floor: top up every worker's effective hourly pay to the project's wage floor.

The floor is the ``[pay]`` policy of tracework.toml (amount per hour, currency, its source and
date). Completed work is every Approved submission, Rework that the platform pays (see
``rework_upload`` in ``[review]``) and, with ``pay_good_faith_rejections``, rejected work a
reviewer marked as done in good faith. Its time is measured the way the project trusts
(``time_measure``): ``platform`` (work_time_s as the platform recorded it), ``pilot_median``
(``pilot_median_s`` seconds per task, from a timed pilot) or ``survey`` (the worker's own
per-task time from ``survey_time_question``, in the unit the answer names or else
``survey_time_unit``, used only with their consent to link; other workers fall back to platform
time, and the report says so).

Per worker: target = floor × hours, rounded up to the cent; earned = the rewards the platform
paid for that work + bonuses already paid for it + bonuses already planned for it (reported
apart, ``planned_cents``: planned is owed, not paid); bonus = target − earned when positive.
Work paid by a bonus instead of its reward (a rejection overturned after the platform's reversal
window, a rejection done in good faith) brings no reward: its bonus pays it, once. Each bonus
gets a deterministic idempotency token (also the platform's UniqueRequestToken), and earlier
bonuses count as earned, so running again pays nothing more.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity
from tracework.core.errors import ConfigError, InputError, NotFound
from tracework.core.ledger import LedgerWriter, now
from tracework.core.project import Project
from tracework.core.safecsv import csv_text
from tracework.core.store import chunks, inserted_id
from tracework.core.store.schema import answers, bonuses, responses, submissions, workers
from tracework.core.store.tables_review import review_disputes
from tracework.review.common import batch_ids
from tracework.review.decisions import review_config
from tracework.review.platform import platform_ids, write_private
from tracework.review.queue import decisions_in_force
from tracework.review.reasons import check_reason, reason_problem

__all__ = [
    "BONUS_COLUMNS",
    "PayPolicy",
    "TopupReport",
    "WorkerTopup",
    "BonusFileReport",
    "pay_policy",
    "topup",
    "export_bonuses",
    "mark_paid",
    "money",
    "survey_seconds",
    "PAY_TEMPLATE",
]

TimeMeasure = Literal["platform", "pilot_median", "survey"]
BONUS_COLUMNS = ("WorkerId", "AssignmentId", "BonusAmount", "Reason", "UniqueRequestToken")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# A unit word in a survey answer ("1h–2 hours", "10–30 minutes") overrides survey_time_unit.
_UNIT_WORDS = re.compile(r"(?<![a-z])(h|hrs?|hours?|min|mins|minutes?|s|secs?|seconds?)(?![a-z])",
                         re.IGNORECASE)
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}

PAY_TEMPLATE = """\
# How time is measured for pay to the floor (`tracework pay topup`):
#   "platform"      the platform's work time (accept to submit)
#   "pilot_median"  pilot_median_s seconds per task, from a timed pilot
#   "survey"        each worker's own per-task time from survey_time_question (a number, or
#                   a range like "10-15", its middle), in survey_time_unit unless the answer
#                   names its unit ("1-2 hours"); only for workers who consented to linking,
#                   others fall back to platform time
time_measure = "platform"
pilot_median_s = 0
survey_time_question = ""
survey_time_unit = "minutes"
# Pay rejected work that a reviewer marked as done in good faith (review decide --good-faith).
pay_good_faith_rejections = true
"""


def money(cents: int) -> str:
    """``150`` → ``"1.50"``: the platform's amount format."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


@dataclass(frozen=True)
class PayPolicy:
    currency: str
    floor_per_hour: Decimal
    floor_source: str
    floor_date: str
    time_measure: TimeMeasure
    pilot_median_s: float
    survey_question: str
    survey_unit: Literal["minutes", "seconds"]
    good_faith: bool

    def describe(self) -> str:
        return (f"{self.floor_per_hour:.2f} {self.currency} per hour"
                + (f" ({', '.join(x for x in (self.floor_source, self.floor_date) if x)})"
                   if self.floor_source or self.floor_date else ""))


def pay_policy(project: Project) -> PayPolicy:
    """The ``[pay]`` section, checked."""
    pay = project.config.get("pay", {})
    if not isinstance(pay, dict):
        raise ConfigError("tracework.toml: [pay] must be a table")
    try:
        floor = Decimal(str(pay.get("wage_floor_per_hour", 0)))
    except InvalidOperation:
        raise ConfigError("tracework.toml [pay] wage_floor_per_hour must be a number") from None
    measure = pay.get("time_measure", "platform")
    if measure not in ("platform", "pilot_median", "survey"):
        raise ConfigError(f"tracework.toml [pay] time_measure = {measure!r} must be platform, "
                          "pilot_median or survey")
    pilot = pay.get("pilot_median_s", 0)
    if isinstance(pilot, bool) or not isinstance(pilot, (int, float)) or pilot < 0:
        raise ConfigError("tracework.toml [pay] pilot_median_s must be a number of seconds")
    if measure == "pilot_median" and pilot <= 0:
        raise ConfigError("tracework.toml [pay] time_measure = \"pilot_median\" needs "
                          "pilot_median_s, the pilot's median seconds per task")
    question = str(pay.get("survey_time_question", "") or "")
    if measure == "survey" and not question:
        raise ConfigError("tracework.toml [pay] time_measure = \"survey\" needs "
                          "survey_time_question, the question id holding time per task")
    unit = pay.get("survey_time_unit", "minutes")
    if unit not in ("minutes", "seconds"):
        raise ConfigError("tracework.toml [pay] survey_time_unit must be minutes or seconds")
    return PayPolicy(str(pay.get("currency", "USD")), floor, str(pay.get("floor_source", "")),
                     str(pay.get("floor_date", "")), measure, float(pilot), question, unit,
                     bool(pay.get("pay_good_faith_rejections", True)))


@dataclass
class WorkerTopup:
    worker: str
    submissions: int
    time_s: float
    time_measure: str
    earned_cents: int
    target_cents: int
    bonus_cents: int
    state: str  # planned | already-planned | at-floor
    token: str | None = None
    anchor_submission: int | None = None
    paid_cents: int = 0       # of earned: rewards and bonuses the platform paid
    planned_cents: int = 0    # of earned: earlier bonuses planned, not yet paid

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TopupReport:
    floor: str
    currency: str
    time_measure: str
    workers: list[WorkerTopup] = field(default_factory=list)
    planned: int = 0
    planned_cents: int = 0
    missing_time: int = 0
    survey_fallbacks: int = 0
    bonus_file: str | None = None
    bonus_file_rows: int = 0
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["workers"] = [w.as_dict() for w in self.workers]
        return out


@dataclass
class _Work:
    ids: list[int] = field(default_factory=list)
    time_s: float = 0.0
    reward_cents: int = 0
    anchor: int | None = None


def _survey_times(conn: Connection, policy: PayPolicy) -> dict[str, float]:
    """Per-task seconds each consenting worker reported."""
    out: dict[str, float] = {}
    rows = conn.execute(
        select(responses.c.worker, answers.c.value)
        .join(answers, answers.c.response_id == responses.c.id)
        .join(workers, workers.c.pseudonym == responses.c.worker)
        .where(answers.c.question == policy.survey_question,
               workers.c.consent_link.is_(True)).order_by(responses.c.id))
    for r in rows:
        seconds = survey_seconds(str(r.value or ""), policy.survey_unit)
        if seconds is not None:
            out[r.worker] = seconds
    return out


def survey_seconds(answer: str, unit: Literal["minutes", "seconds"] = "minutes"
                   ) -> float | None:
    """Seconds per task from a survey answer: a number or the middle of a range, in the unit
    the answer names (the first unit word) or else in ``unit``; None without a number."""
    numbers = [float(n.replace(",", ".")) for n in _NUMBER.findall(answer)][:2]
    if not numbers:
        return None
    named = _UNIT_WORDS.search(answer)
    key = named.group(1)[0].lower() if named else unit[0]
    return sum(numbers) / len(numbers) * _UNIT_SECONDS[key]


def _completed(conn: Connection, project: Project, policy: PayPolicy,
               scope: list[int] | None, report: TopupReport) -> dict[str, _Work]:
    rework_paid = review_config(project).rework_upload == "approve"
    statuses = ["Approved", "Rejected"] + (["Rework"] if rework_paid else [])
    query = select(submissions.c.id, submissions.c.worker, submissions.c.status,
                   submissions.c.work_time_s, submissions.c.reward_cents).where(
        submissions.c.status.in_(statuses)).order_by(submissions.c.id)
    if scope is not None:
        query = query.where(submissions.c.batch_id.in_(scope))
    subs = list(conn.execute(query))
    decided = decisions_in_force(conn, [int(s.id) for s in subs])
    by_bonus = {int(r.submission_id) for r in conn.execute(
        select(review_disputes.c.submission_id).where(
            review_disputes.c.state == "overturned", review_disputes.c.payment == "bonus"))}
    survey = _survey_times(conn, policy) if policy.time_measure == "survey" else {}
    work: dict[str, _Work] = defaultdict(_Work)
    for s in subs:
        d = decided.get(int(s.id))
        good_faith = s.status == "Rejected" and d is not None and bool(d.good_faith)
        if s.status == "Rejected" and not (good_faith and policy.good_faith):
            continue
        w = work[s.worker]
        w.ids.append(int(s.id))
        w.time_s += _seconds(s, policy, survey, report)
        if s.status != "Rejected" and int(s.id) not in by_bonus:
            w.reward_cents += int(s.reward_cents or 0)
        if s.status != "Rejected" or w.anchor is None:
            w.anchor = int(s.id)
    return work


def _seconds(s: Any, policy: PayPolicy, survey: dict[str, float], report: TopupReport) -> float:
    if policy.time_measure == "pilot_median":
        return policy.pilot_median_s
    if policy.time_measure == "survey":
        if s.worker in survey:
            return survey[s.worker]
        report.survey_fallbacks += 1
    if s.work_time_s is None:
        report.missing_time += 1
        return 0.0
    return float(s.work_time_s)


def _token(worker: str, policy: PayPolicy, ids: Sequence[int], target: int) -> str:
    key = "|".join([worker, str(policy.floor_per_hour), policy.currency, policy.time_measure,
                    ",".join(map(str, ids)), str(target)])
    return "tw-topup-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]


def _reason(policy: PayPolicy, tasks: int, time_s: float) -> str:
    text = (f"Top-up to our wage floor of {policy.describe()} for {tasks} task"
            f"{'s' if tasks != 1 else ''}, {time_s / 3600:.2f} h of work "
            f"({policy.time_measure.replace('_', ' ')} time).")
    return text if reason_problem(text) is None else "Top-up to our wage floor."


def _plan(conn: Connection, log: LedgerWriter, policy: PayPolicy, worker: str, w: _Work,
          scope: list[int] | None, report: TopupReport) -> WorkerTopup:
    target = int((policy.floor_per_hour * 100 * Decimal(repr(w.time_s)) / 3600)
                 .to_integral_value(ROUND_CEILING))
    # Every bonus the worker got for work in scope counts as earned, also one tied to a
    # submission re-decided since as an unpaid rejection: money paid stays paid.
    query = (select(bonuses.c.amount_cents, bonuses.c.state)
             .join(submissions, bonuses.c.submission_id == submissions.c.id)
             .where(bonuses.c.worker == worker, bonuses.c.state != "cancelled"))
    if scope is not None:
        query = query.where(submissions.c.batch_id.in_(scope))
    earlier = conn.execute(query).all()
    planned = sum(int(r.amount_cents) for r in earlier if r.state == "planned")
    paid = w.reward_cents + sum(int(r.amount_cents) for r in earlier if r.state != "planned")
    earned = paid + planned
    item = WorkerTopup(worker, len(w.ids), round(w.time_s, 3), policy.time_measure, earned,
                       target, max(0, target - earned), "at-floor", anchor_submission=w.anchor,
                       paid_cents=paid, planned_cents=planned)
    if item.bonus_cents == 0:
        return item
    item.token = _token(worker, policy, w.ids, target)
    if conn.execute(select(bonuses.c.id).where(bonuses.c.token == item.token)).first():
        item.state = "already-planned"
        return item
    reason = _reason(policy, len(w.ids), w.time_s)
    result = conn.execute(insert(bonuses).values(
        worker=worker, submission_id=w.anchor, amount_cents=item.bonus_cents,
        currency=policy.currency, reason=reason, token=item.token, state="planned",
        created_at=now()))
    integrity.seal(conn, "bonuses", [inserted_id(result)])
    log.append("bonus.plan", f"bonus:{inserted_id(result)}", new={
        "worker": worker, "submission": w.anchor, "amount_cents": item.bonus_cents,
        "currency": policy.currency, "token": item.token, "target_cents": target,
        "earned_cents": earned, "time_s": item.time_s, "time_measure": policy.time_measure,
        "submissions": len(w.ids)}, reason=reason)
    item.state = "planned"
    report.planned += 1
    report.planned_cents += item.bonus_cents
    return item


def topup(project: Project, *, batches: Collection[str] = (), out: Path | str | None = None,
          dry_run: bool = False) -> TopupReport:
    """Plan, per worker, the bonus that lifts effective hourly pay to the wage floor; with
    ``out``, also write the platform's bonus file of every planned bonus. One transaction."""
    policy = pay_policy(project)
    if policy.floor_per_hour <= 0:
        raise ConfigError("no wage floor is set: [pay] wage_floor_per_hour is 0",
                          hint="Set wage_floor_per_hour, floor_source and floor_date in "
                               "tracework.toml (e.g. a platform's recommended minimum or a "
                               "local living wage).")
    report = TopupReport(policy.describe(), policy.currency, policy.time_measure)

    def work(conn: Connection) -> TopupReport:
        log = LedgerWriter(conn, project.actor)
        scope = batch_ids(conn, batches)
        completed = _completed(conn, project, policy, scope, report)
        for worker, w in sorted(completed.items()):
            report.workers.append(_plan(conn, log, policy, worker, w, scope, report))
        if out is not None:
            file = _write_bonus_file(conn, log, Path(out), None)
            report.bonus_file, report.bonus_file_rows = str(out), file.rows
        log.flush()
        report.ledger_head = log.hash
        if dry_run:
            raise _DryRun(report)
        return report

    try:
        return project.store.run_write(work)
    except _DryRun as done:
        return done.report


class _DryRun(Exception):
    """Leaves the transaction by rollback, carrying what would have been planned."""

    def __init__(self, report: TopupReport) -> None:
        super().__init__("dry run")
        self.report = report


@dataclass
class BonusFileReport:
    out: str
    rows: int = 0
    total_cents: int = 0
    skipped_erased: int = 0
    sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _write_bonus_file(conn: Connection, log: LedgerWriter, out: Path,
                      tokens: Collection[str] | None) -> BonusFileReport:
    query = (select(bonuses, submissions.c.assignment_id, submissions.c.platform)
             .join(submissions, bonuses.c.submission_id == submissions.c.id)
             .where(bonuses.c.state == "planned").order_by(bonuses.c.id))
    queries = ([query.where(bonuses.c.token.in_(part)) for part in chunks(sorted(tokens))]
               if tokens else [query])
    rows = sorted((r for q in queries for r in conn.execute(q) if r.platform == "mturk"),
                  key=lambda r: int(r.id))
    report = BonusFileReport(str(out))
    if not rows:
        raise InputError("no planned bonus to write",
                         hint="Plan bonuses with `tracework pay topup` (or overturn a "
                              "rejection after the reversal window).")
    if any(r.currency != "USD" for r in rows):
        raise InputError("Mechanical Turk pays bonuses in USD only; some planned bonuses are in "
                         "another currency", hint="Pay those outside the platform.")
    ids = platform_ids(conn, (r.worker for r in rows))
    cells = []
    for r in rows:
        if r.worker not in ids:
            report.skipped_erased += 1
            continue
        check_reason(r.reason, field="Reason", where=f"bonus {r.token}")
        cells.append((ids[r.worker], r.assignment_id, money(int(r.amount_cents)), r.reason,
                      r.token))
        report.total_cents += int(r.amount_cents)
    report.rows = len(cells)
    report.sha256 = write_private(out, csv_text(BONUS_COLUMNS, cells))
    log.append("pay.export", f"file:{out.name}", new={
        "kind": "mturk-bonus", "rows": report.rows, "total_cents": report.total_cents,
        "sha256": report.sha256}, reason="platform bonus file; WorkerId read from the vault")
    return report


def export_bonuses(project: Project, out: Path | str, *,
                   tokens: Collection[str] = ()) -> BonusFileReport:
    """Write the platform's bonus file (WorkerId, AssignmentId, BonusAmount, Reason,
    UniqueRequestToken) of the planned bonuses (only ``tokens`` if given), mode 0600."""
    def work(conn: Connection) -> BonusFileReport:
        log = LedgerWriter(conn, project.actor)
        report = _write_bonus_file(conn, log, Path(out), tokens or None)
        log.flush()
        return report

    return project.store.run_write(work)


def mark_paid(project: Project, *, tokens: Collection[str] = (),
              all_planned: bool = False) -> int:
    """Mark planned bonuses as paid (after the platform confirmed them); returns how many."""
    if not tokens and not all_planned:
        raise InputError("name the bonuses paid (--token) or pass --all-planned")

    def work(conn: Connection) -> int:
        query = select(bonuses).where(bonuses.c.state == "planned")
        if tokens:
            found = {r.token for part in chunks(sorted(tokens)) for r in conn.execute(
                select(bonuses.c.token).where(bonuses.c.token.in_(part)))}
            missing = sorted(set(tokens) - found)
            if missing:
                raise NotFound(f"no bonus with token {missing[0]!r}",
                               hint="`tracework pay topup --dry-run --json` and the bonus file "
                                    "list the tokens.")
        wanted = set(tokens or ())
        log = LedgerWriter(conn, project.actor)
        paid = [r for r in conn.execute(query.order_by(bonuses.c.id)).all()
                if not wanted or r.token in wanted]
        for part in chunks([int(r.id) for r in paid]):
            conn.execute(update(bonuses).where(bonuses.c.id.in_(part)).values(state="paid"))
            integrity.seal(conn, "bonuses", part)
        for r in paid:
            log.append("bonus.paid", f"bonus:{r.id}", field="state", old="planned",
                       new="paid", reason=f"token {r.token}")
        log.flush()
        return len(paid)

    return project.store.run_write(work)
