"""The web app's defences that do not depend on a page: response headers, the ``.json`` suffix,
CSRF tokens, Origin checks and a small limiter for guessing attempts.

CSRF tokens are HMACs of a cookie the browser already holds (the session id, or before sign-in
a random pre-session nonce) under a key derived from the project secret. A cross-site page can
neither read the cookie nor compute the HMAC; nothing needs storing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "CSP",
    "SESSION_COOKIE",
    "PRE_COOKIE",
    "SecurityHeaders",
    "JsonSuffix",
    "csrf_key",
    "csrf_token",
    "csrf_valid",
    "foreign_request",
    "Limiter",
    "new_nonce",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "tw_session"
PRE_COOKIE = "tw_pre"

# No inline script or style anywhere: data for scripts travels in <script type=application/json>
# blocks read with JSON.parse, and colours are SVG attributes or set through the CSSOM.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

# "same-origin", not "no-referrer": with no-referrer a browser sends ``Origin: null`` on form
# posts, which the Origin check must refuse; no page loads anything from another origin anyway.
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the headers every response carries. Pages are personal (a reviewer's queue, a
    worker's pay): nothing but the static files may be stored by a cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"cache-control", b"access-control-allow-origin")]
                headers += _HEADERS
                headers.append((b"cache-control", b"no-cache" if static else b"no-store"))
                if not static:
                    headers.append((b"pragma", b"no-cache"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class JsonSuffix:
    """``/queue.json`` is the JSON twin of ``/queue``: strips the suffix and marks the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.endswith(".json") and path != "/openapi.json":
            scope = dict(scope)
            stripped = path[: -len(".json")] or "/"
            scope["path"] = stripped
            scope["raw_path"] = stripped.encode("utf-8")
            scope["state"] = {**scope.get("state", {}), "want_json": True}
        await self.app(scope, receive, send)


def csrf_key(secret: bytes) -> bytes:
    """The key of CSRF tokens: derived from the project secret, so it is never stored."""
    return hmac.new(secret, b"tracework web csrf v1", hashlib.sha256).digest()


def csrf_token(key: bytes, kind: str, cookie_value: str) -> str:
    return hmac.new(key, f"{kind}:{cookie_value}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, token: str | None, cookies: dict[str, str]) -> bool:
    """Whether ``token`` was made for one of the session or pre-session cookies sent."""
    if not token:
        return False
    ok = False
    for kind, name in (("session", SESSION_COOKIE), ("pre", PRE_COOKIE)):
        value = cookies.get(name)
        if value:
            ok |= hmac.compare_digest(csrf_token(key, kind, value), token)
    return ok


def foreign_request(headers: Any, own_origin: str) -> str | None:
    """Why a state-changing request looks cross-site, or None when it does not."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"a {site} request"
    origin = headers.get("origin")
    if origin is not None and origin.rstrip("/") != own_origin:
        return "a request from another origin"
    return None


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


class Limiter:
    """At most ``limit`` failures per ``window`` seconds per key (client address): slows down
    guessing of passwords and portal tokens. In memory: one server process is the design."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, at: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= at - self.window:
            hits.popleft()
        return hits

    def blocked(self, key: str) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.limit

    def failed(self, key: str) -> None:
        with self._lock:
            at = time.monotonic()
            self._recent(key, at).append(at)
            if len(self._hits) > 10_000:   # bounded memory under a spray of addresses
                self._hits = {k: v for k, v in self._hits.items() if v}

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)
