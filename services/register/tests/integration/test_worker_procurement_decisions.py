"""The worker turns procurement decisions on the real broker into planned systems in PostgreSQL: once per
decision however often it is delivered, a non-approval on re-decision retires the plan and a later
approval plans again, and an event it cannot read goes to its dead-letter topic without holding up the
decisions behind it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from register_integration_support import eventually, on_postgresql, rows

from estate_contracts.common import Person
from estate_contracts.envelope import Envelope, new_envelope
from estate_contracts.procurement_events import SOURCE, ProposedSystem, RequestDecided
from estate_contracts.topics import PROCUREMENT_REQUESTS, dead_letter_topic
from estate_eventing.settings import BrokerSettings
from estate_eventing.testing import collect
from estate_register.adapters.messaging.subscribers import GROUP_ID
from estate_register.bootstrap import Container

pytestmark = on_postgresql

DLQ = dead_letter_topic(GROUP_ID)
CHAIR = Person(id="oid-chair", name="Alex Morgan", email="alex.morgan@cambridge.gov.uk")


def approval(name: str, supplier: str) -> RequestDecided:
    return RequestDecided(
        request_id=uuid.uuid4(),
        reference=f"TR-2025-{uuid.uuid4().hex[:6]}",
        requester=Person(id="oid-req", name="Sam Whitfield", email="sam.whitfield@cambridge.gov.uk"),
        outcome="approved",
        rationale="Meets the need at a fair price",
        decided_by=CHAIR,
        decided_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        proposed_system=ProposedSystem(
            name=name,
            description="Cases and duties for housing advice",
            service_areas=["Housing Advice"],
            supplier_name=supplier,
            hosting="saas",
            holds_personal_data=True,
            councils_in_scope=["CCC"],
            estimated_annual_value=Decimal("24000.00"),
            estimated_initial_cost=Decimal("5000.00"),
            expected_start_date=date(2025, 4, 1),
            term_months=24,
        ),
    )


def envelope_of(decision: RequestDecided, correlation: str) -> Envelope:
    return new_envelope(
        event=decision,
        source=SOURCE,
        subject=str(decision.request_id),
        correlationid=correlation,
        time=decision.decided_at,
    )


async def publish(settings: BrokerSettings, *envelopes: Envelope) -> list[tuple[int, int]]:
    """Send each envelope keyed by its request id, as the procurement service does; (partition, offset)."""
    producer = AIOKafkaProducer(**settings.producer_options())
    await producer.start()
    try:
        sent = []
        for envelope in envelopes:
            metadata = await producer.send_and_wait(
                PROCUREMENT_REQUESTS,
                envelope.to_bytes(),
                key=envelope.subject.encode(),
                headers=envelope.kafka_headers(),
            )
            sent.append((metadata.partition, metadata.offset))
        return sent
    finally:
        await producer.stop()


async def committed_past(settings: BrokerSettings, partition: int, offset: int) -> bool:
    """Whether the worker's group has committed beyond ``offset``: it has finished with that record."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        tp = TopicPartition(PROCUREMENT_REQUESTS, partition)
        offsets = await admin.list_consumer_group_offsets(GROUP_ID, partitions=[tp])
    finally:
        await admin.close()
    committed = offsets.get(tp)
    return committed is not None and committed.offset > offset


async def planned(container: Container, request_id: uuid.UUID) -> tuple[list, list]:
    systems = await rows(
        container,
        "SELECT name, lifecycle_stage FROM systems WHERE source_request_id = :id ORDER BY reference",
        id=str(request_id),
    )
    contracts = await rows(
        container,
        "SELECT status, start_date, current_term_end, annual_value, total_value FROM contracts "
        "WHERE source_request_id = :id ORDER BY reference",
        id=str(request_id),
    )
    return systems, contracts


async def test_an_approval_delivered_three_times_plans_one_system_and_one_pending_contract(
    worker: BrokerSettings, container: Container
):
    decision = approval("Homelessness case manager", "Jadu")
    first = envelope_of(decision, "corr-tda-1")
    # The same event twice (a redelivery) and the same decision again under a new event id (a replay).
    replayed = envelope_of(decision, "corr-tda-1")

    sent = await publish(worker, first, first, replayed)
    partition, last = sent[-1]

    await eventually(lambda: committed_past(worker, partition, last), what="the worker to finish all three")
    systems, contracts = await planned(container, decision.request_id)
    assert systems == [("Homelessness case manager", "planned")]
    assert contracts == [
        ("pending", date(2025, 4, 1), date(2027, 3, 31), Decimal("24000.00"), Decimal("53000.00"))
    ]
    suppliers = await rows(container, "SELECT count(*) FROM suppliers WHERE name = 'Jadu'")
    assert suppliers == [(1,)]
    claims = await rows(container, "SELECT event_id FROM inbox")
    assert sorted(str(c) for (c,) in claims) == sorted([str(first.id), str(replayed.id)])
    correlations = await rows(
        container, "SELECT DISTINCT correlation_id FROM audit_log WHERE actor = :actor", actor=CHAIR.email
    )
    assert correlations == [("corr-tda-1",)]


async def test_approved_then_not_approved_then_approved_again_retires_the_first_plan_and_plans_anew(
    worker: BrokerSettings, container: Container
):
    approved = approval("Licensing portal", "Idox")
    rejected = approved.model_copy(
        update={
            "outcome": "not_approved",
            "proposed_system": None,
            "decided_at": approved.decided_at + timedelta(hours=2),
        }
    )
    approved_again = approved.model_copy(update={"decided_at": approved.decided_at + timedelta(days=3)})

    sent = await publish(
        worker,
        envelope_of(approved, "corr-round-1"),
        envelope_of(rejected, "corr-round-2"),
        envelope_of(rejected, "corr-round-2-replayed"),  # the same decision again: retires nothing more
        envelope_of(approved_again, "corr-round-3"),
    )

    await eventually(lambda: committed_past(worker, *sent[-1]), what="the worker to finish all four")
    systems, contracts = await planned(container, approved.request_id)
    assert systems == [
        ("Licensing portal", "retired"),
        (f"Licensing portal ({approved.reference})", "planned"),
    ]
    assert [status for (status, *_) in contracts] == ["cancelled", "pending"]
    audited = await rows(
        container,
        "SELECT correlation_id, record_kind, action FROM audit_log "
        "WHERE correlation_id LIKE 'corr-round-2%' ORDER BY record_kind",
    )
    assert audited == [
        ("corr-round-2", "contract", "lifecycle_changed"),
        ("corr-round-2", "system", "retired"),
    ]


async def test_an_event_of_an_unknown_version_is_dead_lettered_and_the_next_decision_is_still_planned(
    worker: BrokerSettings, container: Container
):
    decision = approval("Tenancy sign-up", "Idox")
    unreadable = envelope_of(approval("From the future", "Idox"), "corr-future").model_copy(
        update={"dataversion": 99, "subject": str(decision.request_id)}
    )
    good = envelope_of(decision, "corr-good")

    # One key, so one partition: the unreadable event is read first and must not block the good one.
    (bad_at, good_at) = await publish(worker, unreadable, good)

    await eventually(lambda: committed_past(worker, *good_at), what="the worker to finish both events")
    systems, contracts = await planned(container, decision.request_id)
    assert systems == [("Tenancy sign-up", "planned")]
    assert len(contracts) == 1
    assert await rows(container, "SELECT id FROM systems WHERE name = 'From the future'") == []
    letters = [
        r
        for r in await collect(worker.bootstrap_servers, DLQ, timeout_s=15)
        if r.value == unreadable.to_bytes()
    ]
    assert len(letters) == 1
    headers = dict(letters[0].headers)
    assert headers["dlq_reason"] == b"unknown_event_type"
    assert headers["dlq_original_topic"] == PROCUREMENT_REQUESTS.encode()
    assert headers["dlq_original_offset"] == str(bad_at[1]).encode()
    assert headers["ce_dataversion"] == b"99"
    assert letters[0].key == str(decision.request_id).encode()
