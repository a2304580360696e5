"""The outbox row and the inbox claim live and die with the caller's transaction, on both databases."""

from __future__ import annotations

import uuid

import pytest
from eventing_support import T0, TOPIC, ThingRecorded, envelope, things
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from estate_eventing.correlation import correlation_scope
from estate_eventing.inbox import claim
from estate_eventing.outbox import add_event, add_to_outbox, outbox_rows
from estate_eventing.tables import inbox_table, outbox_table


class Boom(Exception):
    pass


async def count(sessionmaker: async_sessionmaker[AsyncSession], table: object) -> int:
    async with sessionmaker() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_outbox_row_vanishes_when_the_state_change_rolls_back(sessionmaker):
    async def change_state_then_fail() -> None:
        async with sessionmaker() as session, session.begin():
            await session.execute(insert(things).values(id="t1"))
            await add_to_outbox(session, envelope("t1"), TOPIC)
            raise Boom

    with pytest.raises(Boom):
        await change_state_then_fail()

    assert await count(sessionmaker, things) == 0
    assert await count(sessionmaker, outbox_table) == 0


async def test_outbox_row_is_stored_with_the_state_change_keyed_by_subject(sessionmaker):
    env = envelope("t1", "first")
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(things).values(id="t1"))
        await add_to_outbox(session, env, TOPIC)

    async with sessionmaker() as session:
        row = (await session.execute(select(outbox_table))).one()._mapping
    assert row["event_id"] == env.id
    assert row["key"] == "t1"
    assert row["topic"] == TOPIC
    assert row["event_type"] == "estate.tests.thing.recorded"
    assert row["published_at"] is None
    assert row["attempts"] == 0
    assert type(env).model_validate_json(row["payload"]) == env
    assert row["headers"]["ce_id"] == str(env.id)


async def test_bulk_rows_insert_in_one_statement_and_keep_their_order(sessionmaker):
    envelopes = [envelope(f"t{i % 3}", str(i)) for i in range(9)]
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(outbox_table), outbox_rows((e, TOPIC) for e in envelopes))

    async with sessionmaker() as session:
        ids = (await session.execute(select(outbox_table.c.event_id).order_by(outbox_table.c.id))).scalars()
        assert list(ids) == [e.id for e in envelopes]


async def test_add_event_continues_the_correlation_and_causation_in_hand(sessionmaker):
    async with sessionmaker() as session, session.begin():
        with correlation_scope("corr-42", "cause-7"):
            env = await add_event(
                session, ThingRecorded(name="x"), source="/estate/tests", subject="t9", time=T0
            )
    assert env.correlationid == "corr-42"
    assert env.causationid == "cause-7"
    async with sessionmaker() as session:
        assert (await session.execute(select(outbox_table.c.topic))).scalar_one() == TOPIC


async def test_outbox_refuses_a_negative_attempt_count(sessionmaker):
    async with sessionmaker() as session, session.begin():
        await add_to_outbox(session, envelope(), TOPIC)
    with pytest.raises(IntegrityError):
        async with sessionmaker() as session, session.begin():
            await session.execute(update(outbox_table).values(attempts=-1))


async def test_outbox_refuses_a_failed_attempt_without_a_reason(sessionmaker):
    async with sessionmaker() as session, session.begin():
        await add_to_outbox(session, envelope(), TOPIC)
    with pytest.raises(IntegrityError):
        async with sessionmaker() as session, session.begin():
            await session.execute(update(outbox_table).values(attempts=1, last_error=None))


async def test_outbox_refuses_the_same_event_twice(sessionmaker):
    env = envelope()

    async def add_twice() -> None:
        async with sessionmaker() as session, session.begin():
            await add_to_outbox(session, env, TOPIC)
            await add_to_outbox(session, env, TOPIC)

    with pytest.raises(IntegrityError):
        await add_twice()


async def test_inbox_claim_succeeds_once_then_reports_already_processed(sessionmaker):
    event_id = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        assert await claim(session, "register.projection", event_id) is True
    async with sessionmaker() as session, session.begin():
        assert await claim(session, "register.projection", event_id) is False
    # Another consumer processes the same event independently.
    async with sessionmaker() as session, session.begin():
        assert await claim(session, "notifications.watch", event_id) is True


async def test_inbox_claim_is_undone_when_the_handler_fails(sessionmaker):
    event_id = uuid.uuid4()

    async def handle_and_fail() -> None:
        async with sessionmaker() as session, session.begin():
            assert await claim(session, "c", event_id)
            await session.execute(insert(things).values(id="effect"))
            raise Boom

    with pytest.raises(Boom):
        await handle_and_fail()
    assert await count(sessionmaker, inbox_table) == 0
    assert await count(sessionmaker, things) == 0
    async with sessionmaker() as session, session.begin():
        assert await claim(session, "c", event_id) is True
