"""Stored audits: read while the ledger head stands still, recomputed after any change, and
never computed by a ``latest`` read (the web page's)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import tracework
from builders import small_files
from tracework import review
from tracework.audit import cache
from tracework.audit.groups import group_audit
from tracework.audit.labour import LabourAudit, labour_audit
from tracework.cli import cli
from tracework.core.project import Category, Project, open_project
from tracework.core.store.schema import submissions
from tracework.render import html_report

MOUSE = [Category("Body", "#1f77b4"), Category("Left_Button", "#d62728"),
         Category("Right_Button", "#9467bd"), Category("Scroll_Wheel", "#ff7f0e"),
         Category("Cable", "#2ca02c")]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    files = small_files(tmp_path / "files")
    made = tracework.init(tmp_path / "proj", name="Mouse parts", categories=MOUSE,
                          actor="tester")
    toml = made.root / "tracework.toml"
    made.close()
    toml.write_text(toml.read_text(encoding="utf-8") + "min_cell = 2\n\n[render]\n"
                    "report_groups = [\"Q4\"]\n", encoding="utf-8")
    opened = open_project(made.root, cli={"actor": "tester"})
    tracework.ingest_mturk(opened, files.batch_csv, images_dir=files.images_dir)
    tracework.ingest_qualtrics(opened, files.survey_csv, worker_column="workerId",
                               consent_column="Q11")
    try:
        yield opened
    finally:
        opened.close()


def _first_submission(project: Project) -> int:
    with project.store.read() as conn:
        first = conn.execute(select(submissions.c.id).order_by(submissions.c.id)).scalars().first()
    assert first is not None
    return int(first)


def test_refresh_computes_once_then_reads_until_the_ledger_moves(project: Project) -> None:
    first = html_report.refresh_audits(project)
    assert set(first) == {"labour", "agreement", "groups:Q4"}
    assert all(seconds > 0 for seconds in first.values())
    again = html_report.refresh_audits(project)
    assert again == {"labour": 0.0, "agreement": 0.0, "groups:Q4": 0.0}
    review.decide(project, _first_submission(project), "approve")
    after = html_report.refresh_audits(project)
    assert all(seconds > 0 for seconds in after.values())


def test_a_stored_result_reads_back_equal_to_a_fresh_one(project: Project) -> None:
    stored = cache.cached(project, "labour", {}, LabourAudit, lambda: labour_audit(project))
    assert not stored.hit
    read = cache.cached(project, "labour", {}, LabourAudit,
                        lambda: pytest.fail("computed although the ledger did not move"))
    assert read.hit and read.value == labour_audit(project)
    groups = html_report.groups(project, "Q4")
    assert groups == group_audit(project, "Q4")
    assert html_report.groups(project, "Q4") == groups


def test_latest_never_computes_and_says_how_old(project: Project,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(cache.NotComputed):
        html_report.labour(project, "latest")
    html_report.refresh_audits(project)
    review.decide(project, _first_submission(project), "reject", reason="fewer than 3 parts")

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("an audit was computed by a latest read")

    monkeypatch.setattr(html_report, "labour_audit", boom)
    monkeypatch.setattr(html_report, "agreement_audit", boom)
    monkeypatch.setattr(html_report, "group_audit", boom)
    old = html_report.labour(project, "latest")      # the result before the rejection
    assert old.rejected == 0
    sections = html_report.report_sections(project, "latest")
    assert sections["groups"].data["audits"][0]["by"] == "Q4"
    states = cache.stored(project)
    assert {s.kind for s in states} == {"labour", "agreement", "groups"}
    assert not any(s.current for s in states)


def test_a_changed_setting_is_a_new_question(project: Project) -> None:
    html_report.refresh_audits(project)
    toml = project.root / "tracework.toml"
    project.close()
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "wage_floor_per_hour = 0.0", "wage_floor_per_hour = 2.5"), encoding="utf-8")
    reopened = open_project(project.root, cli={"actor": "tester"})
    try:
        taken = html_report.refresh_audits(reopened)
        assert taken["labour"] > 0
        assert html_report.labour(reopened).floor_per_hour == 2.5
    finally:
        reopened.close()


def test_audit_refresh_command(project: Project) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["--project", str(project.root), "audit", "refresh"])
    assert first.exit_code == 0, first.output
    assert "labour:" in first.output and "already current" not in first.output
    second = runner.invoke(cli, ["--project", str(project.root), "audit", "refresh", "--json"])
    assert second.exit_code == 0
    assert '"labour": 0.0' in second.output
