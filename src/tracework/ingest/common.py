"""What every import shares: its report, its record in ``imports``, the file checks and the
asset rows."""

from __future__ import annotations

import gc
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import Connection, Table, func, insert, select, text, update

from tracework.core import integrity, ledger
from tracework.core.errors import InputError, NotFound
from tracework.core.ledger import Draft, LedgerWriter
from tracework.core.project import Project
from tracework.core.store import chunks, insert_rows, inserted_id
from tracework.core.store.schema import assets, imports
from tracework.core.taxonomy import Resolver
from tracework.formats.csvio import sha256_file

__all__ = ["Assets", "Deferred", "ImportReport", "Progress", "Ref", "Spool", "Started",
           "already_imported", "asset_file_name", "check_labels", "count", "file_errors",
           "finish_import", "guard_transaction", "import_transaction", "imported_before",
           "insert_returning", "iso", "paused_gc", "redact", "start_import"]

Progress = Callable[[int], None]


@dataclass
class Ref:
    """The key of a row planned for a bulk insert, filled in once the insert has run."""

    id: int = 0


#: A ledger entry whose target or values name rows not inserted yet: built after the insert,
#: in the order it was planned (so the chain is the one row-at-a-time writing would make).
Deferred = Callable[[], Draft]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Cyclic garbage collection paused for a bulk write (its commit, which seals every row,
    included).

    A chunk builds tens of thousands of dicts and strings that live until it is inserted and
    form no reference cycles; the collector would walk them again and again for nothing
    (about a tenth of an import's time). Reference counting still frees everything; the
    collector runs again when the block ends.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Spool:
    """Items staged before the write transaction opens: pickled to an unnamed temporary file
    (mode 0600, gone with the process even when it is killed: it may hold raw worker ids) and
    read back once, in order. Memory holds one item at a time."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="tracework-ingest-")
        self.count = 0

    def put(self, item: Any) -> None:
        pickle.dump(item, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def __iter__(self) -> Iterator[Any]:
        self._file.flush()
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def insert_returning(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` in bulk; their new ids, in the order given (also set as ``row["id"]``).

    The ids are drawn first (PostgreSQL: from the table's sequence; SQLite, whose writer holds
    the whole database: after the largest stored id, as SQLite itself would), so the rows go
    in without ``RETURNING``: with ``COPY`` on PostgreSQL, one ``executemany`` on SQLite.
    """
    if not rows:
        return []
    ids = _new_ids(conn, table, len(rows))
    for row, new_id in zip(rows, ids, strict=True):
        row["id"] = new_id
    insert_rows(conn, table, rows)
    return ids


def _new_ids(conn: Connection, table: Table, n: int) -> list[int]:
    if conn.dialect.name == "postgresql":
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"),
                                {"t": table.name}).scalar_one()
        return [int(v) for v in conn.execute(
            text("SELECT nextval(:s) FROM generate_series(1, :n)"), {"s": sequence, "n": n})
            .scalars()]
    top = int(conn.execute(select(func.max(table.c.id))).scalar() or 0)
    return list(range(top + 1, top + n + 1))


@dataclass
class ImportReport:
    """What one import did. ``repeated`` means the same file was imported before.

    ``kept_raw`` counts, by crowd element, the answers kept verbatim but not turned into
    annotations (``form field`` for plain form fields); ``empty_masks`` the segmentation
    answers with no labelled pixel. ``excluded`` counts survey responses left out by response
    type (preview, test, spam); ``linked_by_id``/``linked_by_code``/``unlinked`` say how each
    response found its worker's submissions, and ``unlinked_reasons`` why not;
    ``free_text_questions`` the survey questions this import found to hold free text;
    ``redacted_ids`` the worker ids found typed inside answers and replaced by pseudonyms.

    A row under the raw id of an erased worker is never tied to that person again:
    ``erased_unlinked`` counts new work stored under a fresh pseudonym that links to nobody,
    ``erased_refused`` the rows not stored at all (survey responses of an erased worker, rows
    of work already stored for them, whose content was erased).
    """

    file: str
    kind: str
    sha256: str
    repeated: bool = False
    rows: int = 0
    added: int = 0
    status_changes: int = 0
    platform_behind: int = 0        # rows whose platform status lags a decision already made
    unchanged: int = 0
    conflicts: int = 0
    workers_new: int = 0
    annotations: int = 0
    by_category: dict[str, int] = field(default_factory=dict)
    kept_raw: dict[str, int] = field(default_factory=dict)
    empty_masks: int = 0
    previews_skipped: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    linked_by_id: int = 0
    linked_by_code: int = 0
    unlinked: int = 0
    unlinked_reasons: dict[str, int] = field(default_factory=dict)
    consent_changes: int = 0
    free_text_questions: list[str] = field(default_factory=list)
    redacted_ids: int = 0
    erased_unlinked: int = 0
    erased_refused: int = 0
    tolerated_pixels: int = 0
    ledger_entries: int = 0
    ledger_head: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def count(tally: dict[str, int], key: str, n: int = 1) -> None:
    tally[key] = tally.get(key, 0) + n


@contextmanager
def file_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise InputError("file not found", file=str(path),
                         hint="Check the path; nothing was imported.") from None
    except IsADirectoryError:
        raise InputError("is a folder, not a file", file=str(path)) from None
    except PermissionError:
        raise InputError("cannot be read (permission denied)", file=str(path)) from None


# An import's transaction that has gone quiet this long is one whose command died: PostgreSQL
# ends it and releases the ledger head's lock for the next writer. A live import sends a
# statement every row, far more often.
IDLE_IN_TRANSACTION = "60s"


def guard_transaction(conn: Connection) -> None:
    """On PostgreSQL, end this import's transaction if its command stops talking to the
    server (killed, hung) instead of holding its locks until the connection times out."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"SET LOCAL idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}'")


def already_imported(conn: Connection, sha: str) -> bool:
    return conn.execute(select(imports.c.id).where(imports.c.sha256 == sha)).first() is not None


def start_import(conn: Connection, path: Path, sha: str, kind: str, actor: str) -> int:
    result = conn.execute(insert(imports).values(
        sha256=sha, kind=kind, file_name=path.name, size=path.stat().st_size, rows=0, added=0,
        changed=0, conflicts=0, actor=actor, imported_at=ledger.now()))
    import_id = inserted_id(result)
    integrity.seal(conn, "imports", [import_id])
    return import_id


def imported_before(project: Project, sha: str) -> bool:
    """Whether a file of this SHA-256 is in the store already: asked before reading it."""
    with project.store.read() as conn:
        return already_imported(conn, sha)


@dataclass(frozen=True)
class Started:
    """An import under way in its write transaction: the connection, its log writer (the
    ``import.start`` entry appended) and the import's row."""

    conn: Connection
    log: LedgerWriter
    import_id: int


@contextmanager
def import_transaction(project: Project, path: Path, sha: str,
                       kind: str) -> Iterator[Started | None]:
    """The one write transaction of a file's import: guarded so that a dead command's
    transaction ends on PostgreSQL, its errors named by file; ``None`` when the same file was
    imported meanwhile, else the import started (row and log entry)."""
    with project.store.write() as conn, file_errors(path):
        guard_transaction(conn)
        if already_imported(conn, sha):
            yield None
            return
        log = LedgerWriter(conn, project.actor)
        import_id = start_import(conn, path, sha, kind, project.actor)
        log.append("import.start", f"import:{import_id}",
                   new={"kind": kind, "file": path.name, "sha256": sha})
        yield Started(conn, log, import_id)


def finish_import(conn: Connection, log: LedgerWriter, import_id: int,
                  report: ImportReport) -> None:
    conn.execute(update(imports).where(imports.c.id == import_id).values(
        rows=report.rows, added=report.added,
        changed=report.status_changes + report.consent_changes, conflicts=report.conflicts))
    integrity.seal(conn, "imports", [import_id])
    summary: dict[str, Any] = {
        "file": report.file, "sha256": report.sha256, "rows": report.rows,
        "added": report.added, "status_changes": report.status_changes,
        "conflicts": report.conflicts}
    if report.kept_raw:
        summary["kept_raw"] = dict(sorted(report.kept_raw.items()))
    if report.empty_masks:
        summary["empty_masks"] = report.empty_masks
    if report.excluded:
        summary["excluded"] = dict(sorted(report.excluded.items()))
    if report.erased_unlinked or report.erased_refused:
        summary["erased_workers"] = {"unlinked": report.erased_unlinked,
                                     "refused": report.erased_refused}
    log.append("import.finish", f"import:{import_id}", new=summary)
    log.flush()
    report.ledger_entries = log.appended
    report.ledger_head = log.hash


def redact(cells: dict[str, str], secrets: str | set[str], token: str) -> dict[str, str]:
    """The cells verbatim, but with any cell holding a raw worker id (as typed, or any of the
    given forms) replaced by the pseudonym."""
    forms = {secrets} if isinstance(secrets, str) else set(secrets)
    forms.discard("")
    return {k: (f"<worker {token}>" if v in forms or v.strip() in forms else v)
            for k, v in cells.items()}


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def asset_file_name(uri: str) -> str:
    name = PurePosixPath(unquote(urlparse(uri).path)).name or uri
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    return safe.strip(".") or "asset"


class Assets:
    """Finds or creates asset rows; hashes the local file when an images folder is given.

    :meth:`get` writes a new asset at once; a bulk writer calls :meth:`prefetch` for a chunk's
    items (one query), :meth:`plan` per row, then :meth:`insert_planned` (one insert).
    """

    def __init__(self, conn: Connection, log: LedgerWriter, images_dir: Path | None) -> None:
        self.conn, self.log, self.images_dir = conn, log, images_dir
        self.cache: dict[str, int] = {}
        self._planned: dict[str, Ref] = {}
        self._rows: list[tuple[Ref, dict[str, Any]]] = []

    def _new_row(self, uri: str, width: int | None, height: int | None) -> dict[str, Any]:
        file_name = asset_file_name(uri)
        digest = None
        if self.images_dir is not None:
            local = (self.images_dir / file_name)
            if local.is_file() and local.resolve().is_relative_to(self.images_dir.resolve()):
                digest = sha256_file(local)
        return {"uri": uri, "file_name": file_name, "sha256": digest, "width": width,
                "height": height}

    @staticmethod
    def _entry(row: dict[str, Any]) -> dict[str, Any]:
        return {k: row[k] for k in ("file_name", "sha256", "width", "height")}

    def get(self, uri: str, width: int | None, height: int | None) -> int:
        if uri in self.cache:
            return self.cache[uri]
        row = self.conn.execute(select(assets.c.id).where(assets.c.uri == uri)).first()
        if row is not None:
            self.cache[uri] = int(row.id)
            return int(row.id)
        values = self._new_row(uri, width, height)
        asset_id = inserted_id(self.conn.execute(insert(assets).values(**values)))
        integrity.seal(self.conn, "assets", [asset_id])
        self.log.append("asset.create", f"asset:{asset_id}", new=self._entry(values))
        self.cache[uri] = asset_id
        return asset_id

    def prefetch(self, uris: Iterable[str]) -> None:
        """Learn the ids of the stored assets among ``uris``."""
        wanted = [u for u in dict.fromkeys(uris) if u not in self.cache and u not in self._planned]
        for part in chunks(wanted):
            for row in self.conn.execute(select(assets.c.id, assets.c.uri)
                                         .where(assets.c.uri.in_(part))):
                self.cache[str(row.uri)] = int(row.id)

    def plan(self, uri: str, width: int | None, height: int | None,
             entries: list[Draft | Deferred]) -> Ref:
        """The asset's key, known now or once :meth:`insert_planned` has run; a new asset's
        ledger entry goes to ``entries``."""
        if uri in self.cache:
            return Ref(self.cache[uri])
        if uri in self._planned:
            return self._planned[uri]
        ref, values = Ref(), self._new_row(uri, width, height)
        self._planned[uri] = ref
        self._rows.append((ref, values))
        new = self._entry(values)
        entries.append(lambda: Draft("asset.create", f"asset:{ref.id}", new=new))
        return ref

    def insert_planned(self) -> None:
        ids = insert_returning(self.conn, assets, [values for _, values in self._rows])
        for (ref, _), asset_id in zip(self._rows, ids, strict=True):
            ref.id = asset_id
        for uri, ref in self._planned.items():
            self.cache[uri] = ref.id
        if ids:
            integrity.seal(self.conn, "assets", ids)
        self._planned, self._rows = {}, []


def _category_names(project: Project) -> set[str]:
    return {c.name for c in project.categories}


def _label_hint(conn: Connection, unknown: list[str]) -> str:
    """What would make the labels importable, from the recorded versions (the store's taxonomy
    is the one in force: editing tracework.toml does not bring back what a command changed)."""
    resolver = Resolver.of(conn)
    parts = []
    for name in unknown:
        try:
            found = resolver.resolve_name(name)
        except NotFound:
            parts.append(f"{name!r} is in no version of the taxonomy")
            continue
        if found.retired:
            parts.append(f"{name!r} was {found.describe()}")
        else:
            parts.append(f"{name!r} was {found.describe()}: label with {found.current!r}")
    first = unknown[0]
    return ("; ".join(parts) + ". To accept the label(s) as they are, add each to the taxonomy "
            f"in force, e.g. `tracework taxonomy add {first} --reason \"...\"`, then import "
            "again.")


def check_labels(project: Project, conn: Connection, labels: Iterable[str], path: Path,
                 row: int, field_name: str) -> None:
    """Refuse labels not in the taxonomy in force, saying what became of each and which
    command would accept them."""
    known = _category_names(project)
    unknown = sorted(set(labels) - known)
    if unknown:
        raise InputError(
            f"label(s) {', '.join(map(repr, unknown))} are not in the project's taxonomy in "
            f"force ({', '.join(sorted(known)) or 'no categories yet'})", file=str(path),
            row=row, field=field_name, hint=_label_hint(conn, unknown))
