"""The portal's app: pages, sessions, error pages, static assets and health.

:func:`create_app` is the composition root; ``create_app_from_env`` is what ``estate-portal http``
serves (uvicorn factory).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from estate_portal.backends import Backends
from estate_portal.errors import NotSignedIn, PageNotFound, PortalError
from estate_portal.oidc import OidcClient
from estate_portal.session import SessionMiddleware
from estate_portal.settings import PortalSettings
from estate_portal.views import auth, home
from estate_portal.web import Pages, build_environment
from estate_runtime.auth import AuthSettings, TokenVerifier

log = logging.getLogger("estate.portal")

STATIC = Path(str(files("estate_portal"))) / "static"
GOVUK_ASSETS = STATIC / "govuk"


def _routers() -> list[object]:
    """Every page's router, in the order their paths are matched."""
    from estate_portal.views import ROUTERS

    return [auth.router, home.router, *ROUTERS]


def create_app(
    settings: PortalSettings,
    auth_settings: AuthSettings,
    *,
    backends: Backends | None = None,
    oidc_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    if not (GOVUK_ASSETS / "govuk-frontend.min.css").exists():
        raise RuntimeError(
            f"GOV.UK Frontend's assets are missing from {GOVUK_ASSETS}: they are built when the package is "
            "installed (needs Node.js and npm). Run: uv sync --reinstall-package estate-portal"
        )
    owned = backends is None
    services = backends or Backends.at(
        {
            "register": settings.register_url,
            "procurement": settings.procurement_url,
            "notifications": settings.notifications_url,
        },
        timeout=settings.api_timeout_seconds,
    )
    http = oidc_http or httpx.AsyncClient(timeout=settings.api_timeout_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            await services.close()
        if oidc_http is None:
            await http.aclose()

    app = FastAPI(title="Estate portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.auth = auth_settings
    app.state.verifier = TokenVerifier(auth_settings)
    app.state.backends = services
    app.state.pages = Pages(build_environment(), organisation=settings.organisation_name)
    app.state.oidc = (
        OidcClient(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id or "",
            client_secret=settings.oidc_secret(),
            scopes=settings.oidc_scopes,
            http=http,
        )
        if settings.oidc_issuer
        else None
    )

    for router in _routers():
        app.include_router(router)  # type: ignore[arg-type]

    app.mount("/assets", StaticFiles(directory=GOVUK_ASSETS), name="assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_error_pages(app)

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready() -> JSONResponse:
        states = await services.ready()
        ok = all(state == "ok" for state in states.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", **states}, status_code=200 if ok else 503
        )

    app.add_middleware(
        SessionMiddleware,
        secret=settings.session_key(),
        max_age_seconds=int(settings.session_hours * 3600),
        secure=settings.secure_cookies,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.url.path.startswith("/act/"):
            # The path holds an alert's signed link: it must not leak in a Referer or a shared cache,
            # whatever the page (an error page included).
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def _install_error_pages(app: FastAPI) -> None:
    def page(request: Request, error: PortalError) -> Response:
        pages: Pages = request.app.state.pages
        context = {"title": error.title, "detail": error.detail, **error.context}
        if "session" not in request.scope:
            return Response(error.detail or error.title, status_code=error.status, media_type="text/plain")
        return pages.render(request, error.template, context, status_code=error.status)

    @app.exception_handler(PortalError)
    async def _portal_error(request: Request, exc: PortalError) -> Response:
        if isinstance(exc, NotSignedIn) and request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/sign-in?next={httpx.URL(target)}", status_code=303)
        return page(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code in (404, 405):
            return page(request, PageNotFound("If you typed the web address, check it is correct."))
        error = PortalError(str(exc.detail))
        error.status = exc.status_code
        return page(request, error)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        error = PortalError(f"The web address or form is not valid: {where} {first.get('msg', '')}".strip())
        error.status = 400
        return page(request, error)

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> Response:
        log.exception("page failed: %s %s", request.method, request.url.path)
        return page(
            request,
            PortalError(
                "Try again later. If it keeps happening, tell the ICT service desk what you were doing."
            ),
        )


def create_app_from_env() -> FastAPI:
    return create_app(PortalSettings(), AuthSettings())
