"""The sweep: on a schedule, with an injected clock, turn what has come due into alerts, escalations,
digests and condition notices, each written as delivery rows for the sender and as events.

Exactly once, by construction:

* A step is raised by inserting its alert row; the row's unique key (contract, term, step) means a second
  sweeper, a restart or a replay that reaches the same step inserts nothing and sends nothing.
* Each message is a delivery row with a unique ``dedupe_key`` (alert, escalation level, recipient,
  channel), inserted with ON CONFLICT DO NOTHING in the same transaction as the alert and the events.
* On PostgreSQL, sweepers lock the contracts they work on with SKIP LOCKED, so two of them share the work
  instead of queueing on it; SQLite has one writer at a time anyway.

The sweep reads only the contracts whose ``next_due_on`` has come (one index range), so it costs what is
due today, not the size of the estate.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estate_contracts import notification_events as ev
from estate_contracts.envelope import EventPayload, new_envelope
from estate_eventing.correlation import correlation_id_or_new, current_causation_id
from estate_eventing.outbox import outbox_row
from estate_eventing.tables import outbox_table
from estate_notifications.adapters.db.records import (
    AlertRecord,
    ConditionRecord,
    DeliveryRecord,
    PreferenceRecord,
    WatchedContractRecord,
    WatchedSystemRecord,
)
from estate_notifications.application.links import LinkSigner
from estate_notifications.application.messages import (
    AlertContext,
    Composer,
    Rendered,
    alert_subject,
    long_date,
    render_digest,
    render_notice,
)
from estate_notifications.application.watch import PolicyBook, apply_plan, close_alerts, plan_for
from estate_notifications.domain.dates import LONDON, london_today
from estate_notifications.domain.renewal import AlertPolicy, RenewalPlan, Step, StepKind
from estate_runtime.db import insert_ignoring_duplicates, update_by_key
from estate_runtime.memory import cyclic_gc_paused
from estate_runtime.workdays import WorkingCalendar, add_working_days

log = logging.getLogger(__name__)

CHAIN = ("contract_owner", "budget_holder", "tda")
WATCH_STATE = (
    "contract_id",
    "term_end",
    "act_by",
    "notice_unknown",
    "last_raised_on",
    "next_due_on",
    "problems",
)
"""The watch's columns a sweep writes back (see watch.apply_plan)."""
WATCH_TABLE = cast(Table, WatchedContractRecord.__table__)
"""Who an alert goes to, level by level, while nobody acknowledges it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertConfig:
    """The sweep's settings (from NotificationsSettings)."""

    policy: AlertPolicy
    escalate_after_working_days: int = 3
    tda_email: str = "tda@cambridge.gov.uk"
    tda_name: str = "Technical Design Authority"
    urgent_within_days: int = 14
    digest_hour: int = 8
    decision_confirm_hours: float = 24.0
    action_url: str = "http://127.0.0.1:8002"
    """The base of the action links in alerts (settings.action_url)."""
    link_valid_days: int = 60
    teams: bool = False
    batch: int = 1000


@dataclass(slots=True)
class SweepReport:
    contracts_looked_at: int = 0
    alerts_raised: int = 0
    escalations: int = 0
    digests: int = 0
    condition_notices: int = 0
    decisions_unconfirmed: int = 0
    deliveries: int = 0
    events: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    name: str | None


class Sweeper:
    """One sweep's dependencies; ``run(now)`` does everything that has come due at ``now``."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        config: AlertConfig,
        calendar: WorkingCalendar,
        signer: LinkSigner,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.calendar = calendar
        self.signer = signer
        self.composer = Composer(
            signer,
            action_url=config.action_url,
            link_valid_days=config.link_valid_days,
            default_notice_days=config.policy.default_notice_days,
        )

    async def run(self, now: datetime) -> SweepReport:
        report = SweepReport()
        with cyclic_gc_paused():  # a batch holds thousands of rows at once; see estate_runtime.memory
            await self.raise_due_steps(now, report)
            await self.escalate(now, report)
            await self.conditions(now, report)
            await self.unconfirmed_decisions(now, report)
            await self.digests(now, report)
        return report

    # -- renewal steps ------------------------------------------------------------------------------

    async def raise_due_steps(self, now: datetime, report: SweepReport) -> None:
        """Raise the step due today of every contract whose ``next_due_on`` has come, a batch of
        contracts per transaction, each batch written with a few bulk statements."""
        today = london_today(now)
        while True:
            async with self.sessions() as session, session.begin():
                book = await PolicyBook.load(session, self.config.policy)
                rows = (
                    await session.scalars(
                        select(WatchedContractRecord)
                        .where(WatchedContractRecord.next_due_on <= today)
                        .order_by(WatchedContractRecord.next_due_on, WatchedContractRecord.contract_id)
                        .limit(self.config.batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                if not rows:
                    return
                # The rows are read, planned and written back in bulk: no per-row ORM flush.
                session.expunge_all()
                systems = await self._system_owners(session, rows)
                preferences = await self._preferences(session)
                batch = _Batch()
                states: list[dict[str, Any]] = []
                rolled: list[tuple[uuid.UUID, date]] = []
                for record in rows:
                    report.contracts_looked_at += 1
                    plan = plan_for(record, book=book, today=today, calendar=self.calendar)
                    previous, running = record.term_end, plan.position
                    if previous is not None and running is not None and previous != running.term_end:
                        rolled.append((record.contract_id, previous))
                    if plan.raise_now is not None and plan.position is not None:
                        self._raise(batch, record, plan, plan.raise_now, now, systems, preferences)
                    apply_plan(record, plan, today=today, raised=True)
                    states.append({name: getattr(record, name) for name in WATCH_STATE})
                await update_by_key(session, WATCH_TABLE, states)
                await self._write(session, batch, now, report)
                # A tacit term that rolled over is behind us: its open alerts (the end-of-term one) close,
                # rather than escalate to the budget holder and the TDA about a term nobody can act on.
                for contract_id, term_end in rolled:
                    await close_alerts(session, contract_id, reason="term_moved", now=now, term_end=term_end)

    def _raise(
        self,
        batch: _Batch,
        record: WatchedContractRecord,
        plan: RenewalPlan,
        step: Step,
        now: datetime,
        systems: dict[str, list[Person]],
        preferences: dict[str, str],
    ) -> None:
        """Add the alert of ``step``, its messages and its events to ``batch``; they are written only if
        the alert is new (another sweeper may have raised the same step)."""
        assert plan.position is not None
        alert = _Alert(
            id=uuid.uuid4(),
            contract_id=record.contract_id,
            contract_reference=record.reference,
            term_end=plan.position.term_end,
            kind=step.kind.value,
            rung_days=step.rung_days,
            due_on=step.due_on,
            act_by=plan.position.act_by,
            level=0,
            role=CHAIN[0],
        )
        batch.new_alerts.append(alert)
        outcome = batch.outcome(alert.id)
        outcome.events += self._renewal_facts(record, plan, step, london_today(now))
        self._route(outcome, alert, record, 0, now, systems, preferences)
        if record.decided_term_end == plan.position.term_end:
            # The owner has already decided this term (terminate, re-procure): its end-of-term alert
            # reminds them, and there is nothing left for the budget holder or the TDA to act on.
            outcome.escalate_at = None
        batch.alert_rows.append(
            {
                **alert.row(),
                "raised_at": now,
                "escalate_at": outcome.escalate_at,
            }
        )

    def _renewal_facts(
        self, record: WatchedContractRecord, plan: RenewalPlan, step: Step, today: date
    ) -> list[EventPayload]:
        position = plan.position
        assert position is not None
        common: dict[str, Any] = {
            "contract_id": record.contract_id,
            "contract_reference": record.reference,
            "act_by": position.act_by,
            "current_term_end": position.term_end,
            "notice_period_days": position.notice_days,
            "internal_lead_time_days": max(0, record.internal_lead_time_days),
            "as_of": today,
        }
        facts: list[EventPayload] = []
        if plan.opens_window and step.kind is StepKind.LADDER:
            facts.append(ev.NoticeWindowOpened(**common))
        if today <= position.act_by and step.kind is StepKind.LADDER:
            facts.append(ev.ActByApproaching(**common, days_left=(position.act_by - today).days))
        elif today > position.act_by and record.decided_term_end != position.term_end:
            facts.append(ev.RenewalOverdue(**common, days_overdue=(today - position.act_by).days))
        return facts

    def _route(
        self,
        outcome: _Outcome,
        alert: _Alert,
        record: WatchedContractRecord,
        level: int,
        now: datetime,
        systems: dict[str, list[Person]],
        preferences: dict[str, str],
        *,
        reason: str = "not_acknowledged",
    ) -> None:
        """Send ``alert`` to the role at ``level``, moving up the chain past roles with nobody in them;
        ``alert`` is updated to the level and role it reached."""
        from_role = alert.role
        while True:
            role = CHAIN[level]
            recipient = self._recipient(record, role)
            if recipient is not None:
                break
            level += 1  # nobody holds this role: the next one up is told, and that is recorded
            reason = "recipient_missing"
        if level != alert.level or role != from_role:
            outcome.events.append(
                ev.AlertEscalated(
                    alert_id=alert.id,
                    contract_id=record.contract_id,
                    contract_reference=record.reference,
                    from_role=from_role,  # type: ignore[arg-type]
                    to_role=role,  # type: ignore[arg-type]
                    reason=reason,  # type: ignore[arg-type]
                    rung_days=alert.rung_days,
                    act_by=alert.act_by,
                    escalated_at=now,
                )
            )
            outcome.escalations += 1
        alert.level, alert.role = level, role
        outcome.escalate_at = self._escalate_at(now) if level < len(CHAIN) - 1 else None
        recipients: list[tuple[str, Person]] = [(role, recipient)]
        if level == 0:
            for owner in systems.get(str(record.contract_id), []):
                if owner.email != recipient.email:
                    recipients.append(("system_owner", owner))
        for recipient_role, person in recipients:
            outcome.deliveries += self._alert_messages(
                alert, record, recipient_role, person, now, preferences
            )

    def _recipient(self, record: WatchedContractRecord, role: str) -> Person | None:
        if role == "contract_owner":
            return Person(record.owner_email, record.owner_name) if record.owner_email else None
        if role == "budget_holder":
            if record.budget_holder_email:
                return Person(record.budget_holder_email, record.budget_holder_name)
            return None
        return Person(self.config.tda_email.lower(), self.config.tda_name)

    def _escalate_at(self, now: datetime) -> datetime:
        local = now.astimezone(LONDON)
        day = add_working_days(local.date(), self.config.escalate_after_working_days, self.calendar)
        return datetime.combine(day, local.timetz()).astimezone(now.tzinfo)

    def _alert_messages(
        self,
        alert: _Alert,
        record: WatchedContractRecord,
        role: str,
        person: Person,
        now: datetime,
        preferences: dict[str, str],
    ) -> list[dict[str, Any]]:
        today = london_today(now)
        context = AlertContext(
            reference=record.reference,
            title=record.title,
            supplier=record.supplier_name,
            annual_value=record.annual_value,
            term_end=alert.term_end,
            act_by=alert.act_by,
            today=today,
            kind=alert.kind,
            renewal_type=record.renewal_type,
            renewal_period_months=record.renewal_period_months,
            extension_options_left=record.extension_options_left,
            notice_days=record.notice_period_days or self.config.policy.default_notice_days,
            notice_unknown=record.notice_unknown,
            role=role,
            recipient_name=person.name,
            link=None,
            link_expires=None,
            problems=record.problems,
            escalated=alert.level > 0,
            decided=record.decided_term_end == alert.term_end,
        )
        urgent = (
            alert.kind != StepKind.LADDER.value
            or alert.level > 0
            or (alert.act_by - today).days <= self.config.urgent_within_days
        )
        frequency = preferences.get(person.email, "immediate")
        hold_until = None if urgent or frequency == "immediate" else self._digest_time(now, frequency)
        # Only what the alert and the watch do not hold: the sender writes the words from those rows.
        detail = {
            "alert_id": str(alert.id),
            "contract_id": str(record.contract_id),
            "contract_reference": record.reference,
            "rung_days": alert.rung_days,
            "act_by": alert.act_by.isoformat(),
            "today": today.isoformat(),
            "level": alert.level,
            "role": role,
            "recipient_name": person.name,
            "frequency": frequency,
        }
        subject = alert_subject(context)
        key = f"alert:{alert.id}:{alert.level}:{role}:{person.email}"
        channels = ["email", "teams"] if self.config.teams and role == "tda" else ["email"]
        return [
            delivery_row(
                key=f"{key}:{channel}",
                kind="renewal_alert",
                role=role,
                person=person,
                channel=channel,
                rendered=None,
                subject=subject,
                detail=detail,
                now=now,
                hold_until=hold_until if channel == "email" else None,
                alert_id=alert.id,
                contract_id=record.contract_id,
            )
            for channel in channels
        ]

    def _digest_time(self, now: datetime, frequency: str) -> datetime:
        local = now.astimezone(LONDON)
        at = datetime.combine(local.date(), time(self.config.digest_hour), LONDON)
        if at <= local:
            at += timedelta(days=1)
        if frequency == "weekly":
            at += timedelta(days=(7 - at.weekday()) % 7)  # the next Monday
        return at.astimezone(now.tzinfo)

    async def _write(self, session: AsyncSession, batch: _Batch, now: datetime, report: SweepReport) -> None:
        """Write a batch: the new alerts (those another sweeper did not raise first), then only their
        messages and events; older open alerts of the same contracts close (superseded)."""
        inserted = await _insert_many_ignore(session, AlertRecord, batch.alert_rows)
        if not inserted:
            return
        contracts = {a.contract_id for a in batch.new_alerts if a.id in inserted}
        superseded = list(
            (
                await session.scalars(
                    select(AlertRecord.id).where(
                        AlertRecord.contract_id.in_(contracts),
                        AlertRecord.id.not_in(inserted),
                        AlertRecord.closed_at.is_(None),
                    )
                )
            ).all()
        )
        if superseded:
            await session.execute(
                update(AlertRecord)
                .where(AlertRecord.id.in_(superseded))
                .values(closed_at=now, close_reason="superseded", escalate_at=None)
                .execution_options(synchronize_session=False)
            )
            # Their messages not yet sent (held for a digest, or waiting for a retry) are cancelled too,
            # so nobody receives a stale "act within 60 days" after the "30 days" that replaced it.
            await session.execute(
                update(DeliveryRecord)
                .where(
                    DeliveryRecord.alert_id.in_(superseded), DeliveryRecord.status.in_(("pending", "held"))
                )
                .values(status="cancelled", last_error="not sent: a later alert for the contract replaced it")
                .execution_options(synchronize_session=False)
            )
        deliveries: list[dict[str, Any]] = []
        events: list[EventPayload] = []
        for alert in batch.new_alerts:
            if alert.id not in inserted:
                continue
            outcome = batch.outcomes[alert.id]
            report.alerts_raised += 1
            report.by_kind[alert.kind] += 1
            report.escalations += outcome.escalations
            deliveries += outcome.deliveries
            events += outcome.events
        await _write_messages(session, deliveries, events, now, report)

    async def _system_owners(
        self, session: AsyncSession, rows: Sequence[WatchedContractRecord]
    ) -> dict[str, list[Person]]:
        wanted = {system_id for row in rows for system_id in row.system_ids}
        if not wanted:
            return {}
        found = (
            await session.execute(
                select(
                    WatchedSystemRecord.system_id,
                    WatchedSystemRecord.owner_email,
                    WatchedSystemRecord.owner_name,
                ).where(
                    WatchedSystemRecord.system_id.in_([uuid.UUID(s) for s in wanted]),
                    WatchedSystemRecord.owner_email.is_not(None),
                    WatchedSystemRecord.retired.is_(False),
                )
            )
        ).all()
        by_id = {str(system_id): Person(email, name) for system_id, email, name in found if email}
        owners: dict[str, list[Person]] = {}
        for row in rows:
            people = {by_id[s].email: by_id[s] for s in row.system_ids if s in by_id}
            if people:
                owners[str(row.contract_id)] = list(people.values())
        return owners

    @staticmethod
    async def _preferences(session: AsyncSession) -> dict[str, str]:
        rows = (
            await session.execute(
                select(PreferenceRecord.email, PreferenceRecord.frequency).where(
                    PreferenceRecord.frequency != "immediate"
                )
            )
        ).all()
        return {row[0]: row[1] for row in rows}

    # -- escalation ---------------------------------------------------------------------------------

    async def escalate(self, now: datetime, report: SweepReport) -> None:
        """Open alerts nobody acknowledged in time move one step up the chain."""
        while True:
            async with self.sessions() as session, session.begin():
                alerts = (
                    await session.scalars(
                        select(AlertRecord)
                        .where(
                            AlertRecord.escalate_at <= now,
                            AlertRecord.acknowledged_at.is_(None),
                            AlertRecord.closed_at.is_(None),
                        )
                        .order_by(AlertRecord.escalate_at)
                        .limit(self.config.batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                if not alerts:
                    return
                with session.no_autoflush:
                    contracts = {
                        row.contract_id: row
                        for row in (
                            await session.scalars(
                                select(WatchedContractRecord).where(
                                    WatchedContractRecord.contract_id.in_({a.contract_id for a in alerts})
                                )
                            )
                        ).all()
                    }
                    preferences = await self._preferences(session)
                    deliveries: list[dict[str, Any]] = []
                    events: list[EventPayload] = []
                    for record_alert in alerts:
                        record = contracts.get(record_alert.contract_id)
                        if record is None or record_alert.level >= len(CHAIN) - 1:
                            record_alert.escalate_at = None
                            continue
                        alert = _Alert.of(record_alert)
                        outcome = _Outcome()
                        self._route(outcome, alert, record, alert.level + 1, now, {}, preferences)
                        record_alert.level, record_alert.role = alert.level, alert.role
                        record_alert.escalate_at = outcome.escalate_at
                        report.escalations += outcome.escalations
                        deliveries += outcome.deliveries
                        events += outcome.events
                await _write_messages(session, deliveries, events, now, report)

    # -- decisions the register has not recorded -----------------------------------------------------

    async def unconfirmed_decisions(self, now: datetime, report: SweepReport) -> None:
        """A decision recorded here stops its term's alerts at once; the register then records it on the
        contract. If the register has not done so after ``decision_confirm_hours`` (it refused the
        decision, or its worker is down), the alerts resume, so that no renewal slips by on a decision that
        was never taken, and the TDA and the person who decided are told why."""
        cutoff = now - timedelta(hours=self.config.decision_confirm_hours)
        async with self.sessions() as session, session.begin():
            rows = (
                await session.scalars(
                    select(WatchedContractRecord)
                    .where(WatchedContractRecord.pending_decision_at < cutoff)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return
            book = await PolicyBook.load(session, self.config.policy)
            today = london_today(now)
            for record in rows:
                decision_id, decided_by = record.pending_decision_id, record.pending_decision_by
                term_end = record.decided_term_end
                record.decided_term_end = None
                record.pending_decision_id = record.pending_decision_at = record.pending_decision_by = None
                apply_plan(
                    record,
                    plan_for(record, book=book, today=today, calendar=self.calendar),
                    today=today,
                    raised=False,
                )
                when = long_date(term_end) if term_end else "the current term"
                paragraphs = [
                    f"A renewal decision for {record.reference} {record.title} (the term ending {when}) was "
                    f"recorded in Estate by {decided_by or 'its owner'}, but the register has not recorded it on "
                    f"the contract after {self.config.decision_confirm_hours:g} hours.",
                    "The register may have refused it (look for it in the register worker's dead letters) or "
                    "be unable to take it. Renewal alerts for this term have started again; record the decision "
                    "again once the reason is put right.",
                ]
                recipients = [("tda", Person(self.config.tda_email.lower(), self.config.tda_name))]
                if decided_by:
                    recipients.append(("contract_owner", Person(decided_by.lower(), None)))
                for role, person in recipients:
                    rendered = render_notice(
                        f"Renewal decision not recorded: {record.reference} {record.title}",
                        paragraphs,
                        recipient_name=person.name,
                    )
                    report.deliveries += await add_delivery(
                        session,
                        key=f"unconfirmed:{decision_id}:{role}:{person.email}:email",
                        kind="decision_unconfirmed",
                        role=role,
                        person=person,
                        channel="email",
                        rendered=rendered,
                        detail={"decision_id": str(decision_id), "contract_reference": record.reference},
                        now=now,
                    )
                report.decisions_unconfirmed += 1
                log.warning(
                    "renewal decision %s on %s not recorded by the register after %s hours: alerts resumed",
                    decision_id,
                    record.reference,
                    self.config.decision_confirm_hours,
                )

    # -- procurement conditions ---------------------------------------------------------------------

    async def conditions(self, now: datetime, report: SweepReport) -> None:
        """Tell a condition's owner on the day it is due, and again the working day after, if unmet (a
        condition due on a Friday is overdue on Monday, not on Saturday)."""
        today = london_today(now)
        async with self.sessions() as session, session.begin():
            rows = (
                await session.scalars(
                    select(ConditionRecord).where(
                        ConditionRecord.due_date <= today,
                        ConditionRecord.met_at.is_(None),
                        ConditionRecord.superseded.is_(False),
                    )
                )
            ).all()
            for condition in rows:
                overdue = today >= add_working_days(condition.due_date, 1, self.calendar)
                if not overdue and today != condition.due_date:
                    continue  # past the due date, but the next working day has not come yet
                label = "overdue" if overdue else "due"
                subject = (
                    f"Overdue: condition of {condition.request_reference} was due {long_date(condition.due_date)}"
                    if overdue
                    else f"Due today: condition of {condition.request_reference}"
                )
                rendered = render_notice(
                    subject,
                    [
                        f"The TDA approved {condition.request_reference} on condition that: {condition.text}",
                        f"You own this condition. It is due by {long_date(condition.due_date)}"
                        + (" and is not yet recorded as met." if overdue else "."),
                        "Record it as met, with evidence, on the request in Estate.",
                    ],
                    recipient_name=condition.owner_name,
                )
                added = await add_delivery(
                    session,
                    key=f"condition:{condition.condition_id}:{label}:email",
                    kind=f"condition_{label}",
                    role="condition_owner",
                    person=Person(condition.owner_email, condition.owner_name),
                    channel="email",
                    rendered=rendered,
                    detail={"request_reference": condition.request_reference},
                    now=now,
                )
                report.condition_notices += added
                report.deliveries += added

    async def _body(self, session: AsyncSession, item: DeliveryRecord, now: datetime) -> str:
        if item.body_text is not None:
            return item.body_text
        return (await self.composer.alert(session, item, now=now)).text

    # -- digests ------------------------------------------------------------------------------------

    async def digests(self, now: datetime, report: SweepReport) -> None:
        """Held alerts whose digest time has come go out as one message per person."""
        async with self.sessions() as session, session.begin():
            held = (
                await session.scalars(
                    select(DeliveryRecord)
                    .where(DeliveryRecord.status == "held", DeliveryRecord.next_attempt_at <= now)
                    .order_by(DeliveryRecord.recipient_email, DeliveryRecord.next_attempt_at)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            groups: dict[tuple[str, str], list[DeliveryRecord]] = defaultdict(list)
            for delivery in held:
                groups[(delivery.recipient_email, delivery.channel)].append(delivery)
            for (email, channel), items in groups.items():
                digest_id = uuid.uuid4()
                period = "weekly" if items[0].detail.get("frequency") == "weekly" else "daily"
                rendered = render_digest(
                    [(item.subject, await self._body(session, item, now)) for item in items],
                    recipient_name=items[0].recipient_name,
                    period=period,
                )
                row = delivery_row(
                    key=f"digest:{email}:{channel}:{items[0].next_attempt_at.isoformat()}",
                    kind="digest",
                    role=items[0].role,
                    person=Person(email, items[0].recipient_name),
                    channel=channel,
                    rendered=rendered,
                    detail={"items": [str(item.id) for item in items], "card": rendered.card},
                    now=now,
                )
                row["id"] = digest_id
                added = await _insert_many_ignore(session, DeliveryRecord, [row])
                if not added:
                    continue
                await session.execute(
                    update(DeliveryRecord)
                    .where(
                        DeliveryRecord.id.in_([item.id for item in items]), DeliveryRecord.status == "held"
                    )
                    .values(status="digested", digest_id=digest_id)
                )
                report.digests += 1
                report.deliveries += 1


async def _insert_many_ignore(
    session: AsyncSession, record: type[Any], rows: list[dict[str, Any]]
) -> set[uuid.UUID]:
    """Insert the rows that clash with no unique key (ON CONFLICT DO NOTHING); the ids inserted."""
    inserted: set[uuid.UUID] = await insert_ignoring_duplicates(session, record.__table__, rows)
    return inserted


async def add_delivery(session: AsyncSession, **fields: Any) -> int:
    """Add one message (``delivery_row``'s fields), once: 1 if it was added, 0 if a message with this
    key exists already."""
    return len(await _insert_many_ignore(session, DeliveryRecord, [delivery_row(**fields)]))


async def _write_messages(
    session: AsyncSession,
    deliveries: list[dict[str, Any]],
    events: list[EventPayload],
    now: datetime,
    report: SweepReport,
) -> None:
    """Write the messages and the events of the alerts raised or escalated in one batch."""
    report.deliveries += len(await _insert_many_ignore(session, DeliveryRecord, deliveries))
    if events:
        await insert_ignoring_duplicates(session, outbox_table, [event_row(event, now) for event in events])
        report.events += len(events)


def delivery_row(
    *,
    key: str,
    kind: str,
    role: str,
    person: Person,
    channel: str,
    rendered: Rendered | None,
    detail: dict[str, Any],
    now: datetime,
    subject: str | None = None,
    hold_until: datetime | None = None,
    alert_id: uuid.UUID | None = None,
    contract_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """The row of one message; ``hold_until`` holds it for a digest. Without ``rendered`` (a renewal
    alert), only the subject is stored and the sender writes the body (``messages.Composer``)."""
    return {
        "id": uuid.uuid4(),
        "dedupe_key": key[:400],
        "kind": kind,
        "alert_id": alert_id,
        "contract_id": contract_id,
        "role": role,
        "recipient_email": person.email,
        "recipient_name": person.name,
        "channel": channel,
        "subject": (rendered.subject if rendered else subject or "")[:300],
        "body_text": rendered.text if rendered else None,
        "body_html": rendered.html if rendered else None,
        "detail": detail,
        "status": "held" if hold_until else "pending",
        "attempts": 0,
        "next_attempt_at": hold_until or now,
        "lease_until": None,
        "claimed_by": None,
        "last_error": None,
        "provider_id": None,
        "digest_id": None,
        "created_at": now,
        "sent_at": None,
    }


def event_row(event: EventPayload, now: datetime) -> dict[str, Any]:
    """The outbox row of one event, in the work in hand's correlation (see estate_eventing.outbox)."""
    envelope = new_envelope(
        event=event,
        source=ev.SOURCE,
        subject=event.kafka_key(),
        correlationid=correlation_id_or_new(),
        causationid=current_causation_id(),
        time=now,
    )
    return outbox_row(envelope, event.topic)


@dataclass(slots=True, kw_only=True)
class _Alert:
    id: uuid.UUID
    contract_id: uuid.UUID
    contract_reference: str
    term_end: date
    kind: str
    rung_days: int
    due_on: date
    act_by: date
    level: int
    role: str

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "contract_id": self.contract_id,
            "contract_reference": self.contract_reference,
            "term_end": self.term_end,
            "kind": self.kind,
            "rung_days": self.rung_days,
            "due_on": self.due_on,
            "act_by": self.act_by,
            "level": self.level,
            "role": self.role,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "acknowledgement_note": None,
            "closed_at": None,
            "close_reason": None,
        }

    @classmethod
    def of(cls, record: AlertRecord) -> _Alert:
        return cls(
            id=record.id,
            contract_id=record.contract_id,
            contract_reference=record.contract_reference,
            term_end=record.term_end,
            kind=record.kind,
            rung_days=record.rung_days,
            due_on=record.due_on,
            act_by=record.act_by,
            level=record.level,
            role=record.role,
        )


@dataclass(slots=True)
class _Outcome:
    """What raising or escalating one alert writes, besides the alert itself."""

    deliveries: list[dict[str, Any]] = field(default_factory=list)
    events: list[EventPayload] = field(default_factory=list)
    escalations: int = 0
    escalate_at: datetime | None = None


@dataclass(slots=True)
class _Batch:
    new_alerts: list[_Alert] = field(default_factory=list)
    alert_rows: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[uuid.UUID, _Outcome] = field(default_factory=dict)

    def outcome(self, alert_id: uuid.UUID) -> _Outcome:
        return self.outcomes.setdefault(alert_id, _Outcome())


__all__ = ["CHAIN", "AlertConfig", "Person", "SweepReport", "Sweeper"]
