"""The register's worker keeps the estate view from procurement's request events and the notifications
service's alerts and renewal facts: the real subscription's consumer (inbox, handlers, projections) on the
demo estate, on SQLite and on PostgreSQL, with the dead letters it would send to Kafka recorded. The
same worker through the real broker is in ``integration/test_estate_worker_broker.py``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from register_estate_support import CHAIR, RAVI, TODAY, envelope_of, submission
from register_estate_support import EVENTS_AT as SUBMITTED_AT
from sqlalchemy import text

from estate_contracts.envelope import Envelope
from estate_contracts.notification_events import SOURCE as NOTIFICATIONS
from estate_contracts.notification_events import AlertAcknowledged, AlertEscalated
from estate_contracts.procurement_events import SOURCE as PROCUREMENT
from estate_contracts.procurement_events import ProposedSystem, RequestDecided, RequestReviewStarted
from estate_contracts.topics import NOTIFICATIONS_ALERTS, PROCUREMENT_REQUESTS
from estate_eventing.consumer import IdempotentConsumer, IncomingRecord, Outcome
from estate_eventing.publisher import OutboundMessage
from estate_eventing.settings import BrokerSettings, make_broker
from estate_register.adapters.db import estate_queries
from estate_register.adapters.messaging.subscribers import GROUP_ID, subscribe
from estate_register.bootstrap import Container

on_both_databases = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
DLQ = f"estate.dlq.{GROUP_ID}"


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []

    async def send_batch(self, messages: Sequence[OutboundMessage]) -> list[Exception | None]:
        self.sent.extend(messages)
        return [None] * len(messages)


@pytest.fixture
def dead_letters() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def consumer(container: Container, dead_letters: RecordingPublisher) -> IdempotentConsumer:
    settings = BrokerSettings(bootstrap_servers="127.0.0.1:9")
    return subscribe(make_broker(settings), container, settings, dead_letters=dead_letters).consumer


def record(envelope: Envelope | bytes, topic: str, offset: int, key: uuid.UUID) -> IncomingRecord:
    value = envelope if isinstance(envelope, bytes) else envelope.to_bytes()
    headers = [] if isinstance(envelope, bytes) else envelope.kafka_headers()
    return IncomingRecord(
        topic=topic, partition=0, offset=offset, key=str(key).encode(), value=value, headers=headers
    )


async def counts(container: Container) -> list[int]:
    """Rows in the audit log, the outbox and the inbox."""
    async with container.sessions() as session:
        return [
            (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in ("audit_log", "outbox", "inbox")
        ]


async def list_rows(container: Container, name: str) -> list[dict[str, Any]]:
    """The first 50 rows of an estate list, on the tests' day."""
    async with container.sessions() as session:
        rows, _ = await estate_queries.list_page(session, name, today=TODAY, offset=0, limit=50)
    return rows


async def pending(container: Container) -> list[dict[str, Any]]:
    return await list_rows(container, "requests-pending")


@on_both_databases
async def test_request_events_keep_the_pending_list_once_each_and_in_time_order(
    consumer: IdempotentConsumer, container: Container, dead_letters: RecordingPublisher
):
    request_id = uuid.uuid4()
    started = RequestReviewStarted(
        request_id=request_id,
        reference="TR-2025-0042",
        started_by=CHAIR,
        checklist_version="appendix-k@1",
        started_at=SUBMITTED_AT + timedelta(days=2),
    )
    first = envelope_of(submission(request_id), PROCUREMENT, request_id)
    review = envelope_of(started, PROCUREMENT, request_id)
    audit, published, claimed = await counts(container)

    assert await consumer.process(record(first, PROCUREMENT_REQUESTS, 1, request_id)) is Outcome.HANDLED
    assert await consumer.process(record(review, PROCUREMENT_REQUESTS, 2, request_id)) is Outcome.HANDLED
    assert await consumer.process(record(review, PROCUREMENT_REQUESTS, 3, request_id)) is Outcome.DUPLICATE
    # The submission again, under a new event id (a producer's replay), and after the review: no change.
    replayed = envelope_of(submission(request_id), PROCUREMENT, request_id)
    assert await consumer.process(record(replayed, PROCUREMENT_REQUESTS, 4, request_id)) is Outcome.HANDLED

    (row,) = await pending(container)
    assert (row["request_id"], row["request_key"], row["title"], row["state"], row["requester"]) == (
        request_id,
        "TR-2025-0042",
        "Online forms for council tax",
        "under_review",
        "Ravi Patel",
    )
    assert (row["submitted_on"], row["age_days"]) == (date(2025, 2, 10), 21)
    # Only the inbox moved: the register's own records, audit and outbox are untouched.
    assert await counts(container) == [audit, published, claimed + 3]
    assert dead_letters.sent == []


@on_both_databases
async def test_an_approval_plans_a_system_and_takes_the_request_off_the_pending_list(
    consumer: IdempotentConsumer, container: Container
):
    request_id = uuid.uuid4()
    await consumer.process(
        record(
            envelope_of(submission(request_id), PROCUREMENT, request_id), PROCUREMENT_REQUESTS, 1, request_id
        )
    )
    approval = RequestDecided(
        request_id=request_id,
        reference="TR-2025-0042",
        requester=RAVI,
        outcome="approved",
        rationale="Reuses the council's forms platform",
        decided_by=CHAIR,
        decided_at=SUBMITTED_AT + timedelta(days=7),
        proposed_system=ProposedSystem(
            name="Council tax online forms",
            description="Forms for council tax changes",
            service_areas=["Local Taxation"],
            supplier_name="IEG4",
            hosting="saas",
            holds_personal_data=True,
            councils_in_scope=["CCC"],
            estimated_annual_value=Decimal("16000.00"),
            estimated_initial_cost=Decimal("2000.00"),
        ),
    )

    decided = envelope_of(approval, PROCUREMENT, request_id)
    assert await consumer.process(record(decided, PROCUREMENT_REQUESTS, 2, request_id)) is Outcome.HANDLED

    assert await pending(container) == []
    async with container.uow() as uow:
        planned = await uow.systems.from_request(str(request_id))
    assert planned is not None and planned.lifecycle_stage == "planned"
    async with container.sessions() as session:
        state = (
            await session.execute(
                text("SELECT state, outcome FROM estate_requests WHERE reference = 'TR-2025-0042'")
            )
        ).one()
    assert tuple(state) == ("decided", "approved")


async def storm_escalated(container: Container, *, from_role: str) -> AlertEscalated:
    """An escalation to the TDA of the alert about the demo estate's Storm contract (CCC-ICT-0004)."""
    async with container.uow() as uow:
        found = await uow.contracts.get_by_reference("CCC-ICT-0004")
    assert found is not None and found.act_by is not None
    return AlertEscalated(
        alert_id=uuid.uuid4(),
        contract_id=found.id,
        contract_reference="CCC-ICT-0004",
        from_role=from_role,
        to_role="tda",
        reason="not_acknowledged",
        rung_days=30,
        act_by=found.act_by,
        escalated_at=datetime(2025, 3, 1, 9, tzinfo=UTC),
    )


async def escalated(container: Container) -> list[str]:
    return [r["reference"] for r in await list_rows(container, "alerts-escalated")]


@on_both_databases
async def test_an_escalated_alert_is_listed_until_someone_acknowledges_it(
    consumer: IdempotentConsumer, container: Container
):
    escalation = await storm_escalated(container, from_role="budget_holder")
    contract_id = escalation.contract_id
    acknowledgement = AlertAcknowledged(
        alert_id=escalation.alert_id,
        contract_id=contract_id,
        contract_reference="CCC-ICT-0004",
        acknowledged_by=RAVI,
        acknowledged_at=datetime(2025, 3, 2, 9, tzinfo=UTC),
    )

    up = envelope_of(escalation, NOTIFICATIONS, contract_id)
    assert await consumer.process(record(up, NOTIFICATIONS_ALERTS, 1, contract_id)) is Outcome.HANDLED
    assert await escalated(container) == ["CCC-ICT-0004"]

    seen = envelope_of(acknowledgement, NOTIFICATIONS, contract_id)
    assert await consumer.process(record(seen, NOTIFICATIONS_ALERTS, 2, contract_id)) is Outcome.HANDLED
    # The escalation delivered again later (a replay under a new id) does not bring it back.
    again = envelope_of(escalation, NOTIFICATIONS, contract_id)
    assert await consumer.process(record(again, NOTIFICATIONS_ALERTS, 3, contract_id)) is Outcome.HANDLED
    assert await escalated(container) == []


@on_both_databases
async def test_bad_json_an_unknown_version_and_an_invalid_alert_are_dead_lettered_with_their_reason(
    consumer: IdempotentConsumer, container: Container, dead_letters: RecordingPublisher
):
    escalation = await storm_escalated(container, from_role="contract_owner")
    contract_id = escalation.contract_id
    good = envelope_of(escalation, NOTIFICATIONS, contract_id)
    version_2 = good.model_copy(update={"id": uuid.uuid4(), "dataversion": 2})
    invalid = good.model_copy(update={"id": uuid.uuid4(), "data": {**good.data, "to_role": "mayor"}})
    written = await counts(container)

    outcomes = [
        await consumer.process(record(b"{not json", NOTIFICATIONS_ALERTS, 10, contract_id)),
        await consumer.process(record(version_2, NOTIFICATIONS_ALERTS, 11, contract_id)),
        await consumer.process(record(invalid, NOTIFICATIONS_ALERTS, 12, contract_id)),
    ]

    assert outcomes == [Outcome.DEAD_LETTERED] * 3
    reasons = [dict(letter.headers)["dlq_reason"] for letter in dead_letters.sent]
    assert reasons == [b"malformed", b"unknown_event_type", b"invalid_payload"]
    assert all(letter.topic == DLQ for letter in dead_letters.sent)
    assert dict(dead_letters.sent[0].headers)["dlq_original_topic"] == NOTIFICATIONS_ALERTS.encode()
    assert await counts(container) == written  # nothing claimed, nothing projected
    assert await escalated(container) == []
