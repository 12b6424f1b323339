"""Checks shared by the platform reader tests: personal values found only in the vault, the
installed command, and counting what a project stores."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Table, func, select

from tracework.core.project import Project

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")
VAULT_TABLES = ("vault", "vault_values")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    assert TRACEWORK is not None, "the tracework command is not installed"
    env = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    env.pop("TRACEWORK_DEBUG", None)
    return subprocess.run([TRACEWORK, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def database_without_vault(db: Path, work: Path) -> bytes:
    """The bytes of a copy of the SQLite database (WAL folded in) after the vault tables'
    rows are deleted with secure_delete on, which overwrites them with zeros: whatever
    personal value is left is stored somewhere other than the vault."""
    copy = work / "copy.db"
    shutil.copy(db, copy)
    for ext in ("-wal", "-shm"):
        if Path(f"{db}{ext}").exists():
            shutil.copy(f"{db}{ext}", f"{copy}{ext}")
    conn = sqlite3.connect(copy)
    try:
        conn.execute("PRAGMA secure_delete = ON")
        vault_rows = 0
        for table in VAULT_TABLES:
            vault_rows += conn.execute(f"DELETE FROM {table}").rowcount
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert vault_rows > 0, "the vault is empty: the check would prove nothing"
    finally:
        conn.close()
    return copy.read_bytes()


def files_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def count(project: Project, table: Table) -> int:
    with project.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
