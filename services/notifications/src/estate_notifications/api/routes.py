"""The notifications REST API (v1), for signed-in people: the renewal watch and its schedule, alert
ladders, acknowledgements and renewal decisions, personal preferences and calendar feeds, and, for the
people who run the service, deliveries, the development SMTP sink and the audit trail.

Every route here needs a bearer token (401 without a good one) and checks the caller's roles and, where
the rule is about a person, their e-mail address (403); see :mod:`estate_notifications.api.deps` for who
may do what. The public routes (calendar feeds, alert links) are in :mod:`estate_notifications.api.links`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from estate_notifications.adapters.channels.sink import read_sink
from estate_notifications.adapters.db.records import (
    DELIVERY_STATUSES,
    AlertRecord,
    AuditEntryRecord,
    CalendarFeedRecord,
    ContractTypeLadderRecord,
    DeliveryRecord,
    PreferenceRecord,
    WatchedContractRecord,
)
from estate_notifications.api.deps import (
    ADMIN,
    MANAGE_POLICY,
    READ_AUDIT,
    READ_DELIVERIES,
    TDA_FEEDS,
    ActorDep,
    AuthenticatedRoute,
    ContainerDep,
    Count,
    Cursor,
    Limit,
    Offset,
    OwnEmailDep,
    PrincipalDep,
    Reader,
    ReaderDep,
    SessionDep,
    email_of,
    encode_cursor,
    ensure_may_acknowledge,
    ensure_may_decide,
    no_email,
    paging,
    require,
    uuid_of,
    visible_to,
)
from estate_notifications.api.schemas import (
    AcknowledgeIn,
    AlertDetailOut,
    AlertOut,
    AuditEntryOut,
    DecisionIn,
    DecisionOut,
    DeliveryOut,
    FeedCreatedOut,
    FeedIn,
    FeedOut,
    LadderIn,
    LadderSource,
    OpenAlertOut,
    Page,
    PersonOut,
    PersonRefOut,
    PolicyOut,
    PositionOut,
    PreferenceIn,
    PreferenceOut,
    RenewalDetailOut,
    RenewalOut,
    SinkMessageOut,
    StepOut,
    TypeLadderOut,
)
from estate_notifications.application import actions
from estate_notifications.application.watch import PolicyBook, plan_for
from estate_notifications.bootstrap import Container
from estate_notifications.domain.dates import london_today
from estate_runtime.auth import ForbiddenError, Principal
from estate_runtime.errors import InvalidValue, NotFound
from estate_runtime.problems import Problem

router = APIRouter(prefix="/api/v1", route_class=AuthenticatedRoute)

ContractId = Annotated[uuid.UUID, Path(description="The register's id of the contract")]
ContractType = Annotated[
    str, Path(min_length=1, max_length=60, description="The contract type, as the register spells it")
]
PolicyManager = Annotated[Principal, require(MANAGE_POLICY, "setting alert ladders")]


# --- views ------------------------------------------------------------------------------------------------


def person_out(email: str | None, name: str | None) -> PersonOut | None:
    return PersonOut(email=email, name=name) if email else None


def ladder_in_force(record: WatchedContractRecord, book: PolicyBook) -> tuple[list[int], LadderSource]:
    if record.ladder:
        return list(book.for_contract(record.contract_type, record.ladder).ladder.rungs), "contract"
    if record.contract_type in book.by_type:
        return list(book.by_type[record.contract_type].rungs), "type"
    return list(book.default.ladder.rungs), "default"


def open_alert_out(alert: AlertRecord | None) -> OpenAlertOut | None:
    if alert is None:
        return None
    return OpenAlertOut(
        id=alert.id,
        kind=alert.kind,
        rung_days=alert.rung_days,
        due_on=alert.due_on,
        level=alert.level,
        role=alert.role,
        raised_at=alert.raised_at,
        escalate_at=alert.escalate_at,
        acknowledged=alert.acknowledged_at is not None,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
    )


def alert_out(alert: AlertRecord) -> AlertOut:
    return AlertOut(
        id=alert.id,
        contract_id=alert.contract_id,
        contract_reference=alert.contract_reference,
        term_end=alert.term_end,
        kind=alert.kind,
        rung_days=alert.rung_days,
        due_on=alert.due_on,
        act_by=alert.act_by,
        level=alert.level,
        role=alert.role,
        raised_at=alert.raised_at,
        escalate_at=alert.escalate_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        acknowledgement_note=alert.acknowledgement_note,
        closed_at=alert.closed_at,
        close_reason=alert.close_reason,
        open=alert.closed_at is None,
    )


def _renewal_fields(
    record: WatchedContractRecord, book: PolicyBook, today: date, open_alert: AlertRecord | None
) -> dict[str, Any]:
    term_end = record.term_end or record.current_term_end
    rungs, source = ladder_in_force(record, book)
    return {
        "contract_id": record.contract_id,
        "reference": record.reference,
        "title": record.title,
        "supplier": record.supplier_name,
        "contract_type": record.contract_type,
        "status": record.status,
        "term_end": term_end,
        "act_by": record.act_by,
        "days_to_act_by": (record.act_by - today).days if record.act_by else None,
        "notice_unknown": record.notice_unknown,
        "problems": list(record.problems or []),
        "next_due_on": record.next_due_on,
        "decided": record.decided_term_end is not None and record.decided_term_end == term_end,
        "owner": person_out(record.owner_email, record.owner_name),
        "budget_holder": person_out(record.budget_holder_email, record.budget_holder_name),
        "ladder": rungs,
        "ladder_source": source,
        "open_alert": open_alert_out(open_alert),
    }


async def open_alerts(
    session: AsyncSession, contract_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AlertRecord]:
    """The open alert of each contract: the latest raised and not closed (a newer step closes the older
    ones, so there is normally one)."""
    if not contract_ids:
        return {}
    rows = (
        await session.scalars(
            select(AlertRecord)
            .where(AlertRecord.contract_id.in_(list(contract_ids)), AlertRecord.closed_at.is_(None))
            .order_by(AlertRecord.raised_at)
        )
    ).all()
    return {alert.contract_id: alert for alert in rows}  # the latest wins


async def renewal_detail(
    session: AsyncSession, record: WatchedContractRecord, container: Container
) -> RenewalDetailOut:
    """A contract's watch with today's schedule and every alert raised for it, with its messages."""
    today = london_today(container.clock())
    book = await PolicyBook.load(session, container.policy)
    alerts = (
        await session.scalars(
            select(AlertRecord)
            .where(AlertRecord.contract_id == record.contract_id)
            .order_by(AlertRecord.raised_at.desc(), AlertRecord.due_on.desc())
        )
    ).all()
    deliveries: dict[uuid.UUID, list[DeliveryOut]] = {alert.id: [] for alert in alerts}
    if alerts:
        for delivery in (
            await session.scalars(
                select(DeliveryRecord)
                .where(DeliveryRecord.alert_id.in_(list(deliveries)))
                .order_by(DeliveryRecord.created_at, DeliveryRecord.recipient_email)
            )
        ).all():
            if delivery.alert_id is not None:
                deliveries[delivery.alert_id].append(DeliveryOut.model_validate(delivery))
    open_alert = next((a for a in alerts if a.closed_at is None), None)
    plan = plan_for(record, book=book, today=today, calendar=container.calendar)
    schedule: list[StepOut] = []
    position: PositionOut | None = None
    if plan.position is not None:
        pos = plan.position
        position = PositionOut(
            term_end=pos.term_end,
            act_by=pos.act_by,
            unadjusted_act_by=pos.unadjusted_act_by,
            notice_days=pos.notice_days,
            notice_unknown=pos.notice_unknown,
            tacit_renewals=pos.tacit_renewals,
        )
        raised = {(a.kind, a.rung_days): a for a in alerts if a.term_end == pos.term_end}
        for step in plan.steps:
            alert = raised.get((step.kind.value, step.rung_days))
            if alert is not None:
                state = "raised"
            elif step.due_on > today:
                state = "upcoming"
            elif plan.raise_now == step:
                state = "due"
            else:
                state = "skipped"
            schedule.append(
                StepOut(
                    due_on=step.due_on,
                    rung_days=step.rung_days,
                    kind=step.kind.value,
                    raised=alert is not None,
                    status=state,  # type: ignore[arg-type]
                    alert_id=alert.id if alert else None,
                )
            )
    fields = _renewal_fields(record, book, today, open_alert)
    if position is not None:
        # Today's arithmetic, also when a tacit renewal rolled the term over since the sweep last looked.
        fields.update(
            term_end=position.term_end,
            act_by=position.act_by,
            days_to_act_by=(position.act_by - today).days,
            decided=record.decided_term_end == position.term_end,
        )
    return RenewalDetailOut(
        **fields,
        start_date=record.start_date,
        current_term_end=record.current_term_end,
        renewal_type=record.renewal_type,
        renewal_period_months=record.renewal_period_months,
        extension_options_left=record.extension_options_left,
        notice_period_days=record.notice_period_days,
        internal_lead_time_days=record.internal_lead_time_days,
        annual_value=record.annual_value,
        decided_term_end=record.decided_term_end,
        position=position,
        schedule=schedule,
        alerts=[
            AlertDetailOut(**alert_out(alert).model_dump(), deliveries=deliveries[alert.id])
            for alert in alerts
        ],
    )


async def readable_contract(
    session: AsyncSession, contract_id: uuid.UUID, reader: Reader
) -> WatchedContractRecord:
    record = await session.get(WatchedContractRecord, contract_id)
    if record is None:
        raise NotFound(f"no contract {contract_id} is watched: the register has not told this service of it")
    reader.ensure_may_read(record)
    return record


def json_page(items: Sequence[Any], next_cursor: str | None, total: int | None) -> Response:
    body = Page[Any](items=list(items), next_cursor=next_cursor, total=total)
    return Response(body.model_dump_json(), media_type="application/json")


async def count_of(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)


# --- the renewal watch -------------------------------------------------------------------------------------


@router.get("/renewals", response_model=Page[RenewalOut], tags=["renewals"], summary="The renewal watch")
async def list_renewals(
    session: SessionDep,
    container: ContainerDep,
    reader: ReaderDep,
    due_within_days: Annotated[
        int | None,
        Query(ge=0, le=3650, description="Only contracts whose act-by is within this many days (or past)"),
    ] = None,
    notice_unknown: Annotated[
        bool | None, Query(description="Only those with (or without) a notice period")
    ] = None,
    has_problems: Annotated[
        bool | None, Query(description="Only those whose dates have (or have no) problems")
    ] = None,
    owner_email: Annotated[
        str | None,
        Query(max_length=320, description="Only contracts this person owns or holds the budget for"),
    ] = None,
    status_in: Annotated[
        list[str] | None, Query(alias="status", description="Only contracts in these statuses (repeat)")
    ] = None,
    cursor: Cursor = None,
    offset: Offset = None,
    limit: Limit = None,
    count: Count = False,
) -> Response:
    """Every contract on the watch, soonest act-by first (contracts with no act-by date last): its term,
    act-by date and days left, whether its notice period is unknown or its dates have problems, its owner
    and budget holder, the ladder in force and whose it is, and its open alert. Owners see only their
    own contracts. Page with ``cursor`` (``next_cursor`` of the previous page) or ``offset``."""
    page = paging(container, cursor=cursor, offset=offset, limit=limit, kind="renewals")
    today = london_today(container.clock())
    query = select(WatchedContractRecord)
    if not reader.everything and reader.email is not None:
        query = query.where(visible_to(reader.email))
    if owner_email is not None:
        query = query.where(visible_to(owner_email.strip().lower()))
    if due_within_days is not None:
        query = query.where(WatchedContractRecord.act_by <= today + timedelta(days=due_within_days))
    if notice_unknown is not None:
        query = query.where(WatchedContractRecord.notice_unknown == notice_unknown)
    if has_problems is not None:
        problems = func.json_array_length(WatchedContractRecord.problems)
        query = query.where(problems > 0 if has_problems else problems == 0)
    if status_in:
        query = query.where(WatchedContractRecord.status.in_(status_in))
    total = await count_of(session, query) if count else None
    act_by, contract_id = WatchedContractRecord.act_by, WatchedContractRecord.contract_id
    if page.cursor is not None:
        if len(page.cursor) != 2:
            raise InvalidValue("cursor is not one this list gave out; start again without it", field="cursor")
        last_id = uuid_of(page.cursor[1])
        if page.cursor[0] is None:
            query = query.where(act_by.is_(None), contract_id > last_id)
        else:
            try:
                last_act_by = date.fromisoformat(str(page.cursor[0]))
            except ValueError:
                raise InvalidValue("cursor is not one this list gave out", field="cursor") from None
            query = query.where(
                or_(
                    act_by > last_act_by,
                    and_(act_by == last_act_by, contract_id > last_id),
                    act_by.is_(None),
                )
            )
    query = query.order_by(act_by.is_(None), act_by, contract_id).offset(page.offset).limit(page.size + 1)
    rows = list((await session.scalars(query)).all())
    more = len(rows) > page.size
    rows = rows[: page.size]
    book = await PolicyBook.load(session, container.policy)
    alerts = await open_alerts(session, [r.contract_id for r in rows])
    items = [RenewalOut(**_renewal_fields(r, book, today, alerts.get(r.contract_id))) for r in rows]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(
            "renewals", [last.act_by.isoformat() if last.act_by else None, str(last.contract_id)]
        )
    return json_page(items, next_cursor, total)


@router.get(
    "/renewals/{contract_id}",
    response_model=RenewalDetailOut,
    tags=["renewals"],
    summary="One contract's renewal watch, schedule and alerts",
)
async def get_renewal(
    contract_id: ContractId, session: SessionDep, container: ContainerDep, reader: ReaderDep
) -> RenewalDetailOut:
    """The contract as the watch holds it, where it stands today (``position``), every step of the running
    term's schedule (each raised, due, skipped or upcoming) and every alert raised for it with its
    messages (status, attempts, last error, when sent)."""
    record = await readable_contract(session, contract_id, reader)
    return await renewal_detail(session, record, container)


@router.put(
    "/renewals/{contract_id}/ladder",
    response_model=RenewalDetailOut,
    tags=["policy"],
    summary="Give a contract its own alert ladder",
)
async def set_contract_ladder(
    contract_id: ContractId,
    body: LadderIn,
    session: SessionDep,
    container: ContainerDep,
    actor: ActorDep,
    _: PolicyManager,
) -> RenewalDetailOut:
    """Overrides the contract type's ladder and the default; the schedule changes at once. Administrators
    and contract managers."""
    async with session.begin():
        record = await actions.set_contract_ladder(
            session,
            contract_id,
            body.rungs,
            by=actor,
            now=container.clock(),
            calendar=container.calendar,
            default=container.policy,
        )
    return await renewal_detail(session, record, container)


@router.delete(
    "/renewals/{contract_id}/ladder",
    response_model=RenewalDetailOut,
    tags=["policy"],
    summary="Remove a contract's own alert ladder",
)
async def clear_contract_ladder(
    contract_id: ContractId, session: SessionDep, container: ContainerDep, actor: ActorDep, _: PolicyManager
) -> RenewalDetailOut:
    """The type's ladder, else the default, applies again. Idempotent. Administrators and contract
    managers."""
    async with session.begin():
        record = await actions.clear_contract_ladder(
            session,
            contract_id,
            by=actor,
            now=container.clock(),
            calendar=container.calendar,
            default=container.policy,
        )
    return await renewal_detail(session, record, container)


@router.post(
    "/renewals/{contract_id}/decision",
    status_code=status.HTTP_201_CREATED,
    response_model=DecisionOut,
    tags=["decisions"],
    summary="Record the renewal decision for the running term",
)
async def record_decision(
    contract_id: ContractId,
    body: DecisionIn,
    session: SessionDep,
    container: ContainerDep,
    principal: PrincipalDep,
    actor: ActorDep,
) -> DecisionOut:
    """renew or extend (with ``new_term_end`` after the current term end; extend needs an extension option
    left), reprocure or terminate (no ``new_term_end``), always with a rationale. One decision per term
    (409 for a second). The term's alerts stop at once and the decision goes to the register, which
    records it on the contract. The contract's owner or budget holder, contract managers, administrators."""
    async with session.begin():
        record = await session.get(WatchedContractRecord, contract_id)
        if record is None:
            raise NotFound(
                f"no contract {contract_id} is watched: the register has not told this service of it"
            )
        ensure_may_decide(principal, record)
        if actor.email is None:
            raise no_email("recording a renewal decision")
        decision = await actions.record_decision(
            session,
            contract_id,
            outcome=body.outcome,
            rationale=body.rationale,
            new_term_end=body.new_term_end,
            by=actor,
            now=container.clock(),
            calendar=container.calendar,
            book=await PolicyBook.load(session, container.policy),
            alert_id=body.alert_id,
        )
    return decision_out(decision)


def decision_out(decision: actions.DecisionRecorded) -> DecisionOut:
    return DecisionOut(
        decision_id=decision.decision_id,
        contract_id=decision.contract_id,
        contract_reference=decision.contract_reference,
        term_end=decision.term_end,
        outcome=decision.outcome,
        rationale=decision.rationale,
        new_term_end=decision.new_term_end,
        decided_by=PersonRefOut(
            id=decision.decided_by.id, name=decision.decided_by.name, email=decision.decided_by.email
        ),
        decided_at=decision.decided_at,
        alert_id=decision.alert_id,
        alerts_closed=decision.alerts_closed,
    )


# --- alert policy -------------------------------------------------------------------------------------


async def policy_out(session: AsyncSession, container: Container) -> PolicyOut:
    settings = container.settings
    rows = (
        await session.scalars(
            select(ContractTypeLadderRecord).order_by(ContractTypeLadderRecord.contract_type)
        )
    ).all()
    return PolicyOut(
        default_ladder=list(container.policy.ladder.rungs),
        overdue_every_days=settings.overdue_every_days,
        default_notice_days=settings.default_notice_days,
        escalate_after_working_days=settings.escalate_after_working_days,
        urgent_within_days=settings.urgent_within_days,
        contract_types=[TypeLadderOut.model_validate(row) for row in rows],
    )


@router.get("/policy", response_model=PolicyOut, tags=["policy"], summary="The alert policy")
async def get_policy(session: SessionDep, container: ContainerDep, _: ReaderDep) -> PolicyOut:
    """The default ladder (from the service's settings), the ladders set per contract type, and the other
    settings that shape alerts (overdue reminders, the assumed notice, escalation, urgency). Contracts'
    own ladders are on each contract (``/renewals/{contract_id}``)."""
    return await policy_out(session, container)


@router.put(
    "/policy/contract-types/{contract_type}/ladder",
    response_model=PolicyOut,
    tags=["policy"],
    summary="Set a contract type's alert ladder",
)
async def set_type_ladder(
    contract_type: ContractType,
    body: LadderIn,
    session: SessionDep,
    container: ContainerDep,
    actor: ActorDep,
    _: PolicyManager,
) -> PolicyOut:
    """Every contract of the type without a ladder of its own follows it; their schedules change at once.
    Administrators and contract managers."""
    async with session.begin():
        await actions.set_type_ladder(
            session,
            contract_type,
            body.rungs,
            by=actor,
            now=container.clock(),
            calendar=container.calendar,
            default=container.policy,
        )
    return await policy_out(session, container)


@router.delete(
    "/policy/contract-types/{contract_type}/ladder",
    response_model=PolicyOut,
    tags=["policy"],
    summary="Remove a contract type's alert ladder",
)
async def clear_type_ladder(
    contract_type: ContractType,
    session: SessionDep,
    container: ContainerDep,
    actor: ActorDep,
    _: PolicyManager,
) -> PolicyOut:
    """Its contracts follow the default ladder again. Idempotent. Administrators and contract managers."""
    async with session.begin():
        await actions.clear_type_ladder(
            session,
            contract_type,
            by=actor,
            now=container.clock(),
            calendar=container.calendar,
            default=container.policy,
        )
    return await policy_out(session, container)


# --- alerts ------------------------------------------------------------------------------------------


@router.post(
    "/alerts/{alert_id}/acknowledge",
    response_model=AlertOut,
    tags=["alerts"],
    summary="Acknowledge an alert",
)
async def acknowledge_alert(
    alert_id: uuid.UUID,
    session: SessionDep,
    container: ContainerDep,
    principal: PrincipalDep,
    actor: ActorDep,
    body: AcknowledgeIn | None = None,
) -> AlertOut:
    """Stops the alert's escalation (and cancels its messages not yet sent), with an optional note. Not a
    decision: later steps still come until one is recorded. Acknowledging twice changes nothing; a closed
    alert cannot be acknowledged (409 says why it closed). The alert's recipients, administrators,
    contract managers and the TDA."""
    async with session.begin():
        alert = await session.get(AlertRecord, alert_id)
        if alert is None:
            raise NotFound(f"there is no alert {alert_id}")
        record = await session.get(WatchedContractRecord, alert.contract_id)
        await ensure_may_acknowledge(session, principal, alert, record)
        if actor.email is None:
            raise no_email("acknowledging an alert")
        acknowledged = await actions.acknowledge(
            session, alert_id, by=actor, note=body.note if body else None, now=container.clock()
        )
    return alert_out(acknowledged)


# --- the caller's own settings ---------------------------------------------------------------------------


@router.get(
    "/me/preferences", response_model=PreferenceOut, tags=["preferences"], summary="How often you hear"
)
async def get_preferences(session: SessionDep, email: OwnEmailDep) -> PreferenceOut:
    """``immediate`` unless you chose a daily or weekly digest (urgent alerts always come at once)."""
    row = await session.get(PreferenceRecord, email)
    if row is None:
        return PreferenceOut(email=email, frequency="immediate", updated_at=None)
    return PreferenceOut.model_validate(row)


@router.put(
    "/me/preferences", response_model=PreferenceOut, tags=["preferences"], summary="Choose how often you hear"
)
async def set_preferences(
    body: PreferenceIn, session: SessionDep, container: ContainerDep, email: OwnEmailDep, actor: ActorDep
) -> PreferenceOut:
    """``immediate``, ``daily`` or ``weekly``. Alerts within the urgent window, overdue and escalated ones
    always come at once; choosing ``immediate`` sends at once what was held for your digest."""
    async with session.begin():
        row = await actions.set_preference(session, email, body.frequency, by=actor, now=container.clock())
    return PreferenceOut.model_validate(row)


@router.post(
    "/calendar-feeds",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedCreatedOut,
    tags=["calendar"],
    summary="Subscribe to renewal dates in your calendar",
)
async def create_feed(
    body: FeedIn,
    session: SessionDep,
    container: ContainerDep,
    principal: PrincipalDep,
    actor: ActorDep,
    response: Response,
) -> FeedCreatedOut:
    """A private iCalendar URL (``.ics``) to subscribe to in Outlook: act-by and term-end dates of your
    contracts (``person``), or of every contract that gets alerts (``tda``: TDA members, the chair,
    contract managers, administrators). The URL is shown in this answer only; anyone who has it reads the
    feed, so revoke it (``DELETE``) if it leaks and make a new one."""
    if body.scope == "tda" and not principal.has_any(TDA_FEEDS):
        raise ForbiddenError(
            f"a TDA-wide calendar feed needs one of these roles: {', '.join(sorted(TDA_FEEDS))}"
        )
    if actor.email is None:
        raise no_email("a calendar feed")
    async with session.begin():
        feed, token = await actions.create_feed(
            session,
            scope=body.scope,
            owner_email=actor.email,
            label=body.label,
            by=actor,
            now=container.clock(),
        )
    # The answer carries a secret: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    url = f"{container.settings.public_url.rstrip('/')}/calendar/{token}.ics"
    return FeedCreatedOut(**FeedOut.model_validate(feed).model_dump(), url=url)


@router.get("/calendar-feeds", response_model=list[FeedOut], tags=["calendar"], summary="Your calendar feeds")
async def list_feeds(session: SessionDep, principal: PrincipalDep) -> list[FeedOut]:
    """Your feeds, newest first, revoked ones too (administrators see everyone's). Never their URLs: only
    a hash of each is kept."""
    query = select(CalendarFeedRecord).order_by(CalendarFeedRecord.created_at.desc(), CalendarFeedRecord.id)
    if ADMIN not in principal.roles:
        email = email_of(principal)
        if email is None:
            raise no_email("listing your calendar feeds")
        query = query.where(CalendarFeedRecord.owner_email == email)
    return [FeedOut.model_validate(row) for row in (await session.scalars(query)).all()]


@router.delete(
    "/calendar-feeds/{feed_id}", response_model=FeedOut, tags=["calendar"], summary="Revoke a calendar feed"
)
async def revoke_feed(
    feed_id: uuid.UUID, session: SessionDep, container: ContainerDep, principal: PrincipalDep, actor: ActorDep
) -> FeedOut:
    """Its URL answers 410 Gone from now on. Idempotent. The feed's owner, or an administrator."""
    async with session.begin():
        feed = await session.get(CalendarFeedRecord, feed_id)
        if feed is None:
            raise NotFound(f"there is no calendar feed {feed_id}")
        if ADMIN not in principal.roles and (actor.email is None or actor.email != feed.owner_email):
            raise ForbiddenError("only the feed's owner, or an administrator, may revoke it")
        revoked = await actions.revoke_feed(session, feed_id, by=actor, now=container.clock())
    return FeedOut.model_validate(revoked)


# --- operations -----------------------------------------------------------------------------------------


@router.get(
    "/deliveries", response_model=Page[DeliveryOut], tags=["deliveries"], summary="Messages and their state"
)
async def list_deliveries(
    session: SessionDep,
    container: ContainerDep,
    _: Annotated[Principal, require(READ_DELIVERIES, "reading deliveries")],
    status_is: Annotated[
        str | None, Query(alias="status", description=f"One of {', '.join(DELIVERY_STATUSES)}")
    ] = None,
    recipient: Annotated[
        str | None, Query(max_length=320, description="The recipient's e-mail address")
    ] = None,
    failing: Annotated[
        bool, Query(description="Only messages that failed at least once (attempts > 1 or an error)")
    ] = False,
    contract_id: Annotated[uuid.UUID | None, Query(description="Only messages about this contract")] = None,
    alert_id: Annotated[uuid.UUID | None, Query(description="Only messages of this alert")] = None,
    cursor: Cursor = None,
    offset: Offset = None,
    limit: Limit = None,
    count: Count = False,
) -> Response:
    """Every message the service made, newest first: its recipient, channel, status (pending, sending,
    sent, held for a digest, digested, cancelled), attempts and last error. Administrators and contract
    managers."""
    page = paging(container, cursor=cursor, offset=offset, limit=limit, kind="deliveries")
    if status_is is not None and status_is not in DELIVERY_STATUSES:
        raise InvalidValue(f"status is one of {', '.join(DELIVERY_STATUSES)}", field="status")
    query = select(DeliveryRecord)
    if status_is is not None:
        query = query.where(DeliveryRecord.status == status_is)
    if recipient is not None:
        query = query.where(DeliveryRecord.recipient_email == recipient.strip().lower())
    if failing:
        query = query.where(or_(DeliveryRecord.attempts > 1, DeliveryRecord.last_error.is_not(None)))
    if contract_id is not None:
        query = query.where(DeliveryRecord.contract_id == contract_id)
    if alert_id is not None:
        query = query.where(DeliveryRecord.alert_id == alert_id)
    total = await count_of(session, query) if count else None
    if page.cursor is not None:
        try:
            created = datetime.fromisoformat(str(page.cursor[0]))
        except (ValueError, IndexError):
            raise InvalidValue("cursor is not one this list gave out", field="cursor") from None
        last_id = uuid_of(page.cursor[1] if len(page.cursor) > 1 else None)
        query = query.where(
            or_(
                DeliveryRecord.created_at < created,
                and_(DeliveryRecord.created_at == created, DeliveryRecord.id < last_id),
            )
        )
    query = (
        query.order_by(DeliveryRecord.created_at.desc(), DeliveryRecord.id.desc())
        .offset(page.offset)
        .limit(page.size + 1)
    )
    rows = list((await session.scalars(query)).all())
    more = len(rows) > page.size
    rows = rows[: page.size]
    next_cursor = (
        encode_cursor("deliveries", [rows[-1].created_at.isoformat(), str(rows[-1].id)])
        if more and rows
        else None
    )
    return json_page([DeliveryOut.model_validate(r) for r in rows], next_cursor, total)


@router.get(
    "/sink/messages",
    response_model=list[SinkMessageOut],
    tags=["sink"],
    summary="Messages the development SMTP sink caught",
)
async def sink_messages(
    container: ContainerDep,
    principal: PrincipalDep,
    to: Annotated[
        str | None, Query(max_length=320, description="Only messages delivered to this address")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many, newest first")] = 50,
) -> list[SinkMessageOut]:
    """Development and test stacks only (404 when no sink is configured): what the local SMTP sink
    received, newest first. Administrators read any address; anyone else their own (``to`` defaults to
    it)."""
    directory = container.settings.sink_dir
    if directory is None:
        raise Problem(
            404,
            "Not found",
            "no SMTP sink is configured (set ESTATE_NOTIFICATIONS_SINK_DIR on a development stack)",
            kind="not-found",
        )
    if ADMIN not in principal.roles:
        email = email_of(principal)
        if email is None:
            raise no_email("reading your messages")
        if to is None:
            to = email
        elif to.strip().lower() != email:
            raise ForbiddenError(
                "you may read only the messages sent to you; administrators read every address"
            )
    # Reading a Maildir is file IO: off the event loop.
    messages = await asyncio.to_thread(read_sink, directory, to=to, limit=limit)
    return [
        SinkMessageOut(
            id=m.id,
            message_id=m.message_id,
            from_address=m.from_address,
            to=m.to,
            subject=m.subject,
            date=m.date,
            received_at=m.received_at,
            text=m.text,
            html=m.html,
            headers=m.headers,
        )
        for m in messages
    ]


@router.get("/audit", response_model=Page[AuditEntryOut], tags=["audit"], summary="Who changed what")
async def audit_trail(
    session: SessionDep,
    container: ContainerDep,
    _: Annotated[Principal, require(READ_AUDIT, "reading the audit trail")],
    entity: Annotated[
        str | None,
        Query(max_length=40, description="alert, contract, contract_type, preference or calendar_feed"),
    ] = None,
    entity_id: Annotated[str | None, Query(max_length=200, description="The entity's id")] = None,
    cursor: Cursor = None,
    offset: Offset = None,
    limit: Limit = None,
    count: Count = False,
) -> Response:
    """Every change made through the API or an alert's link, newest first: who (their e-mail, else their
    subject), what, to which entity, and the detail (``via`` says api or link). Administrators, auditors,
    TDA members and the chair."""
    page = paging(container, cursor=cursor, offset=offset, limit=limit, kind="audit")
    query = select(AuditEntryRecord)
    if entity is not None:
        query = query.where(AuditEntryRecord.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntryRecord.entity_id == entity_id)
    total = await count_of(session, query) if count else None
    if page.cursor is not None:
        last = page.cursor[0] if page.cursor else None
        if not isinstance(last, int) or isinstance(last, bool):
            raise InvalidValue("cursor is not one this list gave out", field="cursor")
        query = query.where(AuditEntryRecord.id < last)
    query = query.order_by(AuditEntryRecord.id.desc()).offset(page.offset).limit(page.size + 1)
    rows = list((await session.scalars(query)).all())
    more = len(rows) > page.size
    rows = rows[: page.size]
    next_cursor = encode_cursor("audit", [rows[-1].id]) if more and rows else None
    return json_page([AuditEntryOut.model_validate(r) for r in rows], next_cursor, total)


__all__ = ["alert_out", "decision_out", "open_alert_out", "router"]
