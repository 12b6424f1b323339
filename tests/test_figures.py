"""Figures that agree with each other: what a frame says was paid follows the decision in force,
a planned bonus is shown as planned and never counted as paid, work paid by a bonus instead of
its reward counts once, and a receipt counts every dispute by state."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tracework
from builders import edited_batch, read_rows, small_files
from tracework import pay, review
from tracework.audit import labour_audit
from tracework.core.project import Project, open_project
from tracework.core.store.schema import submissions
from tracework.pay import receipts
from tracework.render.frames import pay_text
from tracework.render.records import select_contributions
from tracework.review.common import parse_time

# Two workers, reward 0.15 each, floor 12.00 USD/h:
#   A: approved 600 s + approved 300 s
#   B: approved 100 s, rejected in good faith 200 s, rejected 500 s, undecided 400 s
A_TIMES, B_TIMES = ["600", "300"], ["100", "200", "500", "400"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    root = tmp_path_factory.mktemp("figures")
    files = small_files(root)
    header, rows = read_rows(files.batch_csv)
    col = header.index("WorkerId")
    counts = Counter(r[col] for r in rows)
    b = next(w for w, n in counts.most_common() if n >= len(B_TIMES))
    a = next(w for w, n in counts.most_common() if n >= len(A_TIMES) and w != b)
    kept: dict[str, list[str]] = {a: [], b: []}
    times = {a: list(A_TIMES), b: list(B_TIMES)}

    def edit(row: dict[str, str], _n: int) -> dict[str, str] | None:
        worker = row["WorkerId"]
        if worker not in kept or not times[worker]:
            return None
        row["WorkTimeInSeconds"] = times[worker].pop(0)
        row["Reward"] = "$0.15"
        kept[worker].append(row["AssignmentId"])
        return row

    path = edited_batch(files.batch_csv, root / "two_workers.csv", edit)
    return path, kept[a], kept[b]


@pytest.fixture
def decided(sqlite_project: Project, batch: Any) -> Iterator[tuple[Project, list[int], list[int]]]:
    path, a_ids, b_ids = batch
    toml = sqlite_project.root / "tracework.toml"
    text = re.sub(r"(?m)^floor_(source|date) = .*\n", "", toml.read_text(encoding="utf-8"))
    toml.write_text(text.replace(
        "wage_floor_per_hour = 0.0",
        'wage_floor_per_hour = 12.0\nfloor_source = "test floor"\nfloor_date = "2025-01-01"'),
        encoding="utf-8")
    project = open_project(sqlite_project.root, cli={"actor": "tester"})
    try:
        tracework.ingest_mturk(project, path)
        with project.store.read() as conn:
            ids = {r.assignment_id: int(r.id) for r in conn.execute(
                select(submissions.c.assignment_id, submissions.c.id))}
        a, b = [ids[x] for x in a_ids], [ids[x] for x in b_ids]
        for sid in a + b[:1]:
            review.decide(project, sid, "approve")
        review.decide(project, b[1], "reject", reason="The cable is missing.", good_faith=True)
        review.decide(project, b[2], "reject", reason="Only the body is labelled.")
        yield project, a, b
    finally:
        project.close()


def _submit_time(project: Project, sid: int) -> Any:
    with project.store.read() as conn:
        text = conn.execute(select(submissions.c.submit_time)
                            .where(submissions.c.id == sid)).scalar_one()
    when = parse_time(text)
    assert when is not None
    return when


def _overturn_after_the_window(project: Project, sid: int) -> None:
    later = _submit_time(project, sid) + timedelta(days=40)
    review.contest(project, sid, "All five parts are there.", now=later)
    result = review.resolve(project, sid, "overturn", "Looked again: all parts are there.",
                            now=later)
    assert (result.payment, result.bonus_cents) == ("bonus", 15)


def _pay_texts(project: Project) -> dict[int, str]:
    return {c.submission: pay_text(c) for c in select_contributions(project).contributions}


def test_frames_say_paid_not_paid_or_pending_by_the_decision_in_force(decided: Any) -> None:
    project, a, b = decided
    texts = _pay_texts(project)
    assert {sid: texts[sid] for sid in a + b} == {
        a[0]: "Paid 0.15 USD",
        a[1]: "Paid 0.15 USD",
        b[0]: "Paid 0.15 USD",
        b[1]: "Not paid: rejected in good faith, its time counts toward the wage-floor top-up",
        b[2]: "Not paid: rejected (reward 0.15 USD)",
        b[3]: "Pending review: 0.15 USD if approved",
    }
    # Overturned after the reversal window: a bonus of the reward pays it; planned is not paid.
    _overturn_after_the_window(project, b[2])
    assert _pay_texts(project)[b[2]] == (
        "Not paid yet: rejection overturned; bonus 0.15 USD planned, not yet paid")
    assert pay.mark_paid(project, all_planned=True) == 1
    assert _pay_texts(project)[b[2]] == "Paid 0.15 USD by bonus (rejection overturned)"


def test_a_planned_top_up_is_shown_as_planned_and_counts_once_paid(decided: Any) -> None:
    project, a, b = decided
    before = labour_audit(project)
    # A: 0.30 for 900 s = 1.20/h. B: 0.15 reward for 300 s of paid work (the good-faith
    # rejection's reward was not paid) = 1.80/h; with the 500 s rejected, 0.15 / 800 s = 0.675/h.
    assert [(w.paid_cents, w.bonus_cents, w.bonus_planned_cents) for w in before.workers] in (
        [(30, 0, 0), (15, 0, 0)], [(15, 0, 0), (30, 0, 0)])
    assert before.median_hourly_paid == pytest.approx((1.20 + 1.80) / 2)
    assert before.median_hourly_all == pytest.approx((1.20 + 0.675) / 2)

    planned = pay.topup(project)
    assert sorted(w.bonus_cents for w in planned.workers) == [85, 270]
    after_plan = labour_audit(project)
    assert after_plan.median_hourly_paid == before.median_hourly_paid
    assert after_plan.median_hourly_all == before.median_hourly_all
    assert (after_plan.total_bonus_cents, after_plan.total_bonus_planned_cents) == (0, 355)
    assert after_plan.share_below_floor == 1.0
    again = pay.topup(project, dry_run=True)
    assert sorted((w.paid_cents, w.planned_cents, w.state) for w in again.workers) == [
        (15, 85, "at-floor"), (30, 270, "at-floor")]

    assert pay.mark_paid(project, all_planned=True) == 2
    paid = labour_audit(project)
    # Both at the floor over paid time: 3.00 / 900 s and 1.00 / 300 s = 12.00/h; B with the
    # rejected 500 s: 1.00 / 800 s = 4.50/h.
    assert paid.median_hourly_paid == pytest.approx(12.0)
    assert paid.median_hourly_all == pytest.approx((12.0 + 4.5) / 2)
    assert (paid.total_paid_cents, paid.total_bonus_cents, paid.total_bonus_planned_cents) == (
        45, 355, 0)


def test_work_paid_by_a_bonus_instead_of_its_reward_counts_once(decided: Any) -> None:
    project, _, b = decided
    _overturn_after_the_window(project, b[2])
    mine = next(w for w in labour_audit(project).workers if w.submissions == len(B_TIMES))
    # The overturned 500 s are paid work now, paid by a bonus still planned: B has been paid
    # the first reward only, 0.15 for 800 s.
    assert (mine.approved, mine.paid_cents, mine.bonus_cents, mine.bonus_planned_cents) == (
        2, 15, 0, 15)
    assert (mine.paid_seconds, mine.unpaid_seconds) == (800.0, 0.0)
    assert mine.hourly_paid == pytest.approx(0.15 / (800 / 3600))
    pay.mark_paid(project, all_planned=True)
    mine = next(w for w in labour_audit(project).workers if w.submissions == len(B_TIMES))
    # Once paid: 0.15 reward + 0.15 bonus, not 0.15 + 0.15 reward + 0.15 bonus.
    assert (mine.paid_cents, mine.bonus_cents, mine.bonus_planned_cents) == (15, 15, 0)
    assert mine.hourly_paid == pytest.approx(0.30 / (800 / 3600))
    rows = {r.submission: r for r in labour_audit(project).rows}
    assert (rows[b[0]].reward_paid, rows[b[1]].reward_paid, rows[b[2]].reward_paid) == (
        True, False, False)


def test_the_receipt_counts_every_dispute_by_state(decided: Any, tmp_path: Path) -> None:
    project, _, b = decided
    with project.store.read() as conn:
        worker = conn.execute(select(submissions.c.worker)
                              .where(submissions.c.id == b[0])).scalar_one()
    inside = _submit_time(project, b[1]) + timedelta(days=2)
    review.contest(project, b[1], "The cable is there.", now=inside)
    review.resolve(project, b[1], "overturn", "Right, it is there.", now=inside)
    review.contest(project, b[2], "All five parts are there.", now=inside)
    review.resolve(project, b[2], "uphold", "The cable is not labelled.", now=inside)
    after_two = receipts.receipt_data(project, worker, now=inside)["totals"]
    assert (after_two["contested"], after_two["disputes"]) == (
        2, {"open": 0, "upheld": 1, "overturned": 1})
    # Contested again after it was upheld: a third dispute, open.
    review.contest(project, b[2], "Please look at the left side.", now=inside)
    report = receipts.receipt(project, worker, tmp_path, now=inside)
    totals = json.loads(Path(report.json).read_text(encoding="utf-8"))["totals"]
    assert (totals["contested"], totals["disputes"]) == (
        3, {"open": 1, "upheld": 1, "overturned": 1})
    html = Path(report.html).read_text(encoding="utf-8")
    assert "Contested: 3 (open 1, upheld 1, overturned 1)." in html
