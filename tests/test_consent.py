"""Consent changes: staff record one (`tracework consent set`), a newer survey answer applies
instead of becoming a conflict, and the next exports follow; credit names stay out of the
log's entries (a salted commitment) and out of the published log."""

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
from sqlalchemy import select

import tracework
from builders import small_files
from conftest import MOUSE
from tracework.core import ledger
from tracework.core.erasure import erase_worker
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.privacy import pseudonym
from tracework.core.project import Project
from tracework.core.store.schema import answers, responses, workers
from tracework.core.store.tables_privacy import ledger_private
from tracework.docs.ledger_export import check_chain, export_ledger

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")
WORKER = "A2NFSPX9J4EM2I"       # consents (Q11 Yes) and has 6 submissions in the example


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    env.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([str(TRACEWORK), *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("consent"))


@pytest.fixture
def loaded(tmp_path: Path, files: Any) -> Project:
    project = tracework.init(tmp_path / "proj", categories=MOUSE, actor="tester",
                             credit_name_column="Q12")
    tracework.ingest_mturk(project, files.batch_csv)
    tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    project.close()
    return tracework.open_project(tmp_path / "proj")


def _with_survey(project: Project, out: Path) -> set[str]:
    tracework.export_coco(project, out, status="all")
    doc = json.loads((out / "annotations.json").read_text(encoding="utf-8"))
    return {a["attributes"]["worker"] for a in doc["annotations"] if "survey" in a["attributes"]}


def _consent(project: Project, token: str) -> tuple[bool, bool, bool, str | None]:
    with project.store.read() as conn:
        r = conn.execute(select(workers).where(workers.c.pseudonym == token)).one()
    return r.consent_link, r.consent_publish, r.consent_credit, r.credit_name


def test_staff_withdrawal_changes_what_exports_carry(loaded: Project, tmp_path: Path) -> None:
    token = pseudonym(loaded.secret, "mturk", WORKER)
    assert token in _with_survey(loaded, tmp_path / "before")
    done = _run("-p", str(loaded.root), "consent", "set", token, "--scope", "publish",
                "--value", "no", "--reason", "withdrawal by e-mail, 3 March")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{token}: publish withdrawn"
    assert _consent(loaded, token) == (True, False, False, None)
    after = _with_survey(loaded, tmp_path / "after")
    assert token not in after and len(after) == len(_with_survey(loaded, tmp_path / "b2")) > 0
    (entry,) = tracework.log(loaded, target=f"worker:{token}", action="consent.set",
                             newest_first=True, limit=1)
    assert (entry.field, entry.old, entry.new, entry.reason) == (
        "publish", "true", "false", "withdrawal by e-mail, 3 March")
    again = _run("-p", str(loaded.root), "consent", "set", token, "--scope", "publish",
                 "--value", "no", "--reason", "second letter")
    assert again.returncode == 0 and "nothing changed" in again.stdout
    assert tracework.verify(loaded).ok


def test_a_credit_name_is_a_commitment_in_the_log(loaded: Project, tmp_path: Path) -> None:
    token = pseudonym(loaded.secret, "mturk", WORKER)
    done = _run("-p", str(loaded.root), "consent", "set", token, "--scope", "credit",
                "--value", "yes", "--name", "Ana Pereira-Q", "--reason", "form of 4 March")
    assert done.returncode == 0, done.stderr
    assert _consent(loaded, token) == (True, True, True, "Ana Pereira-Q")
    with loaded.store.read() as conn:
        (stored,) = ledger.entries(conn, target=f"worker:{token}", action="consent.set",
                                   newest_first=True, limit=1)
        private = conn.execute(select(ledger_private)).all()
    assert stored.field == "credit_name" and stored.old == "null"
    assert ledger.is_commitment(json.loads(stored.new))
    assert "Ana Pereira-Q" not in stored.new
    assert [(p.seq, p.part, p.value, p.worker) for p in private] == [
        (stored.seq, "new", '"Ana Pereira-Q"', token)]
    assert json.loads(stored.new)["commit"] == ledger.commitment_of(private[0].salt,
                                                                    private[0].value)
    shown = _run("-p", str(loaded.root), "log", "--target", f"worker:{token}", "--limit", "1")
    assert '"Ana Pereira-Q"' in shown.stdout
    out = tmp_path / "published"
    export_ledger(loaded, out)
    text = (out / "ledger.jsonl").read_text(encoding="utf-8")
    assert "Ana Pereira-Q" not in text and stored.new in json.dumps(
        [json.loads(line)["new"] for line in text.splitlines()], separators=(",", ":"))
    assert check_chain(out / "ledger.jsonl")[1] == tracework.verify(loaded).head
    withdrawn = _run("-p", str(loaded.root), "consent", "set", token, "--scope", "credit",
                     "--value", "no", "--reason", "changed their mind")
    assert withdrawn.returncode == 0
    assert _consent(loaded, token) == (True, True, False, None)


def test_an_altered_private_value_fails_verify(loaded: Project) -> None:
    token = pseudonym(loaded.secret, "mturk", WORKER)
    tracework.consent_set(loaded, token, "credit", True, reason="form", credit_name="Ana")
    assert tracework.verify(loaded).ok
    with loaded.store.write() as conn:
        conn.execute(ledger_private.update().values(value='"Someone Else"'))
    done = _run("-p", str(loaded.root), "verify")
    assert done.returncode == 7 and "private value of entry" in done.stderr


def _survey_with(src: Path, dest: Path, worker: str, **cells: str) -> Path:
    with src.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    row = next(r for r in rows[3:] if r[header.index("workerId")] == worker)
    for column, value in cells.items():
        row[header.index(column)] = value
    with dest.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(rows)
    return dest


def test_a_reimported_survey_saying_no_applies(loaded: Project, files: Any,
                                                tmp_path: Path) -> None:
    token = pseudonym(loaded.secret, "mturk", WORKER)
    assert _consent(loaded, token)[:2] == (True, True)
    changed = _survey_with(files.survey_csv, tmp_path / "survey_no.csv", WORKER, Q11="No")
    report = tracework.ingest_qualtrics(loaded, changed, worker_column="workerId",
                                        consent_column="Q11")
    assert (report.consent_changes, report.conflicts, report.unchanged) == (1, 0, 7)
    assert _consent(loaded, token)[:2] == (False, False)
    entries = tracework.log(loaded, target=f"worker:{token}", action="consent.set",
                            newest_first=True, limit=2)
    assert sorted((e.field, e.old, e.new) for e in entries) == [
        ("link", "true", "false"), ("publish", "true", "false")]
    assert all("re-imported from survey_no.csv" in e.reason and "consent answer changed"
               in e.reason for e in entries)
    with loaded.store.read() as conn:
        rid = conn.execute(select(responses.c.id).where(responses.c.worker == token)).scalar_one()
        q11 = conn.execute(select(answers.c.value).where(
            answers.c.response_id == rid, answers.c.question == "Q11")).scalar_one()
    assert q11 == '"No"'
    (update,) = tracework.log(loaded, target=f"response:{rid}", action="response.update")
    assert "only consent answers changed" in update.reason
    assert token not in _with_survey(loaded, tmp_path / "coco")
    assert tracework.verify(loaded).ok


def test_an_older_copy_saying_no_stays_a_conflict(loaded: Project, files: Any,
                                                   tmp_path: Path) -> None:
    token = pseudonym(loaded.secret, "mturk", WORKER)
    older = _survey_with(files.survey_csv, tmp_path / "older.csv", WORKER, Q11="No",
                         EndDate="2025-03-21 09:17:00")
    report = tracework.ingest_qualtrics(loaded, older, worker_column="workerId",
                                        consent_column="Q11")
    assert (report.consent_changes, report.conflicts) == (0, 1)
    assert _consent(loaded, token)[:2] == (True, True)


def test_failure_paths_exit_non_zero(loaded: Project) -> None:
    token = pseudonym(loaded.secret, "mturk", WORKER)
    base = ["-p", str(loaded.root), "consent", "set"]
    unknown = _run(*base, "w_aaaaaaaaaaaa", "--scope", "link", "--value", "no", "--reason", "x")
    assert unknown.returncode == NotFound.exit_code and "no worker" in unknown.stderr
    missing = _run(*base, token, "--scope", "link", "--value", "no")
    assert missing.returncode == 2 and "--reason" in missing.stderr
    empty = _run(*base, token, "--scope", "link", "--value", "no", "--reason", " ")
    assert empty.returncode == InputError.exit_code and "needs a reason" in empty.stderr
    scope = _run(*base, token, "--scope", "everything", "--value", "no", "--reason", "x")
    assert scope.returncode == 2
    nameless = _run(*base, token, "--scope", "credit", "--value", "yes", "--reason", "x")
    assert nameless.returncode == InputError.exit_code and "name" in nameless.stderr
    erase_worker(loaded, token, reason="asked")
    gone = _run(*base, token, "--scope", "link", "--value", "yes", "--reason", "x")
    assert gone.returncode == ConflictError.exit_code and "erased" in gone.stderr
    assert not [r for r in (unknown, missing, empty, scope, nameless, gone)
                if "Traceback" in r.stderr]
