"""The register end to end: its real processes, the real PostgreSQL and the real (or embedded) broker.

What a person or a neighbouring service would see:

* a change made over HTTP reaches Kafka once, in a CloudEvents envelope that carries the caller's
  correlation id;
* killing the outbox relay in the middle of a batch loses nothing and reorders nothing; it may send the
  rows of that one batch again, with the same event ids, so an idempotent consumer acts on each event
  exactly once;
* a poison message on the procurement topic is set aside in the worker's dead-letter topic with the
  reason, and the worker goes on to plan the system of the next, valid, decision.
"""

from __future__ import annotations

import logging
import signal
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from e2e_support import RegisterProcesses, dead_letters_of, eventually, header, send_poison_then
from sqlalchemy import Column, MetaData, String, Table, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from estate_contracts import registry
from estate_contracts.envelope import Envelope, new_envelope
from estate_contracts.procurement_events import SOURCE as PROCUREMENT_SOURCE
from estate_contracts.procurement_events import Person, ProposedSystem, RequestDecided
from estate_contracts.topics import (
    PROCUREMENT_REQUESTS,
    REGISTER_CONTRACTS,
    REGISTER_SUPPLIERS,
    REGISTER_SYSTEMS,
)
from estate_eventing.consumer import subscribe_idempotent
from estate_eventing.settings import BrokerSettings, make_broker
from estate_eventing.tables import eventing_metadata, inbox_table, outbox_table
from estate_eventing.testing import collect
from estate_register.adapters.messaging.subscribers import GROUP_ID
from estate_register.api.auth import mint_token
from estate_register.application import services
from estate_register.bootstrap import bootstrap
from estate_register.settings import AuthSettings, RegisterSettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REGISTER_TOPICS = (REGISTER_SYSTEMS, REGISTER_CONTRACTS, REGISTER_SUPPLIERS)
RELAY_BATCH = 50
BACKLOG_SYSTEMS = 3000
CHANGED_SYSTEMS = 500  # each changed twice: three events in order under one key
HOT_CHANGES = 300
MAX_KILLS = 5


def admin_token(register: RegisterProcesses) -> str:
    settings = AuthSettings(dev_key_path=register.env["ESTATE_AUTH_DEV_KEY_PATH"])
    return mint_token(settings, subject="e2e-admin", roles=["admin"], email="e2e-admin@estate.local")


@pytest_asyncio.fixture(loop_scope="session")
async def register_db(register: RegisterProcesses) -> AsyncIterator[AsyncEngine]:
    """The register's database migrated and loaded with the demo estate (which has the councils)."""
    register.run("migrate")
    register.run("demo-data")
    engine = create_async_engine(register.database_url, pool_size=2)
    try:
        yield engine
    finally:
        await engine.dispose()


async def unpublished(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).select_from(outbox_table).where(outbox_table.c.published_at.is_(None))
        )
    return int(count or 0)


async def outbox_drained(engine: AsyncEngine, timeout_s: float) -> None:
    async def drained() -> bool:
        return await unpublished(engine) == 0

    await eventually(drained, timeout_s=timeout_s, what="the relay to publish every outbox row")


async def read_topic(bootstrap: str, topic: str, kafka: BrokerSettings) -> list[ConsumerRecord[bytes, bytes]]:
    """Everything on ``topic`` up to its current end (call it once the outbox is drained)."""
    return await collect(bootstrap, topic, timeout_s=60, embedded=kafka.embedded)


# --- (a) HTTP to Kafka, once, in a CloudEvents envelope --------------------------------------------


async def test_a_change_over_http_reaches_kafka_once_with_its_cloudevents_envelope(
    register: RegisterProcesses,
    register_db: AsyncEngine,
    kafka_bootstrap: str,
    kafka_settings: BrokerSettings,
) -> None:
    for name in ("http", "worker", "relay"):
        register.start(name)
    await register.wait_http_ready()
    token = admin_token(register)
    created_by, changed_by = f"e2e-create-{uuid.uuid4().hex}", f"e2e-change-{uuid.uuid4().hex}"

    async with httpx.AsyncClient(
        base_url=register.http_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        created = await client.post(
            "/api/v1/systems",
            json={"name": f"E2E case manager {uuid.uuid4().hex[:8]}", "lead_council": "CCC"},
            headers={"X-Correlation-ID": created_by},
        )
        assert created.status_code == 201, created.text
        assert created.headers["X-Correlation-ID"] == created_by
        system_id = created.json()["id"]
        changed = await client.patch(
            f"/api/v1/systems/{system_id}",
            json={"description": "Replaces three spreadsheets in Customer Services."},
            headers={"If-Match": created.headers["ETag"], "X-Correlation-ID": changed_by},
        )
        assert changed.status_code == 200, changed.text

    await outbox_drained(register_db, timeout_s=60)
    records = [
        r
        for r in await read_topic(kafka_bootstrap, REGISTER_SYSTEMS, kafka_settings)
        if r.key == system_id.encode()
    ]

    envelopes = [Envelope.model_validate_json(r.value) for r in records]
    assert [e.type for e in envelopes] == [
        "estate.register.system.recorded",
        "estate.register.system.changed",
    ], "each change must reach the topic exactly once, in order"
    assert [e.correlationid for e in envelopes] == [created_by, changed_by]
    for record, envelope in zip(records, envelopes, strict=True):
        assert envelope.source == "/estate/register"
        assert envelope.subject == system_id
        assert envelope.specversion == "1.0"
        assert envelope.datacontenttype == "application/json"
        assert envelope.dataversion == 1
        assert envelope.time.tzinfo is not None
        assert record.key == system_id.encode()
        assert header(record, "ce_id") == str(envelope.id)
        assert header(record, "ce_type") == envelope.type
        assert header(record, "ce_source") == "/estate/register"
        assert header(record, "ce_subject") == system_id
        assert header(record, "ce_specversion") == "1.0"
        assert header(record, "ce_dataversion") == "1"
        assert header(record, "ce_correlationid") == envelope.correlationid
        registry.parse_payload(envelope)  # the payload is valid for its catalogued schema
    assert envelopes[1].data["changed_fields"] == ["description"]


# --- (b) the relay killed mid-batch ----------------------------------------------------------------


effects_metadata = MetaData()
effects = Table(
    "e2e_effects",
    effects_metadata,
    Column("event_id", Uuid(), nullable=False),  # deliberately not unique: a second effect must show
    Column("subject", String(255), nullable=False),
    Column("type", String(255), nullable=False),
)


async def write_backlog(database_url: str) -> str:
    """Thousands of systems recorded (and some changed twice) through the application services, so the
    outbox holds what real use would put there; committed in chunks, as an import would."""
    container = bootstrap(RegisterSettings(database_url=database_url))
    actor = "e2e-backlog@estate.local"
    try:
        ids: list[uuid.UUID] = []
        for start in range(0, BACKLOG_SYSTEMS, 500):
            async with container.uow() as uow:
                for n in range(start, min(start + 500, BACKLOG_SYSTEMS)):
                    fields = {
                        "name": f"Backlog system {n:05d}",
                        "lead_council": "CCC",
                        "reference": f"E2E-{n:05d}",
                    }
                    ids.append((await services.new_system(uow, fields=fields, actor=actor)).id)
                await services.commit(uow)
        # One record changed many times: a batch of its rows is sent one after another (per-key order),
        # so the relay spends long enough between its first acknowledgement and its commit to be
        # killed there.
        async with container.uow() as uow:
            hot = await services.new_system(
                uow,
                fields={"name": "Backlog hot system", "lead_council": "CCC", "reference": "E2E-HOT"},
                actor=actor,
            )
            await services.commit(uow)
        for revision in range(HOT_CHANGES):
            async with container.uow() as uow:
                system = await services.require(uow, "system", hot.id)
                await services.change_system(
                    uow,
                    system=system,
                    changes={"description": f"hot {revision}"},
                    expected_version=None,
                    actor=actor,
                )
                await services.commit(uow)
        for round_ in (1, 2):
            async with container.uow() as uow:
                for system_id in ids[:CHANGED_SYSTEMS]:
                    system = await services.require(uow, "system", system_id)
                    await services.change_system(
                        uow,
                        system=system,
                        changes={"description": f"revision {round_}"},
                        expected_version=None,
                        actor=actor,
                    )
                await services.commit(uow)
        return str(hot.id)
    finally:
        await container.close()


class AuditCopy:
    """A downstream service's idempotent consumer of the register's topics (inbox in its own database)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.handled: Counter[uuid.UUID] = Counter()

    async def handle(self, session: AsyncSession, payload: Any, envelope: Envelope) -> None:
        await session.execute(
            insert(effects).values(event_id=envelope.id, subject=envelope.subject, type=envelope.type)
        )
        self.handled[envelope.id] += 1


@pytest_asyncio.fixture(loop_scope="session")
async def audit_copy(postgres_url_factory: Any, kafka_settings: BrokerSettings) -> AsyncIterator[AuditCopy]:
    engine = create_async_engine(await postgres_url_factory(), pool_size=5)
    async with engine.begin() as connection:
        await connection.run_sync(eventing_metadata.create_all, tables=[inbox_table])
        await connection.run_sync(effects_metadata.create_all)
    consumer = AuditCopy(engine)
    register_types = {
        key: model for key, model in registry.EVENT_TYPES.items() if model.topic in REGISTER_TOPICS
    }
    broker = make_broker(kafka_settings, log_level=logging.DEBUG)  # not a line per message
    subscription = subscribe_idempotent(
        broker,
        topics=REGISTER_TOPICS,
        group_id=f"e2e-audit-copy-{uuid.uuid4().hex[:8]}",
        consumer_name="e2e.audit-copy",
        sessionmaker=async_sessionmaker(engine, expire_on_commit=False),
        handlers=dict.fromkeys(register_types.values(), consumer.handle),
        settings=kafka_settings,
    )
    await broker.start()
    try:
        yield consumer
    finally:
        await broker.stop()
        await subscription.close()
        await engine.dispose()


async def kill_relay_mid_batch(
    register: RegisterProcesses,
    engine: AsyncEngine,
    expected: set[uuid.UUID],
    hot_key: str,
    bootstrap: str,
    kafka: BrokerSettings,
) -> tuple[int, set[uuid.UUID]]:
    """Start the relay and SIGKILL it as soon as Kafka holds an event of ``hot_key`` whose outbox row
    is not yet marked published: the relay is then provably between sending a batch and committing it.
    (A batch of one key's rows is sent wave by wave, one acknowledgement after another, which leaves
    time to act; a batch of distinct keys goes out in one wave and commits a few milliseconds later.)
    Returns the number of kills and the ids so caught (sent, and still unpublished after the kill).

    If the relay commits in the instant between the check and the kill, it is restarted and caught
    again (at most ``MAX_KILLS`` times).
    """
    options: dict[str, Any] = {"fetch_max_wait_ms": 10, **kafka.consumer_options()}
    options.pop("session_timeout_ms", None)
    options.pop("heartbeat_interval_ms", None)
    watcher = AIOKafkaConsumer(
        *REGISTER_TOPICS, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest", **options
    )
    await watcher.start()
    try:
        await eventually(
            lambda: _assigned(watcher), timeout_s=30, what="the watcher's partitions", interval_s=0.05
        )
        for partition in watcher.assignment():
            await watcher.position(partition)  # fix the start at the current end, before the relay runs
        kills = 0
        deadline = time.monotonic() + 180
        while kills < MAX_KILLS:
            register.start("relay", ESTATE_RELAY_BATCH_SIZE=str(RELAY_BATCH))
            while True:
                assert time.monotonic() < deadline, "never saw the relay between a send and its commit"
                assert register.running["relay"].poll() is None, "the relay exited by itself"
                batch = await watcher.getmany(timeout_ms=20)
                sent = {
                    uuid.UUID(i)
                    for r in chain(*batch.values())
                    if r.key == hot_key.encode() and (i := header(r, "ce_id"))
                } & expected
                if sent and await still_unpublished(engine, sent):
                    register.kill("relay", signal.SIGKILL)
                    kills += 1
                    break
            caught = await still_unpublished(engine, sent)
            if caught:
                return kills, caught
        raise AssertionError(f"the relay committed before each of {MAX_KILLS} kills")
    finally:
        await watcher.stop()


async def _assigned(consumer: AIOKafkaConsumer) -> bool:
    return bool(consumer.assignment())


async def still_unpublished(engine: AsyncEngine, event_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(outbox_table.c.event_id).where(
                outbox_table.c.event_id.in_(event_ids), outbox_table.c.published_at.is_(None)
            )
        )
    return {row[0] for row in rows}


async def test_a_relay_killed_mid_batch_loses_nothing_and_a_consumer_acts_once_per_event(
    register: RegisterProcesses,
    register_db: AsyncEngine,
    audit_copy: AuditCopy,
    kafka_bootstrap: str,
    kafka_settings: BrokerSettings,
) -> None:
    hot_key = await write_backlog(register.database_url)
    async with register_db.connect() as connection:
        rows = (
            await connection.execute(
                select(outbox_table.c.event_id, outbox_table.c.topic, outbox_table.c.key).order_by(
                    outbox_table.c.id
                )
            )
        ).all()
    expected = {event_id for event_id, _, _ in rows}
    order_by_key: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
    for event_id, topic, key in rows:
        order_by_key[(topic, key)].append(event_id)
    assert len(expected) >= BACKLOG_SYSTEMS + 2 * CHANGED_SYSTEMS + HOT_CHANGES

    kills, caught = await kill_relay_mid_batch(
        register, register_db, expected, hot_key, kafka_bootstrap, kafka_settings
    )
    register.start("relay", ESTATE_RELAY_BATCH_SIZE=str(RELAY_BATCH))
    await outbox_drained(register_db, timeout_s=180)

    # (i) every event arrives, (ii) in order per key, (iii) re-sent copies are few and identical.
    raw: list[ConsumerRecord[bytes, bytes]] = []
    for topic in REGISTER_TOPICS:
        raw += [r for r in await read_topic(kafka_bootstrap, topic, kafka_settings) if header(r, "ce_id")]
    raw = [r for r in raw if uuid.UUID(header(r, "ce_id") or "") in expected]
    seen_ids = [uuid.UUID(header(r, "ce_id") or "") for r in raw]
    assert set(seen_ids) == expected, f"{len(expected - set(seen_ids))} events never reached Kafka"

    first_seen: dict[tuple[str, str], list[uuid.UUID]] = defaultdict(list)
    for record, event_id in zip(raw, seen_ids, strict=True):
        chain = first_seen[(record.topic, record.key.decode())]
        if event_id not in chain:
            chain.append(event_id)
    assert first_seen == order_by_key, "events of one record arrived out of the order they were written in"

    copies: dict[uuid.UUID, set[bytes]] = defaultdict(set)
    for record, event_id in zip(raw, seen_ids, strict=True):
        copies[event_id].add(record.value)
    duplicates = len(raw) - len(expected)
    delivered = Counter(seen_ids)
    assert all(delivered[event_id] >= 2 for event_id in caught), "a row sent before the kill was not re-sent"
    assert duplicates <= RELAY_BATCH * kills, f"{duplicates} re-sent events: more than one batch per kill"
    assert all(len(values) == 1 for values in copies.values()), "a re-sent event differs from the original"
    print(f"relay killed {kills} time(s); {duplicates} events re-sent after the restarts")

    # The idempotent consumer acted on each event exactly once, however often it was delivered.
    async def caught_up() -> bool:
        return expected <= set(audit_copy.handled)

    await eventually(caught_up, timeout_s=240, what="the idempotent consumer to handle every event")
    assert {event_id: n for event_id, n in audit_copy.handled.items() if n != 1} == {}
    async with audit_copy.engine.connect() as connection:
        per_event = dict(
            (
                await connection.execute(
                    select(effects.c.event_id, func.count()).group_by(effects.c.event_id)
                )
            ).all()
        )
        claims = await connection.scalar(
            select(func.count()).select_from(inbox_table).where(inbox_table.c.consumer == "e2e.audit-copy")
        )
    assert all(per_event[event_id] == 1 for event_id in expected)
    assert claims == len(per_event)


# --- (c) poison messages are set aside; the worker goes on -----------------------------------------


def decision(request_id: uuid.UUID, system_name: str) -> RequestDecided:
    chair = Person(id="tda-chair", name="Tessa Chair", email="tda.chair@cambridge.gov.uk")
    return RequestDecided(
        request_id=request_id,
        reference="TR-2026-0042",
        requester=Person(id="requester", name="Nadia Begum", email="nadia.begum@cambridge.gov.uk"),
        outcome="approved",
        rationale="No system in the register does this; the supplier met the Appendix K checks.",
        decided_by=chair,
        decided_at=datetime.now(UTC),
        proposed_system=ProposedSystem(
            name=system_name,
            description="Webchat for Customer Services.",
            service_areas=["Customer Services"],
            capabilities=["webchat"],
            supplier_name="E2E Chat Ltd",
            hosting="saas",
            holds_personal_data=True,
            councils_in_scope=["CCC"],
            estimated_annual_value=Decimal("12000.00"),
            estimated_initial_cost=Decimal("3000.00"),
        ),
    )


async def test_poison_messages_are_dead_lettered_and_the_worker_plans_the_next_decision(
    register: RegisterProcesses,
    register_db: AsyncEngine,
    kafka_bootstrap: str,
    kafka_settings: BrokerSettings,
) -> None:
    for name in ("http", "worker", "relay"):
        register.start(name)
    await register.wait_http_ready()

    request_id = uuid.uuid4()
    key = str(request_id).encode()  # one key: the poison and the good decision share a partition, in order
    system_name = f"E2E webchat {request_id.hex[:8]}"
    good = new_envelope(
        event=decision(request_id, system_name),
        source=PROCUREMENT_SOURCE,
        subject=str(request_id),
        correlationid=f"e2e-decision-{request_id.hex}",
        time=datetime.now(UTC),
    )
    poison = await send_poison_then(kafka_settings, PROCUREMENT_REQUESTS, key, [good])
    letters = await dead_letters_of(kafka_settings, kafka_bootstrap, GROUP_ID, key)
    assert tuple(r.value for r in letters) == poison
    assert [header(r, "dlq_reason") for r in letters] == ["malformed", "unknown_event_type"]
    for record in letters:
        assert header(record, "dlq_original_topic") == PROCUREMENT_REQUESTS
        assert header(record, "dlq_consumer") == "register.procurement-decisions"
        assert header(record, "dlq_error")

    token = admin_token(register)
    async with httpx.AsyncClient(
        base_url=register.http_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:

        async def planned() -> dict[str, Any] | None:
            page = await client.get("/api/v1/systems", params={"lifecycle_stage": "planned", "limit": 500})
            assert page.status_code == 200, page.text
            return next((s for s in page.json()["items"] if s["name"] == system_name), None)

        system = await eventually(planned, timeout_s=90, what=f"planned system {system_name!r} over HTTP")
    assert system["source_request_id"] == str(request_id)
    assert system["lifecycle_stage"] == "planned"
    assert register.running["worker"].poll() is None, "the worker must survive poison messages"
