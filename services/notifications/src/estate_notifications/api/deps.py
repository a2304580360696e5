"""Dependencies of the notifications routes: the container, a session per request, the caller, paging,
and who may read and do what (token checks are the shared runtime's, ``estate_runtime.http``).

Who may do what:

* **Read the renewal watch** (``/renewals``, ``/policy``): administrators, contract managers, TDA
  members and the chair, and auditors read every contract (:data:`READ_ALL`); a caller with the
  ``owner`` role reads the contracts whose owner or budget holder has their e-mail address (compared
  case-insensitively); anyone else (a requester) reads nothing of renewals.
* **Acknowledge an alert**: its recipients (the contract's owner and budget holder, and anyone a message
  of the alert went to, matched by e-mail, whatever their roles, as the alert's link lets them), and
  administrators, contract managers, TDA members and the chair (:data:`ACKNOWLEDGE_ANY`).
* **Record a renewal decision**: the contract's owner or budget holder (by e-mail), administrators and
  contract managers (:data:`DECIDE_ANY`).
* **Set ladders** and **read deliveries**: administrators and contract managers.
* **Read the audit trail**: administrators, auditors, TDA members and the chair.
* **Preferences, calendar feeds, the SMTP sink**: each person their own (by the e-mail of their token);
  a TDA-wide feed needs a TDA, contract-manager or administrator role; administrators see every feed and
  read the sink for any address.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from estate_notifications.adapters.db.records import AlertRecord, DeliveryRecord, WatchedContractRecord
from estate_notifications.application.actions import Actor
from estate_notifications.bootstrap import Container
from estate_runtime.auth import ForbiddenError, Principal
from estate_runtime.errors import InvalidValue
from estate_runtime.http import AuthenticatedRoute, PrincipalDep, require
from estate_runtime.problems import Problem

ADMIN, AUDITOR, CONTRACT_MANAGER, OWNER = "admin", "auditor", "contract_manager", "owner"
TDA_MEMBER, TDA_CHAIR = "tda_member", "tda_chair"

READ_ALL = frozenset({ADMIN, CONTRACT_MANAGER, TDA_MEMBER, TDA_CHAIR, AUDITOR})
"""Roles that read every contract on the watch."""
ACKNOWLEDGE_ANY = frozenset({ADMIN, CONTRACT_MANAGER, TDA_MEMBER, TDA_CHAIR})
"""Roles that acknowledge any alert."""
DECIDE_ANY = frozenset({ADMIN, CONTRACT_MANAGER})
"""Roles that record a renewal decision for any contract."""
MANAGE_POLICY = frozenset({ADMIN, CONTRACT_MANAGER})
"""Roles that set and clear alert ladders."""
READ_DELIVERIES = frozenset({ADMIN, CONTRACT_MANAGER})
READ_AUDIT = frozenset({ADMIN, AUDITOR, TDA_MEMBER, TDA_CHAIR})
TDA_FEEDS = frozenset({TDA_MEMBER, TDA_CHAIR, ADMIN, CONTRACT_MANAGER})
"""Roles that may subscribe to the TDA-wide calendar feed."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_session(container: ContainerDep) -> AsyncIterator[AsyncSession]:
    """A session for the request; a command opens its one transaction on it with ``session.begin()``."""
    async with container.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def email_of(principal: Principal) -> str | None:
    """The caller's e-mail address, lower-cased (the watch keeps addresses lower-cased); None if the token
    carries none that looks like one."""
    email = (principal.email or "").strip().lower()
    return email if _EMAIL.fullmatch(email) else None


def actor_of(principal: Principal) -> Actor:
    email = email_of(principal)
    return Actor(id=principal.subject, name=principal.name or email or principal.subject, email=email)


def no_email(what: str) -> ForbiddenError:
    return ForbiddenError(
        f"your token carries no e-mail address; {what} needs one, because Estate knows contract owners, "
        "alert recipients and their choices by e-mail: ask for a token with the email claim"
    )


def get_actor(principal: PrincipalDep) -> Actor:
    """The caller of a command."""
    return actor_of(principal)


ActorDep = Annotated[Actor, Depends(get_actor)]


def get_own_email(principal: PrincipalDep) -> str:
    """The caller's own e-mail address, for what belongs to them (preferences); 422 without one."""
    email = email_of(principal)
    if email is None:
        raise Problem(
            422,
            "The token carries no e-mail address",
            "your preferences are kept under your e-mail address, and your token carries none: ask for a "
            "token with the email claim",
            kind="email-needed",
        )
    return email


OwnEmailDep = Annotated[str, Depends(get_own_email)]


@dataclass(frozen=True, slots=True)
class Reader:
    """A reader of the renewal watch: every contract, or only those whose owner or budget holder is
    ``email``."""

    principal: Principal
    everything: bool
    email: str | None

    def may_read(self, record: WatchedContractRecord) -> bool:
        return self.everything or (
            self.email is not None and self.email in (record.owner_email, record.budget_holder_email)
        )

    def ensure_may_read(self, record: WatchedContractRecord) -> None:
        if not self.may_read(record):
            raise ForbiddenError(
                f"you may read only the contracts you own or hold the budget for, and {record.reference} "
                "is not one of them"
            )


def get_reader(principal: PrincipalDep) -> Reader:
    if principal.has_any(READ_ALL):
        return Reader(principal, everything=True, email=email_of(principal))
    if OWNER in principal.roles:
        email = email_of(principal)
        if email is None:
            raise no_email("reading the contracts you own")
        return Reader(principal, everything=False, email=email)
    needed = ", ".join(sorted(READ_ALL | {OWNER}))
    raise ForbiddenError(f"reading the renewal watch needs one of these roles: {needed}")


ReaderDep = Annotated[Reader, Depends(get_reader)]


def owns(email: str | None, record: WatchedContractRecord) -> bool:
    return email is not None and email in (record.owner_email, record.budget_holder_email)


async def ensure_may_acknowledge(
    session: AsyncSession, principal: Principal, alert: AlertRecord, record: WatchedContractRecord | None
) -> None:
    """The alert's recipients and the roles in :data:`ACKNOWLEDGE_ANY` may acknowledge it."""
    if principal.has_any(ACKNOWLEDGE_ANY):
        return
    email = email_of(principal)
    if email is None:
        raise no_email("acknowledging an alert")
    if record is not None and owns(email, record):
        return
    sent_to = await session.scalar(
        select(DeliveryRecord.id)
        .where(DeliveryRecord.alert_id == alert.id, DeliveryRecord.recipient_email == email)
        .limit(1)
    )
    if sent_to is None:
        raise ForbiddenError(
            f"only the people alert {alert.id} went to (and administrators, contract managers and the TDA) "
            "may acknowledge it"
        )


def ensure_may_decide(principal: Principal, record: WatchedContractRecord) -> None:
    """The contract's owner and budget holder, administrators and contract managers may decide."""
    if principal.has_any(DECIDE_ANY) or owns(email_of(principal), record):
        return
    raise ForbiddenError(
        f"only the owner or budget holder of {record.reference}, contract managers and administrators may "
        "record its renewal decision"
    )


def visible_to(email: str) -> Any:
    """The SQL condition "owned, or budget held, by ``email``"."""
    return or_(WatchedContractRecord.owner_email == email, WatchedContractRecord.budget_holder_email == email)


# --- paging -------------------------------------------------------------------------------------------

Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor from the previous page")]
Offset = Annotated[int | None, Query(ge=0, le=1_000_000, description="Rows to skip (instead of a cursor)")]
Limit = Annotated[int | None, Query(ge=1, description="Page size (the service's default and maximum apply)")]
Count = Annotated[bool, Query(description="Also say how many match the filters")]


@dataclass(frozen=True, slots=True)
class Paging:
    size: int
    cursor: list[Any] | None
    offset: int


def paging(
    container: Container, *, cursor: str | None, offset: int | None, limit: int | None, kind: str
) -> Paging:
    """The page asked for: a cursor this API gave out (for ``kind`` of list) or an offset, not both."""
    settings = container.settings
    size = settings.page_size_default if limit is None else limit
    if size > settings.page_size_max:
        raise InvalidValue(f"at most {settings.page_size_max} a page", field="limit")
    if cursor is not None and offset:
        raise InvalidValue("page with a cursor or an offset, not both", field="offset")
    return Paging(size=size, cursor=decode_cursor(cursor, kind) if cursor else None, offset=offset or 0)


def encode_cursor(kind: str, values: list[Any]) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> list[Any]:
    """The values a cursor of ``kind`` stands after; InvalidValue for anything this API did not give."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        decoded = None
    if not isinstance(decoded, list) or not decoded or decoded[0] != kind:
        raise InvalidValue("cursor is not one this list gave out; start again without it", field="cursor")
    return decoded[1:]


def uuid_of(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidValue(
            "cursor is not one this list gave out; start again without it", field="cursor"
        ) from None


__all__ = [
    "ACKNOWLEDGE_ANY",
    "DECIDE_ANY",
    "MANAGE_POLICY",
    "READ_ALL",
    "READ_AUDIT",
    "READ_DELIVERIES",
    "TDA_FEEDS",
    "ActorDep",
    "AuthenticatedRoute",
    "ContainerDep",
    "Count",
    "Cursor",
    "Limit",
    "Offset",
    "OwnEmailDep",
    "Paging",
    "PrincipalDep",
    "Reader",
    "ReaderDep",
    "SessionDep",
    "actor_of",
    "email_of",
    "encode_cursor",
    "ensure_may_acknowledge",
    "ensure_may_decide",
    "no_email",
    "owns",
    "paging",
    "require",
    "uuid_of",
    "visible_to",
]
