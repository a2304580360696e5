"""The SQL repository, unit of work and read queries on SQLite and on the real PostgreSQL, over a schema
built by the migrations: they keep the promises of the in-memory fakes.

Covered: an exact round trip of a fully populated request; stale versions refused (also while another
writer is mid-transaction); references unique and sequential per year, also under concurrency; the
conditions table following the aggregate and the overdue list; audit and outbox rows written in the
change's commit and not on rollback; the joined unit of work inside someone else's transaction; lists
with filters and keyset pagination; the audit trail newest first.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio
from procurement_fakes import (
    ALEX,
    BEA,
    CHAIR,
    CHECKLISTS,
    NOW,
    OMAR,
    TARA,
    FakeCalendar,
    FakeStore,
    FakeUnitOfWork,
    FixedClock,
    a_request,
    complete_fields,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_eventing.tables import outbox_table
from estate_procurement.adapters.db import queries
from estate_procurement.adapters.db.codec import request_from_row, request_row
from estate_procurement.adapters.db.migrate import upgrade_async
from estate_procurement.adapters.db.repositories import (
    AUDIT,
    CONDITIONS,
    REQUESTS,
    JoinedUnitOfWork,
    SqlRequestRepository,
    SqlUnitOfWork,
)
from estate_procurement.application import services
from estate_procurement.application.events import publish_recorded_facts
from estate_procurement.domain.errors import Conflict, InvalidValue, StaleVersion
from estate_procurement.domain.request import TechnologyRequest
from estate_procurement.domain.values import Outcome, RequestState
from estate_runtime.db import make_engine

S = RequestState


@pytest_asyncio.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    await upgrade_async(db_url)
    engine = make_engine(db_url, pool_size=12)
    yield engine
    await engine.dispose()


@pytest.fixture
def clock() -> Any:
    return FixedClock()


@pytest.fixture
def uow(sessions: async_sessionmaker[AsyncSession], clock: Any) -> Callable[[], SqlUnitOfWork]:
    def make() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions(), clock=clock, calendar=FakeCalendar(), checklists=CHECKLISTS)

    return make


async def count(sessions: async_sessionmaker[AsyncSession], table: Any, *where: Any) -> int:
    async with sessions() as session:
        return int(
            (await session.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
        )


def owner(actor: Any) -> dict[str, str]:
    return {"id": actor.id, "name": actor.name, "email": actor.email}


async def decided_with_conditions(
    uow: Callable[[], SqlUnitOfWork], *, requester: Any = ALEX, fields: dict[str, Any] | None = None
) -> uuid.UUID:
    """A request taken through the whole process on the SQL unit of work, one transaction per step,
    ending approved with two conditions (one owned by Alex, due in 5 working days; one by Bea)."""
    async with uow() as u:
        request = await services.create_draft(u, actor=requester, fields=complete_fields(**(fields or {})))
    request_id = request.id
    async with uow() as u:
        await services.submit(u, request_id=request_id, actor=requester)
    async with uow() as u:
        await services.start_review(u, request_id=request_id, actor=TARA)
    async with uow() as u:
        await services.request_information(
            u, request_id=request_id, actor=TARA, questions=["Who hosts it?"], due_date=date(2026, 3, 20)
        )
    async with uow() as u:
        await services.resubmit(
            u,
            request_id=request_id,
            actor=requester,
            answers="Hosted in UK data centres",
            changes={"pilot_plan": "Pilot with one repairs team for a month."},
        )
    async with uow() as u:
        await services.start_review(u, request_id=request_id, actor=TARA)
    async with uow() as u:
        items = list(CHECKLISTS.current.items())
        for item in items:
            await services.rate_item(u, request_id=request_id, actor=TARA, item_id=item.id, rating="met")
        await services.rate_item(
            u,
            request_id=request_id,
            actor=OMAR,
            item_id=items[0].id,
            rating="partly_met",
            comment="Only half the user stories have acceptance criteria.",
            evidence_url="https://intranet.example.gov.uk/tda/evidence/1",
        )
    async with uow() as u:
        await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved_with_conditions",
            rationale="Approved once the DPIA is signed off and SSO is tested.",
            conditions=[
                {"text": "DPIA signed off by the DPO", "owner": owner(ALEX), "due_in_working_days": 5},
                {"text": "SSO tested with Entra ID", "owner": owner(BEA), "due_date": date(2026, 4, 30)},
            ],
        )
    return request_id


# --- the round trip ---------------------------------------------------------------------------------


async def fully_populated() -> TechnologyRequest:
    """A request with every content field set, two review rounds (the first decided with conditions,
    one of them met, then reopened; the second decided), an answered information request, ratings by
    two reviewers with comments and evidence. Built on the fakes, so it has never touched SQL."""
    store = FakeStore()
    extra = {
        "legal_considerations": "Standard G-Cloud terms.",
        "single_option_justification": "Only one supplier integrates with Orchard.",
        "non_monetary_benefits": "Tenants see their slot at once.",
        "budget_source": "Housing revenue account",
        "integration_justification": "n/a",
        "scalability": "Up to 5,000 jobs a month.",
        "performance_reliability": "99.9% SLA",
        "knowledge_transfer": "Supplier trains two super users.",
        "pilot_plan": "One team, one month.",
        "existing_contracts_and_legacy": "Replaces the repairs spreadsheet.",
        "renews_or_replaces_contract_id": str(uuid.UUID(int=42)),
        "annual_cost": Decimal("18000.50"),
        "councils_in_scope": ["CCC", "SCDC"],
    }
    request_id = await a_request(store, "decided", fields=complete_fields(**extra))

    def u() -> Any:
        return FakeUnitOfWork(store)

    async with u() as w:
        await services.reopen(w, request_id=request_id, actor=CHAIR, reason="New evidence on hosting")
    async with u() as w:
        for item in CHECKLISTS.current.items():
            await services.rate_item(w, request_id=request_id, actor=OMAR, item_id=item.id, rating="met")
        await services.rate_item(
            w,
            request_id=request_id,
            actor=TARA,
            item_id=next(iter(CHECKLISTS.current.items())).id,
            rating="not_met",
            comment="No exit plan.",
            evidence_url="https://intranet.example.gov.uk/e/2",
        )
    async with u() as w:
        decision = await services.decide(
            w,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved_with_conditions",
            rationale="Approved with an exit plan.",
            conditions=[
                {"text": "Write an exit plan", "owner": owner(ALEX), "due_in_working_days": 10},
                {"text": "Test the data export", "owner": owner(TARA), "due_date": date(2026, 6, 1)},
            ],
        )
    async with u() as w:
        await services.meet_condition(
            w,
            request_id=request_id,
            actor=ALEX,
            condition_id=decision.conditions[0].id,
            evidence="https://intranet.example.gov.uk/exit-plan",
        )
    request: TechnologyRequest = store.requests[request_id]
    assert len(request.rounds) == 2 and all(r.decision for r in request.rounds)
    assert request.information_requests and request.information_requests[0].answers
    assert request.conditions_met
    return request


async def test_a_fully_populated_request_reads_back_equal(sessions: async_sessionmaker[AsyncSession]) -> None:
    original = await fully_populated()
    assert request_from_row(request_row(original)) == original  # the codec alone

    async with sessions() as session:
        await SqlRequestRepository(session).add(original)
        await session.commit()
    async with sessions() as session:
        loaded = await SqlRequestRepository(session).get(original.id)
        by_reference = await SqlRequestRepository(session).get_by_reference(original.reference)

    assert loaded == original
    assert by_reference == original
    assert loaded is not None
    assert loaded.annual_cost == Decimal("18000.50") and str(loaded.annual_cost) == "18000.50"
    assert loaded.rounds[1].decision is not None
    assert loaded.rounds[1].decision.overall_score == original.rounds[1].decision.overall_score  # type: ignore[union-attr]
    assert all(entry.entered_at.tzinfo is not None for entry in loaded.history)
    assert loaded.events == []  # pending facts are never stored


async def test_the_derived_columns_follow_the_aggregate(sessions: async_sessionmaker[AsyncSession]) -> None:
    original = await fully_populated()
    async with sessions() as session:
        await SqlRequestRepository(session).add(original)
        await session.commit()
    async with sessions() as session:
        row = (await session.execute(select(REQUESTS).where(REQUESTS.c.id == original.id))).mappings().one()

    latest = original.latest_decision
    assert latest is not None
    assert row["state"] == "decided"
    assert row["outcome"] == "approved_with_conditions"
    assert row["decided_at"] == latest.decided_at
    assert row["round_number"] == 2
    assert row["state_since"] == original.history[-1].entered_at
    assert row["requester_id"] == ALEX.id and row["category"] == "it"


# --- versions and identity --------------------------------------------------------------------------


async def test_a_stale_version_is_refused(uow: Callable[[], SqlUnitOfWork]) -> None:
    async with uow() as u:
        request = await services.create_draft(u, actor=ALEX, fields={"title": "First"})

    first, second = uow(), uow()
    async with first, second:
        mine = await services.get_request(first, request_id=request.id)
        theirs = await services.get_request(second, request_id=request.id)
        mine.update_draft({"title": "Mine"}, by=ALEX.person, at=first.clock())
        await first.requests.save(mine, expected_version=1)
        await first.commit()

        theirs.update_draft({"title": "Theirs"}, by=ALEX.person, at=second.clock())
        with pytest.raises(StaleVersion):
            await second.requests.save(theirs, expected_version=1)

    async with uow() as u:
        stored = await services.get_request(u, request_id=request.id)
    assert (stored.title, stored.version) == ("Mine", 2)


async def test_a_writer_mid_transaction_makes_the_other_stale(uow: Callable[[], SqlUnitOfWork]) -> None:
    """The second writer waits for the first one's transaction, then finds the version moved on."""
    async with uow() as u:
        request = await services.create_draft(u, actor=ALEX, fields={"title": "First"})

    slow = uow()
    mine = await services.get_request(slow, request_id=request.id)
    mine.update_draft({"title": "Slow"}, by=ALEX.person, at=slow.clock())
    await slow.requests.save(mine, expected_version=1)  # holds the row (the database) until commit

    async def other_writer() -> None:
        async with uow() as u:
            await services.update_draft(
                u, request_id=request.id, actor=ALEX, changes={"title": "Fast"}, expected_version=None
            )

    other = asyncio.create_task(other_writer())
    await asyncio.sleep(0.3)
    assert not other.done()
    await slow.commit()
    await slow.__aexit__(None, None, None)
    with pytest.raises(StaleVersion):
        await asyncio.wait_for(other, 20)

    async with uow() as u:
        assert (await services.get_request(u, request_id=request.id)).title == "Slow"


async def test_a_request_is_added_once(uow: Callable[[], SqlUnitOfWork]) -> None:
    async with uow() as u:
        request = await services.create_draft(u, actor=ALEX, fields={"title": "Once"})
    async with uow() as u:
        again = await services.get_request(u, request_id=request.id)
        with pytest.raises(Conflict):
            await u.requests.add(again)


async def test_a_unit_of_work_reads_its_own_writes_and_returns_one_object_per_request(
    uow: Callable[[], SqlUnitOfWork],
) -> None:
    async with uow() as u:
        request = await services.create_draft(u, actor=ALEX, fields={"title": "Mine"})
    async with uow() as u:
        first = await u.requests.get(request.id)
        assert first is await u.requests.get_by_reference(request.reference)
        assert first is (await u.requests.list())[0]
        assert first is not None
        first.update_draft({"title": "Changed"}, by=ALEX.person, at=u.clock())
        await u.requests.save(first, expected_version=1)
        assert first.version == 2
        fresh = await SqlRequestRepository(u.session).get(request.id)
        assert fresh is not None and (fresh.title, fresh.version) == ("Changed", 2)


# --- references ---------------------------------------------------------------------------------------


async def test_references_are_sequential_per_year(uow: Callable[[], SqlUnitOfWork], clock: Any) -> None:
    made = []
    for _ in range(3):
        async with uow() as u:
            made.append((await services.create_draft(u, actor=ALEX, fields={})).reference)
    clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))
    async with uow() as u:
        made.append((await services.create_draft(u, actor=ALEX, fields={})).reference)
    # A rolled-back transaction gives its number back.
    async with uow() as u:
        assert await u.requests.next_reference(2027) == "TR-2027-0002"
    async with uow() as u:
        made.append((await services.create_draft(u, actor=ALEX, fields={})).reference)

    assert made == ["TR-2026-0001", "TR-2026-0002", "TR-2026-0003", "TR-2027-0001", "TR-2027-0002"]


async def test_concurrent_transactions_never_share_a_reference(uow: Callable[[], SqlUnitOfWork]) -> None:
    async def draft() -> str:
        async with uow() as u:
            return (await services.create_draft(u, actor=ALEX, fields={})).reference

    made = await asyncio.gather(*(draft() for _ in range(8)))

    assert sorted(made) == [f"TR-2026-{n:04d}" for n in range(1, 9)]


async def test_a_second_transaction_waits_for_the_first_ones_number(uow: Callable[[], SqlUnitOfWork]) -> None:
    first = uow()
    assert await first.requests.next_reference(2026) == "TR-2026-0001"

    async def second() -> str:
        async with uow() as u:
            reference = await u.requests.next_reference(2026)
            await u.commit()
            return reference

    waiting = asyncio.create_task(second())
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await first.commit()
    await first.__aexit__(None, None, None)
    assert await asyncio.wait_for(waiting, 20) == "TR-2026-0002"


# --- conditions -------------------------------------------------------------------------------------


async def test_the_conditions_table_follows_the_aggregate(
    uow: Callable[[], SqlUnitOfWork], sessions: async_sessionmaker[AsyncSession], clock: Any
) -> None:
    request_id = await decided_with_conditions(uow)
    async with sessions() as session:
        rows = (await session.execute(select(CONDITIONS).order_by(CONDITIONS.c.due_date))).mappings().all()
    assert [(r["text"], r["status"], r["owner_id"], r["due_date"]) for r in rows] == [
        ("DPIA signed off by the DPO", "open", ALEX.id, date(2026, 3, 9)),
        ("SSO tested with Entra ID", "open", BEA.id, date(2026, 4, 30)),
    ]
    dpia = rows[0]["condition_id"]

    async with uow() as u:
        await services.meet_condition(
            u, request_id=request_id, actor=ALEX, condition_id=dpia, evidence="DPO e-mail of 5 March"
        )
    async with sessions() as session:
        met = (
            (await session.execute(select(CONDITIONS).where(CONDITIONS.c.condition_id == dpia)))
            .mappings()
            .one()
        )
    assert (met["status"], met["met_by_id"], met["evidence"]) == ("met", ALEX.id, "DPO e-mail of 5 March")
    assert met["met_at"] == clock()

    # A reopened and re-decided request keeps only its latest decision's conditions.
    async with uow() as u:
        await services.reopen(u, request_id=request_id, actor=CHAIR, reason="Supplier changed")
    async with uow() as u:
        for item in CHECKLISTS.current.items():
            await services.rate_item(u, request_id=request_id, actor=TARA, item_id=item.id, rating="met")
    async with uow() as u:
        await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved_with_conditions",
            rationale="Still fine.",
            conditions=[{"text": "New supplier's DPIA", "owner": owner(BEA), "due_date": date(2026, 5, 1)}],
        )
    async with sessions() as session:
        texts = (await session.execute(select(CONDITIONS.c.text, CONDITIONS.c.round_number))).all()
    assert [tuple(t) for t in texts] == [("New supplier's DPIA", 2)]


async def test_overdue_conditions_across_requests_match_the_use_case(
    uow: Callable[[], SqlUnitOfWork], sessions: async_sessionmaker[AsyncSession], clock: Any
) -> None:
    first = await decided_with_conditions(uow)
    second = await decided_with_conditions(uow, requester=BEA)
    async with uow() as u:
        views = await services.conditions(u, request_id=second)
        await services.meet_condition(
            u, request_id=second, actor=TARA, condition_id=views[0].id, evidence="signed"
        )
    third = await decided_with_conditions(uow)
    async with uow() as u:
        await services.reopen(u, request_id=third, actor=CHAIR, reason="Looking again")

    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    async with sessions() as session:
        overdue = await queries.overdue_conditions(session, date(2026, 4, 1))
    async with uow() as u:
        expected = await services.overdue_conditions(u)

    assert [(o.request_id, o.text, o.due_date) for o in overdue] == [
        (first, "DPIA signed off by the DPO", date(2026, 3, 9))
    ]
    assert [(r.id, v.id) for r, v in expected] == [(o.request_id, o.condition_id) for o in overdue]
    assert overdue[0].owner == ALEX.person

    async with sessions() as session:
        later = await queries.overdue_conditions(session, date(2026, 5, 1))
    assert sorted((o.request_id, o.due_date) for o in later) == sorted(
        [(first, date(2026, 3, 9)), (first, date(2026, 4, 30)), (second, date(2026, 4, 30))]
    )


# --- audit and outbox: one commit with the change -------------------------------------------------


async def complete_draft(uow: Callable[[], SqlUnitOfWork]) -> uuid.UUID:
    """A complete draft by Alex, committed."""
    async with uow() as u:
        return (await services.create_draft(u, actor=ALEX, fields=complete_fields())).id


async def submit_and_publish(u: SqlUnitOfWork, request_id: uuid.UUID) -> int:
    """Submit the draft inside ``u`` and publish its facts, leaving the commit to the caller: how many
    facts were published."""
    loaded = await services.get_request(u, request_id=request_id)
    loaded.submit(by=ALEX.person, at=u.clock())
    await u.requests.save(loaded, expected_version=1)
    return await publish_recorded_facts(u)


async def written(sessions: async_sessionmaker[AsyncSession], request_id: uuid.UUID) -> tuple[int, int]:
    """How many outbox rows there are, and how many audit rows of the request."""
    return await count(sessions, outbox_table), await count(sessions, AUDIT, AUDIT.c.request_id == request_id)


async def test_audit_and_outbox_rows_are_written_with_the_change(
    uow: Callable[[], SqlUnitOfWork], sessions: async_sessionmaker[AsyncSession]
) -> None:
    request_id = await complete_draft(uow)
    assert await written(sessions, request_id) == (0, 1)  # drafts are audited only

    async with uow() as u:
        await services.submit(u, request_id=request_id, actor=ALEX)

    async with sessions() as session:
        (row,) = (await session.execute(select(outbox_table))).mappings().all()
        entries = await queries.audit_for(session, request_id)
    assert row["event_type"] == "estate.procurement.request.submitted"
    assert row["key"] == str(request_id)
    assert [e.action for e in entries] == ["submitted", "created"]  # newest first
    assert entries[0].to_state is S.SUBMITTED and entries[0].from_state is S.DRAFT
    assert entries[0].actor == ALEX.person
    assert entries[0].after["version"] == 2 and entries[0].after["state"] == "submitted"
    assert entries[0].correlation_id


async def test_nothing_is_written_when_the_unit_of_work_is_left_without_commit(
    uow: Callable[[], SqlUnitOfWork], sessions: async_sessionmaker[AsyncSession]
) -> None:
    request_id = await complete_draft(uow)

    async with uow() as u:
        assert await submit_and_publish(u, request_id) == 1
        await u.flush()
        # Visible inside the transaction...
        assert (await SqlRequestRepository(u.session).get(request_id)).state is S.SUBMITTED  # type: ignore[union-attr]
        # ...and gone when it is left without commit.

    assert await written(sessions, request_id) == (0, 1)
    async with uow() as u:
        stored = await services.get_request(u, request_id=request_id)
    assert (stored.state, stored.version) == (S.DRAFT, 1)


async def test_an_explicit_rollback_discards_the_change_its_audit_and_its_events(
    uow: Callable[[], SqlUnitOfWork], sessions: async_sessionmaker[AsyncSession]
) -> None:
    request_id = await complete_draft(uow)

    async with uow() as u:
        assert await submit_and_publish(u, request_id) == 1
        await u.rollback()
        await u.commit()  # nothing left to commit

    assert await written(sessions, request_id) == (0, 1)
    async with uow() as u:
        # After a rollback the same request can be changed again from the stored version.
        await services.submit(u, request_id=request_id, actor=ALEX)
    assert await written(sessions, request_id) == (1, 2)


async def test_a_decision_writes_the_request_the_reuse_store_the_audit_and_the_outbox_together(
    uow: Callable[[], SqlUnitOfWork], sessions: async_sessionmaker[AsyncSession]
) -> None:
    request_id = await decided_with_conditions(uow)

    async with uow() as u:
        changes = await u.reuse.snapshot()
    assert [d.request_id for d in changes.decisions] == [request_id]
    assert changes.decisions[0].outcome == Outcome.APPROVED_WITH_CONDITIONS.value
    assert await _event_types(sessions) == [
        f"estate.procurement.request.{action}"
        for action in (
            "submitted",
            "review_started",
            "information_requested",
            "resubmitted",
            "review_started",
            "decided",
        )
    ]
    assert (
        await count(sessions, AUDIT, AUDIT.c.action == "item_rated")
        == len(list(CHECKLISTS.current.items())) + 1
    )


async def _event_types(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(
            (await session.execute(select(outbox_table.c.event_type).order_by(outbox_table.c.id))).scalars()
        )


# --- the joined unit of work --------------------------------------------------------------------------


async def test_the_joined_unit_of_work_leaves_the_transaction_to_its_owner(
    sessions: async_sessionmaker[AsyncSession], clock: Any
) -> None:
    def joined(session: AsyncSession) -> JoinedUnitOfWork:
        return JoinedUnitOfWork(session, clock=clock, calendar=FakeCalendar(), checklists=CHECKLISTS)

    async with sessions() as session:
        await session.begin()
        async with joined(session) as u:
            rolled_back = await services.create_draft(u, actor=ALEX, fields={"title": "Rolled back"})
        assert session.in_transaction()  # neither its commit nor leaving the block ended it
        assert await SqlRequestRepository(session).get(rolled_back.id) is not None
        await session.rollback()

    async with sessions() as session, session.begin(), joined(session) as u:
        kept = await services.create_draft(u, actor=ALEX, fields={"title": "Kept"})

    async with sessions() as session:
        repository = SqlRequestRepository(session)
        assert await repository.get(rolled_back.id) is None
        stored = await repository.get(kept.id)
    assert stored is not None and stored.title == "Kept"
    assert stored.reference == "TR-2026-0001"  # the rolled-back transaction gave its number back
    assert await count(sessions, AUDIT) == 1


# --- lists and pages ------------------------------------------------------------------------------------


async def test_the_repository_lists_with_filters_newest_first(
    uow: Callable[[], SqlUnitOfWork], clock: Any
) -> None:
    ids = []
    for n, (actor, area) in enumerate([(ALEX, "housing"), (BEA, "housing"), (ALEX, "planning")]):
        clock.set(NOW + timedelta(minutes=n))
        async with uow() as u:
            ids.append((await services.create_draft(u, actor=actor, fields={"service_area": area})).id)
    async with uow() as u:
        everything = await services.list_requests(u)
        alex = await services.list_requests(u, requester_id=ALEX.id)
        housing = await services.list_requests(u, service_area="housing")
        none = await services.list_requests(u, states=[S.DECIDED])

    assert [r.id for r in everything] == ids[::-1]
    assert [r.id for r in alex] == [ids[2], ids[0]]
    assert [r.id for r in housing] == [ids[1], ids[0]]
    assert none == []


async def test_pages_follow_the_cursor_without_gaps_or_repeats(
    uow: Callable[[], SqlUnitOfWork], sessions: async_sessionmaker[AsyncSession], clock: Any
) -> None:
    made = []
    for n in range(7):
        # Two requests share each instant, so the id must break the ties.
        clock.set(NOW + timedelta(minutes=n // 2))
        async with uow() as u:
            area = "housing" if n % 3 else "planning"
            made.append(
                await services.create_draft(u, actor=ALEX, fields={"service_area": area, "category": "it"})
            )

    for sort in queries.SORTS:
        seen: list[uuid.UUID] = []
        cursor = None
        async with sessions() as session:
            while True:
                page = await queries.list_requests(
                    session, sort=sort, limit=3, cursor=cursor, with_total=cursor is None
                )
                if cursor is None:
                    assert page.total == 7
                seen.extend(item.id for item in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        key = sort.lstrip("-")
        expected = sorted(made, key=lambda r: (getattr(r, key), r.id), reverse=sort.startswith("-"))
        assert seen == [r.id for r in expected], sort

    async with sessions() as session:
        housing = await queries.list_requests(
            session,
            queries.RequestFilter(service_area="housing", states=[S.DRAFT]),
            full=True,
            with_total=True,
        )
        nothing = await queries.list_requests(session, queries.RequestFilter(category="iot_protech"))
    assert housing.total == 4 and len(housing.items) == 4
    assert all(item.request is not None and item.request.service_area == "housing" for item in housing.items)
    assert housing.items[0].requester == ALEX.person and housing.items[0].state is S.DRAFT
    assert nothing.items == [] and nothing.next_cursor is None


async def test_a_cursor_of_another_sort_or_a_made_up_one_is_refused(
    uow: Callable[[], SqlUnitOfWork], sessions: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(3):
        async with uow() as u:
            await services.create_draft(u, actor=ALEX, fields={})
    async with sessions() as session:
        page = await queries.list_requests(session, sort="reference", limit=1)
        assert page.next_cursor is not None
        with pytest.raises(InvalidValue):
            await queries.list_requests(session, sort="-updated_at", cursor=page.next_cursor)
        with pytest.raises(InvalidValue):
            await queries.list_requests(session, cursor="not-a-cursor")
        with pytest.raises(InvalidValue):
            await queries.list_requests(session, sort="title")
        with pytest.raises(InvalidValue):
            await queries.list_requests(session, limit=0)
