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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal

from sqlalchemy import Connection, insert, select, update

from tracework.core import integrity
from tracework.core.ledger import LedgerWriter, now
from tracework.core.store.schema import vault, vault_values, workers

__all__ = [
    "SCOPES",
    "Scope",
    "pseudonym",
    "ensure_worker",
    "set_consent",
    "stash_identifying",
]

Scope = Literal["link", "publish", "credit"]
SCOPES: tuple[Scope, ...] = ("link", "publish", "credit")
_SCOPE_COLUMNS = {"link": "consent_link", "publish": "consent_publish", "credit": "consent_credit"}


def pseudonym(secret: bytes, platform: str, platform_id: str) -> str:
    """The stable pseudonym of a platform worker id under a project secret."""
    mac = hmac.new(secret, f"{platform}\x1f{platform_id}".encode(), hashlib.sha256)
    token = base64.b32encode(mac.digest()).decode("ascii").lower()
    return f"w_{token[:12]}"


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
        conn.execute(insert(workers).values(pseudonym=token, platform=platform, created_at=at,
                                            consent_link=False, consent_publish=False,
                                            consent_credit=False, erased=False))
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
        log.append("consent.set", f"worker:{worker}", field="credit_name", old=row.credit_name,
                   new=name, reason=reason)
    if changes:
        conn.execute(update(workers).where(workers.c.pseudonym == worker).values(**changes))
        integrity.seal(conn, "workers", [worker])
    return bool(changes)


def stash_identifying(conn: Connection, owner: str, values: dict[str, str]) -> None:
    """Keep identifying values (IP address, location, e-mail) in the vault, never elsewhere."""
    rows = [{"owner": owner, "field": k, "value": v} for k, v in values.items() if v]
    if rows:
        conn.execute(insert(vault_values), rows)
