"""The worker records renewal decisions the notifications service publishes on the real broker in
PostgreSQL: once per decision however often it is delivered, the ladder's other facts kept only for the
estate view, and a decision the contract refuses dead-lettered without holding up the events behind it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from register_integration_support import eventually, on_postgresql, rows

from estate_contracts.common import Person
from estate_contracts.envelope import Envelope, new_envelope
from estate_contracts.notification_events import SOURCE, NoticeWindowOpened, RenewalDecisionSubmitted
from estate_contracts.topics import NOTIFICATIONS_RENEWALS, dead_letter_topic
from estate_eventing.settings import BrokerSettings
from estate_eventing.testing import collect
from estate_register.adapters.messaging.subscribers import GROUP_ID
from estate_register.bootstrap import Container
from estate_register.domain.model import Contract

pytestmark = on_postgresql

DLQ = dead_letter_topic(GROUP_ID)
OWNER = Person(id="oid-nadia", name="Nadia Begum", email="nadia.begum@cambridge.gov.uk")
DECIDED_AT = datetime(2025, 3, 2, 15, 10, tzinfo=UTC)


async def contract(container: Container, reference: str) -> Contract:
    async with container.uow() as uow:
        found = await uow.contracts.get_by_reference(reference)
    assert found is not None, reference
    return found


def extension(found: Contract) -> RenewalDecisionSubmitted:
    return RenewalDecisionSubmitted(
        decision_id=uuid.uuid4(),
        contract_id=found.id,
        contract_reference=found.reference,
        term_end=found.current_term_end,
        outcome="extend",
        rationale="The platform meets the need; a further year keeps the price",
        new_term_end=found.current_term_end + timedelta(days=365),
        decided_by=OWNER,
        decided_at=DECIDED_AT,
    )


def envelope_of(payload: Any, correlation: str) -> Envelope:
    return new_envelope(
        event=payload,
        source=SOURCE,
        subject=str(payload.contract_id),
        correlationid=correlation,
        time=DECIDED_AT,
    )


async def publish(settings: BrokerSettings, *envelopes: Envelope) -> list[tuple[int, int]]:
    """Send each envelope keyed by its contract id, as the notifications service does; (partition, offset)."""
    producer = AIOKafkaProducer(**settings.producer_options())
    await producer.start()
    try:
        sent = []
        for envelope in envelopes:
            metadata = await producer.send_and_wait(
                NOTIFICATIONS_RENEWALS,
                envelope.to_bytes(),
                key=envelope.subject.encode(),
                headers=envelope.kafka_headers(),
            )
            sent.append((metadata.partition, metadata.offset))
        return sent
    finally:
        await producer.stop()


async def committed_past(settings: BrokerSettings, positions: list[tuple[int, int]]) -> bool:
    """Whether the worker's group has committed beyond every (partition, offset) given."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        wanted = [TopicPartition(NOTIFICATIONS_RENEWALS, p) for p, _ in positions]
        offsets = await admin.list_consumer_group_offsets(GROUP_ID, partitions=wanted)
    finally:
        await admin.close()
    for partition, offset in positions:
        committed = offsets.get(TopicPartition(NOTIFICATIONS_RENEWALS, partition))
        if committed is None or committed.offset <= offset:
            return False
    return True


async def test_a_decision_delivered_three_times_is_recorded_once_and_a_refused_one_is_dead_lettered(
    worker: BrokerSettings, container: Container
):
    storm = await contract(container, "CCC-ICT-0004")  # two extension options left
    orchard = await contract(container, "CCC-ICT-0003")  # none
    assert storm.act_by is not None
    window = NoticeWindowOpened(
        contract_id=storm.id,
        contract_reference=storm.reference,
        act_by=storm.act_by,
        current_term_end=storm.current_term_end,
        notice_period_days=storm.notice_period_days,
        internal_lead_time_days=storm.internal_lead_time_days,
        as_of=storm.act_by - timedelta(days=60),
    )
    decision = extension(storm)
    first = envelope_of(decision, "corr-alert-1")
    replayed = envelope_of(decision, "corr-alert-1")  # the same decision under a new event id
    refused = envelope_of(extension(orchard), "corr-refused")
    window_event = envelope_of(window, "corr-window")

    sent = await publish(worker, window_event, first, refused, first, replayed)

    last = dict(sent)  # the last offset sent to each partition
    await eventually(
        lambda: committed_past(worker, list(last.items())), what="the worker to finish all five events"
    )
    decided = await rows(
        container,
        "SELECT current_term_end, extension_options_left, renewal_decisions FROM contracts WHERE id = :id",
        id=storm.id,
    )
    ((term_end, options_left, decisions),) = decided
    assert (term_end, options_left) == (decision.new_term_end, 1)
    assert [(d["id"], d["decided_by"]) for d in decisions] == [(str(decision.decision_id), OWNER.email)]
    audited = await rows(
        container,
        "SELECT actor, correlation_id FROM audit_log "
        "WHERE record_id = :id AND action = 'renewal_decision_recorded'",
        id=str(storm.id),
    )
    assert audited == [(OWNER.email, "corr-alert-1")]
    published = await rows(
        container,
        "SELECT topic, key FROM outbox WHERE event_type = 'estate.register.contract.renewal_decision_recorded'",
    )
    assert published == [("estate.register.contracts", str(storm.id))]
    assert await rows(container, "SELECT renewal_decisions FROM contracts WHERE id = :id", id=orchard.id) == [
        ([],)
    ]
    claims = await rows(container, "SELECT event_id FROM inbox")
    handled = [window_event.id, first.id, replayed.id]
    assert sorted(str(c) for (c,) in claims) == sorted(str(e) for e in handled)
    # The notice window and the decision reached the estate view; nothing else changed for them.
    seen = await rows(
        container,
        "SELECT fact, window_opened_on, decided_at FROM estate_contract_alerts WHERE contract_id = :id",
        id=storm.id,
    )
    assert seen == [("notice_window_opened", window.as_of, DECIDED_AT)]

    letters = [
        r for r in await collect(worker.bootstrap_servers, DLQ, timeout_s=15) if r.value == refused.to_bytes()
    ]
    assert len(letters) == 1
    headers = dict(letters[0].headers)
    assert headers["dlq_reason"] == b"poison"
    assert b"no extension options are left" in headers["dlq_error"]
    assert headers["dlq_original_topic"] == NOTIFICATIONS_RENEWALS.encode()
    assert letters[0].key == str(orchard.id).encode()
