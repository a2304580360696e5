"""The worker keeps the estate view from the real broker in PostgreSQL: request events and alerts arrive on
their topics (some twice, one late and out of order, one that is not JSON), the view ends as the newest
events say, and the bad message is dead-lettered without holding up the events behind it."""

from __future__ import annotations

import uuid
from datetime import timedelta

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from register_estate_support import CHAIR, RAVI, envelope_of, submission
from register_estate_support import EVENTS_AT as T0
from register_integration_support import eventually, on_postgresql, rows

from estate_contracts.notification_events import SOURCE as NOTIFICATIONS
from estate_contracts.notification_events import AlertEscalated
from estate_contracts.procurement_events import SOURCE as PROCUREMENT
from estate_contracts.procurement_events import RequestReviewStarted, RequestWithdrawn
from estate_contracts.topics import NOTIFICATIONS_ALERTS, PROCUREMENT_REQUESTS, dead_letter_topic
from estate_eventing.settings import BrokerSettings
from estate_eventing.testing import collect
from estate_register.adapters.messaging.subscribers import GROUP_ID
from estate_register.bootstrap import Container

pytestmark = on_postgresql

DLQ = dead_letter_topic(GROUP_ID)


async def send(
    settings: BrokerSettings, messages: list[tuple[str, uuid.UUID, bytes]]
) -> dict[tuple[str, int], int]:
    """Send (topic, key, value) in order; the last offset written to each (topic, partition)."""
    producer = AIOKafkaProducer(**settings.producer_options())
    await producer.start()
    last: dict[tuple[str, int], int] = {}
    try:
        for topic, key, value in messages:
            sent = await producer.send_and_wait(topic, value, key=str(key).encode())
            last[(topic, sent.partition)] = sent.offset
    finally:
        await producer.stop()
    return last


async def committed_past(settings: BrokerSettings, last: dict[tuple[str, int], int]) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        partitions = [TopicPartition(topic, partition) for topic, partition in last]
        offsets = await admin.list_consumer_group_offsets(GROUP_ID, partitions=partitions)
    finally:
        await admin.close()
    for (topic, partition), offset in last.items():
        committed = offsets.get(TopicPartition(topic, partition))
        if committed is None or committed.offset <= offset:
            return False
    return True


async def test_requests_and_alerts_reach_the_estate_view_once_in_time_order_and_bad_json_is_dead_lettered(
    worker: BrokerSettings, container: Container
):
    kept, dropped = uuid.uuid4(), uuid.uuid4()

    def submitted(request_id: uuid.UUID, reference: str) -> bytes:
        event = submission(request_id, reference, title=f"Request {reference}")
        return envelope_of(event, PROCUREMENT, request_id).to_bytes()

    review = RequestReviewStarted(
        request_id=kept,
        reference="TR-2025-0100",
        started_by=CHAIR,
        checklist_version="appendix-k@1",
        started_at=T0 + timedelta(days=1),
    )
    withdrawn = RequestWithdrawn(
        request_id=dropped,
        reference="TR-2025-0101",
        withdrawn_by=RAVI,
        reason="No budget",
        withdrawn_at=T0 + timedelta(days=2),
    )
    async with container.uow() as uow:
        storm = await uow.contracts.get_by_reference("CCC-ICT-0004")
    assert storm is not None and storm.act_by is not None
    escalation = AlertEscalated(
        alert_id=uuid.uuid4(),
        contract_id=storm.id,
        contract_reference=storm.reference,
        from_role="contract_owner",
        to_role="tda",
        reason="not_acknowledged",
        rung_days=30,
        act_by=storm.act_by,
        escalated_at=T0,
    )
    review_event = envelope_of(review, PROCUREMENT, kept)
    messages = [
        (PROCUREMENT_REQUESTS, kept, submitted(kept, "TR-2025-0100")),
        (PROCUREMENT_REQUESTS, kept, review_event.to_bytes()),
        (PROCUREMENT_REQUESTS, kept, review_event.to_bytes()),  # delivered twice
        (PROCUREMENT_REQUESTS, dropped, envelope_of(withdrawn, PROCUREMENT, dropped).to_bytes()),
        (NOTIFICATIONS_ALERTS, storm.id, b"{not json"),
        (NOTIFICATIONS_ALERTS, storm.id, envelope_of(escalation, NOTIFICATIONS, storm.id).to_bytes()),
        # The withdrawn request's submission arrives after the withdrawal (a late replay).
        (PROCUREMENT_REQUESTS, dropped, submitted(dropped, "TR-2025-0101")),
    ]

    last = await send(worker, messages)

    await eventually(lambda: committed_past(worker, last), what="the worker to finish all seven messages")
    requests = await rows(
        container, "SELECT reference, title, state, pending FROM estate_requests ORDER BY reference"
    )
    assert requests == [
        ("TR-2025-0100", "Request TR-2025-0100", "under_review", True),
        ("TR-2025-0101", "Request TR-2025-0101", "withdrawn", False),
    ]
    alerts = await rows(
        container, "SELECT escalated_to, escalated_act_by, escalation_open FROM estate_contract_alerts"
    )
    assert alerts == [("tda", storm.act_by, True)]
    letters = [
        r for r in await collect(worker.bootstrap_servers, DLQ, timeout_s=15) if r.value == b"{not json"
    ]
    assert len(letters) == 1
    assert dict(letters[0].headers)["dlq_reason"] == b"malformed"
    assert dict(letters[0].headers)["dlq_original_topic"] == NOTIFICATIONS_ALERTS.encode()
