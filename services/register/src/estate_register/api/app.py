"""The register's FastAPI application factory."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text

from estate_eventing.correlation import CorrelationIdMiddleware
from estate_register.api import problems, routes, survey
from estate_register.api.auth import TokenVerifier
from estate_register.bootstrap import Container
from estate_register.settings import AuthSettings

log = logging.getLogger("estate_register.http")

DESCRIPTION = """
The register of every system and contract in the council's IT estate, with the people accountable for
each (contract signatory, contract owner, system owner, budget holder), what each system does, where its
data lives and when its contracts end.

Every endpoint but `/health/*`, `/metrics` and the docs needs a bearer token; writes need a role.
Errors are RFC 9457 `application/problem+json`. Writes need the record's `ETag` in `If-Match`.
"""


class UploadLimit:
    """Refuse request bodies over the configured size before reading them (413)."""

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                    response = JSONResponse(
                        {
                            "type": problems.BASE + "too-large",
                            "title": "Too large",
                            "status": 413,
                            "detail": f"the body is {int(value):,} bytes; the limit is {self.max_bytes:,} bytes",
                            "instance": scope.get("path", ""),
                        },
                        status_code=413,
                        media_type=problems.PROBLEM_JSON,
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class Measure:
    """Count and time every request by route and status, and log it with its correlation id."""

    def __init__(self, app: Callable[..., Awaitable[None]], requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: dict) -> None:  # type: ignore[type-arg]
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(scope["method"], route).observe(elapsed)
            log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={"route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)},
            )


def create_app(container: Container, auth: AuthSettings | None = None) -> FastAPI:
    auth = auth or container.auth or AuthSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await container.close()

    app = FastAPI(
        title="Estate register",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "systems", "description": "Systems and applications (the Systems and Data Register)"},
            {"name": "contracts", "description": "The central contract register"},
            {"name": "survey", "description": "Survey import and export (CSV, XLSX)"},
        ],
    )
    app.state.container = container
    verifier = TokenVerifier(auth)
    app.state.verifier = verifier
    registry = CollectorRegistry()
    requests = Counter(
        "estate_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "estate_http_request_seconds", "HTTP request latency", ["method", "route"], registry=registry
    )
    app.state.metrics = registry

    app.add_middleware(Measure, requests=requests, latency=latency)  # type: ignore[arg-type]
    problems.install(app)
    app.include_router(routes.router)
    app.include_router(survey.router)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready() -> JSONResponse:
        try:
            async with container.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(UploadLimit, max_bytes=container.settings.max_upload_bytes)  # type: ignore[arg-type]
    return app
