"""Tables of the web room: staff accounts, server-side sessions and workers' portal links.

Secrets are never stored: a session id or a portal token lives only in a cookie or a link and
is kept here as its SHA-256. A copy of the database alone opens no session and no portal.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from tracework.core.store.tables_base import metadata

__all__ = ["web_users", "web_sessions", "portal_links"]

web_users = Table(
    "web_users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),                 # owner | reviewer | auditor
    Column("password_hash", Text, nullable=False),              # scrypt$n$r$p$salt$hash
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", String(32), nullable=False),
)

portal_links = Table(
    "portal_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("worker", String(32), ForeignKey("workers.pseudonym"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_by", Text, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32)),
    Column("revoked_at", String(32)),
    Index("ix_portal_links_worker", "worker"),
)

# A session belongs to a staff account or to a worker who entered through a portal link;
# revoking the link ends the sessions opened with it.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(8), nullable=False),                  # user | worker
    Column("user_id", Integer, ForeignKey("web_users.id")),
    Column("worker", String(32), ForeignKey("workers.pseudonym")),
    Column("link_id", Integer, ForeignKey("portal_links.id")),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("revoked_at", String(32)),
)
