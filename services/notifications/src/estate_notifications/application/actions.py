"""What people do to the renewal watch through the API or an alert's link: acknowledge an alert, record a
renewal decision, set alert ladders, choose how often they hear, and manage calendar feeds.

Rules every use case here keeps:

* **One transaction each.** A use case runs inside the caller's transaction and never commits: the
  change, its audit entry and its events (through the transactional outbox) are stored together or not
  at all. A rule broken raises an ``estate_runtime.errors`` domain error before anything is written that
  would survive the rollback.
* **Audited.** Every change inserts an ``audit_entries`` row naming the actor (their e-mail, else their
  identity-provider subject), the action, the entity and what changed; a change from an alert's link is
  audited with ``"via": "link"``. A call that changes nothing (acknowledging an acknowledged alert,
  clearing a ladder that is not set, revoking a revoked feed) writes nothing, not even an audit entry.
* **The watch stays consistent.** Whatever moves a contract's schedule (a ladder, a decision) recomputes
  its dates with ``watch.plan_for`` and ``watch.apply_plan(raised=False)`` at once, so the sweep's next
  look at the contract, and every read, follow the new schedule; the step due now is left to the sweep.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts import notification_events as ev
from estate_contracts.common import Person
from estate_eventing.outbox import add_event
from estate_notifications.adapters.db.records import (
    FREQUENCIES,
    AlertRecord,
    AuditEntryRecord,
    CalendarFeedRecord,
    ContractTypeLadderRecord,
    DeliveryRecord,
    PreferenceRecord,
    WatchedContractRecord,
)
from estate_notifications.application.links import hash_token, new_feed_token
from estate_notifications.application.watch import PolicyBook, apply_plan, close_alerts, plan_for, terms_of
from estate_notifications.domain.dates import london_today
from estate_notifications.domain.renewal import (
    AlertPolicy,
    Ladder,
    RenewalPosition,
    check_decision,
    renewal_position,
)
from estate_runtime.errors import Conflict, DomainError, InvalidTransition, InvalidValue, NotFound
from estate_runtime.workdays import WorkingCalendar

__all__ = [
    "MAX_NOTE",
    "MAX_RATIONALE",
    "Actor",
    "DecisionRecorded",
    "FeedRevoked",
    "acknowledge",
    "clear_contract_ladder",
    "clear_type_ladder",
    "close_reason_words",
    "create_feed",
    "current_position",
    "open_feed",
    "record_decision",
    "revoke_feed",
    "set_contract_ladder",
    "set_preference",
    "set_type_ladder",
]

MAX_NOTE: Final = 4000
MAX_RATIONALE: Final = 4000
MAX_LABEL: Final = 200
MAX_CONTRACT_TYPE: Final = 60

CLOSE_REASONS: Final = {
    "superseded": "superseded by a later alert",
    "decided": "a decision was recorded",
    "contract_ended": "the contract ended",
    "term_moved": "the contract's term moved on (it was renewed or extended)",
}

Via = Literal["api", "link"]


class FeedRevoked(DomainError):
    """A calendar feed that was revoked: its URL answers 410 Gone from then on."""

    def __init__(self, revoked_at: datetime) -> None:
        day = london_today(revoked_at)
        super().__init__(
            f"This calendar feed was revoked on {day.day} {day:%B %Y}. Ask for a new one in Estate."
        )
        self.revoked_at = revoked_at


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """Who is acting: ``id`` is their identity-provider subject (``link:<e-mail>`` for the recipient of
    an alert's link, who has none), ``email`` their address (needed for acknowledgements and decisions,
    which name the person in events), ``via`` whether they came through the API or a link."""

    id: str
    name: str
    email: str | None
    via: Via = "api"

    @property
    def audit_name(self) -> str:
        """How the audit trail names them: their e-mail, else their subject."""
        return self.email or self.id

    def person(self) -> Person:
        if not self.email:
            raise InvalidValue(
                "this needs your e-mail address, which the events name you by; sign in with an account "
                "that has one"
            )
        return Person(id=self.id, name=self.name or self.email, email=self.email)


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionRecorded:
    """A renewal decision as submitted to the register."""

    decision_id: uuid.UUID
    contract_id: uuid.UUID
    contract_reference: str
    term_end: date
    outcome: str
    rationale: str
    new_term_end: date | None
    decided_by: Person
    decided_at: datetime
    alert_id: uuid.UUID | None
    alerts_closed: int


def close_reason_words(reason: str | None) -> str:
    """Why an alert closed, in words for the person who tried to act on it."""
    if reason is None:
        return "it is no longer current"
    return CLOSE_REASONS.get(reason, reason.replace("_", " "))


async def _audit(
    session: AsyncSession,
    *,
    by: Actor,
    action: str,
    entity: str,
    entity_id: str,
    detail: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        AuditEntryRecord(
            at=now,
            actor=by.audit_name[:320],
            action=action,
            entity=entity,
            entity_id=entity_id[:200],
            detail={**detail, "via": by.via, "actor_id": by.id},
        )
    )


def _text(value: str | None, *, field: str, limit: int, what: str) -> str | None:
    """Stripped text, None when blank; InvalidValue when longer than ``limit`` characters."""
    if value is None:
        return None
    stripped = value.strip()
    if len(stripped) > limit:
        raise InvalidValue(f"{what} is at most {limit} characters; this one has {len(stripped)}", field=field)
    return stripped or None


def _ladder(rungs: Sequence[int]) -> Ladder:
    # The domain's Ladder states every rule (1 to 730 days, distinct, at most 20) with field="rungs".
    return Ladder(rungs=tuple(rungs))


async def _contract(session: AsyncSession, contract_id: uuid.UUID) -> WatchedContractRecord:
    record = await session.get(WatchedContractRecord, contract_id, with_for_update=True)
    if record is None:
        raise NotFound(f"no contract {contract_id} is watched: the register has not told this service of it")
    return record


def _replan(
    record: WatchedContractRecord, book: PolicyBook, *, now: datetime, calendar: WorkingCalendar
) -> None:
    today = london_today(now)
    apply_plan(record, plan_for(record, book=book, today=today, calendar=calendar), today=today, raised=False)


def current_position(
    record: WatchedContractRecord, book: PolicyBook, *, today: date, calendar: WorkingCalendar
) -> RenewalPosition:
    """The running term of a contract on ``today`` and its act-by date, whatever its status (a decision on
    a contract that gets no alerts is refused by ``check_decision``, which needs the position to say so)."""
    policy = book.for_contract(record.contract_type, record.ladder)
    return renewal_position(
        terms_of(record), today=today, default_notice_days=policy.default_notice_days, calendar=calendar
    )


# --- acknowledging an alert ------------------------------------------------------------------------


async def acknowledge(
    session: AsyncSession, alert_id: uuid.UUID, *, by: Actor, note: str | None, now: datetime
) -> AlertRecord:
    """Acknowledge an open alert: it is not escalated any further, and its messages not yet sent (held
    for a digest, or waiting to go to the next person up the chain) are cancelled, because somebody has
    taken it in hand. Acknowledging is not deciding: the ladder's later steps still come until a decision
    is recorded. A closed alert cannot be acknowledged (409, saying why it closed); an acknowledged one
    is returned as it is (the first acknowledgement stands)."""
    alert = await session.get(AlertRecord, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(f"there is no alert {alert_id}")
    if alert.acknowledged_at is not None:
        return alert
    if alert.closed_at is not None:
        raise InvalidTransition(f"this alert was closed ({close_reason_words(alert.close_reason)})")
    said = _text(note, field="note", limit=MAX_NOTE, what="the note")
    person = by.person()
    alert.acknowledged_at = now
    alert.acknowledged_by = person.email[:320]
    alert.acknowledgement_note = said
    alert.escalate_at = None
    cancelled = await session.execute(
        update(DeliveryRecord)
        .where(DeliveryRecord.alert_id == alert.id, DeliveryRecord.status.in_(("pending", "held")))
        .values(status="cancelled", last_error=f"not sent: the alert was acknowledged by {person.email}")
    )
    await add_event(
        session,
        ev.AlertAcknowledged(
            alert_id=alert.id,
            contract_id=alert.contract_id,
            contract_reference=alert.contract_reference,
            acknowledged_by=person,
            acknowledged_at=now,
            note=said,
        ),
        source=ev.SOURCE,
        time=now,
    )
    await _audit(
        session,
        by=by,
        action="alert_acknowledged",
        entity="alert",
        entity_id=str(alert.id),
        detail={
            "contract_id": str(alert.contract_id),
            "contract_reference": alert.contract_reference,
            "kind": alert.kind,
            "rung_days": alert.rung_days,
            "level": alert.level,
            "note": said,
            "messages_cancelled": int(getattr(cancelled, "rowcount", 0) or 0),
        },
        now=now,
    )
    await session.flush()
    return alert


# --- recording a renewal decision -------------------------------------------------------------------


async def record_decision(
    session: AsyncSession,
    contract_id: uuid.UUID,
    *,
    outcome: str,
    rationale: str | None,
    new_term_end: date | None,
    by: Actor,
    now: datetime,
    calendar: WorkingCalendar,
    book: PolicyBook,
    alert_id: uuid.UUID | None = None,
) -> DecisionRecorded:
    """Record the renewal decision for the contract's running term (the one running today, Europe/London)
    and submit it to the register, which records it on the contract.

    * The decision must be one the register accepts (``domain.renewal.check_decision``): an active or
      expired contract; renew and extend give a new term end after the running term's, and extend needs
      an extension option left; re-procure and terminate give none.
    * A rationale is needed (not blank, at most 4000 characters): the council must be able to say why.
    * One decision per term: a second one is refused (409); a change of mind goes through the register.
    * From this moment the term's ladder stops (the watch's ``decided_term_end``), and the term's open
      alerts close with their unsent messages; the end-of-term alert still comes.
    """
    record = await _contract(session, contract_id)
    today = london_today(now)
    position = current_position(record, book, today=today, calendar=calendar)
    check_decision(terms_of(record), position, outcome=outcome, new_term_end=new_term_end)
    said = _text(rationale, field="rationale", limit=MAX_RATIONALE, what="the rationale")
    if said is None:
        raise InvalidValue(
            "give the reasons for the decision (rationale): value for money, fit, the options considered",
            field="rationale",
        )
    if record.decided_term_end == position.term_end:
        raise Conflict(
            f"a renewal decision for the term ending {position.term_end.isoformat()} is already recorded",
            field="outcome",
        )
    if alert_id is not None:
        alert = await session.get(AlertRecord, alert_id)
        if alert is None or alert.contract_id != record.contract_id:
            raise InvalidValue(f"alert {alert_id} is not an alert of {record.reference}", field="alert_id")
    person = by.person()
    record.decided_term_end = position.term_end
    record.updated_at = now
    _replan(record, book, now=now, calendar=calendar)
    closed = await close_alerts(
        session, record.contract_id, reason="decided", now=now, term_end=position.term_end
    )
    decision_id = uuid.uuid4()
    # Until the register confirms it (its snapshot carries this decision), the sweep keeps an eye on it.
    record.pending_decision_id, record.pending_decision_at = decision_id, now
    record.pending_decision_by = person.email
    await add_event(
        session,
        ev.RenewalDecisionSubmitted(
            decision_id=decision_id,
            contract_id=record.contract_id,
            contract_reference=record.reference,
            term_end=position.term_end,
            outcome=outcome,  # type: ignore[arg-type]  # checked by check_decision
            rationale=said,
            new_term_end=new_term_end,
            decided_by=person,
            decided_at=now,
            alert_id=alert_id,
        ),
        source=ev.SOURCE,
        time=now,
    )
    await _audit(
        session,
        by=by,
        action="renewal_decision_submitted",
        entity="contract",
        entity_id=str(record.contract_id),
        detail={
            "decision_id": str(decision_id),
            "contract_reference": record.reference,
            "term_end": position.term_end.isoformat(),
            "outcome": outcome,
            "rationale": said,
            "new_term_end": new_term_end.isoformat() if new_term_end else None,
            "alert_id": str(alert_id) if alert_id else None,
            "alerts_closed": closed,
        },
        now=now,
    )
    await session.flush()
    return DecisionRecorded(
        decision_id=decision_id,
        contract_id=record.contract_id,
        contract_reference=record.reference,
        term_end=position.term_end,
        outcome=outcome,
        rationale=said,
        new_term_end=new_term_end,
        decided_by=person,
        decided_at=now,
        alert_id=alert_id,
        alerts_closed=closed,
    )


# --- alert ladders ----------------------------------------------------------------------------------


async def set_contract_ladder(
    session: AsyncSession,
    contract_id: uuid.UUID,
    rungs: Sequence[int],
    *,
    by: Actor,
    now: datetime,
    calendar: WorkingCalendar,
    default: AlertPolicy,
) -> WatchedContractRecord:
    """Give one contract its own ladder (overriding its type's and the default), and reschedule it."""
    ladder = _ladder(rungs)
    record = await _contract(session, contract_id)
    previous = record.ladder
    if previous == list(ladder.rungs):
        return record
    record.ladder = list(ladder.rungs)
    _replan(record, await PolicyBook.load(session, default), now=now, calendar=calendar)
    await _audit(
        session,
        by=by,
        action="contract_ladder_set",
        entity="contract",
        entity_id=str(record.contract_id),
        detail={"contract_reference": record.reference, "rungs": record.ladder, "previous": previous},
        now=now,
    )
    await session.flush()
    return record


async def clear_contract_ladder(
    session: AsyncSession,
    contract_id: uuid.UUID,
    *,
    by: Actor,
    now: datetime,
    calendar: WorkingCalendar,
    default: AlertPolicy,
) -> WatchedContractRecord:
    """Remove a contract's own ladder: its type's ladder, else the default, applies again."""
    record = await _contract(session, contract_id)
    previous = record.ladder
    if previous is None:
        return record
    record.ladder = None
    _replan(record, await PolicyBook.load(session, default), now=now, calendar=calendar)
    await _audit(
        session,
        by=by,
        action="contract_ladder_cleared",
        entity="contract",
        entity_id=str(record.contract_id),
        detail={"contract_reference": record.reference, "previous": previous},
        now=now,
    )
    await session.flush()
    return record


def _contract_type(value: str) -> str:
    name = value.strip()
    if not name or len(name) > MAX_CONTRACT_TYPE:
        raise InvalidValue(
            f"a contract type is 1 to {MAX_CONTRACT_TYPE} characters, as the register spells it",
            field="contract_type",
        )
    return name


async def _replan_type(
    session: AsyncSession,
    contract_type: str,
    *,
    now: datetime,
    calendar: WorkingCalendar,
    default: AlertPolicy,
) -> int:
    """Reschedule every contract of a type that has no ladder of its own; how many there were."""
    book = await PolicyBook.load(session, default)
    records = (
        await session.scalars(
            select(WatchedContractRecord).where(WatchedContractRecord.contract_type == contract_type)
        )
    ).all()
    count = 0
    for record in records:
        # Tested here rather than in SQL: the JSON column stores "no ladder" as JSON null on one database
        # and SQL NULL on another.
        if record.ladder:
            continue
        _replan(record, book, now=now, calendar=calendar)
        count += 1
    return count


async def set_type_ladder(
    session: AsyncSession,
    contract_type: str,
    rungs: Sequence[int],
    *,
    by: Actor,
    now: datetime,
    calendar: WorkingCalendar,
    default: AlertPolicy,
) -> ContractTypeLadderRecord:
    """Give every contract of a type (that has no ladder of its own) this ladder, and reschedule them."""
    name = _contract_type(contract_type)
    ladder = _ladder(rungs)
    row = await session.get(ContractTypeLadderRecord, name, with_for_update=True)
    previous = row.rungs if row is not None else None
    if row is not None and previous == list(ladder.rungs):
        return row
    if row is None:
        row = ContractTypeLadderRecord(contract_type=name)
        session.add(row)
    row.rungs = list(ladder.rungs)
    row.updated_by = by.audit_name[:320]
    row.updated_at = now
    await session.flush()
    moved = await _replan_type(session, name, now=now, calendar=calendar, default=default)
    await _audit(
        session,
        by=by,
        action="type_ladder_set",
        entity="contract_type",
        entity_id=name,
        detail={"rungs": row.rungs, "previous": previous, "contracts_rescheduled": moved},
        now=now,
    )
    await session.flush()
    return row


async def clear_type_ladder(
    session: AsyncSession,
    contract_type: str,
    *,
    by: Actor,
    now: datetime,
    calendar: WorkingCalendar,
    default: AlertPolicy,
) -> bool:
    """Remove a contract type's ladder (its contracts follow the default again); False if none was set."""
    name = _contract_type(contract_type)
    row = await session.get(ContractTypeLadderRecord, name, with_for_update=True)
    if row is None:
        return False
    previous = row.rungs
    await session.delete(row)
    await session.flush()
    moved = await _replan_type(session, name, now=now, calendar=calendar, default=default)
    await _audit(
        session,
        by=by,
        action="type_ladder_cleared",
        entity="contract_type",
        entity_id=name,
        detail={"previous": previous, "contracts_rescheduled": moved},
        now=now,
    )
    await session.flush()
    return True


# --- preferences --------------------------------------------------------------------------------------


async def set_preference(
    session: AsyncSession, email: str, frequency: str, *, by: Actor, now: datetime
) -> PreferenceRecord:
    """How often a person hears of alerts that are not urgent: at once, or in a daily or weekly digest
    (urgent ones always go at once). Choosing ``immediate`` releases what was held for their digest, so
    it goes out now instead of at digest time."""
    if frequency not in FREQUENCIES:
        raise InvalidValue(f"frequency is one of {', '.join(FREQUENCIES)}", field="frequency")
    address = email.strip().lower()
    row = await session.get(PreferenceRecord, address, with_for_update=True)
    previous = row.frequency if row is not None else "immediate"
    if row is not None and row.frequency == frequency:
        return row
    if row is None:
        row = PreferenceRecord(email=address)
        session.add(row)
    row.frequency = frequency
    row.updated_by = by.audit_name[:320]
    row.updated_at = now
    released = 0
    if frequency == "immediate":
        result = await session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.recipient_email == address, DeliveryRecord.status == "held")
            .values(status="pending", next_attempt_at=now)
        )
        released = int(getattr(result, "rowcount", 0) or 0)
    await _audit(
        session,
        by=by,
        action="preference_set",
        entity="preference",
        entity_id=address,
        detail={"frequency": frequency, "previous": previous, "released": released},
        now=now,
    )
    await session.flush()
    return row


# --- calendar feeds -----------------------------------------------------------------------------------


async def create_feed(
    session: AsyncSession, *, scope: str, owner_email: str, label: str, by: Actor, now: datetime
) -> tuple[CalendarFeedRecord, str]:
    """A new calendar subscription and its token. The token is returned once and only its SHA-256 is
    kept: whoever loses the URL asks for a new feed and revokes the old one. A ``person`` feed shows the
    contracts of ``owner_email``; a ``tda`` feed every contract that gets alerts. Either way the feed
    belongs to ``owner_email``, who alone (with administrators) lists and revokes it."""
    if scope not in ("person", "tda"):
        raise InvalidValue("scope is person (your contracts) or tda (every contract)", field="scope")
    name = _text(label, field="label", limit=MAX_LABEL, what="the label")
    if name is None:
        raise InvalidValue("give the feed a label, such as the calendar it is for", field="label")
    address = owner_email.strip().lower()
    if not address:
        raise InvalidValue("a calendar feed belongs to a person with an e-mail address", field="owner_email")
    token = new_feed_token()
    feed = CalendarFeedRecord(
        id=uuid.uuid4(),
        token_hash=hash_token(token),
        scope=scope,
        owner_email=address,
        label=name,
        created_by=by.audit_name[:320],
        created_at=now,
        revoked_at=None,
        revoked_by=None,
        last_used_at=None,
    )
    session.add(feed)
    await _audit(
        session,
        by=by,
        action="calendar_feed_created",
        entity="calendar_feed",
        entity_id=str(feed.id),
        detail={"scope": scope, "label": name, "owner_email": address},
        now=now,
    )
    await session.flush()
    return feed, token


async def revoke_feed(
    session: AsyncSession, feed_id: uuid.UUID, *, by: Actor, now: datetime
) -> CalendarFeedRecord:
    """Stop a calendar feed for good: its URL answers 410 Gone from now on. Revoking twice changes
    nothing (the first revocation stands)."""
    feed = await session.get(CalendarFeedRecord, feed_id, with_for_update=True)
    if feed is None:
        raise NotFound(f"there is no calendar feed {feed_id}")
    if feed.revoked_at is not None:
        return feed
    feed.revoked_at = now
    feed.revoked_by = by.audit_name[:320]
    await _audit(
        session,
        by=by,
        action="calendar_feed_revoked",
        entity="calendar_feed",
        entity_id=str(feed.id),
        detail={"scope": feed.scope, "label": feed.label, "owner_email": feed.owner_email},
        now=now,
    )
    await session.flush()
    return feed


async def open_feed(session: AsyncSession, token: str, *, now: datetime) -> CalendarFeedRecord:
    """The feed a token names, its use recorded (``last_used_at``); NotFound for a token never given out,
    FeedRevoked for a revoked feed. A read, so not audited."""
    feed = await session.scalar(
        select(CalendarFeedRecord).where(CalendarFeedRecord.token_hash == hash_token(token))
    )
    if feed is None:
        raise NotFound(
            "there is no calendar feed at this address: check the URL, or ask for a new feed in Estate"
        )
    if feed.revoked_at is not None:
        raise FeedRevoked(feed.revoked_at)
    feed.last_used_at = now
    await session.flush()
    return feed
