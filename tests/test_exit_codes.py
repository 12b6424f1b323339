"""Exit codes: the *installed* ``tracework`` command returns each error class's own status.

These tests run the console script users run (a subprocess of the command in the test
environment's ``bin``), and ``python -m tracework``; the two cases no file can provoke (an
internal error and an interrupt) call the entry point function the console script calls.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from tracework.cli import main
from tracework.core.errors import (
    ConfigError,
    ConflictError,
    InputError,
    LedgerError,
    NotFound,
    ProjectNotFound,
    StoreError,
)

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")


def run(*args: str, cwd: Path | None = None, tool: list[str] | None = None,
        **env: str) -> subprocess.CompletedProcess[str]:
    command = tool if tool is not None else [str(TRACEWORK)]
    environment = {**os.environ, "TRACEWORK_ACTOR": "tester", **env}
    environment.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([*command, *args], cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exit") / "proj"
    done = run("init", str(root), "--category", "Body=#1f77b4", "--category", "Cable=#2ca02c")
    assert done.returncode == 0, done.stderr
    return root


def test_the_console_script_is_the_entry_point_tested_here() -> None:
    assert TRACEWORK is not None, "the tracework command is not installed in this environment"
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "tracework"]
    assert script.value == "tracework.cli:main"
    assert script.load() is main


def test_success_is_zero(project: Path) -> None:
    assert run("--version").returncode == 0
    done = run("-p", str(project), "verify")
    assert done.returncode == 0 and done.stdout.startswith("ok: 1 entries verify; head ")


@pytest.mark.parametrize("args", [["no-such-command"], ["status", "--no-such-option"],
                                  ["export", "coco"]])
def test_usage_errors_are_two(project: Path, args: list[str]) -> None:
    done = run("-p", str(project), *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_project_is_config_status(tmp_path: Path) -> None:
    done = run("-p", str(tmp_path / "nowhere"), "status")
    assert done.returncode == ProjectNotFound.exit_code == 3
    assert "no tracework project" in done.stderr and "tracework init" in done.stderr


def test_a_broken_tracework_toml_is_config_status(tmp_path: Path) -> None:
    root = tmp_path / "broken"
    assert run("init", str(root), "--category", "Body=#1f77b4").returncode == 0
    (root / "tracework.toml").write_text("[project\nname = 'x'\n", encoding="utf-8")
    done = run("-p", str(root), "status")
    assert done.returncode == ConfigError.exit_code == 3
    assert "tracework.toml" in done.stderr and "Traceback" not in done.stderr


def test_a_missing_import_file_is_input_status(project: Path, tmp_path: Path) -> None:
    done = run("-p", str(project), "ingest", "mturk", str(tmp_path / "absent.csv"))
    assert done.returncode == InputError.exit_code == 4
    assert "absent.csv" in done.stderr


def test_a_refused_import_is_input_status_and_stores_nothing(project: Path,
                                                             tmp_path: Path) -> None:
    bad = tmp_path / "Batch_1_batch_results.csv"
    bad.write_text("HITId,AssignmentId\nH1\n", encoding="utf-8")
    before = run("-p", str(project), "status", "--json").stdout
    done = run("-p", str(project), "ingest", "mturk", str(bad))
    assert done.returncode == InputError.exit_code == 4
    assert "Batch_1_batch_results.csv" in done.stderr and "Traceback" not in done.stderr
    assert run("-p", str(project), "status", "--json").stdout == before


def test_an_id_that_names_nothing_is_not_found_status(project: Path) -> None:
    done = run("-p", str(project), "note", "show", "999")
    assert done.returncode == NotFound.exit_code == 5, done.stderr


def test_a_conflicting_change_is_conflict_status(project: Path) -> None:
    done = run("-p", str(project), "taxonomy", "add", "Body", "--reason", "again")
    assert done.returncode == ConflictError.exit_code == 6, done.stderr
    assert "already in force" in done.stderr


def test_verify_against_a_wrong_checkpoint_is_ledger_status(project: Path) -> None:
    done = run("-p", str(project), "verify", "--expect-head", "WRONG")
    assert done.returncode == LedgerError.exit_code == 7
    assert "checkpoint WRONG" in done.stderr


def test_verify_fails_in_a_shell_pipeline(project: Path) -> None:
    script = f'"{TRACEWORK}" -p "{project}" verify --expect-head WRONG && echo carried-on'
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 7 and "carried-on" not in done.stdout


def test_a_rewritten_log_is_ledger_status(tmp_path: Path) -> None:
    root = tmp_path / "tampered"
    assert run("init", str(root), "--category", "Body=#1f77b4").returncode == 0
    with sqlite3.connect(root / "tracework.db") as db:
        db.execute("UPDATE ledger SET actor = 'mallory' WHERE seq = 1")
    done = run("-p", str(root), "verify")
    assert done.returncode == LedgerError.exit_code == 7
    assert "entry 1" in done.stderr or "seq 1" in done.stderr or "#1" in done.stderr


def test_an_unreachable_database_is_store_status(project: Path) -> None:
    done = run("-p", str(project), "--database-url", "postgresql://nobody@127.0.0.1:9/none",
               "status")
    assert done.returncode == StoreError.exit_code == 8, done.stderr
    assert "Traceback" not in done.stderr


def test_python_dash_m_returns_the_same_status(project: Path) -> None:
    python = [sys.executable, "-m", "tracework"]
    assert run("--version", tool=python).returncode == 0
    done = run("-p", str(project), "verify", "--expect-head", "WRONG", tool=python)
    assert done.returncode == 7


def test_an_internal_error_is_seventy_without_a_trace(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      project: Path) -> None:
    import tracework

    def explode(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("detail that must not be shown QX7")

    monkeypatch.setattr(tracework, "status", explode)
    monkeypatch.delenv("TRACEWORK_DEBUG", raising=False)
    assert main(["-p", str(project), "status"]) == 70
    err = capsys.readouterr().err
    assert "RuntimeError" in err and "QX7" not in err and "Traceback" not in err


def test_an_interrupt_is_one_hundred_thirty(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str],
                                            project: Path) -> None:
    import tracework

    def interrupted(*_a: Any, **_k: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(tracework, "status", interrupted)
    assert main(["-p", str(project), "status"]) == 130
    assert "interrupted" in capsys.readouterr().err
