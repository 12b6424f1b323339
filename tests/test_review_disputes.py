"""Disputes: a contested rejection, the platform's 30-day reversal window, overturned work paid."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tracework
from builders import small_files
from tracework import pay, review
from tracework.core.errors import ConflictError, InputError
from tracework.core.project import Project
from tracework.core.store.schema import bonuses, submissions
from tracework.review.common import parse_time


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("disputes"))


def _rejected(project: Project, files: Any) -> tuple[int, datetime, int]:
    """A rejected submission, its submit time and reward."""
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        row = conn.execute(select(submissions).order_by(submissions.c.id).limit(1)).one()
    review.decide(project, row.id, "reject", reason="Only the body is labelled.")
    submitted = parse_time(row.submit_time)
    assert submitted is not None
    return int(row.id), submitted, int(row.reward_cents)


def test_contest_shows_as_contested_with_days_left(project: Project, files: Any) -> None:
    sid, submitted, _ = _rejected(project, files)
    now = submitted + timedelta(days=4, hours=1)
    result = review.contest(project, sid, "I labelled all <b>five</b> parts.", now=now)
    assert result.days_left == 26
    assert result.window_ends == (submitted + timedelta(days=30)).isoformat()
    item = review.review_list(project, status="contested", now=now)
    assert [i.submission_id for i in item] == [sid]
    assert item[0].dispute is not None
    assert (item[0].dispute["state"], item[0].dispute["window"]) == ("open", "26 days left")
    assert item[0].dispute["message"] == "I labelled all <b>five</b> parts."
    later = review.review_list(project, status="contested", now=submitted + timedelta(days=31))
    assert later[0].dispute is not None and later[0].dispute["window"] == "expired"
    # Still a rejection until a person resolves it: one column for every reader.
    assert later[0].status == "Rejected"
    with pytest.raises(ConflictError, match="already contested"):
        review.contest(project, sid, "again")


def test_only_rejections_can_be_contested(sqlite_project: Project, files: Any) -> None:
    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    with pytest.raises(ConflictError, match="is Submitted, not rejected"):
        review.contest(sqlite_project, 1, "why?")
    with pytest.raises(InputError, match="needs the worker's message"):
        review.contest(sqlite_project, 1, " ")
    with pytest.raises(ConflictError, match="no open dispute"):
        review.resolve(sqlite_project, 1, "uphold", "because")


def test_overturned_inside_the_window_is_approved_and_reversed_on_the_platform(
        project: Project, files: Any, tmp_path: Path) -> None:
    sid, submitted, _ = _rejected(project, files)
    review.contest(project, sid, "All parts are there.")
    result = review.resolve(project, sid, "overturn", "The cable is labelled; our rule missed it.",
                            now=submitted + timedelta(days=10))
    assert (result.outcome, result.payment, result.bonus_token) == ("overturned", "reversal", None)
    assert result.decision is not None and result.decision.status == "Approved"
    item = [i for i in review.review_list(project) if i.submission_id == sid][0]
    assert (item.state, item.decision, item.reason_code) == ("approved", "approve", "overturned")
    review.export_mturk(project, tmp_path / "upload.csv")
    lines = (tmp_path / "upload.csv").read_bytes().decode().split("\r\n")
    assert len(lines) == 3 and lines[1].endswith(",X,")  # reversed by approving it
    assert [e.action for e in tracework.log(project, target=f"submission:{sid}",
                                            newest_first=False)][-4:] == [
        "review.contest", "review.decide", "submission.status", "review.resolve"]


def test_overturned_after_the_window_is_paid_by_bonus(project: Project, files: Any,
                                                      tmp_path: Path) -> None:
    sid, submitted, reward = _rejected(project, files)
    review.contest(project, sid, "Please look again.")
    with pytest.raises(InputError, match="reversal window closed"):
        review.resolve(project, sid, "overturn", "ok", pay="reversal",
                       now=submitted + timedelta(days=40))
    result = review.resolve(project, sid, "overturn", "Looked again: all parts are there.",
                            now=submitted + timedelta(days=40))
    assert (result.payment, result.bonus_cents, result.bonus_token) == (
        "bonus", reward, f"tw-overturn-{sid}-{result.dispute_id}")
    with project.store.read() as conn:
        b = conn.execute(select(bonuses)).one()
    assert (b.worker, b.submission_id, b.amount_cents, b.state) == (
        review.review_list(project)[0].worker, sid, reward, "planned")
    # The upload file leaves it out (the platform can no longer reverse it) ...
    with pytest.raises(InputError, match="no decisions to upload"):
        review.export_mturk(project, tmp_path / "upload.csv")
    # ... and the bonus file pays it.
    report = pay.export_bonuses(project, tmp_path / "bonus.csv")
    assert (report.rows, report.total_cents) == (1, reward)
    line = (tmp_path / "bonus.csv").read_bytes().decode().split("\r\n")[1]
    assert f",{pay.money(reward)}," in line and line.endswith(result.bonus_token or "")


def test_upheld_rejection_stays(sqlite_project: Project, files: Any) -> None:
    sid, _, _ = _rejected(sqlite_project, files)
    review.contest(sqlite_project, sid, "Please look again.")
    result = review.resolve(sqlite_project, sid, "uphold", "Only the body is labelled.")
    assert (result.outcome, result.payment, result.decision) == ("upheld", None, None)
    item = review.review_list(sqlite_project, status="rejected")[0]
    assert item.dispute is not None
    assert (item.state, item.dispute["state"], item.dispute["resolution"]) == (
        "rejected", "upheld", "Only the body is labelled.")
    # A new contest after an upheld one is allowed: the worker may bring new facts.
    assert review.contest(sqlite_project, sid, "New facts.").dispute_id == result.dispute_id + 1
