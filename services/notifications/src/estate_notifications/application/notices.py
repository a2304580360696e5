"""Procurement notices: the TDA hears of each request submitted (or resubmitted with answers), the
requester hears when the TDA asks for information and when it decides, and condition owners hear when a
condition is due or overdue (the sweep does that from the conditions kept here).

Each notice is a delivery row keyed by the source event's id and the recipient, written in the consumer's
inbox transaction: an event delivered twice, or replayed, notifies once. Dates in notices are the council's
(Europe/London) calendar dates: a request submitted at 23:30 UTC on a summer evening was submitted the next
day in Cambridge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from estate_contracts import procurement_events as pe
from estate_contracts.envelope import Envelope
from estate_notifications.adapters.db.records import ConditionRecord, DeliveryRecord
from estate_notifications.application.messages import long_date, render_notice
from estate_notifications.application.sweep import Person, add_delivery
from estate_notifications.domain.dates import london_today

OUTCOME_WORDS = {
    "approved": "approved",
    "approved_with_conditions": "approved with conditions",
    "not_approved": "not approved",
}
DECISION_SENTENCES = {
    "approved": "The TDA approved {reference} on {day}.",
    "approved_with_conditions": "The TDA approved {reference} on {day}, on the conditions below.",
    "not_approved": "The TDA did not approve {reference} on {day}.",
}
"""The decision's first line, in plain English for each outcome ("The TDA not approved ..." is not)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NoticeConfig:
    tda_email: str
    tda_name: str = "Technical Design Authority"
    teams: bool = False
    portal_url: str | None = None


async def _notify(
    session: AsyncSession,
    envelope: Envelope,
    person: Person,
    role: str,
    kind: str,
    subject: str,
    paragraphs: list[str],
    now: datetime,
    *,
    teams: bool = False,
) -> None:
    rendered = render_notice(subject, paragraphs, recipient_name=person.name)
    for channel in ("email", "teams") if teams else ("email",):
        await add_delivery(
            session,
            key=f"event:{envelope.id}:{role}:{person.email}:{channel}",
            kind=kind,
            role=role,
            person=person,
            channel=channel,
            rendered=rendered,
            detail={"event_id": str(envelope.id), "event_type": envelope.type, "card": rendered.card},
            now=now,
        )


async def on_submitted(
    session: AsyncSession,
    payload: pe.RequestSubmitted | pe.RequestResubmitted,
    envelope: Envelope,
    *,
    config: NoticeConfig,
    now: datetime,
) -> None:
    tda = Person(config.tda_email.lower(), config.tda_name)
    if isinstance(payload, pe.RequestSubmitted):
        subject = f"New technology request for TDA review: {payload.reference} {payload.title}"
        paragraphs = [
            f"{payload.requester.name} ({payload.service_area}) submitted {payload.reference} "
            f"'{payload.title}' on {long_date(london_today(payload.submitted_at))}.",
            f"The problem: {payload.problem_summary}",
            "Start the review in Estate: the checklist, re-use candidates and owners are on the request.",
        ]
    else:
        subject = f"Answers received: {payload.reference} is back for TDA review"
        paragraphs = [
            f"{payload.requester.name} answered the TDA's questions on {payload.reference} and resubmitted it.",
            f"Their answers: {payload.answers}",
        ]
    await _notify(
        session, envelope, tda, "tda", "request_submitted", subject, paragraphs, now, teams=config.teams
    )


async def on_information_requested(
    session: AsyncSession,
    payload: pe.RequestInformationRequested,
    envelope: Envelope,
    *,
    config: NoticeConfig,
    now: datetime,
) -> None:
    questions = [f"{number}. {question}" for number, question in enumerate(payload.questions, start=1)]
    due = f" by {long_date(payload.due_date)}" if payload.due_date else ""
    await _notify(
        session,
        envelope,
        Person(payload.requester.email.lower(), payload.requester.name),
        "requester",
        "information_requested",
        f"The TDA needs more information on {payload.reference}",
        [
            f"{payload.asked_by.name} of the TDA asked for more information on {payload.reference}. "
            f"Answer{due} and resubmit the request in Estate; the review waits until then.",
            *questions,
        ],
        now,
    )


async def on_decided(
    session: AsyncSession,
    payload: pe.RequestDecided,
    envelope: Envelope,
    *,
    config: NoticeConfig,
    now: datetime,
) -> None:
    outcome = OUTCOME_WORDS.get(payload.outcome, payload.outcome)
    paragraphs = [
        DECISION_SENTENCES.get(payload.outcome, "The TDA decided {reference} on {day}.").format(
            reference=payload.reference, day=long_date(london_today(payload.decided_at))
        ),
        f"Why: {payload.rationale}",
    ]
    if payload.conditions:
        paragraphs.append("Conditions:")
        paragraphs += [
            f"- {c.text} (owner: {c.owner.name}; due {long_date(c.due_date)})" for c in payload.conditions
        ]
    await _notify(
        session,
        envelope,
        Person(payload.requester.email.lower(), payload.requester.name),
        "requester",
        "request_decided",
        f"TDA decision on {payload.reference}: {outcome}",
        paragraphs,
        now,
    )
    # A later decision (after a reopen) replaces the conditions of an earlier one.
    await session.execute(
        update(ConditionRecord)
        .where(ConditionRecord.request_id == payload.request_id)
        .values(superseded=True)
    )
    for condition in payload.conditions:
        record = await session.get(ConditionRecord, condition.condition_id)
        if record is None:
            record = ConditionRecord(condition_id=condition.condition_id, met_at=None)
            session.add(record)
        record.request_id = payload.request_id
        record.request_reference = payload.reference
        record.text = condition.text
        record.owner_email = condition.owner.email.lower()
        record.owner_name = condition.owner.name
        record.due_date = condition.due_date
        record.superseded = False
    await session.flush()


async def on_condition_met(
    session: AsyncSession, payload: pe.RequestConditionMet, envelope: Envelope
) -> None:
    await session.execute(
        update(ConditionRecord)
        .where(ConditionRecord.condition_id == payload.condition_id)
        .values(met_at=payload.met_at)
    )
    # A due or overdue notice still waiting to be sent (the mail server was down) would now be wrong.
    await session.execute(
        update(DeliveryRecord)
        .where(
            DeliveryRecord.dedupe_key.startswith(f"condition:{payload.condition_id}:", autoescape=True),
            DeliveryRecord.status.in_(("pending", "held")),
        )
        .values(status="cancelled", last_error="not sent: the condition was met")
    )


async def on_reopened(session: AsyncSession, payload: pe.RequestReopened, envelope: Envelope) -> None:
    await session.execute(
        update(ConditionRecord)
        .where(ConditionRecord.request_id == payload.request_id)
        .values(superseded=True)
    )
