"""Review: the study's rule reproduced on generated data, proposals, decisions, the platform's
upload and rework files, bad input, and two reviewers on one submission."""

from __future__ import annotations

import csv
import json
import os
import re
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import tracework
from builders import edited_batch, read_rows, small_files, truth
from tracework import review
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.ledger import LedgerWriter
from tracework.core.project import Project, open_project
from tracework.core.safecsv import neutralise
from tracework.core.store.schema import ledger, reviews, submissions
from tracework.core.store.tables_review import review_proposals
from tracework.review import facts as facts_module
from tracework.review.decisions import Choice, apply_choice

NAMES = ["Body", "Left_Button", "Right_Button", "Scroll_Wheel", "Cable"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("review"), frames=10, workers=10)


def _loaded(project: Project, files: Any) -> dict[str, int]:
    """Ingest the batch; returns submission number by assignment id."""
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        return {r.assignment_id: int(r.id) for r in conn.execute(
            select(submissions.c.assignment_id, submissions.c.id))}


def _count(project: Project, table: Any) -> int:
    with project.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _statuses(project: Project) -> dict[int, str]:
    with project.store.read() as conn:
        return {int(r.id): r.status for r in conn.execute(
            select(submissions.c.id, submissions.c.status))}


def test_study_rule_proposes_exactly_the_submissions_with_fewer_than_3_parts(
        project: Project, files: Any) -> None:
    ids = _loaded(project, files)
    t = truth(files)
    expected = {}
    for s in t["submissions"]:
        done = [n for n in NAMES if s["parts"].get(n, 0) > 0]
        if len(done) < 3:
            expected[ids[s["assignment_id"]]] = f"{len(done)} of 5 parts: {', '.join(done)}"
    assert expected, "the generated batch should hold careless submissions"
    report = review.propose(project)
    assert report.considered == len(t["submissions"])
    assert report.by_rule == {"parts_missing": len(expected)}
    items = review.review_list(project, proposed=True)
    got = {i.submission_id: i.proposals[0]["evidence"] for i in items}
    assert got == expected
    first = items[0].proposals[0]
    assert first["reason"] == (f"Fewer than 3 of the 5 parts were labelled ({first['evidence']})."
                               " The task asks for at least 3.")
    # Proposals are never decisions.
    assert set(_statuses(project).values()) == {"Submitted"}
    assert _count(project, reviews) == 0
    # Running again adds nothing, not even ledger entries.
    entries = _count(project, ledger)
    again = review.propose(project)
    assert (again.proposed, again.already_proposed) == (0, len(expected))
    assert _count(project, ledger) == entries
    assert _count(project, review_proposals) == len(expected)


@pytest.mark.parametrize("chunk", [None, 4])
def test_decide_one_then_accept_proposals_then_approve_the_rest(
        project: Project, files: Any, monkeypatch: pytest.MonkeyPatch, chunk: int | None) -> None:
    if chunk is not None:       # submissions checked and approved a few at a time
        monkeypatch.setattr(facts_module, "CHUNK", chunk)
    _loaded(project, files)
    review.propose(project)
    flagged = [i.submission_id for i in review.review_list(project, proposed=True)]
    one = flagged[0]
    result = review.decide(project, one, "reject", reason_code="parts_missing")
    assert (result.old_status, result.status, result.rule) == ("Submitted", "Rejected",
                                                               "parts_missing")
    proposal_reason = review.review_list(project, rule="parts_missing")[0].proposals[0]["reason"]
    assert result.reason_text == proposal_reason
    entries = tracework.log(project, target=f"submission:{one}", action="submission.status")
    assert [(e.old, e.new, e.reason) for e in entries] == [
        ('"Submitted"', '"Rejected"', proposal_reason)]
    assert review.review_list(project, rule="parts_missing")[0].proposals[0]["state"] == "accepted"

    bulk = review.accept_proposals(project)
    assert bulk.by_decision == {"reject": len(flagged) - 1}
    rest = review.approve_unflagged(project)
    total = len(_statuses(project))
    assert rest.by_decision == {"approve": total - len(flagged)}
    assert (rest.decided, rest.skipped_decided) == (total - len(flagged), 0)
    approved = {sid for sid, s in _statuses(project).items() if s == "Approved"}
    assert approved.isdisjoint(flagged)
    with project.store.read() as conn:
        review_of = {int(r.submission_id): int(r.id) for r in conn.execute(
            select(reviews.c.submission_id, reviews.c.id))}
    for sid in sorted(approved)[:3] + sorted(approved)[-3:]:
        got = tracework.log(project, target=f"submission:{sid}")
        assert [(e.action, e.new) for e in got][-2:] == [
            ("review.decide", json.dumps({"decision": "approve", "good_faith": False,
                                          "reason_code": "", "redecide": False,
                                          "review": review_of[sid],
                                          "rule": None}, separators=(",", ":"))),
            ("submission.status", '"Approved"')]
    counts: dict[str, int] = {}
    for s in _statuses(project).values():
        counts[s] = counts.get(s, 0) + 1
    assert counts == {"Rejected": len(flagged), "Approved": total - len(flagged)}
    assert _count(project, reviews) == total
    assert tracework.verify(project).ok


def test_rejection_without_reason_is_refused_and_nothing_is_stored(project: Project,
                                                                    files: Any) -> None:
    ids = _loaded(project, files)
    sid = min(ids.values())
    entries = _count(project, ledger)
    for decision in ("reject", "rework"):
        with pytest.raises(InputError, match="needs a reason"):
            review.decide(project, sid, decision)  # type: ignore[arg-type]
        with pytest.raises(InputError, match="needs a reason"):
            review.decide(project, sid, decision, reason="   ")  # type: ignore[arg-type]
    assert _count(project, reviews) == 0 and _count(project, ledger) == entries
    assert _statuses(project)[sid] == "Submitted"


def test_redecision_needs_the_flag_and_a_reason(project: Project, files: Any) -> None:
    ids = _loaded(project, files)
    sid = min(ids.values())
    review.decide(project, sid, "reject", reason="Only the body is labelled.")
    with pytest.raises(ConflictError, match="already decided: reject by tester"):
        review.decide(project, sid, "approve")
    with pytest.raises(InputError, match="re-decision needs a reason"):
        review.decide(project, sid, "approve", redecide=True)
    done = review.decide(project, sid, "approve", redecide=True,
                         reason="Looked again: all parts are there.")
    assert (done.old_status, done.status, done.redecided) == ("Rejected", "Approved", True)
    item = review.review_list(project, worker=review.review_list(project)[0].worker)[0]
    assert (item.decision, item.reason_text) == ("approve", "Looked again: all parts are there.")
    assert _count(project, reviews) == 2


@pytest.mark.parametrize("bad,problem", [
    ("Parts missing\x07", "control character (U+0007 bell at character 14)"),
    ("two\nlines", "control character (U+000A line feed at character 4)"),
    ("\u202eevil", "control character (U+202E right-to-left override at character 1)"),
    ("x" * 1025, "1025 characters long; the platform accepts at most 1024"),
])
def test_bad_reasons_are_refused(sqlite_project: Project, files: Any, bad: str,
                                 problem: str) -> None:
    ids = _loaded(sqlite_project, files)
    sid = min(ids.values())
    with pytest.raises(InputError, match=re.escape(problem)):
        review.decide(sqlite_project, sid, "reject", reason=bad)
    assert _count(sqlite_project, reviews) == 0


def test_clean_turns_breaks_into_spaces_and_1024_characters_pass(sqlite_project: Project,
                                                                 files: Any) -> None:
    ids = sorted(_loaded(sqlite_project, files).values())
    done = review.decide(sqlite_project, ids[0], "reject", reason="Cable\r\nmissing\x00.",
                         clean=True)
    assert done.reason_text == "Cable missing."
    assert review.decide(sqlite_project, ids[1], "reject", reason="y" * 1024).reason_text \
        == "y" * 1024


def test_unknown_submission_and_rule(sqlite_project: Project, files: Any) -> None:
    _loaded(sqlite_project, files)
    with pytest.raises(NotFound, match="no submission '9999'"):
        review.decide(sqlite_project, 9999, "approve")
    with pytest.raises(NotFound, match="no submission 'NOSUCHASSIGNMENT'"):
        review.decide(sqlite_project, "NOSUCHASSIGNMENT", "approve")
    with pytest.raises(InputError, match="no rule 'nope'"):
        review.accept_proposals(sqlite_project, rule="nope")


def test_decide_by_assignment_id(sqlite_project: Project, files: Any) -> None:
    ids = _loaded(sqlite_project, files)
    assignment, sid = sorted(ids.items())[0]
    assert review.decide(sqlite_project, assignment, "approve").submission_id == sid


def test_two_reviewers_one_submission_one_wins(project: Project, files: Any) -> None:
    ids = _loaded(project, files)
    sid = min(ids.values())
    outcomes: dict[str, Any] = {}
    holding = threading.Event()

    def first() -> None:
        # Reviewer A is inside its write transaction, row locked, when B starts.
        with project.store.write() as conn:
            log = LedgerWriter(conn, "alice")
            apply_choice(conn, log, sid, Choice("approve", "", ""), "alice", redecide=False,
                   expect_review=None)
            log.flush()
            holding.set()
            time.sleep(0.4)
        outcomes["alice"] = "ok"

    def second() -> None:
        holding.wait(5)
        try:
            review.decide(project, sid, "reject", reason="Cable missing.", reviewer="bob",
                          expect_review=None)
            outcomes["bob"] = "ok"
        except ConflictError as exc:
            outcomes["bob"] = exc

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes["alice"] == "ok"
    assert isinstance(outcomes["bob"], ConflictError)
    assert "already decided: approve by alice" in str(outcomes["bob"])
    with project.store.read() as conn:
        rows = conn.execute(select(reviews.c.reviewer, reviews.c.decision)).all()
    assert [tuple(r) for r in rows] == [("alice", "approve")]
    assert _statuses(project)[sid] == "Approved"
    assert tracework.verify(project).ok


def test_stale_expectation_is_a_conflict(sqlite_project: Project, files: Any) -> None:
    sid = min(_loaded(sqlite_project, files).values())
    first = review.decide(sqlite_project, sid, "approve", expect_review=None)
    with pytest.raises(ConflictError, match="changed while you were looking"):
        review.decide(sqlite_project, sid, "reject", reason="x", redecide=True,
                      expect_review=None)
    again = review.decide(sqlite_project, sid, "reject", reason="Cable missing.",
                          redecide=True, expect_review=first.review_id)
    assert again.status == "Rejected"


def _decide_three(project: Project, ids: dict[str, int]) -> tuple[int, int, int]:
    a, b, c = sorted(ids.values())[:3]
    review.decide(project, a, "approve")
    review.decide(project, b, "reject", reason="=HYPERLINK(\"http://x\") only 2 parts")
    review.decide(project, c, "rework", reason="Please label the cable too.")
    return a, b, c


def test_upload_file_exact_layout(project: Project, files: Any, tmp_path: Path) -> None:
    ids = _loaded(project, files)
    a, b, c = _decide_three(project, ids)
    by_id = {v: k for k, v in ids.items()}
    raw = {s["assignment_id"]: s["worker"] for s in truth(files)["submissions"]}
    hits = {s["assignment_id"]: s["hit_id"] for s in truth(files)["submissions"]}
    out = tmp_path / "upload.csv"
    report = review.export_mturk(project, out)
    assert report.by_decision == {"approve": 1, "reject": 1, "rework": 1}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600

    def line(sid: int, approve: str, reject: str) -> str:
        aid = by_id[sid]
        cells = [hits[aid], aid, raw[aid], approve, reject]
        return ",".join(f'"{x}"' if ('"' in x or "," in x) else x
                        for x in (v.replace('"', '""') for v in cells))

    expected = ("HITId,AssignmentId,WorkerId,Approve,Reject\r\n"
                + line(a, "X", "") + "\r\n"
                + line(b, "", "'=HYPERLINK(\"http://x\") only 2 parts") + "\r\n"
                + line(c, "X", "") + "\r\n")
    assert out.read_bytes().decode("utf-8") == expected
    entry = tracework.log(project, action="review.export")[0]
    assert entry.target == "file:upload.csv" and "vault" in entry.reason
    # The ledger records the export, never the ids in it.
    for rid in set(raw.values()):
        assert all(rid not in e.new for e in tracework.log(project, limit=None))


def test_nothing_to_upload(sqlite_project: Project, files: Any,
                                           tmp_path: Path) -> None:
    _loaded(sqlite_project, files)
    with pytest.raises(InputError, match="no decisions to upload"):
        review.export_mturk(sqlite_project, tmp_path / "u.csv")
    assert not (tmp_path / "u.csv").exists()


def test_rework_batch_file_holds_the_inputs(project: Project, files: Any,
                                            tmp_path: Path) -> None:
    ids = _loaded(project, files)
    _, _, c = _decide_three(project, ids)
    by_id = {v: k for k, v in ids.items()}
    frame = {s["assignment_id"]: s["frame_file"] for s in truth(files)["submissions"]}
    report = review.export_rework(project, tmp_path / "repost.csv")
    assert report.rows == 1
    with (tmp_path / "repost.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["image_url"]
    assert rows[1][0].endswith("/" + frame[by_id[c]])


def test_platform_download_decides_too(project: Project, files: Any, tmp_path: Path) -> None:
    ids = _loaded(project, files)
    target = sorted(ids)[0]

    def reject(row: dict[str, str], _n: int) -> dict[str, str]:
        if row["AssignmentId"] == target:
            row["AssignmentStatus"] = "Rejected"
            row["RejectionTime"] = "Tue Mar 07 10:00:00 PST 2023"
            row["RequesterFeedback"] = "Rejected on the platform: cable missing"
        return row

    tracework.ingest_mturk(project, edited_batch(files.batch_csv, tmp_path / "later.csv",
                                                 reject))
    item = [i for i in review.review_list(project) if i.submission_id == ids[target]][0]
    assert (item.state, item.decision, item.decision_source, item.reason_text) == (
        "rejected", "reject", "platform", "Rejected on the platform: cable missing")
    with pytest.raises(ConflictError, match="already Rejected on the platform"):
        review.decide(project, ids[target], "approve")
    # Rules leave platform-decided work alone.
    assert review.propose(project).considered == len(ids) - 1


def test_a_lagging_platform_download_does_not_undo_a_decision(project: Project, files: Any,
                                                             tmp_path: Path) -> None:
    ids = _loaded(project, files)
    decided, other = sorted(ids)[:2]
    review.decide(project, ids[decided], "approve", reviewer="alice")

    def approve_other(row: dict[str, str], _n: int) -> dict[str, str]:
        if row["AssignmentId"] == other:       # the decided row still says Submitted
            row["AssignmentStatus"] = "Approved"
            row["ApprovalTime"] = "Tue Mar 07 10:00:00 PST 2023"
        return row

    report = tracework.ingest_mturk(project, edited_batch(files.batch_csv, tmp_path / "later.csv",
                                                          approve_other))
    assert (report.status_changes, report.platform_behind) == (1, 1)
    with project.store.read() as conn:
        status = dict(conn.execute(select(submissions.c.id, submissions.c.status)).all())
    assert status[ids[decided]] == "Approved" and status[ids[other]] == "Approved"
    item = [i for i in review.review_list(project) if i.submission_id == ids[decided]][0]
    assert (item.decision, item.decision_source) == ("approve", "tracework")
    lag = tracework.log(project, action="submission.platform_behind")
    assert [(e.target, json.loads(e.old), json.loads(e.new)) for e in lag] == [
        (f"submission:{ids[decided]}", "Approved", "Submitted")]
    assert tracework.verify(project).ok


def _filled(files: Any, dest: Path, marks: dict[int, tuple[str, str]],
            assignment: dict[int, str] | None = None) -> Path:
    """The batch file with Approve/Reject typed into rows (1-based) as a reviewer would."""
    def edit(row: dict[str, str], number: int) -> dict[str, str]:
        if number in marks:
            row["Approve"], row["Reject"] = marks[number]
        if assignment and number in assignment:
            row["AssignmentId"] = assignment[number]
        return row
    return edited_batch(files.batch_csv, dest, edit)


def test_decision_file_round_trip(project: Project, files: Any, tmp_path: Path) -> None:
    ids = _loaded(project, files)
    path = _filled(files, tmp_path / "typed.csv",
                   {1: ("X", ""), 2: ("", "Only 2 of 5 parts labelled."), 3: ("x", "")})
    report = review.decide_file(project, path)
    assert (report.decided, report.by_decision) == (3, {"approve": 2, "reject": 1})
    t = truth(files)["submissions"]
    assert _statuses(project)[ids[t[1]["assignment_id"]]] == "Rejected"
    item = [i for i in review.review_list(project) if i.submission_id == ids[t[1]["assignment_id"]]]
    assert item[0].reason_text == "Only 2 of 5 parts labelled."
    again = review.decide_file(project, path)
    assert (again.decided, again.unchanged) == (0, 3)
    changed = _filled(files, tmp_path / "changed.csv", {2: ("X", "")})
    with pytest.raises(ConflictError, match="row 2: submission .* is already decided"):
        review.decide_file(project, changed)
    assert review.decide_file(project, changed, redecide=True,
                              reason="Looked again: all parts are there."
                              ).by_decision == {"approve": 1}


@pytest.mark.parametrize("marks,assignment,problem", [
    ({1: ("X", ""), 4: ("", "Cable missing.")}, {4: "3NOSUCHASSIGNMENT00000000000000"},
     r"typed.csv, row 4, field 'AssignmentId': no submission with assignment id "
     r"'3NOSUCHASSIGNMENT00000000000000'"),
    ({1: ("X", "and a reason")}, None, r"row 1, field 'Reject': both Approve and Reject"),
    ({1: ("yes", "")}, None, r"row 1, field 'Approve': Approve holds 'yes'"),
    ({1: ("X", ""), 2: ("", "bad\x1breason")}, None, r"row 2, field 'Reject': .*U\+001B"),
    ({1: ("X", ""), 2: ("", "r" * 1025)}, None, r"row 2, field 'Reject': .*at most 1024"),
])
def test_bad_decision_files_store_nothing(sqlite_project: Project, files: Any, tmp_path: Path,
                                          marks: Any, assignment: Any, problem: str) -> None:
    _loaded(sqlite_project, files)
    entries = _count(sqlite_project, ledger)
    with pytest.raises(InputError, match=problem):
        review.decide_file(sqlite_project, _filled(files, tmp_path / "typed.csv", marks,
                                                   assignment))
    assert _count(sqlite_project, reviews) == 0 and _count(sqlite_project, ledger) == entries


def test_the_ledger_names_the_reviewer_the_decision_and_the_reason(sqlite_project: Project,
                                                                   files: Any) -> None:
    sid = min(_loaded(sqlite_project, files).values())
    review.decide(sqlite_project, sid, "rework", reason="Please label the cable too.",
                  reviewer="alice")
    entries = tracework.log(sqlite_project, target=f"submission:{sid}", newest_first=False)
    decided = [e for e in entries if e.action == "review.decide"]
    assert len(decided) == 1 and decided[0].actor == "alice"
    assert decided[0].reason == "Please label the cable too."
    assert json.loads(decided[0].new)["decision"] == "rework"
    status = [e for e in entries if e.action == "submission.status"]
    assert [(e.actor, e.old, e.new) for e in status] == [("alice", '"Submitted"', '"Rework"')]
    with sqlite_project.store.read() as conn:
        row = conn.execute(select(reviews)).one()
    assert (row.reviewer, row.decision, row.reason_text) == (
        "alice", "rework", "Please label the cable too.")


def test_queue_filters(sqlite_project: Project, files: Any) -> None:
    ids = _loaded(sqlite_project, files)
    review.propose(sqlite_project)
    everything = review.review_list(sqlite_project)
    flagged = {i.submission_id for i in everything if i.proposals}
    assert {i.submission_id for i in review.review_list(sqlite_project, proposed=False)} \
        == set(ids.values()) - flagged
    one = sorted(flagged)[0]
    review.decide(sqlite_project, one, "reject", reason_code="parts_missing")
    assert [i.submission_id for i in review.review_list(sqlite_project, status="rejected")] \
        == [one]
    assert one not in {i.submission_id for i in review.review_list(sqlite_project,
                                                                     status="submitted")}
    assert one not in {i.submission_id for i in review.review_list(sqlite_project,
                                                                     proposed=True)}
    worker = everything[0].worker
    assert {i.worker for i in review.review_list(sqlite_project, worker=worker)} == {worker}
    # The platform's batch number (as in Batch_5012345_batch_results.csv), its key, ours.
    for ref in ("5012345", "BatchId:5012345", "1"):
        assert len(review.review_list(sqlite_project, batches=[ref])) == len(ids)
    assert everything[0].batch == "BatchId:5012345"
    assert len(review.review_list(sqlite_project, limit=3)) == 3
    with pytest.raises(NotFound, match="no batch '999'"):
        review.review_list(sqlite_project, batches=["999"])
    with pytest.raises(InputError, match="status 'done' is not one of"):
        review.review_list(sqlite_project, status="done")


def test_rework_upload_skip_leaves_rework_out(project: Project, files: Any,
                                              tmp_path: Path) -> None:
    with (project.root / "tracework.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[review]\nrework_upload = "skip"\n')
    skip = open_project(project.root, cli={
        "database_url": project.settings["database_url"] or None, "actor": "tester"})
    try:
        ids = _loaded(skip, files)
        a, b, c = _decide_three(skip, ids)
        report = review.export_mturk(skip, tmp_path / "upload.csv")
        assert report.by_decision == {"approve": 1, "reject": 1}
        assert report.skipped == {"rework (rework_upload = skip)": 1}
        by_id = {v: k for k, v in ids.items()}
        _, rows = read_rows(tmp_path / "upload.csv")
        assert [r[1] for r in rows] == [by_id[a], by_id[b]]
    finally:
        skip.close()


def test_upload_since_keeps_only_later_decisions(sqlite_project: Project, files: Any,
                                                 tmp_path: Path) -> None:
    ids = sorted(_loaded(sqlite_project, files).values())
    review.decide(sqlite_project, ids[0], "approve")
    later = review.decide(sqlite_project, ids[1], "reject", reason="Cable missing.")
    with sqlite_project.store.read() as conn:
        at = conn.execute(select(reviews.c.created_at).where(
            reviews.c.id == later.review_id)).scalar_one()
    report = review.export_mturk(sqlite_project, tmp_path / "u.csv", since=at)
    assert (report.rows, report.by_decision) == (1, {"reject": 1})


def test_a_reason_at_the_limit_that_gains_a_quote_is_refused(sqlite_project: Project,
                                                             files: Any) -> None:
    sid = min(_loaded(sqlite_project, files).values())
    with pytest.raises(InputError, match=re.escape(
            "the reason is 1025 characters long once written to the platform's file (a quote "
            "goes before a leading '-'); the platform accepts at most 1024")):
        review.decide(sqlite_project, sid, "reject", reason="-" + "y" * 1023)
    assert _count(sqlite_project, reviews) == 0
    done = review.decide(sqlite_project, sid, "reject", reason="-" + "y" * 1022)
    assert len(neutralise(done.reason_text)) == 1024


def test_rework_file_neutralises_formula_cells(sqlite_project: Project, files: Any,
                                               tmp_path: Path) -> None:
    hostile = "=HYPERLINK(\"http://evil\",\"open\")"

    def edit(row: dict[str, str], number: int) -> dict[str, str]:
        if number == 1:
            row["Input.image_url"] = hostile
        return row

    tracework.ingest_mturk(sqlite_project, edited_batch(files.batch_csv, tmp_path / "b.csv",
                                                        edit))
    review.decide(sqlite_project, 1, "rework", reason="@cmd please redo")
    report = review.export_rework(sqlite_project, tmp_path / "repost.csv")
    assert report.rows == 1
    assert (tmp_path / "repost.csv").read_bytes().decode() == (
        'image_url\r\n"\'=HYPERLINK(""http://evil"",""open"")"\r\n')
    review.export_mturk(sqlite_project, tmp_path / "upload.csv")
    _, rows = read_rows(tmp_path / "upload.csv")
    assert rows[0][3:] == ["X", ""]  # rework is uploaded as an approval: paid, posted again


def test_redecision_from_a_file_needs_a_reason_for_approvals(sqlite_project: Project,
                                                             files: Any, tmp_path: Path) -> None:
    ids = _loaded(sqlite_project, files)
    sid = ids[truth(files)["submissions"][1]["assignment_id"]]
    review.decide(sqlite_project, sid, "reject", reason="Only the body is labelled.")
    changed = _filled(files, tmp_path / "changed.csv", {1: ("X", ""), 2: ("X", "")})
    entries = _count(sqlite_project, ledger)
    with pytest.raises(InputError, match="changed.csv, row 2, field 'Approve': approving submission .* needs a reason"):
        review.decide_file(sqlite_project, changed, redecide=True)
    assert _count(sqlite_project, reviews) == 1 and _count(sqlite_project, ledger) == entries
    report = review.decide_file(sqlite_project, changed, redecide=True,
                                reason="Re-checked: the parts are there.")
    assert report.by_decision == {"approve": 2}
    item = [i for i in review.review_list(sqlite_project) if i.submission_id == sid][0]
    assert (item.status, item.reason_text) == ("Approved", "Re-checked: the parts are there.")
    # A first decision needs no such reason: row 1 was undecided.
    first = [i for i in review.review_list(sqlite_project)
             if i.submission_id == ids[truth(files)["submissions"][0]["assignment_id"]]][0]
    assert (first.decision, first.reason_text) == ("approve", "")
