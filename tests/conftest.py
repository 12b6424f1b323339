"""Shared fixtures: projects on SQLite and on PostgreSQL (skipped, with the reason, when no
server answers)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import tracework
from tracework.core.project import Category, Project

PG_URL = os.environ.get("TRACEWORK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")

MOUSE = [
    Category("Body", "#1f77b4"),
    Category("Left_Button", "#d62728"),
    Category("Right_Button", "#9467bd"),
    Category("Scroll_Wheel", "#ff7f0e"),
    Category("Cable", "#2ca02c"),
]

_pg_reason: str | None = None
_pg_checked = False


def pg_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    global _pg_checked, _pg_reason
    if not _pg_checked:
        _pg_checked = True
        try:
            engine = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                                   connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
        except Exception as exc:
            _pg_reason = (f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}); "
                          "set TRACEWORK_TEST_PG_URL to run the PostgreSQL store tests")
    return _pg_reason


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    reason = pg_unavailable()
    if reason:
        pytest.skip(reason)
    schema = f"tw_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Empty for the project's SQLite file; a fresh PostgreSQL schema otherwise."""
    if request.param == "sqlite":
        return ""
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Iterator[Project]:
    """A mouse-parts project on each database."""
    p = tracework.init(tmp_path / "proj", name="Mouse parts", categories=MOUSE,
                       database_url=database_url or None, actor="tester")
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def sqlite_project(tmp_path: Path) -> Iterator[Project]:
    p = tracework.init(tmp_path / "proj", name="Mouse parts", categories=MOUSE, actor="tester")
    try:
        yield p
    finally:
        p.close()
