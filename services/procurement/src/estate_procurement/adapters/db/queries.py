"""Read-side queries for the API: lists with filters and keyset pagination, overdue conditions, and a
request's audit trail. Each takes an ``AsyncSession`` (``SqlUnitOfWork.session`` will do) and only reads.

* :func:`list_requests` — one page of requests matching a :class:`RequestFilter`, in one of
  :data:`SORTS`, after an opaque ``cursor``; ``with_total`` adds the count of all matches; ``full``
  adds the whole aggregate to each row (needed for ageing, scores...; costs a JSON decode per row).
* :func:`overdue_conditions` — open conditions of decided requests due before ``today``, across every
  request, earliest due first: one range scan of the ``(status, due_date)`` index.
* :func:`audit_for` — a request's audit entries, newest first.

Keyset pagination keeps every page as fast as the first and neither skips nor repeats a request when
others are added between pages. The cursor is base64 JSON of the sort, the last row's sort value and its
id; a cursor of another sort, or one not given out here, is refused with InvalidValue (the API's 422).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from estate_procurement.adapters.db.codec import request_from_row
from estate_procurement.adapters.db.repositories import AUDIT, CONDITIONS, REQUESTS
from estate_procurement.domain.errors import InvalidValue
from estate_procurement.domain.request import TechnologyRequest
from estate_procurement.domain.values import (
    Outcome,
    PersonRef,
    RequestCategory,
    RequestState,
)

Sort = Literal["-updated_at", "updated_at", "-created_at", "created_at", "reference", "-reference"]
SORTS: tuple[str, ...] = get_args(Sort)
"""Sort keys (a leading ``-`` is descending); the id breaks ties, so the order is total."""

_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "updated_at": REQUESTS.c.updated_at,
    "created_at": REQUESTS.c.created_at,
    "reference": REQUESTS.c.reference,
}

MAX_LIMIT = 500


@dataclass(frozen=True, kw_only=True)
class RequestFilter:
    """Requests matching every filter given (None: any). ``states`` empty or None: every state."""

    states: Collection[RequestState | str] | None = None
    requester_id: str | None = None
    service_area: str | None = None
    category: RequestCategory | str | None = None
    outcome: Outcome | str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestSummary:
    """A request as a list shows it, from its columns; ``request`` is the whole aggregate when the list
    was asked for ``full`` (else None)."""

    id: uuid.UUID
    reference: str
    title: str | None
    state: RequestState
    requester: PersonRef
    service_area: str | None
    category: RequestCategory | None
    version: int
    created_at: datetime
    updated_at: datetime
    state_since: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    outcome: Outcome | None
    round_number: int
    request: TechnologyRequest | None = None


@dataclass(frozen=True, kw_only=True)
class Page:
    """One page: ``next_cursor`` is None on the last page; ``total`` is None unless asked for."""

    items: list[RequestSummary]
    next_cursor: str | None
    total: int | None = None


@dataclass(frozen=True, kw_only=True)
class OverdueCondition:
    """An open condition past its due date, with the request it belongs to."""

    request_id: uuid.UUID
    reference: str
    title: str | None
    condition_id: uuid.UUID
    text: str
    owner: PersonRef
    due_date: date
    round_number: int


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """One audited fact about a request (``id`` grows in the order facts were written)."""

    id: int
    request_id: uuid.UUID
    at: datetime
    actor: PersonRef
    action: str
    from_state: RequestState | None
    to_state: RequestState
    before: dict[str, Any] | None
    after: dict[str, Any]
    detail: dict[str, Any]
    correlation_id: str | None


# --- cursors ----------------------------------------------------------------------------------------


def encode_cursor(sort: str, value: Any, row_id: uuid.UUID) -> str:
    shown = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([sort, shown, str(row_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    """The sort value and id a cursor of ``sort`` stands after; InvalidValue for anything else."""
    refused = InvalidValue("cursor is not one this API gave out; start again without it", field="cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, value, row_id = json.loads(base64.urlsafe_b64decode(padded))
        last_id = uuid.UUID(row_id)
        if not isinstance(value, str):
            raise TypeError("the sort value of a cursor is text")
        if sort.lstrip("-") != "reference":
            instant = datetime.fromisoformat(value)
            if instant.tzinfo is None:
                raise ValueError("a cursor's instant is timezone-aware")
            return_value: Any = instant
        else:
            return_value = value
    except (ValueError, TypeError, binascii.Error) as exc:
        raise refused from exc
    if cursor_sort != sort:
        raise InvalidValue("cursor belongs to another sort order; start again without it", field="cursor")
    return return_value, last_id


# --- lists ------------------------------------------------------------------------------------------


def request_query(filters: RequestFilter) -> Select[Any]:
    """SELECT of every ``technology_requests`` column for the requests matching ``filters``."""
    query = select(REQUESTS)
    if filters.states:
        query = query.where(REQUESTS.c.state.in_([RequestState(s).value for s in filters.states]))
    if filters.requester_id is not None:
        query = query.where(REQUESTS.c.requester_id == filters.requester_id)
    if filters.service_area is not None:
        query = query.where(REQUESTS.c.service_area == filters.service_area)
    if filters.category is not None:
        query = query.where(REQUESTS.c.category == RequestCategory(filters.category).value)
    if filters.outcome is not None:
        query = query.where(REQUESTS.c.outcome == Outcome(filters.outcome).value)
    return query


def _summary(row: Any, *, full: bool) -> RequestSummary:
    return RequestSummary(
        id=row["id"],
        reference=row["reference"],
        title=row["title"],
        state=RequestState(row["state"]),
        requester=PersonRef(id=row["requester_id"], name=row["requester_name"], email=row["requester_email"]),
        service_area=row["service_area"],
        category=RequestCategory(row["category"]) if row["category"] is not None else None,
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        state_since=row["state_since"],
        submitted_at=row["submitted_at"],
        decided_at=row["decided_at"],
        outcome=Outcome(row["outcome"]) if row["outcome"] is not None else None,
        round_number=row["round_number"],
        request=request_from_row(row) if full else None,
    )


async def list_requests(
    session: AsyncSession,
    filters: RequestFilter | None = None,
    *,
    sort: Sort | str = "-updated_at",
    limit: int = 50,
    cursor: str | None = None,
    with_total: bool = False,
    full: bool = False,
) -> Page:
    """One page of at most ``limit`` (1..500) requests matching ``filters``, in ``sort`` order, after
    ``cursor`` (from the previous page's ``next_cursor``; None for the first page).

    The default order is the most recently changed first. InvalidValue for an unknown sort, a limit out
    of range or a cursor not given out for this sort."""
    if sort not in SORTS:
        raise InvalidValue(f"cannot sort by {sort!r}; choose one of {', '.join(SORTS)}", field="sort")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue(f"limit must be from 1 to {MAX_LIMIT}", field="limit")
    query = request_query(filters or RequestFilter())
    total = None
    if with_total:
        total = int((await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one())
    descending = sort.startswith("-")
    column = _SORT_COLUMNS[sort.lstrip("-")]
    if cursor is not None:
        value, last_id = decode_cursor(cursor, sort)
        # A row-value comparison, so the database seeks straight into the (column, id) index.
        after = tuple_(column, REQUESTS.c.id)
        bound = tuple_(literal(value, type_=column.type), literal(last_id, type_=REQUESTS.c.id.type))
        query = query.where(after < bound if descending else after > bound)
    order = [column.desc(), REQUESTS.c.id.desc()] if descending else [column.asc(), REQUESTS.c.id.asc()]
    rows = list((await session.execute(query.order_by(*order).limit(limit + 1))).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(sort, last[column.key], last["id"])
    return Page(items=[_summary(r, full=full) for r in rows], next_cursor=next_cursor, total=total)


# --- conditions ---------------------------------------------------------------------------------------


async def overdue_conditions(
    session: AsyncSession, today: date, *, limit: int | None = None
) -> list[OverdueCondition]:
    """Open conditions due before ``today`` (a Europe/London day, as ``local_date(clock())`` gives) of
    requests that stand decided, earliest due first; the same set as ``services.overdue_conditions``.
    A reopened request's conditions wait for its next decision, so they are not listed."""
    query = (
        select(
            CONDITIONS,
            REQUESTS.c.reference,
            REQUESTS.c.title,
        )
        .join(REQUESTS, REQUESTS.c.id == CONDITIONS.c.request_id)
        .where(
            CONDITIONS.c.status == "open",
            CONDITIONS.c.due_date < today,
            REQUESTS.c.state == RequestState.DECIDED.value,
        )
        .order_by(CONDITIONS.c.due_date, REQUESTS.c.reference, CONDITIONS.c.condition_id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [
        OverdueCondition(
            request_id=row["request_id"],
            reference=row["reference"],
            title=row["title"],
            condition_id=row["condition_id"],
            text=row["text"],
            owner=PersonRef(id=row["owner_id"], name=row["owner_name"], email=row["owner_email"]),
            due_date=row["due_date"],
            round_number=row["round_number"],
        )
        for row in (await session.execute(query)).mappings()
    ]


# --- audit ----------------------------------------------------------------------------------------------


async def audit_for(
    session: AsyncSession, request_id: uuid.UUID, *, limit: int | None = None
) -> list[AuditEntry]:
    """The audit entries of one request, newest first (at most ``limit``, when given)."""
    query = select(AUDIT).where(AUDIT.c.request_id == request_id).order_by(AUDIT.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [
        AuditEntry(
            id=row["id"],
            request_id=row["request_id"],
            at=row["at"],
            actor=PersonRef(id=row["actor_id"], name=row["actor_name"], email=row["actor_email"]),
            action=row["action"],
            from_state=RequestState(row["from_state"]) if row["from_state"] is not None else None,
            to_state=RequestState(row["to_state"]),
            before=row["before"],
            after=row["after"],
            detail=row["detail"],
            correlation_id=row["correlation_id"],
        )
        for row in (await session.execute(query)).mappings()
    ]
