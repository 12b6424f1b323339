"""What every view shares: the app's state, who is asking, rendering a page or its JSON twin,
and the one error envelope.

A view builds one ``data`` dict and calls :func:`render`; the same data becomes the HTML page
(Jinja2 with autoescape) or, for ``/path.json``, ``?format=json`` or ``Accept:
application/json``, the JSON document ``{"ok": true, ...data}``. Errors are
``{"ok": false, "error", "errors", "status"}`` in JSON and the same fields on an error page.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tracework.core.errors import ConfigError, TraceworkError
from tracework.core.project import Project
from tracework.web.history import describe
from tracework.web.security import (
    PRE_COOKIE,
    SESSION_COOKIE,
    Limits,
    csrf_key,
    csrf_token,
    new_nonce,
)
from tracework.web.users import Role, Session, link_days, session_get

__all__ = [
    "WebConfig",
    "Web",
    "Denied",
    "LoginRequired",
    "web_of",
    "want_json",
    "render",
    "done",
    "error_response",
    "current_session",
    "STAFF",
    "own_origin",
    "public_origin",
    "public_url_of",
    "secure",
    "WRITERS",
    "OWNERS",
]

STAFF: frozenset[Role] = frozenset({"owner", "reviewer", "auditor"})
WRITERS: frozenset[Role] = frozenset({"owner", "reviewer"})
OWNERS: frozenset[Role] = frozenset({"owner"})

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class WebConfig:
    """The ``[web]`` table of tracework.toml (``public_url`` also from the settings table)."""

    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    images: Path | None = None
    secure_cookies: bool = False
    page_size: int = 50
    # "https://review.example.org": the origin users' browsers see, behind a reverse proxy.
    public_url: str = ""
    # Addresses (or networks) whose X-Forwarded-Proto/-Host/-For headers are believed.
    trusted_proxies: tuple[str, ...] = ()
    portal_link_days: int = 90

    def __post_init__(self) -> None:
        if self.public_url:
            object.__setattr__(self, "public_url", public_origin(self.public_url))
            host = urlsplit(self.public_url).hostname or ""
            if host not in self.allowed_hosts:
                object.__setattr__(self, "allowed_hosts", (*self.allowed_hosts, host))
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ConfigError(f"[web] trusted_proxies: {proxy!r} is not an address or "
                                  "network", hint="Give IP addresses such as 127.0.0.1 or "
                                  "networks such as 10.0.0.0/8.") from None
        if self.portal_link_days < 1:
            raise ConfigError("[web] portal_link_days must be at least 1")

    @property
    def https(self) -> bool:
        return self.public_url.startswith("https://")

    @classmethod
    def from_project(cls, project: Project, **override: Any) -> WebConfig:
        raw = project.config.get("web", {})
        if not isinstance(raw, dict):
            raise ConfigError("tracework.toml: [web] must be a table")
        hosts = raw.get("allowed_hosts", list(cls.allowed_hosts))
        if not isinstance(hosts, list) or not all(isinstance(h, str) and h for h in hosts) \
                or "*" in hosts:
            raise ConfigError("tracework.toml: [web] allowed_hosts must list host names; "
                              "'*' is not allowed (it would let DNS rebinding in)")
        proxies = raw.get("trusted_proxies", [])
        if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
            raise ConfigError("tracework.toml: [web] trusted_proxies must list addresses")
        images = raw.get("images") or None
        config = cls(allowed_hosts=tuple(hosts),
                     images=(project.root / str(images)).resolve() if images else None,
                     secure_cookies=bool(raw.get("secure_cookies", False)),
                     public_url=public_url_of(project), trusted_proxies=tuple(proxies),
                     portal_link_days=link_days(project))
        return dataclasses.replace(config, **override)


def public_url_of(project: Project) -> str:
    """The project's public URL: the command line or environment, else ``[web] public_url``,
    else the settings table; empty when none is set."""
    raw = project.config.get("web", {})
    from_web = raw.get("public_url", "") if isinstance(raw, dict) else ""
    if project.settings.sources.get("public_url") in ("cli", "env") or not from_web:
        return str(project.settings["public_url"])
    return str(from_web)


def public_origin(url: str) -> str:
    """``scheme://host[:port]`` of a public URL, refused when it is not one."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"public_url {url!r} is not an http or https address",
                          hint="Write it as the browser shows it, e.g. "
                               "https://review.example.org")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigError(f"public_url {url!r} has a path: the app must be served at the "
                          "root of its host", hint="Proxy a host name of its own "
                                                  "(https://review.example.org/) to it.")
    netloc = parts.netloc.lower()
    # A browser's Origin leaves out the scheme's default port.
    default = {"http": ":80", "https": ":443"}[parts.scheme]
    if netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{parts.scheme}://{netloc}"


@dataclass
class Web:
    """State shared by every request of one app."""

    project: Project
    config: WebConfig
    csrf_key: bytes
    env: jinja2.Environment
    limits: Limits = field(default_factory=Limits.make)
    background: Background = field(default_factory=lambda: Background())

    @classmethod
    def build(cls, project: Project, config: WebConfig) -> Web:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
            autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
            lstrip_blocks=True)
        env.filters["money"] = _money
        env.filters["duration"] = _duration
        env.filters["urlq"] = lambda v: quote(str(v), safe="")
        env.filters["change_words"] = describe
        return cls(project, config, csrf_key(project.secret), env)


class Background:
    """One job at a time off the request path (the audits' refresh): a second start while one
    runs is a no-op, so a user clicking twice never doubles the work."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_error = ""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, job: Callable[[], object]) -> bool:
        """Run ``job`` in a thread; False when one is already running."""
        with self._lock:
            if self.running:
                return False

            def run() -> None:
                try:
                    job()
                    self.last_error = ""
                except TraceworkError as exc:
                    self.last_error = exc.message
                except Exception:  # reported on the page, logged with its trace for the admin
                    logging.getLogger("tracework.web").exception("background job failed")
                    self.last_error = "the refresh failed; see the server's log"

            self._thread = threading.Thread(target=run, name="tracework-audit-refresh",
                                            daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


def _money(cents: Any) -> str:
    if cents is None:
        return "–"
    return f"{int(cents) / 100:.2f}"


def _duration(seconds: Any) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "–"
    s = int(round(float(seconds)))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


class Denied(TraceworkError):
    """Signed in, but this role may not do that."""

    exit_code = 1
    http_status = 403


class LoginRequired(TraceworkError):
    """The page needs a staff sign-in."""

    exit_code = 1
    http_status = 401


def web_of(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


def current_session(request: Request) -> Session | None:
    """The live session of this request (looked up once per request)."""
    if "tw_session" not in request.state._state:
        web = web_of(request)
        request.state.tw_session = session_get(web.project,
                                               request.cookies.get(SESSION_COOKIE))
    found: Session | None = request.state.tw_session
    return found


def want_json(request: Request) -> bool:
    if getattr(request.state, "want_json", False) or request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def plain(value: Any) -> Any:
    """Dataclasses, mappings and sequences as JSON-ready values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "as_dict"):
            return plain(value.as_dict())
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _page_context(request: Request) -> tuple[dict[str, Any], str | None]:
    """Who is asking and the CSRF token for forms; a new pre-session nonce when none exists."""
    web = web_of(request)
    session = current_session(request)
    fresh = None
    if session is not None:
        token = csrf_token(web.csrf_key, "session", request.cookies[SESSION_COOKIE])
    else:
        nonce = request.cookies.get(PRE_COOKIE)
        if not nonce:
            nonce = fresh = new_nonce()
        token = csrf_token(web.csrf_key, "pre", nonce)
    me: dict[str, Any] | None = None
    if session is not None and session.user is not None:
        me = {"kind": "user", "name": session.user.name, "role": session.user.role}
    elif session is not None:
        me = {"kind": "worker", "name": session.worker, "role": None}
    return {"me": me, "csrf": token, "project_name": web.project.name,
            "path": request.url.path}, fresh


def set_pre_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(PRE_COOKIE, value, httponly=True, samesite="strict", path="/",
                        secure=secure(request))


def secure(request: Request) -> bool:
    config = web_of(request).config
    return config.secure_cookies or config.https or request.url.scheme == "https"


def own_origin(request: Request) -> str:
    """The origin this site's pages are loaded from: the public URL when one is set (behind a
    proxy the app itself is asked over plain http), else the address of the request."""
    config = web_of(request).config
    return config.public_url or f"{request.url.scheme}://{request.url.netloc}"


def render(request: Request, template: str, data: Mapping[str, Any], status: int = 200) -> Response:
    """The page from ``template`` or, when asked, its JSON twin, from the same data."""
    context, fresh = _page_context(request)
    if want_json(request):
        # The token lets a script post as the browser's forms do; another origin cannot read
        # it (no CORS), so it is no more exposed than in the page.
        response: Response = JSONResponse({"ok": True, **plain(data),
                                           "csrf_token": context["csrf"]}, status_code=status)
    else:
        html = web_of(request).env.get_template(template).render(**context, **data)
        response = HTMLResponse(html, status_code=status)
    if fresh:
        set_pre_cookie(request, response, fresh)
    return response


def done(request: Request, to: str, data: Mapping[str, Any] | None = None,
         status: int = 200) -> Response:
    """After a change: a 303 to the next page for a browser, the result for a JSON client."""
    if want_json(request):
        return JSONResponse({"ok": True, **plain(data or {}), "next": to}, status_code=status)
    return RedirectResponse(to, status_code=303)


def error_response(request: Request, status: int, message: str,
                   errors: list[dict[str, Any]] | None = None, hint: str | None = None) -> Response:
    """The one error envelope, as JSON or as an error page."""
    items = errors if errors is not None else [{"message": message, **({"hint": hint} if hint else {})}]
    if want_json(request) or request.url.path == "/openapi.json":
        return JSONResponse({"ok": False, "error": message, "errors": items, "status": status},
                            status_code=status)
    try:
        context, _ = _page_context(request)
    except Exception:   # the error page must render even when the store does not answer
        context = {"me": None, "csrf": "", "project_name": "tracework", "path": "/"}
    html = web_of(request).env.get_template("error.html").render(
        **context, error=message, errors=items, status=status, hint=hint)
    return HTMLResponse(html, status_code=status)
