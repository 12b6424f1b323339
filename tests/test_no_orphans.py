"""A killed import leaves nothing behind: no mask-decoding process outlives it, nothing it
half wrote is stored, and the next writer proceeds at once, on SQLite and PostgreSQL.

The import runs through the installed ``tracework`` command with two decoding processes on a
batch large enough to be stopped mid-way; the test waits until the pool's processes exist,
kills the command (SIGKILL, then in a second run SIGTERM), and checks every process of the
pool is gone."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

import tracework
from builders import read_rows, small_files, write_rows
from tracework.core.project import Project, open_project
from tracework.core.store.schema import submissions

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")
COPIES = 150


def _big_batch(source: Path, dest: Path) -> Path:
    """The small batch repeated: each copy a new assignment of the same HITs."""
    header, rows = read_rows(source)
    col = header.index("AssignmentId")
    out = []
    for copy in range(COPIES):
        for row in rows:
            changed = list(row)
            changed[col] = f"{row[col]}X{copy:04d}"
            out.append(changed)
    return write_rows(dest, header, out)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _submissions(project: Project) -> int:
    with project.store.read() as conn:
        return int(conn.execute(select(func.count()).select_from(submissions)).scalar_one())


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to see child processes")
@pytest.mark.parametrize(("stop", "after"), [(signal.SIGKILL, 0.5), (signal.SIGTERM, 0.0),
                                             (signal.SIGTERM, 0.5)],
                         ids=["SIGKILL", "SIGTERM-at-start", "SIGTERM-mid-way"])
def test_a_killed_import_leaves_no_process_and_no_lock(project: Project, tmp_path: Path,
                                                       stop: signal.Signals,
                                                       after: float) -> None:
    assert TRACEWORK is not None
    files = small_files(tmp_path / "files")
    big = _big_batch(files.batch_csv, tmp_path / "big.csv")
    root, url = project.root, project.settings["database_url"]
    project.close()
    env = {**os.environ, "TRACEWORK_ACTOR": "tester", "TRACEWORK_PROCESSES": "2"}
    if url:
        env["TRACEWORK_DATABASE_URL"] = url
    proc = subprocess.Popen([TRACEWORK, "--project", str(root), "ingest", "mturk", str(big)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pool: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        pool = _children(proc.pid)
        if len(pool) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the import finished before it could be stopped: make it larger"
    assert len(pool) >= 2, "the import never started its decoding processes"
    time.sleep(after)                       # as the pool starts, or while rows are written
    proc.send_signal(stop)
    # Whatever happens to the pool, the command's pipes must close: a reader never hangs.
    out, err = proc.communicate(timeout=30)
    if stop == signal.SIGTERM:
        assert proc.returncode == 143, err.decode()
        assert b"nothing partial was stored" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in pool):
        time.sleep(0.05)
    assert not [p for p in pool if _alive(p)], "decoding processes outlived the import"

    again = open_project(root, cli={"actor": "tester", "database_url": url or None})
    try:
        assert _submissions(again) == 0                # nothing half-written was kept
        started = time.monotonic()
        report = tracework.ingest_mturk(again, files.batch_csv)
        waited = time.monotonic() - started
        assert report.added == len(read_rows(files.batch_csv)[1])
        # Not a timing assertion on speed: a writer blocked by a lock would wait for the
        # 60-second idle timeout or forever; this only says it was not blocked.
        assert waited < 45
    finally:
        again.close()
