"""Erasure: after `tracework worker erase`, a worker's raw id, survey answers, free text and
credit name are nowhere (tables, exports, the bytes of the SQLite file and its WAL), the
change log still verifies, in the project and as published, and a re-import never ties new
work to the person again."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import tracework
from builders import edited_batch, small_files, truth
from conftest import MOUSE
from tracework.core import ledger
from tracework.core.erasure import erase_worker
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.privacy import pseudonym
from tracework.core.project import Project
from tracework.core.store.schema import (
    annotations,
    answers,
    ledger_head,
    responses,
    submissions,
    vault,
    vault_values,
    workers,
)
from tracework.core.store.tables_notes import notes
from tracework.core.store.tables_privacy import ledger_private
from tracework.core.store.tables_web import portal_links
from tracework.docs.ledger_export import check_chain, export_ledger
from tracework.fieldnotes import notes as fieldnotes
from tracework.review import contest, decide
from tracework.web.users import portal_link, portal_resolve

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")

VICTIM = "A19DQ3Y4BRBG4"          # the example worker erased here (4 submissions, a survey)
RAW_ID = "ACANARYERASE7Q"         # their platform id, replaced by a canary everywhere
CANARIES = {
    "raw id": RAW_ID,
    "city (free text)": "Canaryburg-on-Sea",
    "cost (free text)": "CANARYCOST 77 dollars",
    "health other text": "canary wrist ache",
    "credit name": "Zelda Canarian",
    "IP address": "203.0.113.77",
    "typed survey code": "CANARYCODE55",
    "requester feedback": "canary feedback for you",
    "review reason": "canary reason: the cable is missing",
    "dispute message": "canary dispute: I did label the cable",
    "note text": "canary note: asked about the cable by mail",
}


def _canary_files(root: Path) -> Any:
    files = small_files(root / "gen")
    for path in (files.batch_csv, files.survey_csv):
        text = path.read_text(encoding="utf-8-sig")
        assert VICTIM in text
        path.write_text(text.replace(VICTIM, RAW_ID), encoding="utf-8")
    with files.survey_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    victim = next(r for r in rows[3:] if r[header.index("workerId")] == RAW_ID)
    for column, value in (("Q4", CANARIES["city (free text)"]),
                          ("Q10", CANARIES["cost (free text)"]),
                          ("Q9_9_TEXT", CANARIES["health other text"]),
                          ("Q12", CANARIES["credit name"]),
                          ("IPAddress", CANARIES["IP address"])):
        victim[header.index(column)] = value
    with files.survey_csv.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(rows)
    first = True

    def feedback(row: dict[str, str], _n: int) -> dict[str, str]:
        nonlocal first
        if row["WorkerId"] == RAW_ID:
            row["Answer.surveycode"] = CANARIES["typed survey code"]
            if first:
                row["RequesterFeedback"] = CANARIES["requester feedback"]
                first = False
        return row

    edited = edited_batch(files.batch_csv, root / "batch.csv", feedback)
    shutil.copyfile(edited, files.batch_csv)
    return files


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    env.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([str(TRACEWORK), *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False, stdin=subprocess.DEVNULL)


def _db_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (root / "tracework.db", root / "tracework.db-wal")
                    if p.exists())


def _files_with(root: Path, value: str) -> list[str]:
    needle = value.encode("utf-8")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and needle in p.read_bytes())


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project holding the canary worker's work, survey, feedback, a rejection with its
    reason, a contest, a note and a portal link; exported once, then erased through the
    installed command."""
    root = tmp_path_factory.mktemp("erase")
    files = _canary_files(root)
    # The project publishes free text (of consenting workers), so the export before the
    # erasure carries the canary worker's city and health text: the check after can fail.
    project = tracework.init(root / "proj", categories=MOUSE, actor="tester",
                             credit_name_column="Q12", free_text_questions=["Q4", "Q10"],
                             publish_free_text=True)
    tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    token = pseudonym(project.secret, "mturk", RAW_ID)
    with project.store.read() as conn:
        sids = [int(r.id) for r in conn.execute(
            select(submissions.c.id).where(submissions.c.worker == token)
            .order_by(submissions.c.id))]
        labels = conn.execute(select(func.count()).select_from(annotations)
                              .where(annotations.c.worker == token)).scalar_one()
        others = conn.execute(select(func.count()).select_from(responses)
                              .where(responses.c.worker != token)).scalar_one()
    decide(project, sids[0], "reject", reason=CANARIES["review reason"], reviewer="tester")
    contest(project, sids[0], CANARIES["dispute message"])
    fieldnotes.add(project, f"worker:{token}", CANARIES["note text"], concern="other")
    link_token, _ = portal_link(project, token)
    before = {name: value for name, value in CANARIES.items()
              if value.encode("utf-8") in _db_bytes(project.root)}
    tracework.export_coco(project, root / "before" / "coco", status="all")
    project.close()
    done = _run("-p", str(root / "proj"), "worker", "erase", token, "--reason",
                "request by e-mail, 3 March", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    return {"root": root, "files": files, "token": token, "sids": sids, "labels": labels,
            "before": before, "report": json.loads(done.stdout), "link": link_token,
            "proj": root / "proj", "other_responses": others}


def test_every_canary_was_in_the_database_before(erased: dict[str, Any]) -> None:
    # The search below can fail: each value was there to be found.
    assert set(erased["before"]) == set(CANARIES)


def test_no_canary_left_in_the_database_file_or_its_wal(erased: dict[str, Any]) -> None:
    data = _db_bytes(erased["proj"])
    left = [name for name, value in CANARIES.items() if value.encode("utf-8") in data]
    assert left == []
    wal = erased["proj"] / "tracework.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_verify_still_passes_through_the_installed_command(erased: dict[str, Any]) -> None:
    done = _run("-p", str(erased["proj"]), "verify")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok: ")
    assert erased["report"]["ledger_head"] in done.stdout


def test_the_report_says_what_went_and_what_stayed(erased: dict[str, Any]) -> None:
    report = erased["report"]
    assert report["worker"] == erased["token"]
    assert report["submissions_kept"] == 4 == len(erased["sids"])
    assert report["deleted"]["vault"] == 1
    assert report["deleted"]["responses"] == 1
    assert report["deleted"]["vault_values"] == 3          # IP address, latitude, longitude
    assert report["deleted"]["notes"] == 1
    assert report["deleted"]["ledger_private"] == 5         # name, reason x2, message, note
    assert report["cleared"]["submissions"] == 4
    assert report["cleared"]["reviews"] == 1
    assert report["cleared"]["review_disputes"] == 1
    assert report["cleared"]["portal_links"] == 1
    assert report["legacy_entries"] == [] and report["complete"] is True
    assert report["compacted"] is True


def test_labour_facts_and_labels_stay_anonymous(erased: dict[str, Any]) -> None:
    project = tracework.open_project(erased["proj"])
    try:
        with project.store.read() as conn:
            subs = conn.execute(select(submissions).where(
                submissions.c.worker == erased["token"]).order_by(submissions.c.id)).all()
            person = conn.execute(select(workers).where(
                workers.c.pseudonym == erased["token"])).one()
            kept_labels = conn.execute(select(func.count()).select_from(annotations).where(
                annotations.c.worker == erased["token"])).scalar_one()
            in_vault = conn.execute(select(func.count()).select_from(vault)).scalar_one()
            left = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in (answers, responses, vault_values, notes, ledger_private)}
            private_of = conn.execute(select(func.count()).select_from(ledger_private).where(
                ledger_private.c.worker == erased["token"])).scalar_one()
            links = conn.execute(select(portal_links.c.revoked_at).where(
                portal_links.c.worker == erased["token"])).all()
    finally:
        project.close()
    assert [s.id for s in subs] == erased["sids"]
    assert [s.status for s in subs][0] == "Rejected"
    assert all(s.reward_cents == 15 and s.work_time_s is not None for s in subs)
    assert {(s.answer, s.raw, s.requester_feedback) for s in subs} == {("{}", "{}", "")}
    assert kept_labels == erased["labels"] > 0
    assert (person.erased, person.credit_name, person.consent_link, person.consent_publish,
            person.consent_credit) == (True, None, False, False, False)
    assert in_vault == 8                                   # the other workers' ids
    # What stays private is the erasure's own reason, staff's words about nobody's values.
    assert private_of == 0 and left["ledger_private"] == 1
    assert left["responses"] == erased["other_responses"] > 0 and left["notes"] == 0
    assert len(links) == 1 and links[0].revoked_at is not None
    project = tracework.open_project(erased["proj"])
    try:
        assert portal_resolve(project, erased["link"]) is None
    finally:
        project.close()


def test_the_log_shows_erased_values_as_erased(erased: dict[str, Any]) -> None:
    done = _run("-p", str(erased["proj"]), "log", "--target", f"worker:{erased['token']}",
                "--limit", "0", "--oldest-first", "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    named = [r for r in rows if r["field"] == "credit_name"]
    assert [(r["old"], r["new"]) for r in named] == [(None, {"erased": True})]
    last = rows[-1]
    assert last["action"] == "worker.erase"
    assert last["reason"] == "request by e-mail, 3 March"   # staff's reason, kept apart
    assert last["new"]["submissions_kept"] == 4
    assert not [r for r in rows if any(v in json.dumps(r, ensure_ascii=False)
                                       for v in CANARIES.values())]


def test_exports_after_erasure_carry_no_canary(erased: dict[str, Any]) -> None:
    out = erased["root"] / "after"
    done = _run("-p", str(erased["proj"]), "export", "bundle", str(out), "--status", "all")
    assert done.returncode == 0, done.stderr
    assert {name: _files_with(out, value) for name, value in CANARIES.items()
            if _files_with(out, value)} == {}
    # The export before the erasure did carry the worker's survey answers: the check can fail.
    before = erased["root"] / "before"
    assert _files_with(before, "Canaryburg-on-Sea") or _files_with(before, "canary wrist ache")


def test_the_published_log_verifies_whole(erased: dict[str, Any]) -> None:
    project = tracework.open_project(erased["proj"])
    try:
        out = erased["root"] / "published"
        result = export_ledger(project, out)
        with project.store.read() as conn:
            stored = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash)).one()
    finally:
        project.close()
    assert check_chain(out / "ledger.jsonl") == (stored.seq, stored.hash) == (result.entries,
                                                                              result.head)
    rows = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    sealed = [r for r in rows if r["action"] in ("review.contest", "note.add", "worker.erase")
              or r["field"] == "credit_name"]
    assert len(sealed) == 4 and not [r for r in sealed if "redacted" in r]
    contest_entry = next(r for r in sealed if r["action"] == "review.contest")
    assert ledger.is_commitment(contest_entry["new"]["message"])


def test_a_reimport_meeting_the_erased_id_stores_nothing_linked(
        erased: dict[str, Any], tmp_path: Path) -> None:
    files = erased["files"]
    fresh = {"n": 0}

    def renumber(row: dict[str, str], _n: int) -> dict[str, str] | None:
        if row["WorkerId"] != RAW_ID:
            return None
        fresh["n"] += 1
        # Half the rows are the ones already stored, half new work under the same id.
        if fresh["n"] % 2 == 0:
            row["AssignmentId"] = f"3NEWASSIGNMENT{fresh['n']:016d}"
        return row

    batch = edited_batch(files.batch_csv, tmp_path / "again.csv", renumber)
    done = _run("-p", str(erased["proj"]), "ingest", "mturk", str(batch),
                "--images", str(files.images_dir), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["erased_unlinked"], report["erased_refused"], report["added"]) == (2, 2, 2)
    text = _run("-p", str(erased["proj"]), "ingest", "qualtrics", str(files.survey_csv),
                "--worker-column", "workerId", "--consent-column", "Q11")
    # The same survey file was imported before: it adds nothing, whatever it holds.
    assert "already imported" in text.stdout
    with files.survey_csv.open(encoding="utf-8") as fh:
        survey = fh.read()
    (tmp_path / "survey2.csv").write_text(survey.replace("Canaryburg-on-Sea", "Canaryburg"),
                                          encoding="utf-8")
    said = _run("-p", str(erased["proj"]), "ingest", "qualtrics", str(tmp_path / "survey2.csv"),
                "--worker-column", "workerId", "--consent-column", "Q11")
    assert said.returncode == 0, said.stderr
    assert "1 row(s) of erased workers were not stored" in said.stdout
    project = tracework.open_project(erased["proj"])
    try:
        with project.store.read() as conn:
            new = conn.execute(select(submissions.c.worker).where(
                submissions.c.assignment_id.startswith("3NEWASSIGNMENT"))).all()
            in_vault = conn.execute(select(func.count()).select_from(vault)).scalar_one()
            theirs = conn.execute(select(func.count()).select_from(responses).where(
                responses.c.worker == erased["token"])).scalar_one()
    finally:
        project.close()
    assert len(new) == 2 and len({r.worker for r in new}) == 1
    assert new[0].worker != erased["token"]
    assert in_vault == 8 and theirs == 0
    data = _db_bytes(erased["proj"])
    assert RAW_ID.encode() not in data
    assert _run("-p", str(erased["proj"]), "verify").returncode == 0


def test_failure_paths_exit_non_zero(erased: dict[str, Any]) -> None:
    base = ["-p", str(erased["proj"]), "worker", "erase"]
    unknown = _run(*base, "w_aaaaaaaaaaaa", "--reason", "asked", "--yes")
    assert unknown.returncode == NotFound.exit_code and "no worker" in unknown.stderr
    missing = _run(*base, erased["token"], "--yes")
    assert missing.returncode == 2 and "--reason" in missing.stderr
    empty = _run(*base, erased["token"], "--reason", "  ", "--yes")
    assert empty.returncode == InputError.exit_code and "needs a reason" in empty.stderr
    again = _run(*base, erased["token"], "--reason", "asked twice", "--yes")
    assert again.returncode == ConflictError.exit_code and "already erased" in again.stderr
    unconfirmed = _run(*base, erased["token"], "--reason", "asked")
    assert unconfirmed.returncode == InputError.exit_code and "--yes" in unconfirmed.stderr
    assert "Traceback" not in unknown.stderr + missing.stderr + empty.stderr + again.stderr


def test_old_entries_with_clear_words_are_listed(sqlite_project: Project, tmp_path: Path) -> None:
    """An entry written before commitments (here: appended as an old version wrote it) cannot
    change; the erasure names it and does not claim to be complete."""
    files = small_files(tmp_path / "gen")
    tracework.ingest_mturk(sqlite_project, files.batch_csv)
    token = pseudonym(sqlite_project.secret, "mturk", next(iter(truth(files)["workers"])))
    with sqlite_project.store.write() as conn:
        log = ledger.LedgerWriter(conn, "old-version")
        log.append("consent.set", f"worker:{token}", field="credit_name", old=None,
                   new="Old Clear Name", reason="survey response R_old")
        log.flush()
        seq = log.seq
    report = erase_worker(sqlite_project, token, reason="asked")
    assert report.legacy_entries == [seq] and report.complete is False
    assert tracework.verify(sqlite_project).ok
    out = tmp_path / "published"
    export_ledger(sqlite_project, out)
    assert "Old Clear Name" not in (out / "ledger.jsonl").read_text(encoding="utf-8")


def test_erasure_on_each_database(project: Project, tmp_path: Path) -> None:
    """The same erasure on SQLite and PostgreSQL (where the touched tables get VACUUM FULL):
    no text column of any table holds the worker's raw id or answers afterwards."""
    from sqlalchemy import String, Text

    from tracework.core.store import schema

    files = small_files(tmp_path / "gen")
    tracework.ingest_mturk(project, files.batch_csv)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    token = pseudonym(project.secret, "mturk", VICTIM)
    with project.store.read() as conn:
        rid = conn.execute(select(responses.c.id).where(responses.c.worker == token)).scalar_one()
        city = json.loads(conn.execute(select(answers.c.value).where(
            answers.c.response_id == rid, answers.c.question == "Q4")).scalar_one())
    assert city == "USA"
    report = erase_worker(project, token, reason="asked")
    assert (report.submissions_kept, report.deleted["vault"], report.deleted["responses"],
            report.compacted) == (4, 1, 1, True)
    found = []
    with project.store.read() as conn:
        for table in schema.metadata.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for row in conn.execute(select(*cols)) if cols else []:
                found += [f"{table.name}.{c.name}" for c, v in zip(cols, row, strict=True)
                          if v is not None and VICTIM in v]
        theirs = conn.execute(select(func.count()).select_from(answers).where(
            answers.c.response_id == rid)).scalar_one()
    assert found == [] and theirs == 0
    assert tracework.verify(project).ok
