"""What the platform reader tests share: where the raw ids may be, and the installed command."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tracework.cli import cli
from tracework.core.project import Project

DATA = Path(__file__).parent / "data" / "platforms"
BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")


def bytes_outside_vault(project: Project, scratch: Path) -> bytes:
    """The project's SQLite database as bytes, once the vault tables are dropped from a copy
    (and the copy vacuumed, so no freed page keeps what they held)."""
    project.close()
    copy = scratch / "without-vault.db"
    source = sqlite3.connect(project.root / "tracework.db")
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.execute("DROP TABLE vault_values")
    target.execute("DROP TABLE vault")
    target.commit()
    target.execute("VACUUM")
    target.close()
    return copy.read_bytes()


def vault_ids(project: Project) -> set[str]:
    with sqlite3.connect(project.root / "tracework.db") as conn:
        return {r[0] for r in conn.execute("SELECT platform_worker_id FROM vault")}


def vault_values(project: Project) -> set[str]:
    with sqlite3.connect(project.root / "tracework.db") as conn:
        return {r[0] for r in conn.execute("SELECT value FROM vault_values")}


def export_everything(project: Project, out: Path) -> bytes:
    """Every file of a bundle of all submissions, concatenated."""
    project.close()
    result = CliRunner().invoke(cli, ["--project", str(project.root), "export", "bundle",
                                      str(out), "--status", "all"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == "annotations.json" for p in files)
    return b"".join(p.read_bytes() for p in files)


def run_installed(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert TRACEWORK is not None, "the tracework command is not installed"
    env = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    env.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([TRACEWORK, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
