"""The store on SQLite and PostgreSQL: migrations, concurrent writers, faults."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

import tracework
import tracework.core.store
from tracework.core import ledger
from tracework.core.errors import StoreError
from tracework.core.project import Project
from tracework.core.store import Store
from tracework.core.store.schema import ledger as ledger_table
from tracework.core.store.schema import metadata


def test_migrations_build_exactly_the_schema(project: Project) -> None:
    with project.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        versions = {r[0] for r in conn.execute(text("select version_num from alembic_version"))}
    assert diff == []
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(tracework.core.store.__file__).parent / "migrations"))
    assert versions == set(ScriptDirectory.from_config(cfg).get_heads())


def test_migrate_is_idempotent(project: Project) -> None:
    project.store.migrate()
    project.store.migrate()
    assert project.store.is_initialised()


def test_concurrent_writers_chain_without_forks(project: Project) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                def work(conn: object, i: int = i) -> None:
                    w = ledger.LedgerWriter(conn, f"writer{n}")  # type: ignore[arg-type]
                    w.append("note.add", f"asset:{n}", new=i)
                    w.flush()
                project.store.run_write(work)  # type: ignore[arg-type]
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = tracework.verify(project)
    assert result.ok and result.entries == 41
    with project.store.read() as conn:
        seqs = [r.seq for r in conn.execute(select(ledger_table.c.seq).order_by(ledger_table.c.seq))]
    assert seqs == list(range(1, 42))


def test_a_failed_write_leaves_nothing(project: Project) -> None:
    with pytest.raises(RuntimeError):
        with project.store.write() as conn:
            w = ledger.LedgerWriter(conn, "x")
            w.append("note.add", "asset:1", new="lost")
            w.flush()
            raise RuntimeError("interrupted")
    with project.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(ledger_table)).scalar_one() == 1
    assert tracework.verify(project).ok


def test_not_a_database_file_is_refused_untouched(tmp_path: Path) -> None:
    bogus = tmp_path / "tracework.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    store = Store(f"sqlite:///{bogus}")
    with pytest.raises(StoreError, match="not a tracework store|not a database"):
        store.migrate()
    store.dispose()
    assert bogus.read_bytes() == b"this is not sqlite" * 100


def test_bad_database_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="database URL"):
        Store("nonsense://")


def test_sqlite_is_in_wal_mode(sqlite_project: Project) -> None:
    with sqlite_project.store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() >= 10_000


def test_environment_database_url_selects_postgresql(pg_schema_url: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import MOUSE

    monkeypatch.setenv("TRACEWORK_DATABASE_URL", pg_schema_url)
    project = tracework.init(tmp_path / "p", categories=MOUSE, actor="t")
    try:
        assert not project.store.is_sqlite
        assert tracework.status(project).database == "postgresql"
        assert project.settings.manifest()["database_url"]["source"] == "env"
    finally:
        project.close()
    assert not (tmp_path / "p" / "tracework.db").exists()
    monkeypatch.delenv("TRACEWORK_DATABASE_URL")
    local = tracework.open_project(tmp_path / "p")
    try:
        # Without the URL the same folder opens its own (new, empty) SQLite file.
        assert local.store.is_sqlite and tracework.status(local).ledger_entries == 1
    finally:
        local.close()
