"""`tracework verify` checks the tables against the ledger: a cell edited, a row inserted or
deleted in SQL is caught and named (table, key, column) through the installed command, while
every change made through tracework's own commands still verifies."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text, update

import tracework
import tracework.demo
from builders import small_files
from test_platforms_ingest import _file, _reader, _works
from tracework import review
from tracework.core import integrity
from tracework.core.errors import IntegrityError, LedgerError
from tracework.core.project import Project
from tracework.core.store.schema import workers
from tracework.core.store.tables_integrity import row_seals
from tracework.fieldnotes import notes as fieldnotes
from tracework.ingest.platforms import ingest_platform

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")
TABLES = len(integrity.SEALED)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    environment.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([str(TRACEWORK), *args], env=environment, capture_output=True,
                          text=True, timeout=180, check=False)


def ok(*args: str) -> str:
    done = run(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def sql(project: Path, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(project / "tracework.db") as db:
        rows = db.execute(statement, params).fetchall()
    db.close()
    return rows


def sealed_rows(project: Path) -> int:
    return sum(sql(project, f"SELECT count(*) FROM {name}")[0][0] for name in integrity.SEALED)


@pytest.fixture(scope="module")
def worked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project, then a change through each kind of command, all through the installed
    command: contests upheld and overturned (a bonus), a redecision, notes, a taxonomy
    rename, a top-up and its payment."""
    out = tmp_path_factory.mktemp("verify") / "demo"
    tracework.demo.demo(out, frames=4, workers=6, size=(320, 213))
    p = str(out / "project")
    rejected = [r[0] for r in sql(out / "project",
                                  "SELECT id FROM submissions WHERE status = 'Rejected' ORDER BY id")]
    approved = sql(out / "project", "SELECT id FROM submissions WHERE status = 'Approved' "
                                    "ORDER BY id LIMIT 1")[0][0]
    assert len(rejected) == 3
    ok("-p", p, "review", "contest", str(rejected[0]), "--message", "All parts are there.")
    ok("-p", p, "review", "resolve", str(rejected[0]), "--overturn", "--pay", "bonus",
       "--reason", "The cable is labelled; the rule missed it.")
    ok("-p", p, "review", "contest", str(rejected[1]), "--message", "Please look again.")
    ok("-p", p, "review", "resolve", str(rejected[1]), "--uphold", "--reason",
       "Only the body is labelled.")
    ok("-p", p, "review", "decide", str(approved), "--reject", "--redecide", "--reason",
       "The scroll wheel is labelled as the body.")
    ok("-p", p, "note", "add", "category:Body", "is the scroll wheel part of the body?",
       "--concern", "taxonomy")
    ok("-p", p, "note", "reply", "1", "yes, per guideline 2")
    ok("-p", p, "note", "resolve", "1", "--reason", "guideline says so")
    ok("-p", p, "taxonomy", "rename", "Cable", "Cord", "--reason", "workers found Cable unclear",
       "--answers", "1")
    ok("-p", p, "pay", "topup")
    ok("-p", p, "pay", "mark-paid", "--all-planned")
    return out / "project"


@pytest.fixture
def copy(worked: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(worked, dest)
    return dest


def test_every_command_leaves_a_project_that_verifies_row_by_row(worked: Path) -> None:
    seals = dict(sql(worked, "SELECT tbl, count(*) FROM row_seals GROUP BY tbl"))
    assert seals["review_disputes"] == 2 and seals["notes"] == 2 and seals["bonuses"] >= 1
    assert seals["taxonomy_versions"] == 2 and seals["reviews"] == 14
    entries = sql(worked, "SELECT count(*) FROM ledger")[0][0]
    head = sql(worked, "SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1")[0][0]
    lines = ok("-p", str(worked), "verify").splitlines()
    assert lines == [f"ok: {entries} entries verify; head {head}",
                     f"ok: {sealed_rows(worked)} rows in {TABLES} tables agree with the log"]
    assert sum(seals.values()) == sealed_rows(worked)


EDITS = [
    ("reviews", "reason_text", "UPDATE reviews SET reason_text = 'no reason' WHERE id = ?",
     "SELECT min(id) FROM reviews WHERE reason_text <> ''"),
    ("annotations", "category", "UPDATE annotations SET category = 'Cable' WHERE id = ?",
     "SELECT min(id) FROM annotations WHERE category = 'Body'"),
    ("submissions", "status", "UPDATE submissions SET status = 'Approved' WHERE id = ?",
     "SELECT min(id) FROM submissions WHERE status = 'Rejected'"),
    ("workers", "consent_publish", "UPDATE workers SET consent_publish = 1 WHERE pseudonym = ?",
     "SELECT min(pseudonym) FROM workers WHERE consent_publish = 0"),
    ("notes", "text", "UPDATE notes SET text = 'nothing to see' WHERE id = ?",
     "SELECT min(id) FROM notes"),
    ("bonuses", "amount_cents", "UPDATE bonuses SET amount_cents = 1 WHERE id = ?",
     "SELECT min(id) FROM bonuses"),
    ("answers", "value", "UPDATE answers SET value = '\"Other\"' WHERE id = ?",
     "SELECT min(id) FROM answers WHERE value IS NOT NULL"),
]


@pytest.mark.parametrize(("table", "column", "edit", "pick"), EDITS,
                         ids=[f"{t}.{c}" for t, c, _, _ in EDITS])
def test_a_cell_edited_in_sql_is_caught_and_named(copy: Path, table: str, column: str,
                                                  edit: str, pick: str) -> None:
    (key,) = sql(copy, pick)[0]
    assert key is not None
    sql(copy, edit, key)
    done = run("-p", str(copy), "verify")
    assert done.returncode == IntegrityError.exit_code == LedgerError.exit_code == 7
    assert f"table {table}, row {key}: column {column} differs from what tracework wrote" \
        in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    project = tracework.open_project(copy)
    try:
        with pytest.raises(IntegrityError) as caught:
            tracework.verify(project)
        assert (caught.value.table, caught.value.key, caught.value.columns) == \
            (table, str(key), (column,))
        assert tracework.verify(project, data=False).data_checked is False
    finally:
        project.close()


def test_two_cells_of_one_row_are_both_named(copy: Path) -> None:
    (key,) = sql(copy, "SELECT min(id) FROM reviews")[0]
    sql(copy, "UPDATE reviews SET reason_text = 'x', reviewer = 'mallory' WHERE id = ?", key)
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert f"table reviews, row {key}: column reason_text, reviewer differs" in done.stderr


def test_a_deleted_row_is_named(copy: Path) -> None:
    (key,) = sql(copy, "SELECT max(id) FROM reviews")[0]
    sql(copy, "DELETE FROM reviews WHERE id = ?", key)
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert f"table reviews, row {key} is missing: tracework wrote it at ledger entry" \
        in done.stderr, done.stderr


def test_an_inserted_row_is_named(copy: Path) -> None:
    sql(copy, "INSERT INTO notes (id, target, concern, text, author, created_at, state, "
              "state_reason) VALUES (99, 'category:Body', 'other', 'planted', 'mallory', "
              "'2026-01-01T00:00:00+00:00', 'open', '')")
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert "table notes, row 99 has no seal: it was inserted outside tracework" in done.stderr


def test_a_row_deleted_with_its_seal_is_caught_by_the_seal_record(copy: Path) -> None:
    (key,) = sql(copy, "SELECT max(id) FROM review_disputes")[0]
    sql(copy, "DELETE FROM review_disputes WHERE id = ?", key)
    sql(copy, "DELETE FROM row_seals WHERE tbl = 'review_disputes' AND key = ?", str(key))
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert ("table review_disputes: the seal record accounts for 2 rows, 1 are sealed: rows "
            "were deleted, or restored to an earlier state, together with their seals") \
        in done.stderr, done.stderr


def test_a_seal_rewritten_without_the_secret_does_not_cover_an_edit(copy: Path) -> None:
    (key,) = sql(copy, "SELECT min(id) FROM notes")[0]
    sql(copy, "UPDATE notes SET text = 'rewritten' WHERE id = ?", key)
    # The attacker recomputes a digest as best they can: with a key of their own.
    sql(copy, "UPDATE row_seals SET digest = ? WHERE tbl = 'notes' AND key = ?", "0" * 64, str(key))
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert f"table notes, row {key}: column text differs" in done.stderr


def test_a_row_restored_with_its_older_seal_is_caught(copy: Path) -> None:
    columns = [r[1] for r in sql(copy, "PRAGMA table_info(notes)")]
    row = sql(copy, "SELECT * FROM notes WHERE id = 1")[0]
    seal = sql(copy, "SELECT seq, digest, cols FROM row_seals WHERE tbl = 'notes' AND key = '1'")[0]
    ok("-p", str(copy), "note", "resolve", "1", "--state", "open", "--reason", "came up again")
    ok("-p", str(copy), "verify")
    # Note 1 put back as it was, with the seal it had then: the row matches that seal.
    sql(copy, f"UPDATE notes SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = 1", *row)
    sql(copy, "UPDATE row_seals SET seq = ?, digest = ?, cols = ? WHERE tbl = 'notes' "
              "AND key = '1'", *seal)
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert ("table notes: the digests of its 2 sealed rows do not add up to the seal record's: "
            "a row was restored to an earlier state together with its seal") in done.stderr


def test_the_seal_record_edited_is_caught(copy: Path) -> None:
    sql(copy, "UPDATE seal_head SET totals = replace(totals, '[2,', '[3,')")
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert "the seal record (row counts and digest sums per table) was altered" in done.stderr


def test_chain_only_skips_the_tables(copy: Path) -> None:
    sql(copy, "UPDATE notes SET text = 'edited' WHERE id = 1")
    lines = ok("-p", str(copy), "verify", "--chain-only").splitlines()
    assert len(lines) == 1 and lines[0].startswith("ok: ")
    assert run("-p", str(copy), "verify").returncode == 7


def test_a_legitimate_write_after_tampering_keeps_the_tampering_visible(copy: Path) -> None:
    sql(copy, "UPDATE notes SET text = 'edited' WHERE id = 1")
    ok("-p", str(copy), "note", "add", "category:Body", "another", "--concern", "other")
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7 and "table notes, row 1: column text differs" in done.stderr


def _as_legacy(project: Path) -> None:
    """The store as an upgrade from before sealing leaves it: no seals, marked legacy."""
    sql(project, "DELETE FROM row_seals")
    sql(project, "UPDATE seal_head SET seq = NULL, hash = NULL, totals = '{}', legacy = 1, "
                 "mac = NULL")


def test_an_older_project_is_sealed_once_by_seal_existing(copy: Path) -> None:
    _as_legacy(copy)
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert "the tables disagree with the change log: the tables have never been sealed" \
        in done.stderr and "tracework verify --seal-existing" in done.stderr
    rows = sealed_rows(copy)
    lines = ok("-p", str(copy), "verify", "--seal-existing").splitlines()
    assert lines[0].startswith(f"sealed {rows} existing rows (")
    assert lines[-1] == f"ok: {rows} rows in {TABLES} tables agree with the log"
    (entry,) = sql(copy, "SELECT action, target, reason FROM ledger ORDER BY seq DESC LIMIT 1")
    assert entry == ("integrity.seal_existing", "project",
                     "rows written before tracework sealed its tables")
    again = run("-p", str(copy), "verify", "--seal-existing")
    assert again.returncode == 7
    assert "have been sealed since they were created" in again.stderr


def test_a_write_after_the_upgrade_still_asks_for_seal_existing(copy: Path) -> None:
    _as_legacy(copy)
    ok("-p", str(copy), "note", "add", "category:Body", "after the upgrade")
    done = run("-p", str(copy), "verify")
    assert done.returncode == 7
    assert "has no seal" in done.stderr and "--seal-existing" in done.stderr
    ok("-p", str(copy), "verify", "--seal-existing")
    ok("-p", str(copy), "verify")


def test_seal_existing_never_seals_over_an_edit(copy: Path) -> None:
    _as_legacy(copy)
    ok("-p", str(copy), "note", "add", "category:Body", "after the upgrade")    # sealed: note 3
    sql(copy, "UPDATE notes SET text = 'edited' WHERE id = 3")
    done = run("-p", str(copy), "verify", "--seal-existing")
    assert done.returncode == 7
    assert "nothing was sealed: table notes, row 3: column text differs" in done.stderr
    assert sql(copy, "SELECT count(*) FROM ledger WHERE action = 'integrity.seal_existing'") == [(0,)]


def test_seal_existing_is_refused_on_a_project_sealed_from_the_start(copy: Path) -> None:
    sql(copy, "INSERT INTO notes (id, target, concern, text, author, created_at, state, "
              "state_reason) VALUES (99, 'category:Body', 'other', 'planted', 'mallory', "
              "'2026-01-01T00:00:00+00:00', 'open', '')")
    done = run("-p", str(copy), "verify", "--seal-existing")
    assert done.returncode == 7
    assert "rows without a seal were written outside tracework" in done.stderr


def test_the_upgrade_marks_a_store_that_holds_rows_as_legacy(copy: Path) -> None:
    project = tracework.open_project(copy)
    try:
        cfg = Config()
        cfg.set_main_option("script_location",
                            str(Path(integrity.__file__).parent / "store" / "migrations"))
        with project.store.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "integrity@-1")
            conn.commit()
        project.store.migrate()
        with project.store.read() as conn:
            assert conn.execute(text("SELECT legacy, mac FROM seal_head")).one() == (True, None)
        with pytest.raises(IntegrityError, match="never been sealed"):
            tracework.verify(project)
        assert tracework.seal_existing(project)["notes"] == 2
        assert tracework.verify(project).rows == sealed_rows(copy)
    finally:
        project.close()


def test_reseal_is_how_a_rewrite_outside_its_command_stays_verifiable(copy: Path) -> None:
    project = tracework.open_project(copy)
    try:
        with project.store.write() as conn:
            (token,) = conn.execute(select(workers.c.pseudonym).limit(1)).one()
            conn.execute(update(workers).where(workers.c.pseudonym == token)
                         .values(credit_name=None, consent_credit=False))
            integrity.reseal(conn, "workers", [token], "worker.erase test")
        assert tracework.verify(project).rows == sealed_rows(copy)
        with project.store.read() as conn:
            assert conn.execute(select(row_seals.c.reason).where(
                row_seals.c.tbl == "workers", row_seals.c.key == token)).scalar_one() == \
                "worker.erase test"
        with pytest.raises(ValueError):
            with project.store.write() as conn:
                integrity.reseal(conn, "workers", [token], " ")
        with pytest.raises(ValueError):
            with project.store.write() as conn:
                integrity.seal(conn, "vault", ["x"])
    finally:
        project.close()


# -- both databases, through the library ------------------------------------------------------

@pytest.fixture
def noted(project: Project) -> Iterator[Project]:
    fieldnotes.add(project, "category:Body", "first", concern="taxonomy")
    fieldnotes.add(project, "category:Cable", "second", concern="other")
    fieldnotes.reply(project, 1, "an answer")
    yield project


def test_a_clean_project_verifies_on_each_database(noted: Project) -> None:
    result = tracework.verify(noted)
    # 3 notes, taxonomy version 1 and its change record.
    assert (result.rows, result.tables, result.data_checked) == (5, TABLES, True)


def test_an_edit_is_named_on_each_database(noted: Project) -> None:
    with noted.store.engine.begin() as conn:
        conn.execute(text("UPDATE notes SET text = 'edited' WHERE id = 2"))
    with pytest.raises(IntegrityError) as caught:
        tracework.verify(noted)
    assert (caught.value.table, caught.value.key, caught.value.columns) == ("notes", "2", ("text",))
    with noted.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM notes WHERE id = 3"))
        conn.execute(text("UPDATE notes SET text = 'second' WHERE id = 2"))
    with pytest.raises(IntegrityError, match=r"table notes, row 3 is missing"):
        tracework.verify(noted)


def test_a_decision_seals_the_review_and_the_submission_on_each_database(
        project: Project, tmp_path: Path) -> None:
    files = small_files(tmp_path / "files", frames=2, workers=3)
    tracework.ingest_mturk(project, files.batch_csv)
    review.propose(project)
    review.approve_unflagged(project, reviewer="tester")
    before = tracework.verify(project).rows
    with project.store.read() as conn:
        (sid,) = conn.execute(text("SELECT min(id) FROM submissions WHERE status = 'Approved'")).one()
    review.decide(project, sid, "reject", reason="parts missing", redecide=True)
    assert tracework.verify(project).rows == before + 1          # one more review row
    with project.store.engine.begin() as conn:
        conn.execute(text("UPDATE submissions SET status = 'Approved' WHERE id = :sid"),
                     {"sid": sid})
    with pytest.raises(IntegrityError) as caught:
        tracework.verify(project)
    assert (caught.value.table, caught.value.key, caught.value.columns) == \
        ("submissions", str(sid), ("status",))


def test_seal_existing_on_each_database(noted: Project) -> None:
    with noted.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM row_seals"))
        conn.execute(text("UPDATE seal_head SET seq = NULL, hash = NULL, totals = '{}', "
                          "legacy = :yes, mac = NULL"), {"yes": True})
    with pytest.raises(IntegrityError, match="never been sealed"):
        tracework.verify(noted)
    assert tracework.seal_existing(noted) == {"taxonomy_versions": 1, "taxonomy_changes": 1,
                                              "notes": 3}
    assert tracework.verify(noted).rows == 5
    with pytest.raises(IntegrityError, match="sealed since they were created"):
        tracework.seal_existing(noted)


def test_the_platform_importer_seals_what_it_writes(project: Project, tmp_path: Path) -> None:
    ingest_platform(project, _file(tmp_path, "a.json", "[1]"), "labelstudio",
                    lambda p: _reader(_works()))
    ingest_platform(project, _file(tmp_path, "b.json", "[2]"), "labelstudio",
                    lambda p: _reader(_works("Approved")))
    ingest_platform(project, _file(tmp_path, "c.json", "[3]"), "labelstudio",
                    lambda p: _reader(_works("Approved", box_x=12.0)))
    # 2 workers (a person, a job), 3 imports, 1 batch, 1 asset, 2 submissions, 6 annotations,
    # 1 conflict, 1 bonus, taxonomy version 1 and its change record.
    assert tracework.verify(project).rows == 19
    with project.store.engine.begin() as conn:
        conn.execute(text("UPDATE bonuses SET state = 'planned'"))
    with pytest.raises(IntegrityError) as caught:
        tracework.verify(project)
    assert (caught.value.table, caught.value.columns) == ("bonuses", ("state",))
