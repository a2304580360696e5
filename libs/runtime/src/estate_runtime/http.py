"""What every service's HTTP API shares: the caller from the bearer token, role checks, ETags and
If-Match, a body-size limit, request metrics and logs, health and readiness.

Each service builds its own FastAPI app with :func:`service_app` and adds its routes; what a role may do
stays with the service.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from estate_eventing.correlation import CorrelationIdMiddleware
from estate_runtime import problems
from estate_runtime.auth import AuthError, AuthSettings, ForbiddenError, Principal, TokenVerifier
from estate_runtime.problems import BASE, PROBLEM_JSON, Problem

log = logging.getLogger("estate.http")


class Versioned(Protocol):
    """A record with an id and a version that goes up by one with every change."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def version(self) -> int: ...


bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="A token from the council's identity provider, or `estate token --role ...` in development",
)


def authenticate(request: Request) -> Principal:
    """The caller named by the request's bearer token, checked once per request; AuthError if none."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    header = request.headers.get("authorization")
    if not header:
        raise AuthError("send a bearer token in the Authorization header (Authorization: Bearer <token>)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    verifier: TokenVerifier = request.app.state.verifier
    principal = verifier.verify(token.strip())
    request.state.principal = principal
    return principal


def get_principal(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    return authenticate(request)


class AuthenticatedRoute(APIRoute):
    """A route that checks the bearer token before anything reads the request, so a caller without a
    good token learns nothing, not even whether their body would have been valid."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            authenticate(request)
            return await handler(request)

        return authenticated


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require(roles: Iterable[str], action: str) -> Any:
    allowed = frozenset(roles)

    def check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(allowed):
            needed = ", ".join(sorted(allowed))
            raise ForbiddenError(f"{action} needs one of these roles: {needed}")
        return principal

    return Depends(check)


_ETAG = re.compile(r'^(?:W/)?"(?P<id>[0-9a-f-]{36}):(?P<version>\d+)"$')


def etag(record: Versioned) -> str:
    return f'"{record.id}:{record.version}"'


def expected_version(record_id: uuid.UUID, if_match: str | None) -> int:
    """The version the caller last read, from If-Match; writes without it are refused (no lost updates)."""
    if not if_match:
        raise Problem(
            428,
            "If-Match needed",
            "send the ETag you got when you read the record in an If-Match header, so that a change made "
            "by someone else meanwhile is not overwritten",
            kind="precondition-required",
        )
    match = _ETAG.match(if_match.strip())
    if match is None or match["id"] != str(record_id):
        raise Problem(
            412,
            "The record has changed since you read it",
            "If-Match does not match this record's ETag; read the record again",
            kind="stale-version",
        )
    return int(match["version"])


IfMatch = Annotated[str | None, Header(alias="If-Match")]


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
                            "type": BASE + "too-large",
                            "title": "Too large",
                            "status": 413,
                            "detail": f"the body is {int(value):,} bytes; the limit is {self.max_bytes:,} bytes",
                            "instance": scope.get("path", ""),
                        },
                        status_code=413,
                        media_type=PROBLEM_JSON,
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


def service_app(
    *,
    title: str,
    description: str,
    engine: AsyncEngine,
    auth: AuthSettings,
    max_upload_bytes: int,
    tags: Sequence[dict[str, str]] = (),
    on_close: Callable[[], Awaitable[None]] | None = None,
    version: str = "1.0.0",
) -> FastAPI:
    """A FastAPI app with what every Estate API has: token checks, RFC 9457 problems, correlation ids,
    request metrics (``/metrics``), a body-size limit and health (``/health/live``, ``/health/ready``,
    which checks the database). The service adds its routers."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if on_close is not None:
            await on_close()

    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        openapi_tags=[*tags, {"name": "health", "description": "Liveness, readiness and metrics"}],
    )
    app.state.verifier = TokenVerifier(auth)
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

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready() -> JSONResponse:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(CorrelationIdMiddleware)
    app.add_middleware(UploadLimit, max_bytes=max_upload_bytes)  # type: ignore[arg-type]
    return app
