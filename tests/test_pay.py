"""Pay to the floor: bonuses to the cent on a hand-computed case, idempotent, the bonus file,
overturned work paid once, and each time measure."""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tracework
from builders import edited_batch, read_rows, small_files, write_rows
from tracework import pay, review
from tracework.core.errors import ConfigError, InputError
from tracework.core.project import Project, open_project
from tracework.core.store.schema import bonuses, submissions
from tracework.review.common import parse_time

# Two workers, floor 12.00 USD/h, reward 0.15 each:
#   A: approved 600 s + approved 300 s = 900 s → floor 3.00, earned 0.30 → bonus 2.70
#   B: approved 100 s + rejected in good faith 200 s (+ rejected 500 s, not paid)
#      = 300 s → floor 1.00, earned 0.15 → bonus 0.85
A_TIMES, B_TIMES = ["600", "300"], ["100", "200", "500"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    root = tmp_path_factory.mktemp("pay")
    files = small_files(root)
    header, rows = read_rows(files.batch_csv)
    col = header.index("WorkerId")
    (a, _), (b, _) = Counter(r[col] for r in rows).most_common(2)
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


def _configure(project: Project, extra: str = "") -> Project:
    toml = project.root / "tracework.toml"
    text = toml.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^floor_(source|date) = .*\n", "", text).replace(
        "wage_floor_per_hour = 0.0",
        "wage_floor_per_hour = 12.0\nfloor_source = \"test floor\"\nfloor_date = \"2025-01-01\"\n"
        + extra)
    toml.write_text(text, encoding="utf-8")
    return open_project(project.root, cli={"database_url": project.settings["database_url"] or None,
                                           "actor": "tester"})


@pytest.fixture
def paid_project(project: Project, batch: Any) -> Iterator[tuple[Project, list[int], list[int]]]:
    path, a_ids, b_ids = batch
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


def _topups(report: pay.TopupReport) -> list[tuple[int, float, int, int, int, str]]:
    return [(w.submissions, w.time_s, w.earned_cents, w.target_cents, w.bonus_cents, w.state)
            for w in sorted(report.workers, key=lambda w: w.time_s, reverse=True)]


def test_topup_to_the_cent_and_never_twice(paid_project: Any, tmp_path: Path) -> None:
    base, a, b = paid_project
    project = _configure(base)
    try:
        first = pay.topup(project, out=tmp_path / "bonus.csv")
        assert _topups(first) == [(2, 900.0, 30, 300, 270, "planned"),
                                  (2, 300.0, 15, 100, 85, "planned")]
        assert (first.planned, first.planned_cents) == (2, 355)
        second = pay.topup(project)
        assert _topups(second) == [(2, 900.0, 300, 300, 0, "at-floor"),
                                   (2, 300.0, 100, 100, 0, "at-floor")]
        assert second.planned == 0
        with project.store.read() as conn:
            rows = conn.execute(select(bonuses).order_by(bonuses.c.amount_cents)).all()
        assert [(r.amount_cents, r.state, r.currency) for r in rows] == [
            (85, "planned", "USD"), (270, "planned", "USD")]
        assert {r.submission_id for r in rows} == {a[-1], b[0]}  # anchored on approved work
        assert all(r.token.startswith("tw-topup-") and len(r.token) <= 64 for r in rows)
        assert rows[0].reason == ("Top-up to our wage floor of 12.00 USD per hour (test floor, "
                                  "2025-01-01) for 2 tasks, 0.08 h of work (platform time).")
        assert pay.mark_paid(project, all_planned=True) == 2
        assert pay.topup(project).planned == 0
        assert tracework.verify(project).ok
    finally:
        project.close()


def test_a_bonus_stays_earned_when_its_work_is_re_decided(paid_project: Any) -> None:
    base, a, _ = paid_project
    project = _configure(base)
    try:
        first = pay.topup(project)
        assert _topups(first)[0] == (2, 900.0, 30, 300, 270, "planned")
        pay.mark_paid(project, all_planned=True)
        # The bonus's anchor is re-decided as an unpaid rejection: the 2.70 paid stays paid.
        review.decide(project, a[-1], "reject", reason="Cable missing on second look",
                      redecide=True, reviewer="alice")
        again = pay.topup(project)
        mine = [w for w in again.workers if w.anchor_submission == a[0]]
        assert [(w.submissions, w.earned_cents, w.bonus_cents, w.state) for w in mine] == [
            (1, 15 + 270, 0, "at-floor")]
        assert again.planned == 0
    finally:
        project.close()


def test_bonus_file_exact_layout(paid_project: Any, batch: Any, tmp_path: Path) -> None:
    base, a, b = paid_project
    project = _configure(base)
    try:
        report = pay.topup(project, out=tmp_path / "bonus.csv")
        assert report.bonus_file_rows == 2
        out = tmp_path / "bonus.csv"
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
        header, rows = read_rows(out)
        assert header == ["WorkerId", "AssignmentId", "BonusAmount", "Reason",
                          "UniqueRequestToken"]
        with project.store.read() as conn:
            by_token = {r.token: r for r in conn.execute(
                select(bonuses, submissions.c.assignment_id)
                .join(submissions, bonuses.c.submission_id == submissions.c.id))}
        batch_header, batch_rows = read_rows(batch[0])
        raw = {r[batch_header.index("AssignmentId")]: r[batch_header.index("WorkerId")]
               for r in batch_rows}
        assert sorted(rows) == sorted(
            [raw[t.assignment_id], t.assignment_id, pay.money(t.amount_cents), t.reason, token]
            for token, t in by_token.items())
        assert sorted(r[2] for r in rows) == ["0.85", "2.70"]
        pay.mark_paid(project, all_planned=True)
        with pytest.raises(InputError, match="no planned bonus"):
            pay.export_bonuses(project, tmp_path / "again.csv")
        assert not (tmp_path / "again.csv").exists()
    finally:
        project.close()


@pytest.mark.parametrize("extra,expected", [
    # Good-faith rejections not paid: B counts 100 s → ceil(33.3) = 34 → 34 - 15 = 19.
    ("pay_good_faith_rejections = false\n", [(2, 900.0, 30, 300, 270), (1, 100.0, 15, 34, 19)]),
    # A pilot's median of 360 s per task: 2 tasks each → 720 s → 2.40.
    ("time_measure = \"pilot_median\"\npilot_median_s = 360\n",
     [(2, 720.0, 30, 240, 210), (2, 720.0, 15, 240, 225)]),
])
def test_policy_options(paid_project: Any, extra: str, expected: list[Any]) -> None:
    base, _, _ = paid_project
    project = _configure(base, extra)
    try:
        got = sorted(([w.submissions, w.time_s, w.earned_cents, w.target_cents, w.bonus_cents]
                      for w in pay.topup(project, dry_run=True).workers),
                     key=lambda x: (-x[1], x[4]))
        assert [tuple(g) for g in got] == expected
        with project.store.read() as conn:  # a dry run stores nothing
            assert conn.execute(select(bonuses)).all() == []
    finally:
        project.close()


def test_no_floor_is_a_clear_error(sqlite_project: Project) -> None:
    with pytest.raises(ConfigError, match="no wage floor is set"):
        pay.topup(sqlite_project)


def test_money_format() -> None:
    assert [pay.money(c) for c in (0, 5, 150, 1234)] == ["0.00", "0.05", "1.50", "12.34"]


def test_overturned_work_is_paid_once_and_counted_as_completed(paid_project: Any,
                                                               tmp_path: Path) -> None:
    base, _, b = paid_project
    project = _configure(base)
    try:
        with project.store.read() as conn:
            submitted = parse_time(conn.execute(select(submissions.c.submit_time).where(
                submissions.c.id == b[2])).scalar_one())
        assert submitted is not None
        review.contest(project, b[2], "All parts are labelled.")
        overturned = review.resolve(project, b[2], "overturn", "Looked again: all there.",
                                    now=submitted + timedelta(days=40))
        assert (overturned.payment, overturned.bonus_cents) == ("bonus", 15)
        # B now: 100 s + 200 s (good faith) + 500 s (overturned) = 800 s → ceil(266.67) = 267;
        # earned 0.15 reward + 0.15 overturn bonus (its reward is not counted again) → 2.37.
        report = pay.topup(project, out=tmp_path / "bonus.csv")
        assert _topups(report) == [(2, 900.0, 30, 300, 270, "planned"),
                                   (3, 800.0, 30, 267, 237, "planned")]
        _, rows = read_rows(tmp_path / "bonus.csv")
        assert sorted(r[2] for r in rows) == ["0.15", "2.37", "2.70"]
        assert pay.topup(project).planned == 0
    finally:
        project.close()


@pytest.mark.parametrize("answer,unit,seconds", [
    ("12", "minutes", 720.0), ("12", "seconds", 12.0), ("10–30 minutes", "seconds", 1200.0),
    ("1h–2 hours", "minutes", 5400.0), ("In between 2 and 8 hours", "minutes", 18000.0),
    ("90 s", "minutes", 90.0), ("3,5 min", "seconds", 210.0), ("Less than ten", "minutes", None),
])
def test_survey_answers_in_their_own_units(answer: str, unit: Any, seconds: float | None
                                           ) -> None:
    assert pay.survey_seconds(answer, unit) == seconds


def _survey(files: Any, dest: Path, answers: dict[str, tuple[str, str]]) -> Path:
    """The generated survey with (time per task, consent) answers for these raw worker ids."""
    header, rows = read_rows(files.survey_csv)
    col = {c: i for i, c in enumerate(header)}
    rows = rows[:2] + [r for r in rows[2:] if r[col["workerId"]] in answers]
    for r in rows[2:]:
        r[col["Q7"]], r[col["Q11"]] = answers[r[col["workerId"]]]
    return write_rows(dest, header, rows)


def test_survey_time_for_consenting_workers_platform_time_for_others(
        paid_project: Any, batch: Any, tmp_path: Path) -> None:
    base, _, _ = paid_project
    path, a_ids, b_ids = batch
    header, rows = read_rows(path)
    raw = {r[header.index("AssignmentId")]: r[header.index("WorkerId")] for r in rows}
    files = small_files(path.parent)
    survey = _survey(files, tmp_path / "survey.csv", {raw[a_ids[0]]: ("8–12 minutes", "Yes"),
                                                     raw[b_ids[0]]: ("1 minute", "No")})
    tracework.ingest_qualtrics(base, survey, worker_column="workerId", consent_column="Q11")
    project = _configure(base, "time_measure = \"survey\"\nsurvey_time_question = \"Q7\"\n")
    try:
        report = pay.topup(project, dry_run=True)
        # A said 10 minutes a task: 2 × 600 s → 4.00, earned 0.30 → 3.70. B did not consent to
        # linking: platform time, 300 s → 1.00, earned 0.15 → 0.85, and the report says so.
        assert _topups(report) == [(2, 1200.0, 30, 400, 370, "planned"),
                                   (2, 300.0, 15, 100, 85, "planned")]
        assert report.survey_fallbacks == 2
    finally:
        project.close()
