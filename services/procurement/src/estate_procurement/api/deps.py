"""Dependencies of the procurement routes: the container, one unit of work per request, and the caller
as the use cases name them (an :class:`Actor`); token checks, ETags and If-Match are the shared runtime's
(``estate_runtime.http``).

Who may read what (the use cases decide who may *change* what):

* everyone with a token reads the checklists, the decision log and re-use candidates;
* TDA members, the chair, administrators and auditors (:data:`READ_ALL`) read every request, its
  ratings, scores, recommendation, audit trail and every condition;
* anyone else (a requester, an owner, a contract manager) reads the requests they raised and the
  requests that give them a condition to meet, and lists only their own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from estate_procurement.api.schemas import RequestOut
from estate_procurement.api.views import present
from estate_procurement.application import services
from estate_procurement.application.ports import UnitOfWork
from estate_procurement.bootstrap import Container
from estate_procurement.domain.errors import NotAllowed, StaleVersion
from estate_procurement.domain.request import TechnologyRequest
from estate_procurement.domain.values import ADMIN, AUDITOR, TDA_CHAIR, TDA_MEMBER, Actor
from estate_runtime.auth import Principal
from estate_runtime.http import (
    AuthenticatedRoute,
    IfMatch,
    PrincipalDep,
    etag,
    expected_version,
    require,
)
from estate_runtime.problems import Problem

READ_ALL = frozenset({TDA_MEMBER, TDA_CHAIR, ADMIN, AUDITOR})
"""Roles that read every request, its review and its audit trail."""

READ_AUDIT = READ_ALL
"""Roles that read any request's audit trail (a requester reads their own request's)."""

RequestKey = Annotated[
    str, Path(max_length=60, description="The request's id (UUID) or reference (TR-2026-0042)")
]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_uow(container: ContainerDep) -> AsyncIterator[UnitOfWork]:
    async with container.uow() as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]


async def get_session(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """A read-only session for the list and audit queries."""
    async with container.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def actor_of(principal: Principal) -> Actor:
    """The caller as the use cases name them: the token's subject, display name, e-mail and roles."""
    email = principal.email or ""
    name = principal.name or email or principal.subject
    return Actor(id=principal.subject, name=name, email=email, roles=principal.roles)


def get_reader(principal: PrincipalDep) -> Actor:
    return actor_of(principal)


def get_actor(principal: PrincipalDep) -> Actor:
    """The caller of a command, who will be named on the request: their token must carry an e-mail."""
    actor = actor_of(principal)
    if not _EMAIL.fullmatch(actor.email.strip()):
        raise Problem(
            403,
            "Not allowed",
            "your token carries no e-mail address; Estate names everyone who changes a request by name "
            "and e-mail, so ask for a token with the email claim",
            kind="forbidden",
        )
    return actor


ReaderDep = Annotated[Actor, Depends(get_reader)]
"""The caller of a query."""

ActorDep = Annotated[Actor, Depends(get_actor)]
"""The caller of a command (with an e-mail address)."""


def reads_everything(actor: Actor) -> bool:
    return actor.has_any(READ_ALL)


def may_read(actor: Actor, request: TechnologyRequest) -> bool:
    """READ_ALL roles read any request; the requester theirs; a condition's owner the request it is on."""
    if reads_everything(actor) or request.requester.id == actor.id:
        return True
    return any(c.owner.id == actor.id for d in request.decisions for c in d.conditions)


def ensure_may_read(actor: Actor, request: TechnologyRequest) -> None:
    if not may_read(actor, request):
        raise NotAllowed(
            f"you may not read {request.reference}: you may read only requests you raised or hold a "
            "condition of; the TDA, administrators and auditors may read all"
        )


def ensure_reads_reviews(actor: Actor) -> None:
    if not reads_everything(actor):
        raise NotAllowed(
            "reviews (ratings, scores, recommendations) are the TDA's working notes until the decision; "
            "they need one of these roles: admin, auditor, tda_chair, tda_member"
        )


REFERENCE = re.compile(r"^TR-\d{4}-\d{4,}$", re.IGNORECASE)


async def find_request(uow: UnitOfWork, key: str) -> TechnologyRequest:
    """The request named by an id (UUID) or a reference (TR-2026-0042); NotFound when there is none."""
    try:
        request_id = uuid.UUID(key)
    except ValueError:
        if not REFERENCE.match(key):
            raise Problem(
                404,
                "Not found",
                f"{key!r} is neither a request id (UUID) nor a request reference (TR-2026-0042)",
                kind="not-found",
            ) from None
        return await services.get_request_by_reference(uow, reference=key.upper())
    return await services.get_request(uow, request_id=request_id)


async def readable_request(uow: UnitOfWork, key: str, reader: Actor) -> TechnologyRequest:
    """The request named by ``key``, when ``reader`` may read it (NotAllowed otherwise)."""
    request = await find_request(uow, key)
    ensure_may_read(reader, request)
    return request


def check_if_match(request: TechnologyRequest, if_match: str | None, *, required: bool = False) -> int | None:
    """The version the caller last read, from If-Match (428 when required and missing, 412 when it is
    not this request's current ETag); None when not sent and not required."""
    if not if_match and not required:
        return None
    version = expected_version(request.id, if_match)
    if version != request.version:
        raise StaleVersion(
            f"{request.reference} was changed since you read it (you sent version {version}, it is now "
            f"version {request.version}); read it again and apply your change to what is there now"
        )
    return version


@dataclass(frozen=True)
class Command:
    """A command on one request: the caller, the unit of work, the If-Match they sent and the response
    whose ETag the answer sets."""

    uow: UnitOfWork
    container: Container
    actor: Actor
    response: Response
    if_match: str | None

    async def target(self, key: str, *, required: bool = False) -> tuple[TechnologyRequest, int | None]:
        """The request named by ``key`` and the version If-Match names (see :func:`check_if_match`)."""
        request = await find_request(self.uow, key)
        return request, check_if_match(request, self.if_match, required=required)

    def tag(self, request: TechnologyRequest) -> None:
        """Put the request's current ETag on the answer."""
        self.response.headers["ETag"] = etag(request)

    def answer(self, request: TechnologyRequest) -> RequestOut:
        """The request as the caller now sees it, with its new ETag."""
        return present(request, actor=self.actor, container=self.container, response=self.response)


async def get_command(
    uow: UowDep, container: ContainerDep, actor: ActorDep, response: Response, if_match: IfMatch = None
) -> Command:
    return Command(uow=uow, container=container, actor=actor, response=response, if_match=if_match)


CommandDep = Annotated[Command, Depends(get_command)]
"""A command's caller, unit of work, If-Match and response."""


__all__ = [
    "READ_ALL",
    "READ_AUDIT",
    "ActorDep",
    "AuthenticatedRoute",
    "Command",
    "CommandDep",
    "ContainerDep",
    "IfMatch",
    "PrincipalDep",
    "ReaderDep",
    "RequestKey",
    "SessionDep",
    "UowDep",
    "actor_of",
    "check_if_match",
    "ensure_may_read",
    "ensure_reads_reviews",
    "etag",
    "expected_version",
    "find_request",
    "may_read",
    "readable_request",
    "reads_everything",
    "require",
]
