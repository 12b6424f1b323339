"""The labour audit on a hand-made project, figures checked to the cent, on both databases,
in any row order."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import insert

import tracework
from tracework.audit import labour_audit
from tracework.core.errors import InputError
from tracework.core.project import Project
from tracework.core.store.schema import (
    answers,
    batches,
    bonuses,
    imports,
    responses,
    reviews,
    submissions,
    workers,
)

NOW = "2026-01-01T00:00:00+00:00"

# (worker, status, seconds, reward, review, feedback): review = (decision, code, good_faith)
SUBMISSIONS: list[tuple[str, str, float, int, Any, str]] = [
    ("w_a", "Approved", 600.0, 50, None, ""),
    ("w_a", "Approved", 600.0, 50, None, ""),
    ("w_a", "Rejected", 1200.0, 50, ("reject", "missing_parts", False), "bad work"),
    ("w_b", "Rejected", 900.0, 40, ("reject", "unclear_guideline", True), ""),
    ("w_b", "Submitted", 300.0, 40, None, ""),
    ("w_c", "Rejected", 300.0, 40, None, "Cable not labelled"),
]
# (worker, amount, state)
BONUSES = [("w_a", 30, "paid"), ("w_a", 20, "planned"), ("w_a", 10, "cancelled")]


def _seed(project: Project, order: list[int]) -> None:
    with project.store.write() as conn:
        conn.execute(insert(imports).values(id=1, sha256="0" * 64, kind="test", file_name="t",
                                            size=0, rows=0, added=0, changed=0, conflicts=0,
                                            actor="t", imported_at=NOW))
        conn.execute(insert(batches).values(id=1, platform="mturk", batch_key="B1", import_id=1))
        for name, link in (("w_a", True), ("w_b", False), ("w_c", True)):
            conn.execute(insert(workers).values(pseudonym=name, platform="mturk",
                                                created_at=NOW, consent_link=link,
                                                consent_publish=False, consent_credit=False,
                                                erased=False))
        ids = {}
        for i in order:
            worker, status, seconds, reward, review, feedback = SUBMISSIONS[i]
            sid = conn.execute(insert(submissions).values(
                platform="mturk", assignment_id=f"A{i}", task_id=f"T{i}", batch_id=1,
                worker=worker, status=status, work_time_s=seconds,
                time_kind="wall_clock_accept_to_submit", reward_cents=reward,
                requester_feedback=feedback, content_sha256="x", answer="{}", raw="{}",
                import_id=1, row=i + 1)).inserted_primary_key[0]
            ids[i] = sid
            if review is not None:
                # An older, superseded decision first: only the newest counts.
                conn.execute(insert(reviews).values(
                    submission_id=sid, decision="approve", reviewer="r",
                    created_at="2025-12-01T00:00:00+00:00"))
                conn.execute(insert(reviews).values(
                    submission_id=sid, decision=review[0], reason_code=review[1],
                    reason_text="", reviewer="r", good_faith=review[2], created_at=NOW))
        for n, (worker, amount, state) in enumerate(BONUSES):
            conn.execute(insert(bonuses).values(worker=worker, submission_id=ids[0],
                                                amount_cents=amount, currency="USD",
                                                reason="top-up", token=f"t{n}", state=state,
                                                created_at=NOW))
        for n, (worker, choice) in enumerate((("w_a", "5–10 min"), ("w_b", "1–5 min"))):
            rid = conn.execute(insert(responses).values(
                source="qualtrics", response_id=f"R{n}", worker=worker, status="IP Address",
                content_sha256="y", raw="{}", import_id=1, row=n + 1,
                end_time=NOW)).inserted_primary_key[0]
            conn.execute(insert(answers).values(response_id=rid, question="Q5",
                                                value=f'"{choice}"'))


@pytest.fixture
def configured(project: Project) -> Project:
    path = project.root / "tracework.toml"
    text = path.read_text(encoding="utf-8").replace("wage_floor_per_hour = 0.0",
                                                    "wage_floor_per_hour = 2.0")
    path.write_text(text + '\n[survey]\nsearch_time_question = "Q5"\n', encoding="utf-8")
    reopened = tracework.open_project(project.root,
                                      cli={"database_url": project.settings["database_url"]
                                           or None})
    yield reopened
    reopened.close()


@pytest.mark.parametrize("shuffle", [None, 3, 8])
def test_wages_to_the_cent_in_any_row_order(configured: Project, shuffle: int | None) -> None:
    order = list(range(len(SUBMISSIONS)))
    if shuffle is not None:
        random.Random(shuffle).shuffle(order)
    _seed(configured, order)
    result = labour_audit(configured)
    a, b, c = result.workers
    # w_a: reward 2 × 50 (the rejected one unpaid) + the bonus paid, 30 = 1.30; the 20 planned
    # are shown, not paid; paid time 1200 s, unpaid 1200 s.
    assert (a.paid_cents, a.bonus_cents, a.bonus_paid_cents, a.bonus_planned_cents) == \
        (100, 30, 30, 20)
    assert (a.paid_seconds, a.unpaid_seconds) == (1200.0, 1200.0)
    assert round(a.hourly_paid, 2) == 3.90 and round(a.hourly_all, 2) == 1.95
    # Linked search time: "5–10 min" = 7.5 min per task × 3 decided tasks = 1350 s.
    assert a.search_seconds == 1350.0
    assert round(a.hourly_with_search, 2) == round(1.30 / (3750 / 3600), 2) == 1.25
    assert a.below_floor is True
    # w_b: rejected in good faith: its time is paid work (the top-up pays it), but the
    # platform paid no reward for it and no bonus is paid yet: 0.00 for 900 s; pending work
    # left out; no consent to link, so no search time.
    assert (b.rejected, b.rejected_paid, b.pending, b.paid_cents) == (1, 1, 1, 0)
    assert (b.paid_seconds, b.hourly_paid, b.hourly_all) == (900.0, 0.0, 0.0)
    assert b.search_seconds is None and b.pending_seconds == 300.0 and b.below_floor is True
    # w_c: only unpaid work.
    assert c.hourly_paid is None and c.hourly_all == 0.0 and c.below_floor is True
    assert (result.approved, result.rejected, result.pending, result.rejected_paid) == (2, 3, 1, 1)
    assert result.rejection_rate == pytest.approx(3 / 5)
    assert result.rejection_reasons == {"Cable not labelled": 1, "missing_parts": 1,
                                        "unclear_guideline": 1}
    assert (result.total_paid_cents, result.total_bonus_cents) == (100, 30)
    assert (result.total_bonus_paid_cents, result.total_bonus_planned_cents) == (30, 20)
    assert result.total_paid_hours == pytest.approx(2100 / 3600)
    assert result.total_unpaid_hours == pytest.approx(1500 / 3600)
    assert round(result.median_hourly_paid, 2) == round((3.90 + 0.0) / 2, 2) == 1.95
    assert result.median_hourly_all == 0.0
    assert result.share_below_floor == 1.0
    assert round(result.overall_hourly_paid, 2) == round(1.30 / (2100 / 3600), 2) == 2.23
    assert round(result.overall_hourly_all, 2) == round(1.30 / (3600 / 3600), 2) == 1.30
    assert result.time_kind == "wall_clock_accept_to_submit"
    assert result.floor_per_hour == 2.0 and result.currency == "USD"
    paid = {(r.worker, r.status, r.seconds): r.paid for r in result.rows}
    assert paid[("w_a", "Rejected", 1200.0)] is False and paid[("w_b", "Rejected", 900.0)]
    assert [s.key for s in result.by_batch] == ["B1"] and result.by_batch[0].paid_cents == 100


def test_filters_and_a_foreign_currency_bonus(configured: Project) -> None:
    _seed(configured, list(range(len(SUBMISSIONS))))
    assert labour_audit(configured, batches=["nope"]).submissions == 0
    assert labour_audit(configured, platform="mturk").submissions == 6
    with configured.store.write() as conn:
        conn.execute(insert(bonuses).values(worker="w_a", amount_cents=5, currency="EUR",
                                            reason="x", token="eur", state="paid",
                                            created_at=NOW))
    with pytest.raises(InputError, match="EUR"):
        labour_audit(configured)
