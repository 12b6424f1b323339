"""The ASGI app of ``tracework serve``: server-rendered pages over the library, each with a JSON
twin, a private portal for workers, and the defences of RELIABILITY 3.5 and 3.7 in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from tracework.core.errors import TraceworkError
from tracework.core.project import Project
from tracework.web import (
    auth,
    routes_portal,
    routes_review,
    routes_staff,
    routes_worker_record,
)
from tracework.web.auth import StaffUser, TooManyAttempts, csrf_protect
from tracework.web.core import LoginRequired, Web, WebConfig, error_response, want_json
from tracework.web.security import ForwardedHeaders, JsonSuffix, SecurityHeaders

__all__ = ["create_app"]

_STATIC = Path(__file__).parent / "static"
_REASONS = {400: "bad request", 401: "sign in first", 403: "not allowed", 404: "no such page",
            405: "method not allowed", 409: "conflict", 413: "request too large",
            415: "unsupported content", 422: "invalid request", 429: "too many attempts"}


def create_app(project: Project, *, config: WebConfig | None = None, **override: Any) -> FastAPI:
    """The web app of ``project``. ``override`` replaces fields of the ``[web]`` configuration,
    e.g. ``allowed_hosts=("testserver",)`` in tests."""
    cfg = config or WebConfig.from_project(project, **override)
    # A project made before the web room existed lacks its tables: upgrading is idempotent.
    project.store.migrate()
    app = FastAPI(title=f"tracework: {project.name}", version="1", docs_url=None,
                  redoc_url=None, openapi_url=None, dependencies=[Depends(csrf_protect)])
    app.state.web = Web.build(project, cfg)
    for module in (auth, routes_staff, routes_review, routes_portal, routes_worker_record):
        _add_routes(app, module.router)
    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: StaffUser) -> JSONResponse:
        return JSONResponse(app.openapi())

    _handlers(app)
    # Outermost first: hosts are checked before anything runs; every answer gets the headers.
    app.add_middleware(JsonSuffix)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(cfg.allowed_hosts))
    app.add_middleware(SecurityHeaders)
    if cfg.trusted_proxies:
        # Outside the host check: the host a proxy forwards is the one to check.
        app.add_middleware(ForwardedHeaders, trusted=cfg.trusted_proxies)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    # Registered one by one on the app (not include_router): every route then gets the app's
    # CSRF dependency and is listed flat in app.routes, which the authorization table's
    # completeness test walks.
    for route in router.routes:
        assert isinstance(route, APIRoute)
        app.add_api_route(route.path, route.endpoint, methods=sorted(route.methods or ()),
                          summary=route.summary, name=route.name,
                          include_in_schema=route.include_in_schema)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.method == "GET" and not want_json(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return error_response(request, 401, exc.message, hint=exc.hint)

    @app.exception_handler(TooManyAttempts)
    async def too_many(request: Request, exc: TooManyAttempts) -> Response:
        response = error_response(request, 429, exc.message, hint=exc.hint)
        response.headers["retry-after"] = str(exc.retry_after)
        return response

    @app.exception_handler(TraceworkError)
    async def tracework_error(request: Request, exc: TraceworkError) -> Response:
        item: dict[str, Any] = {"message": exc.message}
        if exc.hint:
            item["hint"] = exc.hint
        field = getattr(exc, "field", None)
        if field:
            item["field"] = field
        return error_response(request, exc.http_status, exc.message, [item], exc.hint)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = _REASONS.get(exc.status_code, "error")
        return error_response(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # The offending input is not echoed: it may be hostile, and it is the caller's anyway.
        items = [{"message": str(e.get("msg", "invalid")),
                  "field": ".".join(str(p) for p in e.get("loc", ())[1:])}
                 for e in exc.errors()]
        return error_response(request, 400, "the request has invalid parameters", items)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        # Never a stack trace or the exception's text: it may quote data.
        return error_response(request, 500, f"internal error ({type(exc).__name__})",
                              hint="Nothing partial was stored. Report it with the time it "
                                   "happened.")
