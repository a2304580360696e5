"""Procurement notices, from the procurement service's events through the worker's real consumer (inbox
claim, handlers, database) to a real SMTP sink: the TDA hears of each new request, the requester of
questions and of the decision, a condition's owner on the day it is due and after, unless it was met. An
event delivered twice notifies once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from notifications_support import TDA, Service, notifications_service

from estate_contracts import procurement_events as pe
from estate_contracts.common import Person
from estate_contracts.envelope import EventPayload, new_envelope
from estate_contracts.topics import PROCUREMENT_REQUESTS
from estate_eventing.consumer import IdempotentConsumer, IncomingRecord, Outcome
from estate_eventing.publisher import OutboundMessage
from estate_notifications.adapters.messaging.subscribers import CONSUMER_NAME, GROUP_ID, handlers

REQUEST_ID = uuid.UUID(int=7001)
REFERENCE = "TR-2026-0042"
TITLE = "Online waste permits"
REQUESTER = Person(id="oid-requester", name="Sam Patel", email="Sam.Patel@cambridge.gov.uk")
TDA_MEMBER = Person(id="oid-tda-member", name="Jo Wright", email="jo.wright@cambridge.gov.uk")
CHAIR = Person(id="oid-tda-chair", name="Alex Moore", email="alex.moore@cambridge.gov.uk")
SECURITY = Person(id="oid-security", name="Kim Ng", email="kim.ng@cambridge.gov.uk")
DPO = Person(id="oid-dpo", name="Lee Cho", email="lee.cho@cambridge.gov.uk")
# Conditions: one due Fri 9 Oct 2026 and never met, one due Thu 8 Oct and met that morning.
DPIA_DUE = date(2026, 10, 9)
PEN_TEST_DUE = date(2026, 10, 8)
DPIA = uuid.UUID(int=8001)
PEN_TEST = uuid.UUID(int=8002)


class NoDeadLetters:
    """Every event here is valid: a dead letter would be a failure of the test."""

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[Exception | None]:
        raise AssertionError(f"dead-lettered: {[m.headers for m in messages]}")


class Worker:
    """The notifications worker's consumer of the procurement requests topic, fed records by hand."""

    def __init__(self, service: Service) -> None:
        self.consumer = IdempotentConsumer(
            consumer_name=CONSUMER_NAME,
            group_id=GROUP_ID,
            sessionmaker=service.container.sessions,
            handlers=handlers(service.container),
            dead_letters=NoDeadLetters(),
            clock=service.clock,
        )
        self.offset = 0

    async def deliver(
        self, event: EventPayload, *, event_id: uuid.UUID | None = None
    ) -> tuple[Outcome, uuid.UUID]:
        envelope = new_envelope(
            event=event,
            source=pe.SOURCE,
            subject=event.kafka_key(),
            correlationid=f"corr-{uuid.uuid4()}",
            time=datetime(2026, 10, 1, 9, tzinfo=UTC),
            event_id=event_id,
        )
        self.offset += 1
        outcome = await self.consumer.process(
            IncomingRecord(
                topic=PROCUREMENT_REQUESTS,
                partition=0,
                offset=self.offset,
                key=event.kafka_key().encode(),
                value=envelope.to_bytes(),
                headers=envelope.kafka_headers(),
            )
        )
        return outcome, envelope.id


def submitted(at: datetime) -> pe.RequestSubmitted:
    return pe.RequestSubmitted(
        request_id=REQUEST_ID,
        reference=REFERENCE,
        title=TITLE,
        requester=REQUESTER,
        service_area="waste-and-recycling",
        category="it",
        problem_summary="Residents phone us to get a skip permit; we retype every application.",
        proposed_product="Permit portal",
        estimated_annual_cost=Decimal("12000.00"),
        councils_in_scope=["CCC"],
        submitted_at=at,
    )


def decided(at: datetime) -> pe.RequestDecided:
    return pe.RequestDecided(
        request_id=REQUEST_ID,
        reference=REFERENCE,
        requester=REQUESTER,
        outcome="approved_with_conditions",
        rationale="No existing system issues permits; the supplier meets the hosting rules.",
        decided_by=CHAIR,
        decided_at=at,
        conditions=[
            pe.DecisionCondition(
                condition_id=DPIA, text="Complete the DPIA before go-live", owner=DPO, due_date=DPIA_DUE
            ),
            pe.DecisionCondition(
                condition_id=PEN_TEST,
                text="Share the supplier's latest penetration test",
                owner=SECURITY,
                due_date=PEN_TEST_DUE,
            ),
        ],
        proposed_system=pe.ProposedSystem(
            name="Permit portal",
            description="Online applications and payments for skip and scaffold permits.",
            service_areas=["waste-and-recycling"],
            supplier_name="Permits Ltd",
            hosting="saas",
            holds_personal_data=True,
            councils_in_scope=["CCC"],
            estimated_annual_value=Decimal("12000.00"),
            estimated_initial_cost=Decimal("3000.00"),
        ),
    )


async def test_the_tda_mailbox_hears_of_a_new_request_once_however_often_the_event_is_delivered(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 9, 1)) as service:
        worker = Worker(service)
        # 23:30 UTC on 1 September is half past midnight on 2 September in Cambridge.
        event = submitted(datetime(2026, 9, 1, 23, 30, tzinfo=UTC))
        outcome, event_id = await worker.deliver(event)
        assert outcome is Outcome.HANDLED
        again, _ = await worker.deliver(event, event_id=event_id)  # redelivered after a rebalance
        assert again is Outcome.DUPLICATE
        await service.sweep_and_send()
        await service.sweep_and_send()

        (mail,) = service.inbox()
        assert mail.to == [TDA]
        # A mail client unfolds the long subject (the sink's reader keeps the fold's leading space).
        assert mail.subject.strip() == f"New technology request for TDA review: {REFERENCE} {TITLE}"
        assert (
            f"Sam Patel (waste-and-recycling) submitted {REFERENCE} '{TITLE}' on 2 September 2026."
            in mail.text
        )
        assert "The problem: Residents phone us to get a skip permit" in mail.text
        (row,) = await service.deliveries()
        assert (row.role, row.kind, row.status) == ("tda", "request_submitted", "sent")
        assert row.dedupe_key == f"event:{event_id}:tda:{TDA}:email"


async def test_the_requester_gets_the_tdas_questions_and_then_the_decision_with_its_conditions(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 9, 10)) as service:
        worker = Worker(service)
        asked = pe.RequestInformationRequested(
            request_id=REQUEST_ID,
            reference=REFERENCE,
            requester=REQUESTER,
            asked_by=TDA_MEMBER,
            questions=["Which systems hold permit data today?", "Who will own the supplier contract?"],
            due_date=date(2026, 9, 18),
            requested_at=datetime(2026, 9, 10, 9, tzinfo=UTC),
        )
        assert (await worker.deliver(asked))[0] is Outcome.HANDLED
        await service.sweep_and_send()
        (questions,) = service.inbox("sam.patel@cambridge.gov.uk")
        assert questions.subject == f"The TDA needs more information on {REFERENCE}"
        assert "Dear Sam Patel" in questions.text
        assert "Jo Wright of the TDA asked for more information on TR-2026-0042" in questions.text
        assert "Answer by 18 September 2026 and resubmit the request in Estate" in questions.text
        assert "1. Which systems hold permit data today?" in questions.text
        assert "2. Who will own the supplier contract?" in questions.text

        service.travel(date(2026, 9, 24))
        assert (await worker.deliver(decided(datetime(2026, 9, 24, 14, tzinfo=UTC))))[0] is Outcome.HANDLED
        await service.sweep_and_send()
        decision = next(
            m for m in service.inbox("sam.patel@cambridge.gov.uk") if m.subject != questions.subject
        )
        assert decision.subject == f"TDA decision on {REFERENCE}: approved with conditions"
        assert "The TDA approved TR-2026-0042 on 24 September 2026, on the conditions below." in decision.text
        assert "Why: No existing system issues permits" in decision.text
        assert "- Complete the DPIA before go-live (owner: Lee Cho; due 9 October 2026)" in decision.text
        assert (
            "- Share the supplier's latest penetration test (owner: Kim Ng; due 8 October 2026)"
            in decision.text
        )
        assert len(service.inbox()) == 2


async def test_a_condition_owner_hears_on_the_due_date_and_the_working_day_after_unless_the_condition_is_met(
    database_url: str, tmp_path: Path
) -> None:
    async with notifications_service(database_url, tmp_path, today=date(2026, 9, 24)) as service:
        worker = Worker(service)
        assert (await worker.deliver(decided(datetime(2026, 9, 24, 14, tzinfo=UTC))))[0] is Outcome.HANDLED
        await service.sweep_and_send()
        (decision,) = service.inbox()
        assert decision.to == ["sam.patel@cambridge.gov.uk"]
        # Thu 8 Oct: the penetration test is due; its notice is queued, but before the sender runs the
        # condition is recorded as met, so the notice is not sent after all.
        service.travel(PEN_TEST_DUE, hour=7)
        await service.sweep()
        (queued,) = [d for d in await service.deliveries() if d.recipient_email == SECURITY.email]
        assert (queued.subject, queued.status) == (f"Due today: condition of {REFERENCE}", "pending")
        met = pe.RequestConditionMet(
            request_id=REQUEST_ID,
            reference=REFERENCE,
            condition_id=PEN_TEST,
            met_by=SECURITY,
            met_at=datetime(2026, 10, 8, 7, 30, tzinfo=UTC),
            evidence="Report from September 2026 attached to the request.",
        )
        assert (await worker.deliver(met))[0] is Outcome.HANDLED
        assert (await service.delivery(queued.id)).status == "cancelled"

        by_day: dict[date, list[str]] = {}
        # Thu 8 to Tue 13 Oct: the DPIA is due on Fri 9, and overdue from Mon 12 (not over the weekend).
        for day in [date(2026, 10, d) for d in (8, 9, 10, 11, 12, 13)]:
            service.travel(day)
            before = {m.id for m in service.inbox()}
            await service.sweep_and_send()
            by_day[day] = [f"{m.to[0]}: {m.subject}" for m in service.inbox() if m.id not in before]
        assert by_day == {
            date(2026, 10, 8): [],
            date(2026, 10, 9): [f"{DPO.email}: Due today: condition of {REFERENCE}"],
            date(2026, 10, 10): [],
            date(2026, 10, 11): [],
            date(2026, 10, 12): [f"{DPO.email}: Overdue: condition of {REFERENCE} was due 9 October 2026"],
            date(2026, 10, 13): [],
        }
        overdue = service.inbox(DPO.email)[0]
        assert "on condition that: Complete the DPIA before go-live" in overdue.text
        assert "It is due by 9 October 2026 and is not yet recorded as met." in overdue.text
        assert service.inbox(SECURITY.email) == []  # met on the day, before the notice went: nothing
