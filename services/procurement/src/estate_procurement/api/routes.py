"""The procurement REST API (v1): technology requests and their lifecycle, conditions, re-use candidates,
the decision log and the audit trail. The TDA's review (checklists, ratings, scores, the recommendation
and the decision) is in :mod:`estate_procurement.api.review`.

A request is addressed by its id or its reference (``/requests/TR-2026-0042``). Every command answers
with the request as it now stands and its new ``ETag``; PATCH and the decision need ``If-Match`` (428
without it, 412 when stale) and every other command honours one when it is sent.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response, status
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
    audit_trail,
    candidate_out,
    condition_entry,
    current_conditions,
    decision_log_entry,
    present,
    summary_row,
)
from estate_procurement.application import services
from estate_procurement.application.ageing import WAITING_ON, waiting_cutoff
from estate_procurement.bootstrap import Container
from estate_procurement.domain.errors import IncompleteRequest, InvalidValue, NotAllowed
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


def json_page(items: Sequence[BaseModel], next_cursor: str | None, total: int | None) -> Response:
    body = Page[Any](items=list(items), next_cursor=next_cursor, total=total)
    return Response(body.model_dump_json(), media_type="application/json")


def _in_changes(field: str) -> str:
    return field if field == "answers" else f"changes.{field}"


@contextmanager
def fields_under_changes() -> Iterator[None]:
    """A resubmission's content travels in ``changes``: the domain's errors about a field of the request
    (a bad value, or what the request would then lack) point into ``/body/changes``."""
    try:
        yield
    except IncompleteRequest as exc:
        raise IncompleteRequest([(_in_changes(f), m) for f, m in exc.missing]) from exc
    except InvalidValue as exc:
        raise InvalidValue(exc.detail, field=_in_changes(exc.field) if exc.field else None) from exc


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
    # Waiting too long is "in a flaggable state, entered before the cutoff": the working calendar is
    # applied once, here, to find the cutoff instant, and the database does the rest from its index.
    flaggable = [s for s in WAITING_ON if not state or s in state]
    if not flaggable:
        return json_page([], None, 0 if count else None)
    found = await queries.list_requests(
        session,
        dataclasses.replace(
            filters,
            states=flaggable,
            state_since_before=waiting_cutoff(now, container.calendar, threshold),
        ),
        sort=queries.WAITING_SORT,
        limit=size,
        cursor=cursor,
        with_total=count,
    )
    return json_page([shown(r) for r in found.items], found.next_cursor, found.total)


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
    with fields_under_changes():
        resubmitted = await services.resubmit(
            command.uow,
            request_id=request.id,
            actor=command.actor,
            answers=body.answers,
            changes=changes,
            expected_version=version,
        )
    return command.answer(resubmitted)


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
async def request_conditions(
    request_key: RequestKey, uow: UowDep, container: ContainerDep, reader: ReaderDep
) -> list[ConditionOut]:
    """The latest decision's conditions: owner, due date, status (open or met) and ``overdue`` (only
    while the request stands decided: a reopened request's conditions wait for its next decision)."""
    request = await readable_request(uow, request_key, reader)
    return current_conditions(request, local_date(container.clock()))


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
    return next(c for c in current_conditions(request, today) if c.id == condition_id)


@router.get(
    "/conditions",
    response_model=list[ConditionEntryOut],
    tags=["conditions"],
    summary="Conditions across requests",
)
async def all_conditions(
    session: SessionDep,
    container: ContainerDep,
    reader: ReaderDep,
    request: Request,
    response: Response,
    overdue: Annotated[bool, Query(description="Only open conditions past their due date")] = False,
    mine: Annotated[bool, Query(description="Only conditions the caller owns")] = False,
    cursor: Cursor = None,
    limit: Limit = None,
) -> list[ConditionEntryOut]:
    """The current decisions' conditions, earliest due first, a page at a time: when there are more,
    the ``Link`` header names the next page (``rel="next"``, with its ``cursor``). TDA members, the
    chair, administrators and auditors see all; anyone else sees the conditions they own."""
    size = page_size(container, limit)
    own = mine or not reads_everything(reader)
    found = await queries.list_conditions(
        session,
        local_date(container.clock()),
        owner_id=reader.id if own else None,
        overdue=overdue,
        limit=size,
        cursor=cursor,
    )
    if found.next_cursor is not None:
        following = request.url.include_query_params(cursor=found.next_cursor, limit=size)
        response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    return [condition_entry(c) for c in found.items]


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
    session: SessionDep,
    uow: UowDep,
    container: ContainerDep,
    _: ReaderDep,
    outcome: Annotated[Outcome | None, Query(description="Only this outcome")] = None,
    cursor: Cursor = None,
    limit: Limit = None,
    count: Count = False,
) -> Response:
    """Every decision the TDA has published, newest first: readable by everyone in the organisation.
    Each entry's conditions and overridden red lines are what the request's own view of that decision
    says (a condition of a decision a later one replaced is ``superseded`` unless it was met)."""
    today = local_date(container.clock())
    found = await queries.decision_log(
        session, today, outcome=outcome, limit=page_size(container, limit), cursor=cursor, with_total=count
    )
    requests = {
        request_id: await services.get_request(uow, request_id=request_id)
        for request_id in dict.fromkeys(e.request_id for e in found.items)
    }
    entries = [decision_log_entry(e, requests[e.request_id], today) for e in found.items]
    return json_page(entries, found.next_cursor, found.total)


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
    met. Administrators, auditors, TDA members and the chair; and the requester, for their own.

    Ratings are the TDA's working notes until the decision: a reader without a TDA, admin or auditor
    role (the requester) gets no ``item_rated`` entry of a round not decided yet (they are left out,
    not redacted: no rating, comment, evidence or reviewer, not even that a rating was given), and in
    the ``before``/``after`` snapshots the rounds not decided yet carry no ``ratings``. Once a round is
    decided its ratings show like everything else."""
    request = await find_request(uow, request_key)
    full = reader.has_any(READ_AUDIT)
    if not full and reader.id != request.requester.id:
        raise NotAllowed(
            "reading the audit trail needs one of these roles: admin, auditor, tda_chair, tda_member "
            f"(or to be the requester of {request.reference})"
        )
    entries = await queries.audit_for(session, request.id)
    return audit_trail(entries, request=request, snapshots=snapshots, sees_ratings=full)


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
