"""File modes by audience, through the installed command under two umasks: the store (with its
-wal/-shm), the secret and every file naming raw platform ids are 0600 whatever the umask; what
is meant to be shared (COCO, YOLO, copied images, the bundle, the report, the video) follows the
umask, as any file the user's shell writes."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tracework
from builders import small_files
from tracework.core.files import PRIVATE_MODE, copy_atomic, write_atomic
from tracework.demo.data import CATEGORIES

BIN = Path(sys.executable).parent
TRACEWORK = shutil.which("tracework", path=str(BIN)) or shutil.which("tracework")

SHARED_MODE = {0o022: 0o644, 0o002: 0o664}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def run(umask: int, *args: str) -> subprocess.CompletedProcess[str]:
    assert TRACEWORK is not None, "the tracework command is not installed in this environment"
    env = {**os.environ, "TRACEWORK_ACTOR": "tester"}
    env.pop("TRACEWORK_DEBUG", None)
    done = subprocess.run([TRACEWORK, *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False, umask=umask)
    assert done.returncode == 0, (args, done.stderr)
    return done


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return small_files(tmp_path_factory.mktemp("perm-demo"), frames=3, workers=4)


@pytest.fixture(scope="module", params=[0o022, 0o002], ids=["umask022", "umask002"])
def made(request: pytest.FixtureRequest, files: Any,
         tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, Path]:
    """A project and every output, each made by its own command under one umask."""
    umask: int = request.param
    base = tmp_path_factory.mktemp(f"perm-{umask:03o}")
    root, out = base / "proj", base / "out"
    cats = [f"--category={name}={colour}" for name, colour in CATEGORIES.items()]
    run(umask, "init", str(root), *cats)
    toml = root / "tracework.toml"
    text = re.sub(r"(?m)^floor_(source|date) = .*\n", "", toml.read_text(encoding="utf-8"))
    toml.write_text(text.replace(
        "wage_floor_per_hour = 0.0",
        'wage_floor_per_hour = 30.0\nfloor_source = "test floor"\nfloor_date = "2025-01-01"'),
        encoding="utf-8")
    p = ["-p", str(root)]
    images = ["--images", str(files.images_dir)]
    run(umask, *p, "ingest", "mturk", str(files.batch_csv), *images)
    run(umask, *p, "review", "decide", "--approve-unflagged")
    run(umask, *p, "export", "coco", str(out / "coco"), *images)
    run(umask, *p, "export", "yolo", str(out / "yolo"), *images)
    run(umask, *p, "export", "bundle", str(out / "bundle"), *images)
    run(umask, *p, "report", str(out / "report.html"))
    run(umask, *p, "render", "video", str(out / "labour.mp4"), *images, "--size", "1280x720",
        "--seconds-per-frame", "0.2", "--title-seconds", "0", "--credits-seconds", "0")
    run(umask, *p, "review", "export-mturk", str(out / "private" / "decisions.csv"))
    run(umask, *p, "pay", "topup", "--out", str(out / "bonus" / "bonus.csv"))
    return umask, root, out


def test_the_store_and_the_secret_are_private_whatever_the_umask(made: Any) -> None:
    _, root, _ = made
    assert mode(root / "tracework.db") == 0o600
    assert mode(root / "tracework.secret") == 0o600


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000])
def test_the_store_s_wal_and_shm_are_private_while_it_is_open(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        project = tracework.init(tmp_path / "proj", name="Modes", actor="tester")
        try:
            with project.store.write() as conn:
                conn.exec_driver_sql("CREATE TABLE scratch (x)")
                db = project.root / "tracework.db"
                companions = {p.name: mode(p) for p in project.root.iterdir()
                              if p.name.startswith("tracework.db")}
        finally:
            project.close()
    finally:
        os.umask(old)
    assert companions == {"tracework.db": 0o600, "tracework.db-wal": 0o600,
                          "tracework.db-shm": 0o600}
    assert mode(db) == 0o600


def test_files_naming_platform_ids_are_private(made: Any) -> None:
    _, _, out = made
    assert mode(out / "private" / "decisions.csv") == 0o600
    assert mode(out / "bonus" / "bonus.csv") == 0o600
    # A folder made only to hold a private file is private too.
    assert mode(out / "private") == 0o700
    assert mode(out / "bonus") == 0o700


def test_shared_files_follow_the_umask(made: Any) -> None:
    umask, root, out = made
    expected = SHARED_MODE[umask]
    shared = [out / "coco" / "annotations.json", out / "yolo" / "data.yaml",
              out / "report.html", out / "labour.mp4", root / "tracework.toml"]
    shared += sorted((out / "coco" / "images").iterdir())
    shared += sorted(p for p in (out / "yolo").rglob("*") if p.is_file())
    bundle = sorted(p for p in (out / "bundle").rglob("*") if p.is_file())
    assert len(bundle) >= 10 and any(p.suffix == ".jpeg" for p in bundle)
    shared += bundle
    assert {str(p.relative_to(out.parent)): mode(p) for p in shared} == {
        str(p.relative_to(out.parent)): expected for p in shared}
    folders = [out / "coco", out / "coco" / "images", out / "bundle"]
    assert [mode(d) for d in folders] == [0o777 & ~umask] * len(folders)


def test_write_atomic_private_mode_is_set_before_the_umask_counts(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_atomic(tmp_path / "secret" / "a.txt", "x", mode=PRIVATE_MODE)
        write_atomic(tmp_path / "shared.txt", "x")
        copy_atomic(tmp_path / "shared.txt", tmp_path / "copy.txt")
    finally:
        os.umask(old)
    assert mode(tmp_path / "secret" / "a.txt") == 0o600
    assert mode(tmp_path / "secret") == 0o700
    assert mode(tmp_path / "shared.txt") == 0o666
    assert mode(tmp_path / "copy.txt") == 0o666


def test_a_store_and_secret_left_readable_are_made_private_when_opened(made: Any) -> None:
    """A project made before tracework created them 0600 is tightened on the next command."""
    umask, root, _ = made
    for name in ("tracework.db", "tracework.secret"):
        os.chmod(root / name, 0o644)
    run(umask, "-p", str(root), "status")
    assert [mode(root / n) for n in ("tracework.db", "tracework.secret")] == [0o600, 0o600]
