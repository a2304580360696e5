"""Dependencies shared by the routes: the container, the caller, role checks, ETags."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from estate_register.api.auth import UNRESTRICTED, AuthError, ForbiddenError, Principal, TokenVerifier
from estate_register.api.problems import Problem
from estate_register.application.ports import UnitOfWork
from estate_register.bootstrap import Container
from estate_register.domain.model import Aggregate
from estate_register.domain.values import Role


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_uow(container: ContainerDep) -> AsyncIterator[UnitOfWork]:
    async with container.uow() as uow:
        yield uow


async def get_session(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    async with container.sessions() as session:
        yield session


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


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


def require(roles: Iterable[Role], action: str) -> Any:
    allowed = frozenset(roles)

    def check(principal: PrincipalDep) -> Principal:
        if not principal.has_any(allowed):
            needed = ", ".join(sorted(allowed))
            raise ForbiddenError(f"{action} needs one of these roles: {needed}")
        return principal

    return Depends(check)


def ensure_owner_or(
    principal: Principal, unrestricted: Iterable[Role], owner_emails: Iterable[str | None], what: str
) -> None:
    """Callers with an unrestricted role may change any record; an owner only the records they own."""
    if principal.has_any(frozenset(unrestricted) & UNRESTRICTED):
        return
    emails = {e.casefold() for e in owner_emails if e}
    if principal.email and principal.email.casefold() in emails:
        return
    raise ForbiddenError(f"only an owner of this {what} (or an administrator) may change it")


_ETAG = re.compile(r'^(?:W/)?"(?P<id>[0-9a-f-]{36}):(?P<version>\d+)"$')


def etag(record: Aggregate) -> str:
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
