"""Who may do what: the dependencies every route declares, CSRF and Origin checks, sign-in and
sign-out, and entering the worker portal through a private link.

Roles: owner (everything), reviewer (decides, writes notes), auditor (reads only). A worker's
session opens only the portal; anything outside it, and anything of another worker inside it,
answers 404, the same as an object that does not exist.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from tracework.core.contact import open_for_session
from tracework.core.errors import NotFound, TraceworkError
from tracework.web.core import (
    STAFF,
    Denied,
    LoginRequired,
    current_session,
    done,
    own_origin,
    render,
    secure,
    want_json,
    web_of,
)
from tracework.web.security import PRE_COOKIE, SESSION_COOKIE, csrf_valid, foreign_request
from tracework.web.users import (
    PortalLink,
    User,
    authenticate,
    portal_resolve,
    session_close,
    session_open,
)

__all__ = ["router", "require_staff", "require_worker", "csrf_protect", "TooManyAttempts"]

router = APIRouter()
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TooManyAttempts(TraceworkError):
    """Guessing is slowed down: ``retry_after`` seconds until the next attempt is checked."""

    exit_code = 1
    http_status = 429
    retry_after = 1


def _too_many(message: str, wait: float) -> TooManyAttempts:
    seconds = max(1, math.ceil(wait))
    unit = "second" if seconds == 1 else "seconds"
    error = TooManyAttempts(message, hint=f"Wait {seconds} {unit} and try again.")
    error.retry_after = seconds
    return error


def require_staff(roles: frozenset[str] = STAFF) -> Callable[[Request], Awaitable[User]]:
    """A dependency: the signed-in staff user, if their role is one of ``roles``."""
    # Async on purpose: the lookup is one indexed read of well under a millisecond, cheaper
    # on the event loop than a hop through the thread pool.
    async def dependency(request: Request) -> User:
        session = current_session(request)
        if session is None:
            raise LoginRequired("sign in to see this page")
        if session.user is None:
            # A worker's session: the staff side does not exist for them.
            raise NotFound("no such page")
        if session.user.role not in roles:
            raise Denied(f"the {session.user.role} role may not do this",
                         hint="Ask the project owner for a role that may.")
        return session.user
    return dependency


async def require_worker(request: Request) -> str:
    """A dependency: the pseudonym of the worker whose portal session this is."""
    session = current_session(request)
    if session is None or session.worker is None:
        raise NotFound("no such page", hint="Open your private link again to see your page.")
    return session.worker


async def csrf_protect(request: Request) -> None:
    """Every state-changing request must come from this site and carry a valid CSRF token
    (form field ``csrf_token`` or header ``X-CSRF-Token``)."""
    if request.method in _SAFE_METHODS:
        return
    why = foreign_request(request.headers, own_origin(request))
    if why is not None:
        raise Denied(f"refused {why}", hint="Submit the form from this site's own pages.")
    token = request.headers.get("x-csrf-token")
    if token is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        token = value if isinstance(value, str) else None
    if not csrf_valid(web_of(request).csrf_key, token, dict(request.cookies)):
        raise Denied("the form's CSRF token is missing or stale",
                     hint="Reload the page and submit again.")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def safe_next(target: str | None, default: str = "/") -> str:
    # Only paths on this site: "//evil.example" and "/\evil" would leave it.
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/",
                        secure=secure(request))
    response.delete_cookie(PRE_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=secure(request))


@router.get("/login", summary="Sign-in page")
def login_page(request: Request, next: str = "/") -> Response:
    session = current_session(request)
    if session is not None and session.user is not None:
        return done(request, safe_next(next), {"user": session.user.as_dict()})
    return render(request, "login.html", {"next": safe_next(next)})


@router.post("/login", summary="Sign in (rotates the session id)")
def login(request: Request, name: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=1024)],
          next: Annotated[str, Form(max_length=2048)] = "/") -> Response:
    web = web_of(request)
    address = _client(request)
    limits = web.limits
    wait = limits.sign_in_address.retry_after(address)
    if wait > 0:
        raise _too_many("too many failed sign-ins", wait)
    # Counted as a failure of the account before the password is checked (and forgotten on
    # success), so guesses sent side by side cannot all pass the backoff at once.
    wait = limits.sign_in_account.attempt(name)
    if wait > 0:
        raise _too_many("too many failed sign-ins", wait)
    user = authenticate(web.project, name, password)
    if user is None:
        limits.sign_in_address.failed(address)
        if want_json(request):
            raise LoginRequired("wrong name or password")
        return render(request, "login.html", {"next": safe_next(next), "failed": True},
                      status=401)
    # The account's failures are forgotten, the address's are not: signing in to an account
    # of one's own must not buy more guesses at others.
    limits.sign_in_account.reset(name)
    token, _ = session_open(web.project, user=user, replaces=request.cookies.get(SESSION_COOKIE))
    response = done(request, safe_next(next), {"user": user.as_dict()})
    _set_session_cookie(request, response, token)
    return response


@router.post("/logout", summary="Sign out (revokes the session server-side)")
def logout(request: Request) -> Response:
    session = current_session(request)
    session_close(web_of(request).project, request.cookies.get(SESSION_COOKIE))
    to = "/login" if session is None or session.user is not None else "/w/signed-out"
    response = done(request, to)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax",
                           secure=secure(request))
    return response


def _resolve_link(request: Request, token: str) -> PortalLink:
    web = web_of(request)
    address = _client(request)
    wait = web.limits.portal_address.retry_after(address)
    if wait > 0:
        raise _too_many("too many unknown links opened from here", wait)
    link = portal_resolve(web.project, token)
    if link is None:
        web.limits.portal_address.failed(address)
        raise NotFound("this link does not open anything",
                       hint="It may have been revoked or expired: ask the project for a new one.")
    return link


@router.get("/p/{token}", summary="A worker's private link: the door to their page")
def portal_door(request: Request, token: str) -> Response:
    _resolve_link(request, token)
    return render(request, "portal_door.html", {"action": f"/p/{token}"})


@router.post("/p/{token}", summary="Enter the portal (opens a worker session)")
def portal_enter(request: Request, token: str) -> Response:
    link = _resolve_link(request, token)
    web = web_of(request)
    sid, _ = session_open(web.project, link=link, replaces=request.cookies.get(SESSION_COOKIE))
    # The session can open the worker's private messages: their key, re-wrapped under its id.
    open_for_session(web.project, link.id, link.worker, token, sid)
    response = done(request, "/w/", {"worker": link.worker})
    _set_session_cookie(request, response, sid)
    return response


@router.get("/w/signed-out", summary="Shown after a worker signs out")
def portal_signed_out(request: Request) -> Response:
    return render(request, "portal_signed_out.html", {"signed_out": True})


StaffUser = Annotated[User, Depends(require_staff(STAFF))]
WorkerId = Annotated[str, Depends(require_worker)]
