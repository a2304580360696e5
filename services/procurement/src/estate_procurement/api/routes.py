"""The procurement REST API (v1): technology requests and their lifecycle, conditions, re-use candidates,
the decision log and the audit trail. The TDA's review (checklists, ratings, scores, the recommendation
and the decision) is in :mod:`estate_procurement.api.review`.

A request is addressed by its id or its reference (``/requests/TR-2026-0042``). Every command answers
with the request as it now stands and its new ``ETag``; PATCH needs ``If-Match`` (428 without it, 412
when stale) and every other command honours one when it is sent.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from estate_procurement.adapters.db import queries
from estate_procurement.api.deps import (
    READ_AUDIT,
    ActorDep,
    AuthenticatedRoute,
    CommandDep,
    ContainerDep,
    ReaderDep,
    RequestKey,
    SessionDep,
    UowDep,
    check_if_match,
    find_request,
    readable_request,
    reads_everything,
)
from estate_procurement.api.schemas import (
    AuditEntryOut,
    CandidateOut,
    CandidateQueryIn,
    ConditionEntryOut,
    ConditionMetIn,
    ConditionOut,
    DecisionLogEntryOut,
    InformationRequestIn,
    MeOut,
    Page,
    ReasonIn,
    RequestFields,
    RequestOut,
    RequestSummaryOut,
    ResubmitIn,
    content_of,
)
from estate_procurement.api.views import (
    audit_out,
    candidate_out,
    condition_entry,
    condition_out,
    decision_log_entry,
    overdue_entry,
    present,
    summary_row,
)
from estate_procurement.application import services
from estate_procurement.bootstrap import Container
from estate_procurement.domain.errors import NotAllowed
from estate_procurement.domain.similarity import ReuseQuery
from estate_procurement.domain.values import (
    REQUESTING_ROLES,
    Outcome,
    RequestCategory,
    RequestState,
    local_date,
)
from estate_runtime.problems import Problem

router = APIRouter(prefix="/api/v1", route_class=AuthenticatedRoute)

Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor from the previous page")]
Limit = Annotated[int | None, Query(ge=1, description="Page size (the service's default and maximum apply)")]
Count = Annotated[bool, Query(description="Also say how many match the filters")]

T = TypeVar("T")


# --- helpers ---------------------------------------------------------------------------------------------


def page_size(container: Container, limit: int | None) -> int:
    settings = container.settings
    if limit is None:
        return settings.page_size_default
    if limit > settings.page_size_max:
        raise Problem(
            422,
            "The request is not valid",
            f"/query/limit: at most {settings.page_size_max} a page",
            kind="validation",
            errors=[{"pointer": "/query/limit", "detail": f"at most {settings.page_size_max} a page"}],
        )
    return limit


def _encode(key: Sequence[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[str]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or not all(isinstance(part, str) for part in key):
        raise Problem(
            422,
            "The request is not valid",
            "/query/cursor: not a cursor this API gave; start again without one",
            kind="validation",
            errors=[{"pointer": "/query/cursor", "detail": "not a cursor this API gave"}],
        )
    return key


def keyset_page(
    rows: Sequence[T],
    key: Callable[[T], list[str]],
    *,
    cursor: str | None,
    limit: int,
    descending: bool,
    count: bool,
) -> tuple[list[T], str | None, int | None]:
    """One page of ``rows`` in ``key`` order (newest first when ``descending``), after ``cursor``."""
    ordered = sorted(rows, key=key, reverse=descending)
    if cursor is not None:
        after = _decode(cursor)
        ordered = [r for r in ordered if (key(r) < after if descending else key(r) > after)]
    page = ordered[:limit]
    next_cursor = _encode(key(page[-1])) if len(ordered) > limit else None
    return page, next_cursor, len(rows) if count else None


def json_page(items: Sequence[BaseModel], next_cursor: str | None, total: int | None) -> Response:
    body = Page[Any](items=list(items), next_cursor=next_cursor, total=total)
    return Response(body.model_dump_json(), media_type="application/json")


# --- requests ----------------------------------------------------------------------------------------


@router.post(
    "/requests",
    status_code=status.HTTP_201_CREATED,
    response_model=RequestOut,
    tags=["requests"],
    summary="Start a technology request (a draft)",
)
async def create_request(
    body: RequestFields, uow: UowDep, container: ContainerDep, actor: ActorDep, response: Response
) -> RequestOut:
    """A new draft owned by the caller, with a new reference. Any part may be left out until submission;
    the answer's ``missing`` lists what submission will need. Roles: requester, owner, contract_manager,
    tda_member, tda_chair."""
    request = await services.create_draft(uow, actor=actor, fields=content_of(body, only_sent=True))
    response.headers["Location"] = f"/api/v1/requests/{request.id}"
    return present(request, actor=actor, container=container, response=response)


OPEN_STATES = (
    RequestState.SUBMITTED,
    RequestState.UNDER_REVIEW,
    RequestState.INFORMATION_REQUESTED,
    RequestState.RESUBMITTED,
)
"""The states a request can be flagged in for waiting too long (see ``application.ageing``)."""


@router.get(
    "/requests",
    response_model=Page[RequestSummaryOut],
    tags=["requests"],
    summary="List technology requests",
)
async def list_requests(
    session: SessionDep,
    container: ContainerDep,
    reader: ReaderDep,
    state: Annotated[list[RequestState] | None, Query(description="Any of these states (repeat)")] = None,
    mine: Annotated[bool, Query(description="Only the caller's own requests")] = False,
    service_area: Annotated[str | None, Query(max_length=100)] = None,
    category: RequestCategory | None = None,
    outcome: Annotated[Outcome | None, Query(description="The latest decision's outcome")] = None,
    waiting: Annotated[
        bool,
        Query(
            description="Only requests that waited longer than the threshold in their state, longest first"
        ),
    ] = False,
    sort: Annotated[
        queries.Sort, Query(description="A leading - is descending; ignored with waiting=true")
    ] = "-updated_at",
    cursor: Cursor = None,
    limit: Limit = None,
    count: Count = False,
) -> Response:
    """Most recently changed first by default. Each row says how many working days the request has been
    in its state, whether that is too long (``waiting``) and who owes the next step (``waiting_on``).
    TDA members, the chair, administrators and auditors see every request; anyone else only their own."""
    size = page_size(container, limit)
    own = mine or not reads_everything(reader)
    filters = queries.RequestFilter(
        states=state or None,
        requester_id=reader.id if own else None,
        service_area=service_area,
        category=category,
        outcome=outcome,
    )
    now = container.clock()
    threshold = container.settings.waiting_flag_working_days

    def shown(row: queries.RequestSummary) -> RequestSummaryOut:
        return summary_row(row, now=now, calendar=container.calendar, threshold=threshold)

    if not waiting:
        found = await queries.list_requests(
            session, filters, sort=sort, limit=size, cursor=cursor, with_total=count
        )
        return json_page([shown(r) for r in found.items], found.next_cursor, found.total)
    # Flagging needs the working calendar, so the open requests are read (there are few: decided,
    # withdrawn and draft requests are never flagged) and the flagged ones paged here, longest first.
    open_states = [s for s in OPEN_STATES if not state or s in state]
    flagged: list[RequestSummaryOut] = []
    next_read: str | None = None
    while open_states:
        batch = await queries.list_requests(
            session,
            dataclasses.replace(filters, states=open_states),
            sort="created_at",
            limit=queries.MAX_LIMIT,
            cursor=next_read,
        )
        flagged.extend(row for row in map(shown, batch.items) if row.waiting)
        next_read = batch.next_cursor
        if next_read is None:
            break
    page, next_cursor, total = keyset_page(
        flagged,
        lambda r: [r.state_since.isoformat(), str(r.id)],
        cursor=cursor,
        limit=size,
        descending=False,
        count=count,
    )
    return json_page(page, next_cursor, total)


@router.get("/requests/{request_key}", response_model=RequestOut, tags=["requests"], summary="Read a request")
async def get_request(
    request_key: RequestKey, uow: UowDep, container: ContainerDep, reader: ReaderDep, response: Response
) -> RequestOut:
    """By id or reference: the content, ``state``, what a draft still ``missing``, the ``ageing``, the
    decisions and the conditions with their ``overdue`` flags, and what the caller may do next."""
    request = await readable_request(uow, request_key, reader)
    return present(request, actor=reader, container=container, response=response)


@router.patch("/requests/{request_key}", response_model=RequestOut, tags=["requests"], summary="Edit a draft")
async def update_request(request_key: RequestKey, body: RequestFields, command: CommandDep) -> RequestOut:
    """Only the requester, only while a draft. Only the fields sent change; null empties a field.
    Needs the ETag last read in ``If-Match``: 428 without it, 412 if the draft changed meanwhile."""
    request, version = await command.target(request_key, required=True)
    changes = content_of(body, only_sent=True)
    return command.answer(
        await services.update_draft(
            command.uow, request_id=request.id, actor=command.actor, changes=changes, expected_version=version
        )
    )


@router.post(
    "/requests/{request_key}/submit", response_model=RequestOut, tags=["lifecycle"], summary="Submit a draft"
)
async def submit_request(request_key: RequestKey, command: CommandDep) -> RequestOut:
    """draft -> submitted, by the requester, when complete: otherwise 422 lists *every* missing part in
    ``errors`` (one per field). Honours If-Match."""
    request, version = await command.target(request_key)
    return command.answer(
        await services.submit(
            command.uow, request_id=request.id, actor=command.actor, expected_version=version
        )
    )


@router.post(
    "/requests/{request_key}/review",
    response_model=RequestOut,
    tags=["lifecycle"],
    summary="Start (or resume) the review",
)
async def start_review(request_key: RequestKey, command: CommandDep) -> RequestOut:
    """submitted | resubmitted -> under_review, by a TDA member or the chair. A first review pins the
    current checklist version; after a resubmission the same round carries on."""
    request, _ = await command.target(request_key)
    return command.answer(
        await services.start_review(command.uow, request_id=request.id, actor=command.actor)
    )


@router.post(
    "/requests/{request_key}/information-requests",
    response_model=RequestOut,
    tags=["lifecycle"],
    summary="Ask the requester for information",
)
async def request_information(
    request_key: RequestKey, body: InformationRequestIn, command: CommandDep
) -> RequestOut:
    """under_review -> information_requested, by a TDA member or the chair, with at least one question
    and optionally a due date."""
    request, _ = await command.target(request_key)
    return command.answer(
        await services.request_information(
            command.uow,
            request_id=request.id,
            actor=command.actor,
            questions=body.questions,
            due_date=body.due_date,
        )
    )


@router.post(
    "/requests/{request_key}/resubmit",
    response_model=RequestOut,
    tags=["lifecycle"],
    summary="Answer the TDA's questions",
)
async def resubmit_request(request_key: RequestKey, body: ResubmitIn, command: CommandDep) -> RequestOut:
    """information_requested -> resubmitted, by the requester, with the answers and optionally changes
    to the request (which must still be complete). Honours If-Match."""
    request, version = await command.target(request_key)
    changes = content_of(body.changes, only_sent=True) if body.changes is not None else None
    return command.answer(
        await services.resubmit(
            command.uow,
            request_id=request.id,
            actor=command.actor,
            answers=body.answers,
            changes=changes,
            expected_version=version,
        )
    )


@router.post(
    "/requests/{request_key}/withdraw",
    response_model=RequestOut,
    tags=["lifecycle"],
    summary="Withdraw an undecided request",
)
async def withdraw_request(request_key: RequestKey, body: ReasonIn, command: CommandDep) -> RequestOut:
    """Any state before a decision -> withdrawn, with a reason; by the requester or the chair."""
    request, _ = await command.target(request_key)
    return command.answer(
        await services.withdraw(command.uow, request_id=request.id, actor=command.actor, reason=body.reason)
    )


@router.post(
    "/requests/{request_key}/reopen",
    response_model=RequestOut,
    tags=["lifecycle"],
    summary="Reopen a decided or withdrawn request",
)
async def reopen_request(request_key: RequestKey, body: ReasonIn, command: CommandDep) -> RequestOut:
    """decided | withdrawn -> under_review, by the chair only, with a reason: a new review round on the
    current checklist version. Earlier decisions stay on record unchanged."""
    request, _ = await command.target(request_key)
    return command.answer(
        await services.reopen(command.uow, request_id=request.id, actor=command.actor, reason=body.reason)
    )


# --- conditions ----------------------------------------------------------------------------------------


@router.get(
    "/requests/{request_key}/conditions",
    response_model=list[ConditionOut],
    tags=["conditions"],
    summary="The conditions of a request's decision",
)
async def request_conditions(request_key: RequestKey, uow: UowDep, reader: ReaderDep) -> list[ConditionOut]:
    """The latest decision's conditions: owner, due date, status (open or met) and ``overdue``."""
    request = await readable_request(uow, request_key, reader)
    return [condition_out(v) for v in await services.conditions(uow, request_id=request.id)]


@router.post(
    "/requests/{request_key}/conditions/{condition_id}/met",
    response_model=ConditionOut,
    tags=["conditions"],
    summary="Record a condition as met",
)
async def meet_condition(
    request_key: RequestKey, condition_id: uuid.UUID, body: ConditionMetIn, command: CommandDep
) -> ConditionOut:
    """By the condition's owner or a TDA member, with evidence; once. The answer's ETag is the request's."""
    request, _ = await command.target(request_key)
    await services.meet_condition(
        command.uow,
        request_id=request.id,
        actor=command.actor,
        condition_id=condition_id,
        evidence=body.evidence,
    )
    command.tag(request)
    today = local_date(command.container.clock())
    return next(condition_out(v) for v in request.conditions(today) if v.id == condition_id)


@router.get(
    "/conditions",
    response_model=list[ConditionEntryOut],
    tags=["conditions"],
    summary="Conditions across requests",
)
async def all_conditions(
    uow: UowDep,
    session: SessionDep,
    container: ContainerDep,
    reader: ReaderDep,
    overdue: Annotated[bool, Query(description="Only open conditions past their due date")] = False,
    mine: Annotated[bool, Query(description="Only conditions the caller owns")] = False,
) -> list[ConditionEntryOut]:
    """The current decisions' conditions, earliest due first. TDA members, the chair, administrators and
    auditors see all; anyone else sees the conditions they own."""
    own = mine or not reads_everything(reader)
    today = local_date(container.clock())
    if overdue:
        late = await queries.overdue_conditions(session, today)
        return [overdue_entry(c) for c in late if not own or c.owner.id == reader.id]
    decided = await services.list_requests(uow, states=[RequestState.DECIDED])
    pairs = sorted(((r, v) for r in decided for v in r.conditions(today)), key=lambda pair: pair[1].due_date)
    return [condition_entry(r, v) for r, v in pairs if not own or v.owner.id == reader.id]


# --- re-use --------------------------------------------------------------------------------------------


@router.get(
    "/requests/{request_key}/candidates",
    response_model=list[CandidateOut],
    tags=["re-use"],
    summary="Existing systems and past decisions like this request",
)
async def request_candidates(
    request_key: RequestKey, uow: UowDep, container: ContainerDep, reader: ReaderDep
) -> list[CandidateOut]:
    """Register systems and earlier TDA decisions that look like this request, best first, each with
    reasons in words ("Alloy already covers asset management for Streets and Open Spaces")."""
    request = await readable_request(uow, request_key, reader)
    found = await container.reuse.search(
        uow.reuse, request.reuse_query(), limit=container.settings.reuse_candidates
    )
    return [candidate_out(c) for c in found]


@router.post(
    "/candidates",
    response_model=list[CandidateOut],
    tags=["re-use"],
    summary="Candidates for an unsaved request form",
)
async def form_candidates(
    body: CandidateQueryIn, uow: UowDep, container: ContainerDep, _: ReaderDep
) -> list[CandidateOut]:
    """What a requester is typing (title, words, capabilities, product, supplier), matched against the
    register's systems and past decisions, so that they see what exists before asking for something new.
    Saves nothing."""
    query = ReuseQuery(
        title=body.title,
        text=body.text,
        capabilities=tuple(body.capabilities),
        product=body.product,
        supplier=body.supplier,
        service_area=body.service_area,
    )
    found = await container.reuse.search(uow.reuse, query, limit=container.settings.reuse_candidates)
    return [candidate_out(c) for c in found]


# --- the decision log ----------------------------------------------------------------------------------


@router.get(
    "/decisions",
    response_model=Page[DecisionLogEntryOut],
    tags=["decisions"],
    summary="The TDA's decision log",
)
async def decision_log(
    uow: UowDep,
    container: ContainerDep,
    _: ReaderDep,
    outcome: Annotated[Outcome | None, Query(description="Only this outcome")] = None,
    cursor: Cursor = None,
    limit: Limit = None,
    count: Count = False,
) -> Response:
    """Every decision the TDA has published, newest first: readable by everyone in the organisation."""
    size = page_size(container, limit)
    today: date = local_date(container.clock())
    # Only a request that has been under review can have been decided (drafts and submitted ones not).
    requests = await services.list_requests(
        uow, states=[s for s in RequestState if s not in (RequestState.DRAFT, RequestState.SUBMITTED)]
    )
    rows = [
        decision_log_entry(r, d, today)
        for r in requests
        for d in r.decisions
        if outcome is None or d.outcome is outcome
    ]
    page, next_cursor, total = keyset_page(
        rows,
        lambda e: [e.decided_at.isoformat(), str(e.request_id), f"{e.round:06d}"],
        cursor=cursor,
        limit=size,
        descending=True,
        count=count,
    )
    return json_page(page, next_cursor, total)


# --- audit and identity ---------------------------------------------------------------------------------


@router.get(
    "/requests/{request_key}/audit",
    response_model=list[AuditEntryOut],
    tags=["audit"],
    summary="A request's audit trail",
)
async def request_audit(
    request_key: RequestKey,
    uow: UowDep,
    session: SessionDep,
    reader: ReaderDep,
    snapshots: Annotated[
        bool, Query(description="Include the request as it stood before and after each fact")
    ] = False,
) -> list[AuditEntryOut]:
    """Every fact about the request, newest first: edits, transitions, ratings, decisions, conditions
    met. Administrators, auditors, TDA members and the chair; and the requester, for their own."""
    request = await find_request(uow, request_key)
    if not reader.has_any(READ_AUDIT) and reader.id != request.requester.id:
        raise NotAllowed(
            "reading the audit trail needs one of these roles: admin, auditor, tda_chair, tda_member "
            f"(or to be the requester of {request.reference})"
        )
    return [audit_out(e, snapshots=snapshots) for e in await queries.audit_for(session, request.id)]


@router.get("/me", response_model=MeOut, tags=["identity"], summary="Who the token names")
async def me(reader: ReaderDep) -> MeOut:
    """The caller's id, name, e-mail and roles, and what those roles let them do here."""
    can = {
        "raise_requests": reader.has_any(REQUESTING_ROLES),
        "review": reader.is_tda,
        "decide": reader.is_chair,
        "read_all_requests": reads_everything(reader),
        "read_audit": reader.has_any(READ_AUDIT),
    }
    return MeOut(
        id=reader.id,
        name=reader.name,
        email=reader.email or None,
        roles=sorted(reader.roles),
        can=[what for what, allowed in can.items() if allowed],
    )


__all__ = ["check_if_match", "router"]
