"""Proposals and decisions: rules propose, a person decides, and every rejection has a reason.

Each user action is one write transaction with its ledger entries. Deciding a submission locks
its row and checks, inside the transaction, that it is in the state the reviewer expects
(undecided, or the decision they saw): of two reviewers deciding the same submission, the
second gets a :class:`ConflictError` and nothing of theirs is stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity
from tracework.core.errors import ConflictError, InputError
from tracework.core.ledger import LedgerWriter, Private, now
from tracework.core.project import Project
from tracework.core.store import inserted_id
from tracework.core.store.schema import reviews, submissions
from tracework.core.store.tables_review import review_proposals
from tracework.review.common import (
    STATUS_OF,
    UNDECIDED,
    Decision,
    as_decision,
    batch_ids,
    in_force,
    lock_submission,
    submission_id,
)
from tracework.review.facts import iter_facts, undecided_ids
from tracework.review.reasons import check_reason, clean_reason, reason_problem
from tracework.review.rules import ReviewConfig, load_review_config

__all__ = [
    "UNSET",
    "BulkReport",
    "DecisionResult",
    "ProposeReport",
    "accept_proposals",
    "approve_unflagged",
    "decide",
    "propose",
    "review_config",
]


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()
"""``expect_review`` not given: ``None`` there means "I saw it undecided"."""


def review_config(project: Project) -> ReviewConfig:
    """The project's review rules and options (``[review]`` of tracework.toml, or defaults)."""
    return load_review_config(project.config, [c.name for c in project.categories])


@dataclass
class ProposeReport:
    considered: int = 0
    proposed: int = 0
    already_proposed: int = 0
    submissions_flagged: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _propose_in(conn: Connection, log: LedgerWriter, cfg: ReviewConfig,
                batches: list[int] | None, only_rules: Collection[str] = ()) -> ProposeReport:
    report = ProposeReport()
    rules = [r for r in cfg.rules if not only_rules or r.code in only_rules]
    for facts in iter_facts(conn, batch_ids=batches):
        report.considered += len(facts)
        existing = {(int(r.submission_id), r.rule) for r in conn.execute(
            select(review_proposals.c.submission_id, review_proposals.c.rule).where(
                review_proposals.c.submission_id.in_([f.id for f in facts])))}
        rows, at = [], now()
        for f in facts:
            flagged = False
            for rule in rules:
                evidence = rule.check(f)
                if evidence is None:
                    continue
                flagged = True
                report.by_rule[rule.code] = report.by_rule.get(rule.code, 0) + 1
                if (f.id, rule.code) in existing:
                    report.already_proposed += 1
                    continue
                reason = rule.reason_for(evidence)
                rows.append({"submission_id": f.id, "rule": rule.code,
                             "decision": rule.decision, "reason_text": reason,
                             "evidence": evidence, "state": "open", "review_id": None,
                             "created_at": at})
                log.append("review.propose", f"submission:{f.id}", new={
                    "rule": rule.code, "decision": rule.decision, "evidence": evidence,
                    "reason": reason})
            report.submissions_flagged += int(flagged)
        if rows:
            conn.execute(insert(review_proposals), rows)
            integrity.seal_where(conn, "review_proposals", "submission_id",
                                 [r["submission_id"] for r in rows])
        report.proposed += len(rows)
    return report


def propose(project: Project, *, batches: Collection[str] = (),
            rules: Collection[str] = ()) -> ProposeReport:
    """Run the rules on undecided submissions and record what they propose, with evidence.

    Proposals are never decisions. Running again adds nothing for a (submission, rule) pair
    already proposed. ``rules`` limits the run to these rule codes.
    """
    cfg = review_config(project)
    unknown = sorted(set(rules) - {r.code for r in cfg.rules})
    if unknown:
        raise InputError(f"no rule {', '.join(map(repr, unknown))} in this project",
                         field="--rule", hint="`tracework review rules` lists them.")

    def work(conn: Connection) -> ProposeReport:
        log = LedgerWriter(conn, project.actor)
        report = _propose_in(conn, log, cfg, batch_ids(conn, batches), rules)
        log.flush()
        report.ledger_head = log.hash
        return report

    return project.store.run_write(work)


@dataclass
class DecisionResult:
    submission_id: int
    decision: str
    old_status: str
    status: str
    review_id: int
    reason_code: str
    reason_text: str
    rule: str | None
    good_faith: bool
    redecided: bool
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Choice:
    decision: Decision
    reason_code: str
    reason_text: str
    rule: str | None = None
    good_faith: bool = False
    accepted_rules: frozenset[str] = frozenset()


def _close_proposals(conn: Connection, log: LedgerWriter, sid: int, choice: Choice,
                     review_id: int) -> None:
    for p in conn.execute(select(review_proposals).where(
            review_proposals.c.submission_id == sid, review_proposals.c.state == "open")):
        accepted = p.rule in choice.accepted_rules or p.decision == choice.decision
        state = "accepted" if accepted else "dismissed"
        conn.execute(update(review_proposals).where(review_proposals.c.id == p.id)
                     .values(state=state, review_id=review_id))
        integrity.seal(conn, "review_proposals", [p.id])
        log.append("review.proposal", f"submission:{sid}", field=f"{p.rule}.state",
                   old="open", new=state, reason=f"decision {review_id}")


def _already(current: Any, row: Any) -> str:
    if current is None:
        return f"submission {row.id} is already {row.status} on the platform"
    return (f"submission {row.id} is already decided: {current.decision} by {current.reviewer} "
            f"at {current.created_at[:19]}")


def apply_choice(conn: Connection, log: LedgerWriter, sid: int, choice: Choice, reviewer: str, *,
           redecide: bool, expect_review: Any = UNSET, source: str = "tracework"
           ) -> DecisionResult:
    """Record one decision inside the caller's transaction, checking the expected state."""
    row = lock_submission(conn, sid)
    current = in_force(conn, sid)
    decided = current is not None or row.status != UNDECIDED
    if expect_review is not UNSET:
        seen = None if current is None else int(current.id)
        if seen != expect_review or (expect_review is None and decided):
            raise ConflictError(_already(current, row) + "; it changed while you were looking",
                                hint="Reload the submission and decide again if still needed.")
    if decided and not redecide:
        raise ConflictError(_already(current, row),
                            hint="To change it, decide again with --redecide and a reason.")
    at = now()
    result = conn.execute(insert(reviews).values(
        submission_id=sid, decision=choice.decision, reason_code=choice.reason_code,
        reason_text=choice.reason_text, reviewer=reviewer, rule=choice.rule,
        good_faith=choice.good_faith, source=source, created_at=at))
    review_id = inserted_id(result)
    integrity.seal(conn, "reviews", [review_id])
    new_status = STATUS_OF[choice.decision]
    changed = conn.execute(update(submissions).where(
        submissions.c.id == sid, submissions.c.status == row.status).values(status=new_status))
    if changed.rowcount != 1:
        raise ConflictError(f"submission {sid} changed while it was being decided",
                            hint="Try again.")
    integrity.seal(conn, "submissions", [sid])
    log.append("review.decide", f"submission:{sid}", new={
        "review": review_id, "decision": choice.decision, "reason_code": choice.reason_code,
        "rule": choice.rule, "good_faith": choice.good_faith, "redecide": decided},
        reason=Private(choice.reason_text, row.worker) if choice.reason_text else "",
        actor=reviewer)
    if row.status != new_status:
        log.append("submission.status", f"submission:{sid}", field="status", old=row.status,
                   new=new_status, reason=(Private(choice.reason_text, row.worker)
                                           if choice.reason_text else choice.decision),
                   actor=reviewer)
    _close_proposals(conn, log, sid, choice, review_id)
    return DecisionResult(sid, choice.decision, row.status, new_status, review_id,
                          choice.reason_code, choice.reason_text, choice.rule,
                          choice.good_faith, decided)


def _open_proposal_text(conn: Connection, sid: int, code: str) -> str | None:
    row = conn.execute(select(review_proposals.c.reason_text).where(
        review_proposals.c.submission_id == sid, review_proposals.c.rule == code)).first()
    return None if row is None else str(row.reason_text)


def _choice(conn: Connection, cfg: ReviewConfig, sid: int, decision: str,
            reason_code: str | None, reason: str | None, good_faith: bool, redecide: bool,
            clean: bool) -> Choice:
    decision = as_decision(decision)
    if good_faith and decision != "reject":
        raise InputError("--good-faith applies to rejections only",
                         hint="Mark a rejection as done in good faith to pay its time.")
    code = (reason_code or "").strip()
    rule = cfg.rule(code) if code else None
    text = reason if reason is not None else ""
    if not text.strip() and rule is not None and decision != "approve":
        text = _open_proposal_text(conn, sid, code) or rule.reason_for("see your receipt")
    if clean:
        text = clean_reason(text)
    if decision != "approve" or redecide:
        if not text.strip():
            what = "a re-decision" if decision == "approve" else f"a decision to {decision}"
            raise InputError(f"{what} needs a reason the worker can read", field="reason",
                             hint="Pass --reason \"...\" or --reason-code CODE (a rule's code "
                                  "from `tracework review rules`).")
    if text:
        check_reason(text)
    return Choice(decision, code, text, rule.code if rule else None, good_faith,
                   frozenset({rule.code}) if rule else frozenset())


def decide(project: Project, submission: int | str, decision: Decision, *,
           reason_code: str | None = None, reason: str | None = None,
           good_faith: bool = False, redecide: bool = False, clean: bool = False,
           expect_review: int | None | _Unset = UNSET,
           reviewer: str | None = None) -> DecisionResult:
    """A person's decision on one submission.

    A rejection or rework needs a reason (``reason``, or ``reason_code`` naming a rule whose
    proposal text is then used). A decided submission is changed only with ``redecide`` and a
    reason. ``expect_review`` is the decision the reviewer saw (None: undecided): if it changed
    meanwhile, :class:`ConflictError`. ``clean`` turns line breaks into spaces and drops
    control characters instead of refusing them.
    """
    cfg = review_config(project)
    who = reviewer or project.actor

    def work(conn: Connection) -> DecisionResult:
        sid = submission_id(conn, submission)
        choice = _choice(conn, cfg, sid, decision, reason_code, reason, good_faith, redecide,
                         clean)
        log = LedgerWriter(conn, who)
        result = apply_choice(conn, log, sid, choice, who, redecide=redecide,
                        expect_review=expect_review)
        log.flush()
        result.ledger_head = log.hash
        return result

    return project.store.run_write(work)


@dataclass
class BulkReport:
    decided: int = 0
    by_decision: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    skipped_decided: int = 0
    unchanged: int = 0
    proposed_first: int = 0
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _combined(cfg: ReviewConfig, items: list[Any]) -> Choice:
    """One decision from a submission's open proposals: reject wins over rework; the first
    rule in tracework.toml's order gives the code; the reasons are joined if they fit."""
    order = {r.code: i for i, r in enumerate(cfg.rules)}
    decision: Decision = "reject" if any(p.decision == "reject" for p in items) else "rework"
    chosen = sorted((p for p in items if p.decision == decision),
                    key=lambda p: (order.get(p.rule, len(order)), p.rule))
    texts = list(dict.fromkeys(p.reason_text for p in chosen))
    joined = " ".join(texts)
    text = joined if reason_problem(joined) is None else texts[0]
    return Choice(decision, chosen[0].rule, text, chosen[0].rule,
                   accepted_rules=frozenset(p.rule for p in chosen))


def accept_proposals(project: Project, *, rule: str | None = None,
                     batches: Collection[str] = (), reviewer: str | None = None) -> BulkReport:
    """Decide every undecided submission with open proposals as proposed (only ``rule``'s
    proposals if given), in one transaction. Submissions decided meanwhile are skipped."""
    cfg = review_config(project)
    if rule is not None and cfg.rule(rule) is None:
        raise InputError(f"no rule {rule!r} in this project", field="--rule",
                         hint="`tracework review rules` lists them.")
    who = reviewer or project.actor

    def work(conn: Connection) -> BulkReport:
        report = BulkReport()
        scope = batch_ids(conn, batches)
        query = (select(review_proposals).join(
            submissions, review_proposals.c.submission_id == submissions.c.id)
            .where(review_proposals.c.state == "open").order_by(review_proposals.c.id))
        if rule is not None:
            query = query.where(review_proposals.c.rule == rule)
        if scope is not None:
            query = query.where(submissions.c.batch_id.in_(scope))
        grouped: dict[int, list[Any]] = defaultdict(list)
        for p in conn.execute(query):
            grouped[int(p.submission_id)].append(p)
        log = LedgerWriter(conn, who)
        for sid, items in sorted(grouped.items()):
            row, current = lock_submission(conn, sid), in_force(conn, sid)
            if current is not None or row.status != UNDECIDED:
                report.skipped_decided += 1
                continue
            choice = _combined(cfg, items)
            apply_choice(conn, log, sid, choice, who, redecide=False)
            count_choice(report, choice)
        log.flush()
        report.ledger_head = log.hash
        return report

    return project.store.run_write(work)


def count_choice(report: BulkReport, choice: Choice) -> None:
    report.decided += 1
    report.by_decision[choice.decision] = report.by_decision.get(choice.decision, 0) + 1
    if choice.rule:
        report.by_rule[choice.rule] = report.by_rule.get(choice.rule, 0) + 1


def _approve_chunk(conn: Connection, log: LedgerWriter, ids: list[int], reviewer: str,
                   report: BulkReport) -> None:
    """Approve the undecided submissions among ``ids`` that have no open proposal: each gets
    its reviews row, status and ledger entries as :func:`apply_choice` writes them, in bulk."""
    flagged = {int(s) for s in conn.execute(select(review_proposals.c.submission_id).where(
        review_proposals.c.submission_id.in_(ids), review_proposals.c.state == "open")).scalars()}
    todo = [i for i in ids if i not in flagged]
    if not todo:
        return
    locked = select(submissions.c.id).where(submissions.c.id.in_(todo),
                                             submissions.c.status == UNDECIDED)
    if conn.dialect.name != "sqlite":
        locked = locked.with_for_update()
    undecided = {int(i) for i in conn.execute(locked).scalars()}
    undecided -= {int(i) for i in conn.execute(select(reviews.c.submission_id).where(
        reviews.c.submission_id.in_(todo))).scalars()}
    report.skipped_decided += len(todo) - len(undecided)
    todo = [i for i in todo if i in undecided]
    if not todo:
        return
    at = now()
    made = conn.execute(
        insert(reviews).returning(reviews.c.id, reviews.c.submission_id,
                                  sort_by_parameter_order=True),
        [{"submission_id": sid, "decision": "approve", "reason_code": "", "reason_text": "",
          "reviewer": reviewer, "rule": None, "good_faith": False, "source": "tracework",
          "created_at": at} for sid in todo])
    review_of = {int(r.submission_id): int(r.id) for r in made}
    integrity.seal(conn, "reviews", review_of.values())
    status = STATUS_OF["approve"]
    changed = conn.execute(update(submissions).where(
        submissions.c.id.in_(todo), submissions.c.status == UNDECIDED).values(status=status))
    if changed.rowcount != len(todo):
        raise ConflictError("submissions changed while they were being approved",
                            hint="Try again.")
    integrity.seal(conn, "submissions", todo)
    for sid in todo:
        target = f"submission:{sid}"
        log.append("review.decide", target, new={
            "review": review_of[sid], "decision": "approve", "reason_code": "", "rule": None,
            "good_faith": False, "redecide": False}, actor=reviewer)
        log.append("submission.status", target, field="status", old=UNDECIDED, new=status,
                   reason="approve", actor=reviewer)
    report.decided += len(todo)
    report.by_decision["approve"] = report.by_decision.get("approve", 0) + len(todo)


def approve_unflagged(project: Project, *, batches: Collection[str] = (),
                      reviewer: str | None = None) -> BulkReport:
    """Run the rules, then approve every undecided submission no rule flags: one transaction,
    so nothing can slip in unchecked between the two steps. Both steps work through the
    submissions in chunks, so memory does not grow with the project. A submission decided
    meanwhile (by another reviewer, on PostgreSQL) is skipped and counted."""
    cfg = review_config(project)
    who = reviewer or project.actor

    def work(conn: Connection) -> BulkReport:
        log = LedgerWriter(conn, who)
        scope = batch_ids(conn, batches)
        proposed = _propose_in(conn, log, cfg, scope)
        report = BulkReport(proposed_first=proposed.proposed)
        for ids in undecided_ids(conn, batch_ids=scope):
            _approve_chunk(conn, log, ids, who, report)
        log.flush()
        report.ledger_head = log.hash
        return report

    return project.store.run_write(work)
