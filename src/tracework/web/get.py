"""``tracework serve --get PATH``: one page rendered in-process, without a server or a socket.

Whoever can run the command can read the project's files, so ``as_user`` signs in as that
staff account without a password (the session is closed right after); ``link_token`` enters
the worker portal the way the worker's private link does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tracework.core.errors import NotFound
from tracework.core.project import Project
from tracework.core.store.tables_web import web_users
from tracework.web.security import SESSION_COOKIE
from tracework.web.users import User, portal_resolve, session_close, session_open

__all__ = ["PageResult", "get_page"]


@dataclass
class PageResult:
    status: int
    headers: dict[str, str]
    body: bytes = field(repr=False)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


async def _call(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> PageResult:
    parts = urlsplit(path)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": parts.path or "/", "raw_path": (parts.path or "/").encode(),
             "query_string": parts.query.encode(), "headers": headers,
             "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 80), "root_path": ""}
    sent: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = {k.decode("latin-1"): v.decode("latin-1")
                               for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            sent["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return PageResult(sent.get("status", 500), sent.get("headers", {}), sent["body"])


def _user(project: Project, name: str) -> User:
    from sqlalchemy import select

    with project.store.read() as conn:
        row = conn.execute(select(web_users).where(web_users.c.name == name)).first()
    if row is None or row.disabled:
        raise NotFound(f"no enabled user named {name!r}", hint="`tracework user list` shows them.")
    return User(int(row.id), row.name, row.role, False, row.created_at)


def get_page(project: Project, path: str, *, as_user: str | None = None,
             link_token: str | None = None, want_json: bool = False) -> PageResult:
    """Render ``path`` as the app would answer a GET, optionally signed in."""
    from tracework.web.app import create_app

    if not path.startswith("/"):
        path = "/" + path
    app = create_app(project)
    host = app.state.web.config.allowed_hosts[0]
    headers = [(b"host", host.encode("idna"))]
    if want_json:
        headers.append((b"accept", b"application/json"))
    token = None
    if as_user is not None:
        token, _ = session_open(project, user=_user(project, as_user))
    elif link_token is not None:
        link = portal_resolve(project, link_token)
        if link is None:
            raise NotFound("this link does not open anything")
        token, _ = session_open(project, link=link)
    if token is not None:
        headers.append((b"cookie", f"{SESSION_COOKIE}={token}".encode()))
    try:
        return asyncio.run(_call(app, path, headers))
    finally:
        if token is not None:
            session_close(project, token)
