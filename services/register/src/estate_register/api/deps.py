"""Dependencies of the register's routes: its container and units of work, and who owns what; the caller,
role checks and ETags are the shared runtime's (``estate_runtime.http``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from estate_register.api.auth import UNRESTRICTED
from estate_register.application.ports import UnitOfWork
from estate_register.bootstrap import Container
from estate_register.domain.values import Role
from estate_runtime.auth import ForbiddenError, Principal
from estate_runtime.http import (
    AuthenticatedRoute,
    IfMatch,
    PrincipalDep,
    authenticate,
    etag,
    expected_version,
    get_principal,
    require,
)


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


__all__ = [
    "AuthenticatedRoute",
    "ContainerDep",
    "IfMatch",
    "PrincipalDep",
    "SessionDep",
    "UowDep",
    "authenticate",
    "ensure_owner_or",
    "etag",
    "expected_version",
    "get_principal",
    "require",
]
