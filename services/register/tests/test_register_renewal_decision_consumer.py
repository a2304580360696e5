"""The register's worker records renewal decisions from ``estate.notifications.renewals`` on its database:
the real subscription's consumer (inbox, handler, audit, outbox) on a SQLite database holding the demo
estate, with the dead letters it would send to Kafka recorded instead. The same worker through the real
broker and PostgreSQL is in ``integration/test_worker_renewal_decisions_from_alerts.py``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from estate_contracts.common import Person
from estate_contracts.envelope import Envelope, new_envelope
from estate_contracts.notification_events import (
    SOURCE,
    ActByApproaching,
    NoticeWindowOpened,
    RenewalDecisionSubmitted,
    RenewalOverdue,
)
from estate_contracts.topics import NOTIFICATIONS_RENEWALS, REGISTER_CONTRACTS
from estate_eventing.consumer import IdempotentConsumer, IncomingRecord, Outcome
from estate_eventing.publisher import OutboundMessage
from estate_eventing.settings import BrokerSettings, make_broker
from estate_register.adapters.messaging.subscribers import CONSUMER_NAME, GROUP_ID, subscribe
from estate_register.bootstrap import Container
from estate_register.domain.model import Contract

OWNER = Person(id="oid-nadia", name="Nadia Begum", email="nadia.begum@cambridge.gov.uk")
DECIDED_AT = datetime(2025, 3, 2, 15, 10, tzinfo=UTC)
DLQ = f"estate.dlq.{GROUP_ID}"


class RecordingPublisher:
    """Dead letters as the broker would have acknowledged them."""

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
    """The consumer the worker runs, on a broker that is never started."""
    settings = BrokerSettings(bootstrap_servers="127.0.0.1:9")
    return subscribe(make_broker(settings), container, settings, dead_letters=dead_letters).consumer


async def contract(container: Container, reference: str) -> Contract:
    async with container.uow() as uow:
        found = await uow.contracts.get_by_reference(reference)
    assert found is not None, reference
    return found


def decision_on(
    found: Contract,
    outcome: str,
    *,
    new_term_end: date | None = None,
    decision_id: uuid.UUID | None = None,
    term_end: date | None = None,
) -> RenewalDecisionSubmitted:
    return RenewalDecisionSubmitted(
        decision_id=decision_id or uuid.uuid4(),
        contract_id=found.id,
        contract_reference=found.reference,
        term_end=term_end or found.current_term_end,
        outcome=outcome,  # type: ignore[arg-type]
        rationale="The platform meets the contact centre's needs; a further year keeps the price",
        new_term_end=new_term_end,
        decided_by=OWNER,
        decided_at=DECIDED_AT,
        alert_id=uuid.uuid4(),
    )


def envelope_of(payload: Any, correlation: str) -> Envelope:
    return new_envelope(
        event=payload,
        source=SOURCE,
        subject=str(payload.contract_id),
        correlationid=correlation,
        time=DECIDED_AT,
    )


def record(envelope: Envelope, offset: int) -> IncomingRecord:
    return IncomingRecord(
        topic=NOTIFICATIONS_RENEWALS,
        partition=1,
        offset=offset,
        key=envelope.subject.encode(),
        value=envelope.to_bytes(),
        headers=envelope.kafka_headers(),
    )


async def scalar(container: Container, sql: str, **params: Any) -> Any:
    async with container.sessions() as session:
        return (await session.execute(text(sql), params)).scalar()


async def counts(container: Container) -> tuple[int, int, int]:
    """Rows in the audit log, the outbox and the inbox."""
    return (
        await scalar(container, "SELECT count(*) FROM audit_log"),
        await scalar(container, "SELECT count(*) FROM outbox"),
        await scalar(container, "SELECT count(*) FROM inbox"),
    )


async def outbox(container: Container, event_type: str) -> list[tuple[str, Envelope]]:
    """The topic and envelope of each outbox event of that type."""
    async with container.sessions() as session:
        rows = await session.execute(
            text("SELECT topic, payload FROM outbox WHERE event_type = :type ORDER BY id"),
            {"type": event_type},
        )
        return [(topic, Envelope.model_validate_json(payload)) for topic, payload in rows.all()]


async def test_a_decision_is_recorded_once_however_often_and_under_whatever_event_id_it_arrives(
    consumer: IdempotentConsumer,
    container: Container,
    client: httpx.AsyncClient,
    mint: Any,
):
    storm = await contract(container, "CCC-ICT-0004")  # two extension options left
    decision = decision_on(storm, "extend", new_term_end=storm.current_term_end + timedelta(days=365))
    first = envelope_of(decision, "corr-alert-1")
    replayed = envelope_of(decision, "corr-alert-replayed")  # the same decision, another event id

    assert await consumer.process(record(first, 10)) is Outcome.HANDLED
    assert await consumer.process(record(first, 11)) is Outcome.DUPLICATE
    assert await consumer.process(record(replayed, 12)) is Outcome.HANDLED

    now = await contract(container, "CCC-ICT-0004")
    (recorded,) = now.renewal_decisions
    assert (recorded.id, recorded.decided_by, recorded.decided_at) == (
        decision.decision_id,
        OWNER.email,
        DECIDED_AT,
    )
    assert (now.current_term_end, now.extension_options_left) == (decision.new_term_end, 1)
    assert now.version == storm.version + 1

    ((topic, published),) = await outbox(container, "estate.register.contract.renewal_decision_recorded")
    assert topic == REGISTER_CONTRACTS
    assert (published.subject, published.correlationid, published.causationid) == (
        str(storm.id),
        "corr-alert-1",
        str(first.id),
    )
    assert published.data["decision"]["id"] == str(decision.decision_id)
    assert published.data["decision"]["decided_by"] == OWNER.email
    assert published.data["contract"]["current_term_end"] == decision.new_term_end.isoformat()

    trail = await client.get(f"/api/v1/contracts/{storm.id}/audit", headers=mint("auditor"))
    assert trail.status_code == 200, trail.text
    decided = [e for e in trail.json() if e["action"] == "renewal_decision_recorded"]
    assert len(decided) == 1
    assert (decided[0]["actor"], decided[0]["correlation_id"]) == (OWNER.email, "corr-alert-1")
    assert decided[0]["after"]["renewal_decisions"][-1]["id"] == str(decision.decision_id)
    assert decided[0]["before"]["renewal_decisions"] == []

    claims = await scalar(container, "SELECT count(*) FROM inbox WHERE consumer = :c", c=CONSUMER_NAME)
    assert claims == 2


async def test_the_other_renewal_facts_on_the_topic_change_only_the_estate_view(
    consumer: IdempotentConsumer, container: Container, dead_letters: RecordingPublisher
):
    storm = await contract(container, "CCC-ICT-0004")
    assert storm.act_by is not None
    facts: dict[str, Any] = {
        "contract_id": storm.id,
        "contract_reference": storm.reference,
        "act_by": storm.act_by,
        "current_term_end": storm.current_term_end,
        "notice_period_days": storm.notice_period_days,
        "internal_lead_time_days": storm.internal_lead_time_days,
    }
    before = storm.act_by - timedelta(days=30)
    after = storm.act_by + timedelta(days=2)
    events = [
        NoticeWindowOpened(**facts, as_of=before),
        ActByApproaching(**facts, as_of=before, days_left=30),
        RenewalOverdue(**facts, as_of=after, days_overdue=2),
    ]
    audit, published, claimed = await counts(container)

    outcomes = [
        await consumer.process(record(envelope_of(event, "corr-ladder"), offset))
        for offset, event in enumerate(events)
    ]

    assert outcomes == [Outcome.HANDLED] * 3
    # Claimed (each once), but the contract, its audit trail and the outbox are untouched.
    assert await counts(container) == (audit, published, claimed + 3)
    assert (await contract(container, "CCC-ICT-0004")).version == storm.version
    assert dead_letters.sent == []
    seen = await scalar(
        container,
        "SELECT fact || ' ' || days_overdue FROM estate_contract_alerts WHERE contract_id = :id",
        id=storm.id.hex,  # SQLite keeps UUIDs as 32 hex digits
    )
    assert seen == "overdue 2"


async def test_an_extension_with_no_options_left_is_dead_lettered_with_the_contracts_reason(
    consumer: IdempotentConsumer, container: Container, dead_letters: RecordingPublisher
):
    orchard = await contract(container, "CCC-ICT-0003")  # no extension options
    bad = envelope_of(
        decision_on(orchard, "extend", new_term_end=orchard.current_term_end + timedelta(days=365)),
        "corr-no-options",
    )
    written = await counts(container)

    assert await consumer.process(record(bad, 40)) is Outcome.DEAD_LETTERED

    (letter,) = dead_letters.sent
    assert (letter.topic, letter.key, letter.value) == (DLQ, str(orchard.id).encode(), bad.to_bytes())
    headers = dict(letter.headers)
    assert headers["dlq_reason"] == b"poison"
    assert b"no extension options are left" in headers["dlq_error"]
    assert headers["dlq_original_topic"] == NOTIFICATIONS_RENEWALS.encode()
    assert await counts(container) == written  # the claim was rolled back with the handler
    after = await contract(container, "CCC-ICT-0003")
    assert (after.renewal_decisions, after.version) == ((), orchard.version)


async def test_a_decision_on_a_contract_the_register_does_not_have_is_dead_lettered(
    consumer: IdempotentConsumer, container: Container, dead_letters: RecordingPublisher
):
    orchard = await contract(container, "CCC-ICT-0003")
    unknown = uuid.uuid4()
    payload = decision_on(orchard, "terminate").model_copy(update={"contract_id": unknown})
    written = await counts(container)

    assert await consumer.process(record(envelope_of(payload, "corr-unknown"), 50)) is Outcome.DEAD_LETTERED

    (letter,) = dead_letters.sent
    assert dict(letter.headers)["dlq_reason"] == b"poison"
    assert f"no contract {unknown} in the register".encode() in dict(letter.headers)["dlq_error"]
    assert await counts(container) == written


async def test_a_decision_for_a_term_that_moved_on_is_claimed_but_records_nothing(
    consumer: IdempotentConsumer,
    container: Container,
    dead_letters: RecordingPublisher,
    caplog: pytest.LogCaptureFixture,
):
    orchard = await contract(container, "CCC-ICT-0003")
    stale = decision_on(orchard, "terminate", term_end=orchard.current_term_end - timedelta(days=365))
    audit, published, claimed = await counts(container)

    with caplog.at_level(logging.WARNING, logger="estate_register.application.renewals"):
        outcome = await consumer.process(record(envelope_of(stale, "corr-stale"), 60))

    assert outcome is Outcome.HANDLED
    assert await counts(container) == (audit, published, claimed + 1)
    assert (await contract(container, "CCC-ICT-0003")).renewal_decisions == ()
    assert dead_letters.sent == []
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "moved on" in warning.getMessage() and orchard.reference in warning.getMessage()
