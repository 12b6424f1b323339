"""An import killed at any moment leaves the store exactly as it was; a rerun completes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tracework
from builders import small_files
from conftest import MOUSE

CHILD = textwrap.dedent("""
    import sys, tracework
    p = tracework.open_project(sys.argv[1], cli={"processes": 1})
    print("go", flush=True)
    tracework.ingest_mturk(p, sys.argv[2])
    print("done", flush=True)
""")


def _counts(db: Path) -> tuple[int, int, int, str]:
    con = sqlite3.connect(db)
    try:
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        subs = con.execute("select count(*) from submissions").fetchone()[0]
        anns = con.execute("select count(*) from annotations").fetchone()[0]
        entries = con.execute("select count(*) from ledger").fetchone()[0]
    finally:
        con.close()
    return subs, anns, entries, ok


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_kill_during_ingest(tmp_path: Path) -> None:
    files = small_files(tmp_path / "gen", frames=20, workers=12, size=(960, 640))
    project = tracework.init(tmp_path / "proj", categories=MOUSE, actor="t")
    project.close()
    db = project.root / "tracework.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = 0
    completed = False
    for delay in (0.02, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(project.root),
                                  str(files.batch_csv)], stdout=subprocess.PIPE, env=env)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"go"
        time.sleep(delay)
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        subs, anns, entries, ok = _counts(db)
        assert ok == "ok"
        if subs == files.submissions:
            # The kill came after the commit: the whole import is there.
            completed = True
            break
        assert (subs, anns, entries) == (0, 0, 1), f"partial import after {delay}s"
        killed += 1
    assert killed >= 1, "the import finished before any kill: make the file bigger"
    project = tracework.open_project(project.root)
    try:
        report = tracework.ingest_mturk(project, files.batch_csv)
        assert report.repeated if completed else report.added == files.submissions
        assert tracework.status(project).submissions == files.submissions
        assert tracework.verify(project).ok
    finally:
        project.close()
