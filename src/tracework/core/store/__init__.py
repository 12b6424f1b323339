"""Connections to a tracework store: SQLite by default, PostgreSQL for a shared team server.

One code path serves both. Writers go through :meth:`Store.write`, which on SQLite opens the
transaction with ``BEGIN IMMEDIATE`` (so two writers queue on the busy timeout instead of
failing half-way with ``database is locked``) and on PostgreSQL retries serialisation failures
and deadlocks a bounded number of times. An import is one such transaction: nothing partial is
ever stored.

Deleted data does not linger: SQLite connections run with ``secure_delete`` on (freed pages are
overwritten with zeros), and :meth:`Store.compact` checkpoints the write-ahead log, truncating
it, and rebuilds the file, so an erased value is in neither the database file nor its
``-wal``. On PostgreSQL :meth:`Store.compact` runs ``VACUUM FULL`` on the tables it is given,
which rewrites them; the server's own write-ahead log segments and base backups keep old row
versions until they are recycled, which only the server's administrator can hasten.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Table,
    create_engine,
    event,
    insert,
    inspect,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from tracework.core.errors import StoreError
from tracework.core.files import create_private, keep_private
from tracework.core.store import schema

__all__ = ["IN_CHUNK", "Store", "chunks", "insert_rows", "inserted_id", "schema", "sqlite_url"]

# Values bound in one ``IN (…)``: PostgreSQL refuses a statement with more than 65,535
# parameters, SQLite's default limit is 32,766; every query over an unbounded set of ids runs
# in chunks of this size.
IN_CHUNK = 10_000

T = TypeVar("T")

BUSY_TIMEOUT_MS = 30_000
PG_RETRIES = 5
_RETRY_SQLSTATES = {"40001", "40P01"}


def chunks(values: Iterable[T], size: int | None = None) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size`` (default :data:`IN_CHUNK`), in order."""
    step = IN_CHUNK if size is None else size
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) >= step:
            yield batch
            batch = []
    if batch:
        yield batch


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the one row an ``INSERT`` just wrote."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows (dicts with the same keys) the fastest way the store has:
    ``COPY … FROM STDIN`` on PostgreSQL, one ``executemany`` on SQLite."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), rows)
        return
    names = [c.name for c in table.c if c.name in rows[0]]
    raw: Any = conn.connection.dbapi_connection
    if raw is None:
        raise RuntimeError("no database connection")
    columns = ", ".join(f'"{n}"' for n in names)
    statement = f'COPY "{table.name}" ({columns}) FROM STDIN'
    try:
        with raw.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[n] for n in names])
    except conn.dialect.loaded_dbapi.Error as exc:
        # As any statement's failure reads (Store.write turns it into a StoreError).
        raise DatabaseError(statement, None, exc) from exc


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _driver_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Store:
    """A database holding one tracework project."""

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(_driver_url(url), future=True)
        except Exception as exc:  # a malformed URL is the user's, not ours
            raise StoreError(f"cannot use database URL: {exc}",
                             hint="Give a URL like postgresql://user@host/db, or none for SQLite.") from None
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        # Run inside every write transaction just before it commits (the project seals the
        # rows the transaction wrote, see core.integrity).
        self.before_commit: list[Callable[[Connection], None]] = []
        if self.is_sqlite:
            self._keep_file_private(self.engine.url.database)
            self._setup_sqlite(self.engine)

    @staticmethod
    def _keep_file_private(database: str | None) -> None:
        # The store holds the vault (raw platform ids, IP addresses, coordinates): the file and
        # its -wal/-shm/-journal companions are 0600, whatever the umask.
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        path = Path(database)
        if path.parent.is_dir() and not create_private(path):
            keep_private(path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")))

    @staticmethod
    def _setup_sqlite(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's begin event decide how a transaction starts.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            # Freed pages are zeroed, so a deleted value is not left readable in the file.
            cur.execute("PRAGMA secure_delete = ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("tracework_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading, in one consistent snapshot."""
        try:
            with self.engine.connect() as conn:
                with conn.begin():
                    yield conn
        except DatabaseError as exc:
            raise self._store_error(exc) from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed whole when the block ends, rolled back on error."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(tracework_write=True)
                with conn.begin():
                    yield conn
                    for hook in self.before_commit:
                        hook(conn)
        except DatabaseError as exc:
            raise self._store_error(exc) from exc

    def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction, retrying PostgreSQL serialisation failures."""
        for attempt in range(PG_RETRIES):
            try:
                with self.write() as conn:
                    return work(conn)
            except StoreError as exc:
                code = getattr(getattr(exc.__cause__, "orig", None), "sqlstate", None)
                if code in _RETRY_SQLSTATES and attempt + 1 < PG_RETRIES:
                    time.sleep(0.05 * 2 ** attempt)
                    continue
                raise
        raise AssertionError("unreachable")

    def _store_error(self, exc: DatabaseError) -> StoreError:
        text = str(exc.orig) if exc.orig is not None else str(exc)
        if "disk is full" in text or "disk I/O error" in text:
            return StoreError(f"the database could not be written: {text}",
                              hint="Free disk space and run the command again; nothing was stored.")
        if "file is not a database" in text or "malformed" in text:
            return StoreError(f"the database file is not a tracework store: {text}",
                              hint="Check --database-url or the project folder.")
        if "database is locked" in text:
            return StoreError("the database stayed locked by another writer for "
                              f"{BUSY_TIMEOUT_MS // 1000} s", hint="Try again when the other command ends.")
        code = getattr(exc.orig, "sqlstate", None)
        if code in _RETRY_SQLSTATES:
            return StoreError("the database could not serialise concurrent writers",
                              hint="Try again.")
        # Other driver messages may quote statement parameters (worker data): not shown.
        return StoreError(f"database error ({type(exc.orig).__name__})",
                          hint="Check that the database is reachable and writable.")

    def compact(self, tables: Iterable[str] = ()) -> None:
        """Leave no copy of deleted rows in the store's files: on SQLite checkpoint the WAL
        (TRUNCATE) and VACUUM the whole file; on PostgreSQL ``VACUUM FULL`` each of ``tables``.
        Runs outside any transaction, after the deleting one has committed."""
        names = sorted(set(tables))
        known = set(schema.metadata.tables)
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"not tables of the store: {unknown}")
        try:
            with self.engine.connect() as conn:
                if self.is_sqlite:
                    raw = conn.connection.dbapi_connection
                    if raw is None:
                        raise RuntimeError("no database connection")
                    cur = raw.cursor()
                    cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    cur.execute("VACUUM")
                    cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    cur.close()
                    return
                auto = conn.execution_options(isolation_level="AUTOCOMMIT")
                for name in names:
                    auto.exec_driver_sql(f'VACUUM FULL "{name}"')
        except DatabaseError as exc:
            raise self._store_error(exc) from exc

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest migrations (named, recorded by Alembic; one branch per
        room of the product, all starting from the core schema)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with self.engine.connect() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
                conn.commit()
        except DatabaseError as exc:
            raise self._store_error(exc) from exc

    def is_initialised(self) -> bool:
        try:
            return inspect(self.engine).has_table("ledger")
        except DatabaseError as exc:
            raise self._store_error(exc) from exc

    def dispose(self) -> None:
        self.engine.dispose()
