"""The change log as published with a dataset: JSON Lines, one entry a line, and its head.

Every entry keeps its sequence number, time, actor, action, target, field and both hashes, so
anyone can follow the chain from entry to entry and compare the head with a checkpoint
(``tracework verify --expect-head``). What an entry *says* is published only for actions whose
values are structural (imports, batches, submissions, labels, statuses, taxonomy versions,
consent yes/no). Values that can hold a person's own words or name (dispute messages, notes,
review reasons, feedback texts) are left out. So is every credit name, always: an entry names
the pseudonym it changes, so a name in it would join a person to their labels and answers;
names are published only in the credits, apart from the work. So are the values of
survey-response entries that name a worker who does not consent to their answers being
linked to their work. Such an entry lists which parts were
left out (``"redacted": ["new", "reason"]``); its hash can only be recomputed from the
project's own log, not from the published one.

Entries written since the log commits to personal values hold a salted commitment
(``{"commit": "sha256:…"}``) where a name or a person's words would be: they are published
whole, so anyone can recompute their hashes from the published log alone, and the commitment
says nothing about the value (the salt stays in the project, and goes with an erasure).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from tracework.core import ledger
from tracework.core.files import open_atomic, write_atomic
from tracework.core.project import Project
from tracework.core.store.schema import workers

__all__ = ["LEDGER_FILE", "LEDGER_HEAD_FILE", "LedgerExport", "export_ledger", "check_chain"]

LEDGER_FILE = "ledger.jsonl"
LEDGER_HEAD_FILE = "ledger-head.json"

# action -> (old/new published, reason published)
_PUBLIC: dict[str, tuple[bool, bool]] = {
    "import.start": (True, True), "import.finish": (True, True),
    "batch.create": (True, True), "asset.create": (True, True),
    "worker.create": (True, True), "submission.create": (True, True),
    "annotation.create": (True, True), "response.create": (True, True),
    "submission.conflict": (True, True), "response.conflict": (True, True),
    "taxonomy.version": (True, True), "taxonomy.toml_synced": (True, True),
    "submission.status": (True, False), "review.decide": (True, False),
    "review.propose": (True, False), "review.proposal": (True, False),
    "bonus.plan": (True, False), "bonus.paid": (True, False),
    "consent.set": (True, True), "survey.free_text": (True, True),
}
_FREE_FIELDS = {"credit_name", "requester_feedback"}


@dataclass(frozen=True)
class LedgerExport:
    entries: int
    head: str
    redacted: int


def _linkable(conn: Connection) -> set[str]:
    """Pseudonyms of workers who consent, now, to their survey answers being linked to their
    work."""
    return {r.pseudonym for r in conn.execute(
        select(workers.c.pseudonym).where(workers.c.consent_link.is_(True))
        .where(workers.c.erased.is_(False)))}


def _unlinked_response(entry: ledger.Entry, linkable: set[str]) -> bool:
    """A survey response entry naming a worker who does not consent to the link: saying
    which pseudonym (the one on their labels) answered which response would make it."""
    if not entry.action.startswith("response."):
        return False
    worker = None
    for side in (entry.new, entry.old):
        value = json.loads(side) if side else None
        if isinstance(value, dict) and value.get("worker"):
            worker = str(value["worker"])
    return worker is not None and worker not in linkable


def _sealed(entry: ledger.Entry) -> bool:
    """An entry whose personal values are commitments: nothing in it needs withholding."""
    return ('{"commit":"sha256:' in entry.old or '{"commit":"sha256:' in entry.new
            or ledger.is_commitment_text(entry.reason))


def _public(entry: ledger.Entry, linkable: set[str]) -> dict[str, Any]:
    out = entry.as_dict()
    if _sealed(entry):
        return out
    values, reason = _PUBLIC.get(entry.action, (False, False))
    if values and _unlinked_response(entry, linkable):
        values = False
    if entry.field in _FREE_FIELDS:
        values = reason = False
    hidden = ([] if values else ["old", "new"]) + ([] if reason or not entry.reason
                                                   else ["reason"])
    for key in hidden:
        out[key] = None
    if hidden:
        out["redacted"] = hidden
    return out


def _lines(conn: Connection) -> Iterator[dict[str, Any]]:
    linkable = _linkable(conn)
    for entry in ledger.entries(conn):
        yield _public(entry, linkable)


def export_ledger(project: Project, folder: Path) -> LedgerExport:
    """Write ``ledger.jsonl`` and ``ledger-head.json`` into ``folder``, an entry at a time."""
    redacted = 0
    with project.store.read() as conn, open_atomic(folder / LEDGER_FILE) as fh:
        for row in _lines(conn):
            redacted += "redacted" in row
            fh.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
                     .encode("utf-8"))
        seq, head = ledger.head(conn)
    write_atomic(folder / LEDGER_HEAD_FILE, json.dumps({
        "head": head, "entries": seq, "redacted_entries": redacted,
        "file": LEDGER_FILE,
        "how_to_check": "Each entry's prev_hash is the previous entry's hash; the last hash is "
                        "the head. Entries without 'redacted' can be recomputed: SHA-256 over "
                        "prev_hash and the JSON array [seq, ts, actor, action, target, field, "
                        "old, new, reason] (old/new as canonical JSON text); a personal value "
                        "appears as its salted commitment {\"commit\": \"sha256:…\"}. Compare the head "
                        "with `tracework verify --expect-head HEAD` on the project."},
        indent=1) + "\n")
    return LedgerExport(seq, head, redacted)


def check_chain(path: Path) -> tuple[int, str]:
    """Check a published log's links and its unredacted entries' hashes; the count and head.

    Raises ``ValueError`` naming the first entry that does not fit.
    """
    prev, count = ledger.GENESIS, 0
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            e = json.loads(line)
            if e["prev_hash"] != prev or e["seq"] != number:
                raise ValueError(f"entry {number} does not follow entry {number - 1}")
            if "redacted" not in e:
                body = [e["seq"], e["ts"], e["actor"], e["action"], e["target"], e["field"],
                        ledger.canonical(e["old"]), ledger.canonical(e["new"]), e["reason"]]
                # The ledger's own hash function: a published log is checked exactly as the
                # project's log is.
                if ledger._entry_hash(prev, *body) != e["hash"]:
                    raise ValueError(f"entry {number} does not match its hash")
            prev, count = e["hash"], number
    return count, prev
