"""Pseudonyms, the vault, and consent.

A worker is known everywhere by a pseudonym: a keyed HMAC-SHA256 of the platform and the
platform's worker id under the project's secret, shown as a short stable token. The raw id is
written to the ``vault`` table and nowhere else: not to other tables, the ledger, outputs or
error messages. Without the secret (kept in a 0600 file, never in the database) a pseudonym
cannot be linked back to a platform id.

Consent scopes a worker can give: ``link`` (their survey answers may be joined to their work,
and used in audits), ``publish`` (their answers may leave the project with the dataset) and
``credit`` (they may be credited by the name they chose). Without an answer a worker's consent
is none.

Staff record a consent change received another way (a withdrawal by mail) with
:func:`change_consent`; a credit name is a personal value, so its ledger entries hold a salted
commitment (:class:`~tracework.core.ledger.Private`), never the name. An erased worker
(``workers.erased``, see :mod:`tracework.core.erasure`) keeps no consent and no vault row;
:func:`unlinked_worker` gives work arriving later under that worker's raw id a fresh pseudonym
that links to nobody.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity
from tracework.core.errors import ConflictError, InputError, NotFound
from tracework.core.ledger import LedgerWriter, Private, now
from tracework.core.project import Project
from tracework.core.store.schema import annotations as annotation_rows
from tracework.core.store.schema import responses, submissions, vault, vault_values, workers

__all__ = [
    "SCOPES",
    "Scope",
    "ConsentChange",
    "change_consent",
    "consent_set",
    "ensure_worker",
    "is_erased",
    "owner_of",
    "pseudonym",
    "set_consent",
    "stash_identifying",
    "unlinked_pseudonym",
    "unlinked_worker",
    "worker_row",
]

Scope = Literal["link", "publish", "credit"]
SCOPES: tuple[Scope, ...] = ("link", "publish", "credit")
_SCOPE_COLUMNS = {"link": "consent_link", "publish": "consent_publish", "credit": "consent_credit"}


def pseudonym(secret: bytes, platform: str, platform_id: str) -> str:
    """The stable pseudonym of a platform worker id under a project secret."""
    mac = hmac.new(secret, f"{platform}\x1f{platform_id}".encode(), hashlib.sha256)
    token = base64.b32encode(mac.digest()).decode("ascii").lower()
    return f"w_{token[:12]}"


def worker_row(token: str, platform: str, at: str) -> dict[str, object]:
    """The ``workers`` row of a worker first seen now: no consent until they give it."""
    return {"pseudonym": token, "platform": platform, "created_at": at, "consent_link": False,
            "consent_publish": False, "consent_credit": False, "erased": False}


def unlinked_pseudonym() -> str:
    """A fresh random pseudonym that no platform id maps to (see :func:`unlinked_worker`)."""
    return "w_" + base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()[:12]


def ensure_worker(conn: Connection, log: LedgerWriter, secret: bytes, platform: str,
                  platform_id: str, known: dict[str, str] | None = None) -> tuple[str, bool]:
    """The worker's pseudonym and whether it is new, creating vault and worker rows on first sight.

    ``known`` is a per-import cache from raw id to pseudonym, so a batch with many rows per
    worker asks the database once.
    """
    if known is not None and platform_id in known:
        return known[platform_id], False
    token = pseudonym(secret, platform, platform_id)
    exists = conn.execute(select(workers.c.pseudonym).where(workers.c.pseudonym == token)).first()
    if exists is None:
        at = now()
        conn.execute(insert(vault).values(pseudonym=token, platform=platform,
                                          platform_worker_id=platform_id, created_at=at))
        conn.execute(insert(workers).values(**worker_row(token, platform, at)))
        integrity.seal(conn, "workers", [token])
        log.append("worker.create", f"worker:{token}", new={"platform": platform})
    if known is not None:
        known[platform_id] = token
    return token, exists is None


def set_consent(conn: Connection, log: LedgerWriter, worker: str, granted: Iterable[Scope],
                *, credit_name: str | None = None, reason: str = "") -> bool:
    """Set a worker's consent scopes exactly to ``granted``; ledger entry per changed scope.

    Returns whether anything changed.
    """
    row = conn.execute(select(workers).where(workers.c.pseudonym == worker)).first()
    if row is None:
        raise KeyError(worker)
    wanted = set(granted)
    changes: dict[str, object] = {}
    for scope in SCOPES:
        column = _SCOPE_COLUMNS[scope]
        before, after = bool(getattr(row, column)), scope in wanted
        if before != after:
            changes[column] = after
            log.append("consent.set", f"worker:{worker}", field=scope, old=before, new=after,
                       reason=reason)
    name = credit_name.strip() if credit_name else None
    name = name or None
    if name != row.credit_name:
        changes["credit_name"] = name
        _log_name(log, worker, row.credit_name, name, reason)
    if changes:
        conn.execute(update(workers).where(workers.c.pseudonym == worker).values(**changes))
        integrity.seal(conn, "workers", [worker])
    return bool(changes)


def _log_name(log: LedgerWriter, worker: str, old: str | None, new: str | None,
              reason: str) -> None:
    log.append("consent.set", f"worker:{worker}", field="credit_name",
               old=None if old is None else Private(old, worker),
               new=None if new is None else Private(new, worker), reason=reason)


def change_consent(conn: Connection, log: LedgerWriter, worker: str, scope: Scope, value: bool,
                   *, reason: str, credit_name: str | None = None) -> bool:
    """Set one consent scope of a worker (staff recording a change received by mail, a newer
    survey answer); a ledger entry per change. Withdrawing ``credit`` forgets the chosen name;
    granting it needs one (given, or already stored). Returns whether anything changed."""
    if scope not in SCOPES:
        raise InputError(f"unknown consent scope {scope!r}; scopes: {', '.join(SCOPES)}",
                         field="--scope")
    if not reason.strip():
        raise InputError("a consent change needs a reason", field="--reason",
                         hint="Say where it came from, e.g. --reason 'e-mail of 3 March'.")
    row = conn.execute(select(workers).where(workers.c.pseudonym == worker)).first()
    if row is None:
        raise NotFound(f"no worker {worker!r}", hint="Workers are named by pseudonym (w_…).")
    if row.erased:
        raise ConflictError(f"worker {worker} was erased: there is no consent left to change")
    granted = {s for s in SCOPES if getattr(row, _SCOPE_COLUMNS[s])}
    if value:
        granted.add(scope)
    else:
        granted.discard(scope)
    name = (credit_name or "").strip() or None
    if scope == "credit":
        name = (name or row.credit_name) if value else None
        if value and name is None:
            raise InputError("crediting a worker needs the name they chose", field="--name")
    elif credit_name is not None:
        raise InputError("--name goes with --scope credit", field="--name")
    else:
        name = row.credit_name if "credit" in granted else None
    return set_consent(conn, log, worker, granted, credit_name=name, reason=reason.strip())


@dataclass(frozen=True)
class ConsentChange:
    """What :func:`consent_set` did: the scope, its value now, whether it changed, the head."""

    worker: str
    scope: str
    value: bool
    changed: bool
    ledger_head: str

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def consent_set(project: Project, worker: str, scope: Scope, value: bool, *, reason: str,
                credit_name: str | None = None) -> ConsentChange:
    """Record a consent change staff received (a withdrawal by mail): one transaction, a
    ledger entry per changed scope. Later exports and audits follow it."""

    def work(conn: Connection) -> ConsentChange:
        log = LedgerWriter(conn, project.actor)
        changed = change_consent(conn, log, worker, scope, value, reason=reason,
                                 credit_name=credit_name)
        log.flush()
        return ConsentChange(worker, scope, value, changed, log.hash)

    return project.store.run_write(work)


def is_erased(conn: Connection, worker: str) -> bool:
    """Whether a pseudonym names a worker who was erased."""
    row = conn.execute(select(workers.c.erased).where(workers.c.pseudonym == worker)).first()
    return row is not None and bool(row.erased)


def unlinked_worker(conn: Connection, log: LedgerWriter, platform: str, *, reason: str) -> str:
    """A new worker with a random pseudonym and no vault row: work arriving under an erased
    worker's raw id is stored under it, so it is tied to nobody."""
    token = unlinked_pseudonym()
    conn.execute(insert(workers).values(**worker_row(token, platform, now())))
    integrity.seal(conn, "workers", [token])
    log.append("worker.create", f"worker:{token}", new={"platform": platform, "unlinked": True},
               reason=reason)
    return token


def owner_of(conn: Connection, target: str, *, author: str | None = None,
             source: str | None = None) -> str | None:
    """The worker a note (or any text about ``target``) belongs to, for erasure: its author
    when a worker wrote it, the worker of the survey response it came from, or the worker the
    target names (``worker:``, a worker's ``submission:``/``annotation:``, a cell of their row)."""
    if author and conn.execute(select(workers.c.pseudonym)
                               .where(workers.c.pseudonym == author)).first() is not None:
        return author
    if source and source.startswith("survey:"):
        parts = source.split(":")
        if len(parts) >= 3:
            row = conn.execute(select(responses.c.worker)
                               .where(responses.c.response_id == parts[2])).first()
            if row is not None and row.worker:
                return str(row.worker)
    kind, _, rest = target.partition(":")
    if kind == "cell":
        kind, _, rest = rest.partition(":")
        rest = rest.rpartition(":")[0]
        kind = {"submissions": "submission", "annotations": "annotation",
                "workers": "worker"}.get(kind, "")
    if kind == "worker":
        return rest or None
    table = {"submission": submissions, "annotation": annotation_rows}.get(kind)
    if table is None or not rest.isdigit():
        return None
    found = conn.execute(select(table.c.worker).where(table.c.id == int(rest))).first()
    return None if found is None else str(found.worker)


def stash_identifying(conn: Connection, owner: str, values: dict[str, str]) -> None:
    """Keep identifying values (IP address, location, e-mail) in the vault, never elsewhere."""
    rows = [{"owner": owner, "field": k, "value": v} for k, v in values.items() if v]
    if rows:
        conn.execute(insert(vault_values), rows)
