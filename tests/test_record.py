"""A worker's signed work record: it verifies offline, a tampered or re-signed one fails, a
filtered one says so, and none names a platform id. Through the console script too."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import tracework
from builders import small_files
from conftest import MOUSE
from tracework import review
from tracework.core import signing
from tracework.core.project import Project
from tracework.core.store.schema import submissions, vault
from tracework.core.value_chain import set_batch_chain
from tracework.docs import record
from tracework.docs.ledger_export import export_ledger

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    environment.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([str(TRACEWORK), *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("record"))


def _decided_worker(project: Project, files: Any) -> tuple[str, list[Any]]:
    """A worker with an approved, a rejected-and-contested and (if any) a pending submission."""
    tracework.ingest_mturk(project, files.batch_csv)
    with project.store.read() as conn:
        rows = conn.execute(select(submissions).order_by(submissions.c.id)).all()
    by_worker: dict[str, list[Any]] = {}
    for r in rows:
        by_worker.setdefault(r.worker, []).append(r)
    worker = max(by_worker, key=lambda w: (len(by_worker[w]), w))
    subs = by_worker[worker]
    assert len(subs) >= 3
    review.decide(project, subs[0].id, "approve")
    review.decide(project, subs[1].id, "reject", reason="boxes too loose")
    review.contest(project, subs[1].id, "they are tight, see the cable")
    for s in subs[2:]:
        review.decide(project, s.id, "approve")
    return worker, subs


def test_a_record_verifies_and_names_no_platform_id(project: Project, files: Any,
                                                     tmp_path: Path) -> None:
    worker, subs = _decided_worker(project, files)
    set_batch_chain(project, str(subs[0].batch_id), client="Acme Robotics",
                    intermediaries=["DataVendor Ltd"], pay_cents=12, time_budget_s=300)
    out = tmp_path / "rec.json"
    data = record.write_work_record(project, worker, out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(project.root / signing.KEY_FILE).st_mode) == 0o600
    rec = data["record"]
    assert rec["worker"] == worker
    assert rec["filter"] == {"filtered": False, "excluded": [],
                             "left_out": {"submissions": 0, "bonuses": 0}}
    assert [s["submission"] for s in rec["submissions"]] == [int(s.id) for s in subs]
    by_id = {s["submission"]: s for s in rec["submissions"]}
    assert by_id[int(subs[1].id)]["status"] == "Rejected"
    assert by_id[int(subs[1].id)]["reason"] == "boxes too loose"
    assert by_id[int(subs[1].id)]["dispute"]["state"] == "open"
    assert by_id[int(subs[0].id)]["categories"], "the categories of the work travel"
    assert rec["totals"]["disputes"] == {"open": 1, "upheld": 0, "overturned": 0}
    batch_key = by_id[int(subs[0].id)]["batch"]
    chain = rec["value_chain"]["batches"][batch_key]
    assert (chain["client"], chain["intermediaries"], chain["pay_cents_per_task"],
            chain["time_budget_s_per_task"], chain["stated_in"]) == (
        "Acme Robotics", ["DataVendor Ltd"], 12, 300, "batch")
    with project.store.read() as conn:
        head = conn.execute(select(tracework.core.store.schema.ledger_head)).first()
        raw_ids = [r.platform_worker_id for r in conn.execute(select(vault))]
        assignments = [r.assignment_id for r in conn.execute(select(submissions))]
    assert rec["ledger_checkpoint"] == {"entries": head.seq, "head": head.hash}
    text = out.read_text(encoding="utf-8")
    assert raw_ids and not [r for r in raw_ids if r in text]
    assert not [a for a in assignments if a in text]

    public = record.project_public_key(project)
    check = record.verify_record(out, public_key=public)
    assert (check.ok, check.problem, check.worker, check.filtered) == (True, "", worker, False)
    assert check.public_key == public == rec["signed_by"]

    # Against the published log: its checkpoint is an entry of it.
    export_ledger(project, tmp_path / "pub")
    check = record.verify_record(out, log=tmp_path / "pub" / "ledger.jsonl")
    assert check.ok and check.checkpoint_in_log is True
    assert not record.verify_record(out, log_head="f" * 64).ok
    # A published log cut short before the checkpoint does not hold it.
    log = tmp_path / "pub" / "ledger.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    (tmp_path / "cut.jsonl").write_text("".join(lines[:-3]), encoding="utf-8")
    check = record.verify_record(out, log=tmp_path / "cut.jsonl")
    assert not check.ok and check.problem.startswith(
        f"the record's checkpoint (entry {head.seq}) is not in the published log")


def test_a_tampered_or_resigned_record_fails(project: Project, files: Any,
                                             tmp_path: Path) -> None:
    worker, _ = _decided_worker(project, files)
    out = tmp_path / "rec.json"
    data = record.write_work_record(project, worker, out)
    public = record.project_public_key(project)

    raised = json.loads(out.read_text(encoding="utf-8"))
    raised["record"]["submissions"][0]["reward_paid_cents"] += 500
    bad = tmp_path / "raised.json"
    bad.write_text(json.dumps(raised), encoding="utf-8")
    check = record.verify_record(bad, public_key=public)
    assert not check.ok
    assert check.problem == ("its signature does not match its content: the record was "
                             "altered after it was signed")

    # Re-signed with another key: valid under that key, refused under the project's.
    (tmp_path / "elsewhere").mkdir()
    other = signing.project_key(tmp_path / "elsewhere")
    forged = dict(raised)
    forged["record"] = {**raised["record"], "signed_by": signing.public_key_text(other)}
    forged["signature"] = {"algorithm": "ed25519", "public_key": signing.public_key_text(other),
                           "value": signing.sign(other, forged["record"])}
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged), encoding="utf-8")
    assert record.verify_record(path).ok
    check = record.verify_record(path, public_key=public)
    assert not check.ok and check.problem.startswith(
        f"it was signed by {signing.public_key_text(other)}, not by the key given")

    # The log checkpoint cannot be moved either.
    moved = json.loads(out.read_text(encoding="utf-8"))
    moved["record"]["ledger_checkpoint"]["entries"] -= 1
    path.write_text(json.dumps(moved), encoding="utf-8")
    assert not record.verify_record(path).ok
    assert data["signature"]["value"] == json.loads(out.read_text())["signature"]["value"]


def test_a_filtered_record_says_so(project: Project, files: Any, tmp_path: Path) -> None:
    worker, subs = _decided_worker(project, files)
    out = tmp_path / "rec.json"
    rec = record.write_work_record(project, worker, out, exclude=["rejected"])["record"]
    assert rec["filter"] == {"filtered": True, "excluded": ["rejected"],
                             "left_out": {"submissions": 1, "bonuses": 0}}
    assert int(subs[1].id) not in [s["submission"] for s in rec["submissions"]]
    assert "Rejected" not in rec["totals"]["by_status"]
    assert len(rec["submissions"]) == len(subs) - 1
    assert "boxes too loose" not in out.read_text(encoding="utf-8")
    check = record.verify_record(out)
    assert check.ok and check.filtered and check.excluded == ["rejected"]

    # Passing a filtered record off as a complete one breaks the signature.
    doc = json.loads(out.read_text(encoding="utf-8"))
    doc["record"]["filter"] = {"filtered": False, "excluded": [],
                               "left_out": {"submissions": 0, "bonuses": 0}}
    out.write_text(json.dumps(doc), encoding="utf-8")
    assert not record.verify_record(out).ok

    no_reasons = record.work_record(project, worker, exclude=["reasons", "disputes"])["record"]
    assert {s["reason"] for s in no_reasons["submissions"]} == {None}
    assert {s["dispute"] for s in no_reasons["submissions"]} == {None}
    assert no_reasons["totals"]["disputes"] is None


def test_records_of_two_projects_combine_into_one_page(project: Project, files: Any,
                                                       tmp_path: Path) -> None:
    worker, _ = _decided_worker(project, files)
    good = tmp_path / "a.json"
    record.write_work_record(project, worker, good)
    bad = tmp_path / "b.json"
    doc = json.loads(good.read_text(encoding="utf-8"))
    doc["record"]["project"] = "Another project"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    page = tmp_path / "page.html"
    checks = record.combine_records([good, bad], page)
    assert [c.ok for c in checks] == [True, False]
    html = page.read_text(encoding="utf-8")
    assert "1 of 2 records verified" in html
    assert html.count("Signature valid") == 1 and html.count("NOT VERIFIED") == 1
    assert "Another project" in html and "Mouse parts" in html


def test_record_commands_exit_codes(tmp_path: Path, files: Any) -> None:
    assert TRACEWORK is not None
    root = tmp_path / "proj"
    tracework.init(root, name="Mouse parts", categories=MOUSE, actor="tester").close()
    project = tracework.open_project(root)
    try:
        worker, _ = _decided_worker(project, files)
    finally:
        project.close()
    out = tmp_path / "rec.json"
    done = run("-p", str(root), "worker", "record", worker, "-o", str(out),
               "--exclude", "rejected")
    assert done.returncode == 0, done.stderr
    assert "left out rejected" in done.stdout
    key = run("-p", str(root), "record", "key")
    assert key.returncode == 0 and key.stdout.strip().startswith("ed25519:")
    public = key.stdout.strip()
    # Verifying needs no project at all.
    done = run("record", "verify", str(out), "--public-key", public, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"valid: record of {worker} on Mouse parts")
    assert "filtered by the worker (left out rejected)" in done.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    doc["record"]["worker"] = "w_someoneelse"
    out.write_text(json.dumps(doc), encoding="utf-8")
    done = run("record", "verify", str(out), cwd=tmp_path)
    assert done.returncode == 7
    assert "signature does not match its content" in done.stderr
    assert "Traceback" not in done.stderr
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    done = run("record", "verify", str(tmp_path / "junk.json"), cwd=tmp_path)
    assert done.returncode == 4 and "not a JSON work record" in done.stderr
    done = run("record", "verify", str(out), "--public-key", "nonsense", cwd=tmp_path)
    assert done.returncode == 4 and "is not an Ed25519 public key" in done.stderr
    done = run("-p", str(root), "worker", "record", "w_nobodyatall1", "-o",
               str(tmp_path / "x.json"))
    assert done.returncode == 5 and not (tmp_path / "x.json").exists()
    page = tmp_path / "page.html"
    done = run("record", "combine", str(out), "-o", str(page), cwd=tmp_path)
    assert done.returncode == 0 and "NOT VALID" in done.stdout and page.exists()
