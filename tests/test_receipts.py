"""Worker receipts: what they hold, what they must never hold, and that hostile text is inert."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tracework
from builders import small_files, truth
from tracework import review
from tracework.core.errors import NotFound
from tracework.core.project import Project
from tracework.core.store.schema import submissions
from tracework.pay import receipts
from tracework.review.common import parse_time

XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)> javascript:alert(3) \u202egnp.exe'


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("receipts"))


def _worker_with_two(project: Project, files: Any) -> tuple[str, list[Any]]:
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        rows = conn.execute(select(submissions).order_by(submissions.c.id)).all()
    counts: dict[str, list[Any]] = {}
    for r in rows:
        counts.setdefault(r.worker, []).append(r)
    worker = next(w for w, subs in counts.items() if len(subs) >= 2)
    return worker, counts[worker]


def test_receipt_holds_decisions_reasons_pay_and_a_checkpoint(project: Project, files: Any,
                                                              tmp_path: Path) -> None:
    worker, subs = _worker_with_two(project, files)
    first, second = subs[0], subs[1]
    review.decide(project, first.id, "approve")
    review.decide(project, second.id, "reject", reason=XSS.replace("\u202e", ""))
    submitted = parse_time(second.submit_time)
    assert submitted is not None
    review.contest(project, second.id, XSS)
    now = submitted + timedelta(days=3)
    report = receipts.receipt(project, worker, tmp_path / "out", now=now)
    assert report.submissions == len(subs)
    for path in (report.html, report.json):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(Path(report.json).read_text(encoding="utf-8"))
    assert data["worker"] == worker
    rows = {r["submission"]: r for r in data["submissions"]}
    assert (rows[first.id]["status"], rows[first.id]["reward_paid_cents"]) == ("Approved", 15)
    assert rows[second.id]["reason"] == XSS.replace("\u202e", "")
    assert rows[second.id]["reward_paid_cents"] == 0
    assert rows[second.id]["dispute"]["state"] == "open"
    assert rows[second.id]["dispute"]["window"] == "27 days left"
    assert rows[first.id]["time_s"] == first.work_time_s
    assert data["totals"]["by_status"]["Approved"] == 1
    assert data["totals"]["contested"] == 1
    assert data["ledger_checkpoint"]["head"] == report.ledger_head
    assert tracework.verify(project, expect_head=report.ledger_head).ok


def test_receipt_has_no_raw_ids_and_hostile_text_is_inert(project: Project, files: Any,
                                                          tmp_path: Path) -> None:
    worker, subs = _worker_with_two(project, files)
    review.decide(project, subs[0].id, "reject", reason=XSS.replace("\u202e", ""))
    review.contest(project, subs[0].id, XSS)
    report = receipts.receipt(project, worker, tmp_path)
    html = Path(report.html).read_text(encoding="utf-8")
    blob = html + Path(report.json).read_text(encoding="utf-8")
    raw_ids = {s["worker"] for s in truth(files)["submissions"]}
    assignment_ids = {s["assignment_id"] for s in truth(files)["submissions"]}
    assert not any(r in blob for r in raw_ids | assignment_ids)
    # Nothing executable and nothing loaded from elsewhere.
    assert "<script" not in html and "<img" not in html and "onerror=" not in html.replace(
        "onerror=alert(2)&gt;", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" \
        in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//|javascript:)""", html)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None and "default-src 'none'" in csp.group(1)
    assert "script-src" not in csp.group(1)  # falls back to default-src 'none'
    # The bidi override is isolated so it cannot reorder the rest of the page.
    assert "<bdi>" in html


def test_unknown_worker(sqlite_project: Project, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no worker 'w_nobody'"):
        receipts.receipt(sqlite_project, "w_nobody", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_receipt_html_shows_each_decision_reason_pay_time_and_dispute(
        sqlite_project: Project, files: Any, tmp_path: Path) -> None:
    worker, subs = _worker_with_two(sqlite_project, files)
    first, second = subs[0], subs[1]
    review.decide(sqlite_project, first.id, "approve")
    review.decide(sqlite_project, second.id, "reject", reason="Only the body is labelled.")
    submitted = parse_time(second.submit_time)
    assert submitted is not None
    review.contest(sqlite_project, second.id, "All five parts are there.")
    report = receipts.receipt(sqlite_project, worker, tmp_path, now=submitted + timedelta(days=3))
    html = Path(report.html).read_text(encoding="utf-8")
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    cells = {re.sub(r"<[^>]+>", "", r.split("</td>")[0]): re.sub(r"<[^>]+>", "|", r)
             for r in rows if r.startswith("<td>")}
    approved, rejected = cells[str(first.id)], cells[str(second.id)]
    assert f"|{first.work_time_s / 60:.1f} min|" in approved and "|approved|" in approved
    assert "|0.15 USD|" in approved
    assert "|rejected|" in rejected and "|Only the body is labelled.|" in rejected
    assert "|0.00 USD|" in rejected
    assert "contested, waiting for a decision" in rejected and "|27 days left|" in rejected
    for other in subs[2:]:
        assert "|waiting for review|" in cells[str(other.id)]
    assert f"<code><bdi>{report.ledger_head}</bdi></code>" in html


def test_receipt_of_a_rejection_overturned_and_paid(sqlite_project: Project, files: Any,
                                                    tmp_path: Path) -> None:
    worker, subs = _worker_with_two(sqlite_project, files)
    sub = subs[0]
    review.decide(sqlite_project, sub.id, "reject", reason="Only the body is labelled.")
    submitted = parse_time(sub.submit_time)
    assert submitted is not None
    review.contest(sqlite_project, sub.id, "All five parts are there.")
    review.resolve(sqlite_project, sub.id, "overturn", "Looked again: all parts are there.",
                   now=submitted + timedelta(days=40))
    report = receipts.receipt(sqlite_project, worker, tmp_path, now=submitted + timedelta(days=41))
    data = json.loads(Path(report.json).read_text(encoding="utf-8"))
    row = {r["submission"]: r for r in data["submissions"]}[sub.id]
    assert (row["status"], row["reason"], row["reward_paid_cents"], row["bonus_cents"],
            row["bonus_planned_cents"]) == (
        "Approved", "Looked again: all parts are there.", 0, 0, sub.reward_cents)
    assert (row["dispute"]["state"], row["dispute"]["payment"], row["dispute"]["window"]) == (
        "overturned", "bonus", "expired")
    # The bonus is planned, not paid: shown as planned, not counted as paid.
    assert (data["totals"]["bonus_cents"], data["totals"]["bonus_planned_cents"]) == (
        0, sub.reward_cents)
    assert data["totals"]["by_status"] == {"Approved": 1, "Submitted": len(subs) - 1}
    assert [(b["amount_cents"], b["state"]) for b in data["bonuses"]] == [
        (sub.reward_cents, "planned")]
    html = Path(report.html).read_text(encoding="utf-8")
    assert ("contested; rejection overturned, to be paid by a bonus (planned): Looked again: "
            "all parts are there." in html)
    assert f"0.00 USD (+ {sub.reward_cents / 100:.2f} USD planned, not yet paid)" in html
