"""Progress of the audits and the report: the library calls back with what is done, the CLI
draws it on a terminal's standard error, and ``--json`` output is exactly the library's result
with nothing drawn (the console script run as a subprocess, standard error on a terminal)."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tracework
from builders import small_files
from tracework.audit.agreement import agreement_audit
from tracework.audit.groups import group_audit
from tracework.core.project import Category, Project, open_project
from tracework.render.html_report import refresh_audits

MOUSE = [Category("Body", "#1f77b4"), Category("Left_Button", "#d62728"),
         Category("Right_Button", "#9467bd"), Category("Scroll_Wheel", "#ff7f0e"),
         Category("Cable", "#2ca02c")]
BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("progress")
    files = small_files(base / "files")
    made = tracework.init(base / "proj", name="Mouse parts", categories=MOUSE, actor="tester")
    made.close()
    toml = base / "proj" / "tracework.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "min_cell = 2\n\n"
                    "[survey.attributes]\ngender = \"Q2\"\n", encoding="utf-8")
    project = _open(base / "proj")
    try:
        tracework.ingest_mturk(project, files.batch_csv, images_dir=files.images_dir)
        tracework.ingest_qualtrics(project, files.survey_csv, worker_column="workerId",
                                   consent_column="Q11")
    finally:
        project.close()
    return base / "proj"


def _open(path: Path) -> Project:
    return open_project(path, cli={"actor": "tester"})


def test_audits_call_back_with_what_is_done(root: Path) -> None:
    project = _open(root)
    try:
        steps: list[tuple[int, int | None]] = []
        taken = refresh_audits(project, lambda done, total: steps.append((done, total)))
        assert list(taken) == ["labour", "agreement", "groups:gender"]
        assert steps == [(0, 3), (1, 3), (2, 3), (3, 3)]
        units: list[tuple[int, int | None]] = []
        audit = group_audit(project, "gender", permutations=99,
                            progress=lambda done, total: units.append((done, total)))
        assert audit.tests and units[-1][0] == units[-1][1] and units[-1][0] >= 1
        assert [d for d, _ in units] == sorted(d for d, _ in units)
    finally:
        project.close()


def _run(args: list[str], *, terminal: bool) -> tuple[str, bytes]:
    """Run the console script; standard error on a pseudo-terminal when ``terminal``."""
    assert TRACEWORK is not None
    env = {**os.environ, "TRACEWORK_ACTOR": "tester", "TERM": "xterm-256color",
           "COLUMNS": "100"}
    if not terminal:
        done = subprocess.run([TRACEWORK, *args], env=env, capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()
        return done.stdout.decode(), done.stderr
    leader, follower = pty.openpty()
    with subprocess.Popen([TRACEWORK, *args], env=env, stdout=subprocess.PIPE,
                          stderr=follower) as proc:
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:            # the terminal's other side closed
                break
            if not chunk:
                break
            drawn += chunk
        out = proc.stdout.read().decode() if proc.stdout else ""
        assert proc.wait(timeout=300) == 0, drawn.decode(errors="replace")
    os.close(leader)
    return out, drawn


def _plain(data: Any) -> Any:
    return json.loads(json.dumps(data, default=str))


def test_json_output_is_the_result_and_nothing_is_drawn(root: Path, tmp_path: Path) -> None:
    project = _open(root)
    try:
        expected_groups = _plain(group_audit(project, "gender", permutations=99).as_dict())
        expected_agreement = _plain(agreement_audit(project).as_dict())
    finally:
        project.close()
    base = ["--project", str(root)]
    out, drawn = _run([*base, "audit", "groups", "--by", "gender", "--permutations", "99",
                       "--json"], terminal=True)
    assert json.loads(out) == expected_groups and drawn == b""
    out, drawn = _run([*base, "audit", "agreement", "--json"], terminal=True)
    assert json.loads(out) == expected_agreement and drawn == b""
    out, drawn = _run([*base, "audit", "refresh", "--json"], terminal=True)
    assert set(json.loads(out)["seconds"]) == {"labour", "agreement", "groups:gender"}
    assert drawn == b""
    out, drawn = _run([*base, "report", str(tmp_path / "r.html"), "--json"], terminal=True)
    assert json.loads(out)["out"] == str(tmp_path / "r.html") and drawn == b""
    out, drawn = _run([*base, "aggregate", "--json"], terminal=True)
    assert {r["kind"] for r in json.loads(out)["runs"]} == {"mask"} and drawn == b""
    # Piped, without --json: the text result and no progress either.
    out, err = _run([*base, "audit", "agreement"], terminal=False)
    assert out.startswith("Agreement (submissions: all)") and err == b""
    # On a terminal without --json the progress is drawn there, the result still on stdout.
    out, drawn = _run([*base, "audit", "groups", "--by", "gender", "--permutations", "99"],
                      terminal=True)
    assert out.startswith("Group audit by gender") and b"permutation tests" in drawn
