"""A canary worker id must be found nowhere but the vault: tables, ledger, command output,
error messages and exports. Pseudonyms are stable per secret and differ across secrets."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import String, Text, inspect, select

import tracework
from builders import edited_batch, read_rows, small_files, truth
from tracework.cli import cli
from tracework.core.errors import InputError
from tracework.core.privacy import pseudonym
from tracework.core.project import Project
from tracework.core.store import schema

CANARY = "ACANARY7Q2X9Z4"


@pytest.fixture(scope="module")
def canary_files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The small example, with one worker's raw id replaced by the canary everywhere."""
    root = tmp_path_factory.mktemp("canary")
    files = small_files(root / "gen")
    t = truth(files)
    victim = t["submissions"][0]["worker"]
    for path in (files.batch_csv, files.survey_csv):
        text = path.read_text(encoding="utf-8")
        assert victim in text
        path.write_text(text.replace(victim, CANARY), encoding="utf-8")
    return files


def _scan_tables(project: Project) -> list[str]:
    found = []
    with project.store.read() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name == "vault":
                continue
            cols = [c for c in table.columns if isinstance(c.type, (String, Text))]
            for row in conn.execute(select(*cols)) if cols else []:
                for col, value in zip(cols, row):
                    if value is not None and CANARY in value:
                        found.append(f"{table.name}.{col.name}")
    return found


def _scan_tree(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file()
            and CANARY.encode() in p.read_bytes()]


def test_canary_only_in_the_vault(database_url: str, tmp_path: Path, canary_files: Any) -> None:
    runner = CliRunner()
    proj = tmp_path / "proj"
    base = ["-p", str(proj), "--actor", "tester"]
    if database_url:
        base += ["--database-url", database_url]
    outputs = []

    def run(*args: str, code: int = 0) -> None:
        result = runner.invoke(cli, [*base, *args], catch_exceptions=False)
        outputs.append(result.output + (result.stderr if result.stderr_bytes else ""))
        assert result.exit_code == code, result.output

    db = ["--database-url", database_url] if database_url else []
    runner.invoke(cli, [*db, "init", str(proj), "--category", "Body=#1f77b4",
                        "--category", "Left_Button=#d62728", "--category", "Right_Button=#9467bd",
                        "--category", "Scroll_Wheel=#ff7f0e", "--category", "Cable=#2ca02c"],
                  catch_exceptions=False)
    run("ingest", "mturk", str(canary_files.batch_csv), "--json")
    run("ingest", "qualtrics", str(canary_files.survey_csv), "--worker-column", "workerId",
        "--consent-column", "Q11")
    run("status")
    run("status", "--json")
    run("log", "--limit", "0", "--json")
    run("log", "--limit", "0")
    run("verify")
    run("export", "coco", str(tmp_path / "out" / "coco"), "--status", "all")
    run("export", "yolo", str(tmp_path / "out" / "yolo"), "--status", "all", "--per-worker",
        "--images", str(canary_files.images_dir))
    # An error on the canary's own row must not quote the id either.
    header, rows = read_rows(canary_files.batch_csv)
    canary_row = next(i for i, r in enumerate(rows, 1) if CANARY in r)
    bad = edited_batch(canary_files.batch_csv, tmp_path / "bad.csv",
                       lambda r, n: {**r, "AssignmentStatus": "Lost"} if n == canary_row else r)
    run("ingest", "mturk", str(bad), code=InputError.exit_code)
    assert "Lost" in outputs[-1] and f"row {canary_row}" in outputs[-1]

    assert not [o for o in outputs if CANARY in o]
    assert not _scan_tree(tmp_path / "out")
    project = tracework.open_project(proj, cli={"database_url": database_url or None})
    try:
        assert _scan_tables(project) == []
        with project.store.read() as conn:
            in_vault = conn.execute(select(schema.vault.c.pseudonym).where(
                schema.vault.c.platform_worker_id == CANARY)).all()
        assert len(in_vault) == 1
        token = in_vault[0].pseudonym
        assert any(token in o for o in outputs)  # the pseudonym is what people see
    finally:
        project.close()


def test_vault_is_the_only_table_with_raw_ids() -> None:
    """No other table even has a column meant for a platform worker id."""
    for table in schema.metadata.sorted_tables:
        names = {c.name for c in table.columns}
        if table.name != "vault":
            assert "platform_worker_id" not in names


def test_secret_file_is_private(sqlite_project: Project) -> None:
    mode = stat.S_IMODE(os.stat(sqlite_project.root / "tracework.secret").st_mode)
    assert mode == 0o600
    tables = inspect(sqlite_project.store.engine).get_table_names()
    assert "secret" not in " ".join(tables)
    ignored = (sqlite_project.root / ".gitignore").read_text()
    assert "tracework.secret" in ignored


@given(raw=st.text(min_size=1, max_size=30), secret=st.binary(min_size=32, max_size=32))
def test_pseudonyms_are_stable_and_keyed(raw: str, secret: bytes) -> None:
    token = pseudonym(secret, "mturk", raw)
    assert token == pseudonym(secret, "mturk", raw)
    assert token.startswith("w_") and len(token) == 14
    assert raw not in token[2:] or len(raw) < 3
    other = bytes(b ^ 0xFF for b in secret)
    assert pseudonym(other, "mturk", raw) != token
    assert pseudonym(secret, "prolific", raw) != token


def test_export_attributes_never_hold_raw_ids(sqlite_project: Project, canary_files: Any,
                                              tmp_path: Path) -> None:
    tracework.ingest_mturk(sqlite_project, canary_files.batch_csv)
    tracework.export_coco(sqlite_project, tmp_path / "coco", status="all")
    doc = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    assert all(a["attributes"]["worker"].startswith("w_") for a in doc["annotations"])
    assert CANARY not in json.dumps(doc)
