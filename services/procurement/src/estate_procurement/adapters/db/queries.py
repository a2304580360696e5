"""Read-side queries for the API: lists with filters and keyset pagination, overdue conditions, and a
request's audit trail. Each takes an ``AsyncSession`` (``SqlUnitOfWork.session`` will do) and only reads.

* :func:`list_requests` — one page of requests matching a :class:`RequestFilter`, in one of
  :data:`SORTS`, after an opaque ``cursor``; ``with_total`` adds the count of all matches; ``full``
  adds the whole aggregate to each row (needed for ageing, scores...; costs a JSON decode per row).
* :func:`list_conditions` — one page of the conditions of decided requests (all, one owner's, or only
  the overdue ones), earliest due first, after a keyset cursor on ``(due_date, condition_id)``.
* :func:`overdue_conditions` — open conditions of decided requests due before ``today``, across every
  request, earliest due first: one range scan of the ``(status, due_date)`` index.
* :func:`decision_log` — one page of the TDA's published decisions (``decision_log``), newest first,
  after a keyset cursor on ``(decided_at, request_id, round)``.
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

from estate_procurement.adapters.db.codec import decode, request_from_row
from estate_procurement.adapters.db.repositories import AUDIT, CONDITIONS, DECISION_LOG, REQUESTS
from estate_procurement.domain.errors import InvalidValue
from estate_procurement.domain.request import TechnologyRequest
from estate_procurement.domain.review import Condition, ConditionMet, ConditionView
from estate_procurement.domain.values import (
    ConditionStatus,
    Outcome,
    PersonRef,
    RequestCategory,
    RequestState,
)

Sort = Literal["-updated_at", "updated_at", "-created_at", "created_at", "reference", "-reference"]
SORTS: tuple[str, ...] = get_args(Sort)
"""Sort keys (a leading ``-`` is descending); the id breaks ties, so the order is total."""

WAITING_SORT = "state_since"
"""Longest in its state first: the order of the waiting list (not offered as an API sort)."""

_SORT_COLUMNS: dict[str, ColumnElement[Any]] = {
    "updated_at": REQUESTS.c.updated_at,
    "created_at": REQUESTS.c.created_at,
    "reference": REQUESTS.c.reference,
    WAITING_SORT: REQUESTS.c.state_since,
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
    state_since_before: datetime | None = None
    """Only requests that entered their current state before this instant (the waiting list's cutoff,
    ``application.ageing.waiting_cutoff``)."""


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
    if filters.state_since_before is not None:
        query = query.where(REQUESTS.c.state_since < filters.state_since_before)
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

    The default order is the most recently changed first; :data:`WAITING_SORT` is longest in its state
    first. InvalidValue for an unknown sort, a limit out of range or a cursor not given out for this
    sort."""
    if sort not in SORTS and sort != WAITING_SORT:
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


def _keyset_encode(kind: str, *key: Any) -> str:
    raw = json.dumps([kind, *(str(part) for part in key)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _keyset_decode(cursor: str, kind: str, *parse: Any) -> tuple[Any, ...]:
    """The key a cursor of ``kind`` stands after, each part read by its ``parse``; InvalidValue else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_kind, *parts = json.loads(base64.urlsafe_b64decode(padded))
        if cursor_kind != kind or len(parts) != len(parse) or not all(isinstance(p, str) for p in parts):
            raise ValueError("not a cursor of this list")
        key = tuple(read(part) for read, part in zip(parse, parts, strict=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidValue(
            "cursor is not one this API gave out; start again without it", field="cursor"
        ) from exc
    return key


def _aware(value: str) -> datetime:
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError("a cursor's instant is timezone-aware")
    return instant


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue(f"limit must be from 1 to {MAX_LIMIT}", field="limit")


@dataclass(frozen=True, kw_only=True)
class ConditionEntry:
    """A condition of a decided request's current decision, with its progress as of a day."""

    request_id: uuid.UUID
    reference: str
    title: str | None
    round_number: int
    condition: ConditionView


@dataclass(frozen=True, kw_only=True)
class ConditionPage:
    items: list[ConditionEntry]
    next_cursor: str | None


def _met(row: Any) -> ConditionMet | None:
    if row["status"] != ConditionStatus.MET.value:
        return None
    return ConditionMet(
        condition_id=row["condition_id"],
        evidence=row["evidence"],
        met_by=PersonRef(id=row["met_by_id"], name=row["met_by_name"] or "", email=row["met_by_email"] or ""),
        met_at=row["met_at"],
    )


def _condition_view(row: Any, today: date) -> ConditionView:
    """A ``request_conditions`` row as the domain shows it on ``today`` (as ``request.conditions``)."""
    met = _met(row)
    return ConditionView(
        id=row["condition_id"],
        text=row["text"],
        owner=PersonRef(id=row["owner_id"], name=row["owner_name"], email=row["owner_email"]),
        due_date=row["due_date"],
        status=ConditionStatus.MET if met else ConditionStatus.OPEN,
        met=met,
        overdue=met is None and row["due_date"] < today,
    )


async def list_conditions(
    session: AsyncSession,
    today: date,
    *,
    owner_id: str | None = None,
    overdue: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> ConditionPage:
    """One page of the conditions of requests that stand decided (a reopened request's conditions wait
    for its next decision), earliest due first, after ``cursor``: only ``owner_id``'s when given, only
    the open ones due before ``today`` when ``overdue``. The order is (due_date, condition_id), read
    from ``ix_request_conditions_due_id`` (or ``ix_request_conditions_status_due`` for the overdue)."""
    _check_limit(limit)
    query = (
        select(CONDITIONS, REQUESTS.c.reference, REQUESTS.c.title)
        .join(REQUESTS, REQUESTS.c.id == CONDITIONS.c.request_id)
        .where(REQUESTS.c.state == RequestState.DECIDED.value)
    )
    if owner_id is not None:
        query = query.where(CONDITIONS.c.owner_id == owner_id)
    if overdue:
        query = query.where(CONDITIONS.c.status == ConditionStatus.OPEN.value, CONDITIONS.c.due_date < today)
    key = tuple_(CONDITIONS.c.due_date, CONDITIONS.c.condition_id)
    if cursor is not None:
        due, last_id = _keyset_decode(cursor, "conditions", date.fromisoformat, uuid.UUID)
        bound = tuple_(
            literal(due, type_=CONDITIONS.c.due_date.type),
            literal(last_id, type_=CONDITIONS.c.condition_id.type),
        )
        query = query.where(key > bound)
    query = query.order_by(CONDITIONS.c.due_date, CONDITIONS.c.condition_id).limit(limit + 1)
    rows = list((await session.execute(query)).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        ConditionEntry(
            request_id=row["request_id"],
            reference=row["reference"],
            title=row["title"],
            round_number=row["round_number"],
            condition=_condition_view(row, today),
        )
        for row in rows
    ]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = _keyset_encode("conditions", last["due_date"].isoformat(), last["condition_id"])
    return ConditionPage(items=items, next_cursor=next_cursor)


# --- the decision log -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DecisionLogEntry:
    """A published decision as the log shows it. ``conditions`` carry their progress when the decision
    is still the request's latest (its conditions are then in ``request_conditions``); an earlier
    decision's conditions show as recorded (open, not overdue: they were superseded)."""

    request_id: uuid.UUID
    round: int
    reference: str
    title: str | None
    service_area: str | None
    outcome: Outcome
    rationale: str
    decided_by: PersonRef
    decided_at: datetime
    recommended_outcome: Outcome
    checklist_version: str
    conditions: list[ConditionView]


@dataclass(frozen=True, kw_only=True)
class DecisionLogPage:
    items: list[DecisionLogEntry]
    next_cursor: str | None
    total: int | None = None


async def decision_log(
    session: AsyncSession,
    today: date,
    *,
    outcome: Outcome | str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    with_total: bool = False,
) -> DecisionLogPage:
    """One page of ``decision_log``, newest first (decided_at, then request id and round, descending),
    after ``cursor``; only ``outcome`` when given; ``with_total`` adds the count of every match. Two
    queries a page: the log rows, then the progress of their conditions."""
    _check_limit(limit)
    query = select(DECISION_LOG)
    if outcome is not None:
        query = query.where(DECISION_LOG.c.outcome == Outcome(outcome).value)
    total = None
    if with_total:
        total = int((await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one())
    key = tuple_(DECISION_LOG.c.decided_at, DECISION_LOG.c.request_id, DECISION_LOG.c.round)
    if cursor is not None:
        decided_at, request_id, round_number = _keyset_decode(cursor, "decisions", _aware, uuid.UUID, int)
        bound = tuple_(
            literal(decided_at, type_=DECISION_LOG.c.decided_at.type),
            literal(request_id, type_=DECISION_LOG.c.request_id.type),
            literal(round_number, type_=DECISION_LOG.c.round.type),
        )
        query = query.where(key < bound)
    query = query.order_by(
        DECISION_LOG.c.decided_at.desc(), DECISION_LOG.c.request_id.desc(), DECISION_LOG.c.round.desc()
    ).limit(limit + 1)
    rows = list((await session.execute(query)).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    recorded = {
        (row["request_id"], row["round"]): [decode(Condition, c) for c in row["conditions"]] for row in rows
    }
    ids = [c.id for conditions in recorded.values() for c in conditions]
    progress: dict[uuid.UUID, Any] = {}
    if ids:
        found = await session.execute(select(CONDITIONS).where(CONDITIONS.c.condition_id.in_(ids)))
        progress = {row["condition_id"]: row for row in found.mappings()}

    def shown(request_id: uuid.UUID, round_number: int, condition: Condition) -> ConditionView:
        now = progress.get(condition.id)
        if now is not None and now["request_id"] == request_id and now["round_number"] == round_number:
            return _condition_view(now, today)
        return ConditionView(
            id=condition.id,
            text=condition.text,
            owner=condition.owner,
            due_date=condition.due_date,
            status=ConditionStatus.OPEN,
            met=None,
            overdue=False,
        )

    items = [
        DecisionLogEntry(
            request_id=row["request_id"],
            round=row["round"],
            reference=row["reference"],
            title=row["title"],
            service_area=row["service_area"],
            outcome=Outcome(row["outcome"]),
            rationale=row["rationale"],
            decided_by=PersonRef(
                id=row["decided_by_id"], name=row["decided_by_name"], email=row["decided_by_email"]
            ),
            decided_at=row["decided_at"],
            recommended_outcome=Outcome(row["recommended_outcome"]),
            checklist_version=row["checklist_version"],
            conditions=[
                shown(row["request_id"], row["round"], c) for c in recorded[(row["request_id"], row["round"])]
            ],
        )
        for row in rows
    ]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = _keyset_encode(
            "decisions", last["decided_at"].isoformat(), last["request_id"], last["round"]
        )
    return DecisionLogPage(items=items, next_cursor=next_cursor, total=total)


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
