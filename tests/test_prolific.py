"""Prolific exports: every status, both generations of column names, demographics under
consent, CONSENT_REVOKED and DATA_EXPIRED, the Qualtrics link, and refusals.

Fixtures: a current demographic export (``prolific_export_<study id>.csv``, columns as the
"Download demographic data" export writes them, every submission status, one participant whose
cells read CONSENT_REVOKED, two DATA_EXPIRED cells, an empty ``Time taken`` for RETURNED); an
older snake_case export (``participant_id``, ``started_datetime`` …) with reward and bonus
columns and an upper-case participant id; a Qualtrics survey passing ``PROLIFIC_PID``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select

import tracework
from platform_support import (
    DATA,
    bytes_outside_vault,
    export_everything,
    run_installed,
    vault_ids,
)
from tracework.core.errors import InputError
from tracework.core.ledger import LedgerWriter
from tracework.core.privacy import pseudonym, set_consent
from tracework.core.project import Category, Project
from tracework.core.store.schema import (
    answers,
    bonuses,
    imports,
    ledger,
    responses,
    submissions,
    workers,
)
from tracework.formats.prolific import read_demographics, read_prolific

EXPORT = DATA / "prolific_export_65f0aa01b2c3d4e5f6071800.csv"
OLDER = DATA / "prolific_export_older.csv"
SURVEY = DATA / "qualtrics_prolific_survey.csv"
STUDY = "65f0aa01b2c3d4e5f6071800"
CANARY = "5ca4a11e5ca4a11e5ca4a11e"            # revokes consent in EXPORT
CANARY_VALUES = ("canary-language-4471", "canary-ethnicity-8812")
P2, P3 = "60a1b2c3d4e5f60718293a4b", "60a1b2c3d4e5f60718293a4c"


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    p = tracework.init(tmp_path / "proj", name="Survey study", actor="tester",
                       categories=[Category("Body", "#1f77b4")])
    try:
        yield p
    finally:
        p.close()


def _count(project: Project, table: Table) -> int:
    with project.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_every_status_time_and_the_study_from_the_file_name() -> None:
    parsed = read_prolific(EXPORT)
    works = list(parsed.works)
    assert parsed.batches[0].key == STUDY
    assert [w.row for w in works] == [1, 2, 3, 4, 5, 6, 8]        # row 7 is ACTIVE
    assert [w.status for w in works] == ["Approved", "Approved", "Returned", "Rejected",
                                         "Abandoned", "Submitted", "Approved"]
    assert [w.raw["platform_status"] for w in works] == [
        "APPROVED", "APPROVED", "RETURNED", "REJECTED", "TIMED-OUT", "AWAITING REVIEW",
        "SCREENED OUT"]
    assert [w.work_time_s for w in works] == [750.5, 600.0, None, 70.0, None, 600.0, 60.0]
    assert {w.time_kind for w in works} == {"platform_time_taken"}
    assert works[0].accept_time == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
    assert works[0].submit_time == datetime(2024, 3, 5, 9, 12, 30, 500000, tzinfo=UTC)
    assert works[2].submit_time is None
    assert works[0].assignment_id == "65f0aa01b2c3d4e5f6071801"
    assert works[1].worker is not None and works[1].worker.platform_id == CANARY
    assert parsed.revoked == {CANARY}
    # Nothing about the participants rides along with the submissions.
    for work in works:
        assert not {"Age", "Sex", "Total approvals", "Participant id"} & set(work.raw)
        assert not {"Female", "Spain", "312"} & {str(v) for v in work.raw.values()}
    assert any("Left out: 1 submission still in progress" in n for n in parsed.notes)
    assert any("11 columns about the participants" in n for n in parsed.notes)
    assert all(w.reward_cents is None for w in works)


def test_older_column_names_pay_and_case_of_ids() -> None:
    parsed = read_prolific(OLDER, study="legacy-study")
    first, returned = list(parsed.works)
    assert parsed.batches[0].key == "legacy-study"
    assert first.worker is not None and first.worker.platform_id == "5b1e0a01b2c3d4e5f6071801"
    assert (first.status, first.work_time_s, first.reward_cents, first.bonus_cents) == (
        "Approved", 1224.528, 250, 50)
    assert first.accept_time == datetime(2019, 7, 18, 14, 10, 37, 473000, tzinfo=UTC)
    assert (returned.status, returned.work_time_s, returned.bonus_cents) == ("Returned", None,
                                                                             None)
    assert parsed.notes[0] == "Rewards and bonuses are read from the file's own columns (GBP)."


def test_demographics_sentinels() -> None:
    demo = read_demographics(EXPORT)
    by_id = {p.participant_id: p for p in demo.participants}
    revoked = by_id[CANARY]
    assert revoked.revoked and revoked.answers == {} and revoked.expired == ()
    assert by_id[P3].expired == ("Age", "Student status")
    assert "Age" not in by_id[P3].answers and by_id[P3].answers["Sex"] == "Male"
    assert by_id[P2].answers["Age"] == "34" and by_id[P2].answers["Total approvals"] == "312"
    assert [p.participant_id for p in demo.revoked] == [CANARY]
    older = read_demographics(OLDER)
    assert older.participants[0].typed_id == "5B1E0A01B2C3D4E5F6071801"
    assert older.participants[1].expired == ("age",)


def test_import_with_demographics_keeps_nothing_of_the_revoked(project: Project,
                                                               tmp_path: Path) -> None:
    report = tracework.ingest_prolific(project, EXPORT, demographics=EXPORT)
    assert (report.rows, report.added, report.workers_new) == (7, 7, 7)
    assert report.attributed == {"worker": 7}
    assert report.demographics is not None
    assert (report.demographics.rows, report.demographics.added) == (8, 7)
    assert (report.revoked, report.expired_cells, report.responses_dropped) == (1, 2, 0)
    token = pseudonym(project.secret, "prolific", CANARY)
    with project.store.read() as conn:
        statuses = {r.assignment_id: r.status for r in conn.execute(select(submissions))}
        assert statuses["65f0aa01b2c3d4e5f6071808"] == "Approved"
        assert statuses["65f0aa01b2c3d4e5f6071803"] == "Returned"
        assert conn.execute(select(func.count()).select_from(responses)
                            .where(responses.c.worker == token)).scalar_one() == 0
        p3 = pseudonym(project.secret, "prolific", P3)
        rid = conn.execute(select(responses.c.id).where(responses.c.worker == p3)).scalar_one()
        asked = {r.question: json.loads(r.value) for r in conn.execute(
            select(answers).where(answers.c.response_id == rid))}
        assert asked["Sex"] == "Male" and "Age" not in asked and len(asked) == 9
        consent = conn.execute(select(workers).where(workers.c.pseudonym == token)).one()
        assert not (consent.consent_link or consent.consent_publish or consent.consent_credit)
    assert CANARY in vault_ids(project)
    stored = bytes_outside_vault(project, tmp_path)
    exported = export_everything(project, tmp_path / "bundle")
    for secret in (CANARY, *CANARY_VALUES, P2):
        assert secret.encode() not in stored and secret.encode() not in exported, secret
    assert b"United Kingdom" in stored            # the others' answers are kept …
    assert b"United Kingdom" not in exported      # … but without consent never published


def test_revocation_drops_answers_already_stored_from_any_survey(project: Project,
                                                                 tmp_path: Path) -> None:
    before = tmp_path / "before" / EXPORT.name
    before.parent.mkdir()
    before.write_text(EXPORT.read_text().replace("CONSENT_REVOKED", "canary-before-7070"))
    tracework.ingest_prolific(project, before, demographics=before)
    linked = tracework.ingest_qualtrics(project, SURVEY, worker_column="PROLIFIC_PID",
                                        platform="prolific")
    assert (linked.added, linked.linked_by_id, linked.unlinked) == (3, 2, 1)
    token = pseudonym(project.secret, "prolific", CANARY)
    with project.store.write() as conn:
        set_consent(conn, LedgerWriter(conn, "tester"), token, ["link", "publish"],
                    reason="survey consent")
    with project.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(responses)
                            .where(responses.c.worker == token)).scalar_one() == 2
    report = tracework.ingest_prolific(project, EXPORT, demographics=EXPORT)
    assert (report.added, report.unchanged, report.conflicts) == (0, 7, 0)  # the same work
    assert (report.revoked, report.responses_dropped) == (1, 2)
    with project.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(responses)
                            .where(responses.c.worker == token)).scalar_one() == 0
        row = conn.execute(select(workers).where(workers.c.pseudonym == token)).one()
        assert not (row.consent_link or row.consent_publish)
        drops = conn.execute(select(ledger.c.reason).where(
            ledger.c.action == "response.drop")).scalars().all()
        assert drops == ["Prolific: the participant revoked consent (CONSENT_REVOKED)"] * 2
    project.close()
    database = b"".join(p.read_bytes() for p in project.root.glob("tracework.db*"))
    exported = export_everything(project, tmp_path / "bundle")
    for secret in ("canary-before-7070", "canary-survey-5150"):
        assert secret.encode() not in database and secret.encode() not in exported, secret


def test_survey_links_through_prolific_pid(project: Project) -> None:
    tracework.ingest_prolific(project, EXPORT)
    report = tracework.ingest_qualtrics(project, SURVEY, worker_column="PROLIFIC_PID",
                                        platform="prolific")
    assert (report.linked_by_id, report.unlinked) == (2, 1)
    with project.store.read() as conn:
        linked = {r.response_id: r.worker for r in conn.execute(select(responses))}
        work = set(conn.execute(select(submissions.c.worker)).scalars())
    # A typed id with spaces and upper case meets the export's own.
    assert linked["R_1aaaaaaaaaaaaa1"] == pseudonym(project.secret, "prolific", P2) in work


def test_prolific_surveys_link_by_prolific_pid_without_being_told(project: Project) -> None:
    tracework.ingest_prolific(project, EXPORT)
    report = tracework.ingest_qualtrics(project, SURVEY, platform="prolific")
    assert (report.linked_by_id, report.unlinked) == (2, 1)
    with pytest.raises(InputError, match="say how responses link"):
        tracework.ingest_qualtrics(project, SURVEY)          # MTurk has no such default


def test_rewards_in_another_currency_than_the_projects_are_refused(project: Project) -> None:
    with pytest.raises(InputError) as caught:
        tracework.ingest_prolific(project, OLDER)
    assert (caught.value.field, caught.value.row) == ("Reward", None)
    assert "in GBP, the project pays in USD" in str(caught.value)
    assert _count(project, submissions) == 0 and _count(project, imports) == 0


def test_reimport_adds_nothing_and_pay_is_recorded(tmp_path: Path) -> None:
    project = tracework.init(tmp_path / "gbp", name="Pounds", actor="tester", currency="GBP",
                             categories=[Category("Body", "#1f77b4")])
    try:
        _reimport_and_pay(project)
    finally:
        project.close()


def _reimport_and_pay(project: Project) -> None:
    first = tracework.ingest_prolific(project, OLDER, demographics=OLDER)
    again = tracework.ingest_prolific(project, OLDER, demographics=OLDER)
    assert first.added == 2 and again.repeated and again.added == 0
    assert again.demographics is not None and again.demographics.repeated
    assert _count(project, submissions) == 2 and _count(project, responses) == 2
    with project.store.read() as conn:
        assert [tuple(r) for r in conn.execute(
            select(bonuses.c.amount_cents, bonuses.c.currency))] == [(50, "GBP")]
        assert conn.execute(select(submissions.c.reward_cents)).scalars().all() == [250, 250]


@pytest.mark.parametrize(("old", "new", "row", "field"), [
    (",REJECTED,", ",FINISHED,", 4, "Status"),
    (",70,NOCODE,", ",seventy,NOCODE,", 4, "Time taken"),
    ("2024-03-05T09:04:10.000Z", "05/03/2024 09:04", 4, "Completed at"),
])
def test_malformed_row_refused_and_nothing_stored(project: Project, tmp_path: Path, old: str,
                                                  new: str, row: int, field: str) -> None:
    text = EXPORT.read_text()
    assert old in text
    path = tmp_path / "broken.csv"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(InputError) as caught:
        tracework.ingest_prolific(project, EXPORT, demographics=path) if field == "Status" \
            else tracework.ingest_prolific(project, path)
    if field == "Status":       # a broken demographic export stops the submissions too
        assert caught.value.file == str(path)
    assert (caught.value.row, caught.value.field) == (row, field)
    assert _count(project, submissions) == 0 and _count(project, imports) == 0
    assert _count(project, responses) == 0


def test_installed_command_refuses_and_reports(project: Project, tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text(EXPORT.read_text().replace(",REJECTED,", ",FINISHED,", 1))
    project.close()
    done = run_installed("--project", str(project.root), "ingest", "prolific", str(path),
                         cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert "broken.csv, row 4, field 'Status'" in done.stderr and "Traceback" not in done.stderr
    ok = run_installed("--project", str(project.root), "ingest", "prolific", str(EXPORT),
                       "--demographics", str(EXPORT), cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "1 participant(s) revoked consent" in ok.stdout
