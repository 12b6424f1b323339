"""The demo project's documentation: a complete, hashed bundle, credits as the workers chose,
and a datasheet whose compensation answer states the labour audit's figures."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracework
from tracework import docs
from tracework.dataset import select_dataset
from tracework.demo import DemoReport, demo
from tracework.docs import answers
from tracework.docs.datasheet import datasheet
from tracework.docs.facts import gather
from tracework.docs.ledger_export import check_chain
from tracework.project import Project


REJECTED = (2, 5, 11)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoReport:
    """The demo, reviewed: three submissions rejected with a reason, the rest approved."""
    from tracework.review.decisions import decide

    report = demo(tmp_path_factory.mktemp("docs_demo") / "demo", frames=6, workers=10,
                  size=(160, 108))
    project = tracework.open_project(report.project)
    try:
        for sid in range(1, report.status.submissions + 1):
            if sid in REJECTED:
                decide(project, sid, "reject", reason="the cable is not labelled",
                       reviewer="reviewer")
            else:
                decide(project, sid, "approve", reviewer="reviewer")
        report.status = tracework.status(project)
    finally:
        project.close()
    return report


@pytest.fixture
def demo_project(demo_run: DemoReport) -> Iterator[Project]:
    project = tracework.open_project(demo_run.project)
    try:
        yield project
    finally:
        project.close()


def _demo_truth(demo_run: DemoReport) -> dict[str, Any]:
    return json.loads((demo_run.inputs / "truth.json").read_text(encoding="utf-8"))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # inside mlcroissant's RDF library
def test_demo_bundle_is_complete_and_every_file_hashed(demo_run: DemoReport,
                                                       demo_project: Project,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "release"
    report = docs.export_bundle(demo_project, out, status="all",
                                images_dir=demo_run.inputs / "images")
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert files == set(report.files)
    expected_top = {"croissant.json", "README.md", "DATASHEET.md", "DATASHEET.html",
                    "CREDITS.md", "credits.json", "ledger.jsonl", "ledger-head.json"}
    assert expected_top <= files
    assert {f.split("/")[0] for f in files} == expected_top | {"coco", "yolo", "records"}
    truth = _demo_truth(demo_run)
    assert sum(f.startswith("coco/images/") for f in files) == truth["counts"]["frames"] == 6
    doc = json.loads((out / "croissant.json").read_text())
    listed = {d["@id"]: d["sha256"] for d in doc["distribution"] if d["@type"] == "cr:FileObject"}
    assert set(listed) == files - {"croissant.json"}
    for name, sha in listed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha, name
    assert check_chain(out / "ledger.jsonl") == (demo_run.status.ledger_entries,
                                                 demo_run.status.ledger_head)
    cli = Path(sys.executable).with_name("mlcroissant")
    run = subprocess.run([str(cli), "validate", "--jsonld", str(out / "croissant.json")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    # The credits name exactly the contributors who asked to be credited.
    names = sorted((w["credit_name"] for w in truth["workers"]
                    if w["credit_name"] and w["labelled"] and w["consent"]),
                   key=lambda n: (n.casefold(), n))
    credits = json.loads((out / "credits.json").read_text())
    assert credits["credited"] == names and len(names) > 0
    assert credits["contributors"] == demo_run.status.workers_with_work


def test_demo_compensation_answer_states_the_audit_figures(demo_project: Project) -> None:
    labour = pytest.importorskip("tracework.audit.labour")
    audit = labour.labour_audit(demo_project)
    facts = gather(demo_project, select_dataset(demo_project, status="all"))
    sheet = datasheet(facts)
    text = " ".join(a.text for a in sheet.question("Who was involved").answers)
    cur = audit.currency
    assert (audit.submissions, audit.approved, audit.rejected, audit.pending) == (18, 15, 3, 0)
    assert audit.total_paid_cents > 0 and audit.median_hourly_paid is not None
    assert audit.total_unpaid_hours > 0
    for figure in (answers.money(audit.total_paid_cents / 100, cur),
                   answers.money(audit.total_bonus_cents / 100, cur),
                   answers.money(audit.median_hourly_paid, cur),
                   answers.money(audit.median_hourly_all, cur),
                   answers.money(audit.floor_per_hour, cur),
                   f"{audit.total_paid_hours:,.2f} h", f"{audit.total_unpaid_hours:,.2f} h",
                   f"{audit.approved} approved", f"{audit.rejected} rejected",
                   f"{audit.pending} pending"):
        assert figure in text, figure
    assert f"{100 * audit.share_below_floor:.1f}% of workers were paid below it" in text
    assert "12.00 USD per hour" in text        # the demo's wage floor
    assert "Prolific recommended minimum" in text
    assert "rejection rate 16.7%" in text      # 3 of 18
