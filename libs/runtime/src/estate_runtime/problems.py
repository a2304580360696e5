"""RFC 9457 problem details: every error every Estate API returns has this one shape.

``errors`` lists each thing to fix with a JSON pointer (``/body/annual_value``) or, for uploads, the row
and column, so a person or a form can show the message next to the field.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from estate_eventing.correlation import current_correlation_id
from estate_runtime.auth import AuthError, ForbiddenError
from estate_runtime.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    InvalidValue,
    NotFound,
    StaleVersion,
)

PROBLEM_JSON = "application/problem+json"
BASE = "https://estate.example/problems/"


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        kind: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": BASE + problem.kind,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": request.url.path,
    }
    if problem.errors:
        body["errors"] = problem.errors
    # The id the request runs under (CorrelationIdMiddleware replaces an unsafe one), never the raw header.
    correlation = current_correlation_id()
    if correlation:
        body["correlation_id"] = correlation
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def unauthenticated(detail: str) -> Problem:
    return Problem(
        401,
        "Authentication needed",
        detail,
        kind="unauthenticated",
        headers={"WWW-Authenticate": 'Bearer realm="estate"'},
    )


_DOMAIN: dict[type[DomainError], tuple[int, str, str]] = {
    InvalidValue: (422, "The request has a value that cannot be accepted", "invalid-value"),
    InvalidTransition: (
        409,
        "The change is not allowed from the record's current state",
        "invalid-transition",
    ),
    NotFound: (404, "Not found", "not-found"),
    Conflict: (409, "The change clashes with another record", "conflict"),
    StaleVersion: (412, "The record has changed since you read it", "stale-version"),
}


def register_domain_error(kind_of_error: type[DomainError], status: int, title: str, kind: str) -> None:
    """Map a service's own kind of domain error to a problem (its subclasses follow it)."""
    _DOMAIN[kind_of_error] = (status, title, kind)


def from_domain(error: DomainError) -> Problem:
    mapped = next((_DOMAIN[cls] for cls in type(error).__mro__ if cls in _DOMAIN), None)
    status, title, kind = mapped or (400, "The request cannot be carried out", "bad-request")
    errors = [{"pointer": f"/body/{error.field}", "detail": error.detail}] if error.field else None
    return Problem(status, title, error.detail, kind=kind, errors=errors)


def _pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    return "/" + "/".join(str(part) for part in loc)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(request, from_domain(exc))

    @app.exception_handler(AuthError)
    async def _auth(request: Request, exc: AuthError) -> JSONResponse:
        return problem_response(request, unauthenticated(str(exc)))

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> JSONResponse:
        return problem_response(request, Problem(403, "Not allowed", str(exc), kind="forbidden"))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for error in exc.errors():
            loc = error.get("loc", ())
            message = error.get("msg", "invalid")
            if error.get("type") == "json_invalid":
                message = "the body is not valid JSON: " + str(error.get("ctx", {}).get("error", message))
            elif error.get("type") == "extra_forbidden":
                message = f"unknown field {loc[-1]!r}; check its spelling"
            errors.append({"pointer": _pointer(loc), "detail": message})
        first = errors[0] if errors else {"pointer": "/", "detail": "invalid request"}
        detail = f"{first['pointer']}: {first['detail']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        return problem_response(
            request, Problem(422, "The request is not valid", detail, kind="validation", errors=errors)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {
            404: "Not found",
            405: "Method not allowed",
            413: "Too large",
            415: "Unsupported media type",
        }
        return problem_response(
            request,
            Problem(
                exc.status_code,
                titles.get(exc.status_code, "Request failed"),
                str(exc.detail),
                kind=f"http-{exc.status_code}",
                headers=dict(exc.headers or {}),
            ),
        )
