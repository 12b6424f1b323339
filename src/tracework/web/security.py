"""The web app's defences that do not depend on a page: response headers, the ``.json`` suffix,
CSRF tokens, Origin checks and a small limiter for guessing attempts.

CSRF tokens are HMACs of a cookie the browser already holds (the session id, or before sign-in
a random pre-session nonce) under a key derived from the project secret. A cross-site page can
neither read the cookie nor compute the HMAC; nothing needs storing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CSP",
    "SESSION_COOKIE",
    "PRE_COOKIE",
    "SecurityHeaders",
    "JsonSuffix",
    "ForwardedHeaders",
    "csrf_key",
    "csrf_token",
    "csrf_valid",
    "foreign_request",
    "Limiter",
    "Backoff",
    "Limits",
    "Clock",
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


class ForwardedHeaders:
    """Believes ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-For`` only from
    the given proxy addresses: anyone else could claim any scheme, host or client address.

    From a trusted proxy the request's scheme, ``Host`` header and client address become
    those the proxy saw, so links, cookies, the Origin check and the sign-in limits per
    address see the user's side of the proxy. The client is the last address in
    ``X-Forwarded-For`` that is not itself a trusted proxy (earlier ones the client wrote).
    """

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...]) -> None:
        self.app = app
        self.trusted = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)

    def _trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] not in ("http", "websocket") or not self.trusted or not client \
                or not self._trusts(str(client[0])):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        headers = [(k, v) for k, v in scope.get("headers", [])]
        given = {k.lower(): v.decode("latin-1") for k, v in headers}
        proto = given.get(b"x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto if scope["type"] == "http" else \
                {"http": "ws", "https": "wss"}[proto]
        host = given.get(b"x-forwarded-host", "").split(",")[-1].strip()
        if host:
            headers = [(k, v) for k, v in headers if k.lower() != b"host"]
            headers.append((b"host", host.encode("latin-1")))
            scope["headers"] = headers
        hops = [h.strip() for h in given.get(b"x-forwarded-for", "").split(",") if h.strip()]
        while hops and self._trusts(hops[-1]):
            hops.pop()
        if hops:
            scope["client"] = (hops[-1], 0)
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


Clock = Callable[[], float]
_NONE: deque[float] = deque(maxlen=0)   # the failures of a key never seen: always empty


class Limiter:
    """At most ``limit`` failures per ``window`` seconds per key (a client address): slows
    down guessing from one place. In memory: one server process is the design. ``clock``
    (seconds, monotonic) is injectable so tests need not sleep."""

    def __init__(self, limit: int = 10, window: float = 300.0,
                 clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, at: float) -> deque[float]:
        # Only a failure makes an entry: asking about an address never stores it.
        hits = self._hits.get(key, _NONE)
        while hits and hits[0] <= at - self.window:
            hits.popleft()
        return hits

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        with self._lock:
            at = self.clock()
            hits = self._recent(key, at)
            if len(hits) < self.limit:
                return 0.0
            # Free again once enough of the oldest failures have left the window.
            return max(0.0, hits[len(hits) - self.limit] + self.window - at)

    def blocked(self, key: str) -> bool:
        return self.retry_after(key) > 0

    def failed(self, key: str) -> None:
        with self._lock:
            at = self.clock()
            self._recent(key, at)
            self._hits.setdefault(key, deque()).append(at)
            if len(self._hits) > 10_000:   # bounded memory under a spray of addresses
                self._hits = {k: v for k, v in self._hits.items()
                              if v and v[-1] > at - self.window}

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


class Backoff:
    """Failed sign-ins of one account: the first ``free`` cost nothing, then each one doubles
    a short wait (``base`` seconds, at most ``cap``) before the next attempt is checked.

    A backoff, not a lockout: whoever guesses a name cannot keep its owner out for longer
    than ``cap`` at a time, and the right password after the wait always signs in. Attempts
    refused during the wait are not checked, so they count nothing. Failures older than
    ``window`` are forgotten; a success forgets them all.
    """

    def __init__(self, free: int = 5, base: float = 1.0, cap: float = 60.0,
                 window: float = 900.0, clock: Clock = time.monotonic) -> None:
        self.free, self.base, self.cap, self.window = free, base, cap, window
        self.clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, at: float) -> deque[float]:
        fails = self._fails.get(key, _NONE)
        while fails and fails[0] <= at - self.window:
            fails.popleft()
        return fails

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` recent failures."""
        over = failures - self.free
        return 0.0 if over < 0 else min(self.cap, self.base * 2.0 ** over)

    def _wait(self, key: str, at: float) -> float:
        fails = self._recent(key, at)
        return max(0.0, fails[-1] + self.delay(len(fails)) - at) if fails else 0.0

    def retry_after(self, key: str) -> float:
        with self._lock:
            return self._wait(key, self.clock())

    def attempt(self, key: str) -> float:
        """Check and count in one step: the wait still due (the attempt is refused), or 0 when
        it may go on, counted as failed until :meth:`reset` says it succeeded. Counting before
        the password is checked keeps guesses sent side by side from all passing at once."""
        with self._lock:
            at = self.clock()
            wait = self._wait(key, at)
            if wait == 0:
                self._add(key, at)
            return wait

    def failed(self, key: str) -> None:
        with self._lock:
            self._add(key, self.clock())

    def _add(self, key: str, at: float) -> None:
        self._recent(key, at)
        self._fails.setdefault(key, deque()).append(at)
        if len(self._fails) > 10_000:
            self._fails = {k: v for k, v in self._fails.items()
                           if v and v[-1] > at - self.window}

    def reset(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)


@dataclass
class Limits:
    """The guessing limits of one app, each counted apart so that one kind of guessing does
    not shut another door: failed sign-ins per client address and per account name, and
    unknown portal links per client address."""

    sign_in_address: Limiter
    sign_in_account: Backoff
    portal_address: Limiter

    @classmethod
    def make(cls, clock: Clock = time.monotonic) -> Limits:
        return cls(sign_in_address=Limiter(limit=30, window=900.0, clock=clock),
                   sign_in_account=Backoff(free=5, base=1.0, cap=60.0, window=900.0,
                                           clock=clock),
                   portal_address=Limiter(limit=10, window=300.0, clock=clock))
