"""Web layer: the FastAPI application (pages + /api/v1), its middleware and error pages, and `crm serve app`."""

from __future__ import annotations

import gc
import logging
import os
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_app.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from crm_app.settings import Settings, get_settings
from crm_app.web.auth import AddressLimiter
from crm_app.web.csrf import CsrfMiddleware
from crm_app.web.deps import LoginRequired, in_one_thread
from crm_app.web.lanes import request_lanes
from crm_app.web.rendering import STATIC_DIR, render, templates

log = logging.getLogger("crm.web")

SESSION_COOKIE = "crm_session"
SESSION_MAX_AGE = 8 * 60 * 60  # a working day


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, status: int, title: str, message: str, **extra: Any) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": message, **extra}, status_code=status)
    try:
        return render(request, "error.html", {"status": status, "title": title, "message": message}, status)
    except Exception:  # pragma: no cover - the error page itself must never fail
        log.exception("error page failed")
        return HTMLResponse(f"<h1>{status} {title}</h1><p>{message}</p>", status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    def _login(request: Request, exc: LoginRequired) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "sign in first (POST /api/v1/auth/login)"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(NotFoundError)
    def _not_found(request: Request, exc: NotFoundError) -> Response:
        return _error_page(request, 404, "Not found", str(exc))

    @app.exception_handler(PermissionDeniedError)
    def _denied(request: Request, exc: PermissionDeniedError) -> Response:
        return _error_page(request, 403, "Not allowed", str(exc))

    @app.exception_handler(ValidationError)
    def _invalid(request: Request, exc: ValidationError) -> Response:
        return _error_page(request, 422, "Not valid", str(exc), errors=exc.errors)

    @app.exception_handler(ConflictError)
    def _conflict(request: Request, exc: ConflictError) -> Response:
        return _error_page(request, 409, "Changed by someone else", str(exc))

    @app.exception_handler(RequestValidationError)
    def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors: dict[str, str] = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            errors.setdefault(".".join(loc) or "__all__", str(err.get("msg", "invalid")).removeprefix("Value error, "))
        if _is_api(request):
            return JSONResponse({"detail": "the request is not valid", "errors": errors}, status_code=422)
        message = "; ".join(f"{k}: {v}" for k, v in errors.items())
        return _error_page(request, 422, "Not valid", message or "the request is not valid")

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Not allowed", 403: "Not allowed", 401: "Sign in"}
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no page at this address."
        return _error_page(request, exc.status_code, titles.get(exc.status_code, "Error"), message)

    @app.exception_handler(DBAPIError)
    def _database(request: Request, exc: DBAPIError) -> Response:
        log.exception("database error on %s", request.url.path)
        return _error_page(
            request, 503, "Database problem", "The database did not accept the request; try again in a moment."
        )


class SecurityHeaders:
    """Headers that keep pages out of frames and browsers from guessing content types."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _csrf_refusal(scope: Scope, message: str) -> Response:
    if str(scope.get("path", "")).startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=403)
    html = templates.get_template("csrf.html").render(message=message)
    return HTMLResponse(html, status_code=403)


def add_page_routes(app: FastAPI, router: APIRouter) -> None:
    """Register ``router``'s page routes on the app's own router, one by one, rather than with
    ``include_router``: FastAPI (0.137 and later) keeps an included router as a node that every request walks
    again (each router's candidates, their versions, their scope keys) — ~1.5 ms of a page request's CPU before
    its handler ran, measured with py-spy on the account list. A route of the app's own router is matched by its
    path alone. Page routes carry no prefix, tags or router dependencies, so nothing else is lost. Each handler
    opens its session and signs its user in within its own worker thread (:func:`in_one_thread`)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"not a page route: {route!r}")
        app.router.add_api_route(
            route.path,
            in_one_thread(route.endpoint),
            methods=sorted(route.methods or ()),
            response_class=route.response_class,
            response_model=route.response_model,
            status_code=route.status_code,
            name=route.name,
            include_in_schema=False,
        )


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The whole web app; tests and the dashboards pass their own settings and engine."""
    from crm_app.api.routes import router as api_router
    from crm_app.db import make_engine
    from crm_app.web.auth import api_router as auth_api_router
    from crm_app.web.auth import router as auth_router
    from crm_app.web.pages import routers as page_routers

    settings = settings or get_settings()
    engine = engine or make_engine(settings.sqlalchemy_url)
    app = FastAPI(
        title="CRM",
        version="1.0",
        description="JSON API of the CRM: the same rules and visibility as the pages. Sign in with "
        "POST /api/v1/auth/login, then send the returned csrf_token as X-CSRF-Token on every change.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        lifespan=request_lanes,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    app.state.login_limiter = AddressLimiter()
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    # pages first: a request is matched route by route, and pages (no path of theirs begins with /api/) are
    # most of the traffic — behind the API's routes every page request would first try each of those
    for router in page_routers:
        add_page_routes(app, router)
    app.include_router(auth_api_router, prefix="/api/v1")
    app.include_router(api_router, prefix="/api/v1")
    add_page_routes(app, auth_router)
    install_error_handlers(app)
    # middleware added last runs first: sessions are decoded before the CSRF check reads them
    app.add_middleware(CsrfMiddleware, refuse=_csrf_refusal)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        same_site="lax",
        https_only=settings.app_url.startswith("https://"),
    )
    app.add_middleware(SecurityHeaders)
    return app


def serving_app() -> FastAPI:
    """The app as a server process runs it (``crm serve app``, one per worker): :func:`create_app` from the
    environment's settings, every template compiled up front and not checked for changes on each request,
    then everything built so far set aside from the garbage collector (``gc.freeze``). A full collection
    walks every object an app holds (~200k): ~100 ms during which that process answers nobody — often
    enough, under load, to be the slowest 5 % of requests.
    """
    app = create_app()
    templates.env.auto_reload = False
    for name in templates.env.list_templates(extensions=["html"]):
        templates.env.get_template(name)
    gc.freeze()
    return app


def run(host: str, port: int) -> None:
    """Serve the app (``crm serve app``): refuses the default secret outside demo mode, needs `crm init` first."""
    import click
    import uvicorn

    from crm_app.db import check_connection, get_engine
    from crm_app.errors import ConfigurationError
    from crm_app.migrations import current_revision

    settings = get_settings()
    settings.require_production_secret()
    engine = get_engine(settings.sqlalchemy_url)
    check_connection(engine)
    if current_revision(engine) is None:
        raise ConfigurationError("the database has no schema yet: run `crm init` first")
    engine.dispose()
    workers = max(1, min(4, os.cpu_count() or 1))
    click.echo(f"CRM web app on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)")
    if settings.demo_mode:
        _echo_demo_logins()
    # one process per core: page rendering is CPU work; each worker builds its app from the same settings
    uvicorn.run(
        "crm_app.web.server:serving_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=False,
    )


def _echo_demo_logins() -> None:
    import click

    try:
        from ingest.demo_data import DEMO_LOGINS, DEMO_PASSWORD
    except ImportError:  # no demo data generator installed: nothing to announce
        return
    click.echo(f"Demo logins (password {DEMO_PASSWORD!r}):")
    for login in DEMO_LOGINS:
        click.echo(f"  {login.username:<8} {login.description}")
