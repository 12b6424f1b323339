"""What every import shares: its report, its record in ``imports``, and the file checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity, ledger
from tracework.core.errors import InputError
from tracework.core.ledger import LedgerWriter
from tracework.core.store import inserted_id
from tracework.core.store.schema import imports

__all__ = ["ImportReport", "Progress", "already_imported", "count", "file_errors",
           "finish_import", "iso", "redact", "start_import"]

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    """What one import did. ``repeated`` means the same file was imported before.

    ``kept_raw`` counts, by crowd element, the answers kept verbatim but not turned into
    annotations (``form field`` for plain form fields); ``empty_masks`` the segmentation
    answers with no labelled pixel. ``excluded`` counts survey responses left out by response
    type (preview, test, spam); ``linked_by_id``/``linked_by_code``/``unlinked`` say how each
    response found its worker's submissions, and ``unlinked_reasons`` why not.
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


def already_imported(conn: Connection, sha: str) -> bool:
    return conn.execute(select(imports.c.id).where(imports.c.sha256 == sha)).first() is not None


def start_import(conn: Connection, path: Path, sha: str, kind: str, actor: str) -> int:
    result = conn.execute(insert(imports).values(
        sha256=sha, kind=kind, file_name=path.name, size=path.stat().st_size, rows=0, added=0,
        changed=0, conflicts=0, actor=actor, imported_at=ledger.now()))
    import_id = inserted_id(result)
    integrity.seal(conn, "imports", [import_id])
    return import_id


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
