"""An import killed midway stores nothing, for every platform reader, on SQLite and PostgreSQL.

A child process imports a platform file and is killed (SIGKILL, no cleanup) once a few works
are written inside the import's transaction. Afterwards no row of that import is stored: no
submission, annotation, worker, vault row or ledger entry, and no import. A rerun then stores
exactly what an uninterrupted import does, and a second rerun adds nothing.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table

import tracework
from platform_checks import count
from platform_support import DATA
from tracework.core.project import Category, Project
from tracework.core.store.schema import (
    annotations,
    imports,
    ledger,
    submissions,
    vault,
    vault_values,
    workers,
)

# The child writes KILL_AFTER works, then dies before the import can commit.
KILL_AFTER = 3
KILLED_CHILD = """
import json, os, signal, sys
import tracework

root, url, kind = sys.argv[1], sys.argv[2], sys.argv[3]
args, kwargs = json.loads(sys.argv[4]), json.loads(sys.argv[5])
project = tracework.open_project(root, cli={"database_url": url or None, "actor": "tester"})

def progress(rows):
    if rows == int(sys.argv[6]):
        os.kill(os.getpid(), signal.SIGKILL)

getattr(tracework, "ingest_" + kind)(project, *args, progress=progress, **kwargs)
raise SystemExit("the import was not killed")
"""
TABLES: tuple[Table, ...] = (submissions, annotations, workers, vault, vault_values, ledger,
                             imports)


@dataclass(frozen=True)
class Case:
    kind: str
    categories: tuple[str, ...]
    args: tuple[str, ...]
    kwargs: dict[str, str]
    # What one whole import stores: submissions, annotations, workers, vault, vault_values,
    # ledger entries, imports.
    stored: tuple[int, ...]


GT = DATA / "groundtruth"
CASES = [
    Case("labelstudio", ("Wheel", "Frame", "Hub"), (str(DATA / "labelstudio_export.json"),),
         {}, (6, 10, 5, 5, 9, 26, 1)),
    Case("cvat", ("car", "plate", "traffic_line", "wheel"), (str(DATA / "cvat_task.xml"),),
         {}, (6, 11, 2, 1, 1, 29, 1)),
    Case("groundtruth", ("Body", "Cable"), (str(GT / "output.manifest"),),
         {"responses": str(GT / "identify-mice"), "images": str(GT / "images")},
         (5, 7, 4, 2, 6, 25, 1)),
    Case("prolific", ("Body",), (str(DATA / "prolific_export_65f0aa01b2c3d4e5f6071800.csv"),),
         {}, (7, 0, 7, 7, 0, 17, 1)),
    Case("toloka", ("mouse", "cable", "wheel"), (str(DATA / "toloka_assignments.tsv"),),
         {"images": str(DATA / "toloka_images")}, (5, 7, 3, 3, 0, 20, 1)),
]


@pytest.fixture(params=CASES, ids=[c.kind for c in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def project(tmp_path: Path, database_url: str, case: Case) -> Iterator[Project]:
    p = tracework.init(tmp_path / "proj", name="Killed", actor="tester",
                       database_url=database_url or None,
                       categories=[Category(c, "#1f77b4") for c in case.categories])
    try:
        yield p
    finally:
        p.close()


def _counts(project: Project) -> tuple[int, ...]:
    return tuple(count(project, table) for table in TABLES)


def _ingest(project: Project, case: Case) -> Any:
    return getattr(tracework, f"ingest_{case.kind}")(project, *case.args, **case.kwargs)


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_an_import_killed_midway_stores_nothing_and_a_rerun_completes(
        project: Project, database_url: str, case: Case) -> None:
    before = _counts(project)
    assert before == (0, 0, 0, 0, 0, 1, 0)          # the project's own first ledger entry
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, str(project.root), database_url, case.kind,
         json.dumps(case.args), json.dumps(case.kwargs), str(KILL_AFTER)],
        env=env, capture_output=True, timeout=120, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode(errors="replace")
    if not database_url:
        with sqlite3.connect(project.root / "tracework.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert _counts(project) == before

    report = _ingest(project, case)
    assert (report.repeated, report.rows, report.added) == (False, case.stored[0],
                                                            case.stored[0])
    expected = tuple(b + s for b, s in zip(before, case.stored, strict=True))
    assert _counts(project) == expected
    again = _ingest(project, case)
    assert (again.repeated, again.added) == (True, 0)
    assert _counts(project) == expected
    assert tracework.verify(project).ok
