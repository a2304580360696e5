"""An approved technology request becomes a planned system with a pending contract, once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from fakes import NOW, FakeStore, FakeUnitOfWork

from estate_contracts.common import Person as EventPerson
from estate_contracts.procurement_events import ProposedSystem, RequestDecided
from estate_eventing.correlation import correlation_scope
from estate_register.application.decisions import plan_from_decision
from estate_register.domain.model import Council, ServiceArea, Supplier
from estate_register.domain.values import ContractStatus, Hosting, LifecycleStage, ProcurementRoute

HOUSING = ServiceArea(id=uuid.uuid4(), name="Housing Advice", council_code="CCC")
IDOX = Supplier(id=uuid.uuid4(), name="Idox", created_at=NOW, updated_at=NOW)
CHAIR = EventPerson(id="oid-chair", name="Alex Morgan", email="alex.morgan@cambridge.gov.uk")


def decided(
    outcome: str = "approved", reference: str = "TR-2025-0042", **proposed_overrides
) -> RequestDecided:
    proposed = {
        "name": "Homelessness case manager",
        "description": "Cases and duties for housing advice",
        "service_areas": ["housing advice"],
        "capabilities": ["case management", "case management", "triage"],
        "supplier_name": "Jadu",
        "product_family": "Jadu Connect",
        "hosting": "saas",
        "holds_personal_data": True,
        "councils_in_scope": ["CCC", "SCDC"],
        "estimated_annual_value": Decimal("24000.00"),
        "estimated_initial_cost": Decimal("5000.00"),
        "expected_start_date": date(2025, 4, 1),
        "term_months": 36,
    }
    proposed.update(proposed_overrides)
    approved = outcome != "not_approved"
    return RequestDecided(
        request_id=uuid.uuid4(),
        reference=reference,
        requester=EventPerson(id="oid-req", name="Sam Whitfield", email="sam.whitfield@cambridge.gov.uk"),
        outcome=outcome,  # type: ignore[arg-type]
        rationale="Meets the need at a fair price",
        decided_by=CHAIR,
        decided_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
        proposed_system=ProposedSystem(**proposed) if approved else None,
    )


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore(
        councils=[Council(code="CCC", name="Cambridge City"), Council(code="SCDC", name="South Cambs")],
        service_areas=[HOUSING],
    )
    store.suppliers[IDOX.id] = IDOX
    return store


async def test_an_approval_plans_the_system_and_a_pending_contract_both_naming_the_request(store):
    decision = decided()

    with correlation_scope("corr-tda"):
        system = await plan_from_decision(FakeUnitOfWork(store), decision)

    assert system is not None
    (planned,) = store.systems.values()
    assert planned.lifecycle_stage is LifecycleStage.PLANNED
    assert planned.source_request_id == str(decision.request_id)
    assert (planned.lead_council, planned.councils) == ("CCC", ("SCDC",))
    assert planned.service_area_ids == (HOUSING.id,)
    assert planned.capabilities == ("case management", "triage")
    assert planned.hosting is Hosting.SAAS
    assert planned.holds_personal_data is True
    (contract,) = store.contracts.values()
    assert contract.status is ContractStatus.PENDING
    assert contract.source_request_id == str(decision.request_id)
    assert contract.system_ids == (planned.id,)
    assert contract.reference == "TR-2025-0042-C1"
    assert contract.procurement_route is ProcurementRoute.TDA_REQUEST
    assert (contract.start_date, contract.initial_term_end, contract.current_term_end) == (
        date(2025, 4, 1),
        date(2028, 3, 31),
        date(2028, 3, 31),
    )
    assert contract.annual_value == Decimal("24000.00")
    assert contract.total_value == Decimal("77000.00")  # three years at 24,000 plus 5,000 to start
    assert contract.councils == ("CCC", "SCDC")
    assert {e.envelope.correlationid for e in store.outbox} == {"corr-tda"}
    assert {a.fact.actor for a in store.audit} == {"alex.morgan@cambridge.gov.uk"}


async def test_an_approval_naming_an_unknown_supplier_records_that_supplier(store):
    await plan_from_decision(FakeUnitOfWork(store), decided(supplier_name="Jadu"))

    jadu = [s for s in store.suppliers.values() if s.name == "Jadu"]
    assert len(jadu) == 1
    assert jadu[0].products == ("Jadu Connect",)
    (system,) = store.systems.values()
    (contract,) = store.contracts.values()
    assert system.supplier_id == contract.supplier_id == jadu[0].id
    assert sorted(store.event_types()) == [
        "estate.register.contract.recorded",
        "estate.register.supplier.recorded",
        "estate.register.system.recorded",
    ]


async def test_an_approval_naming_a_known_supplier_uses_it_whatever_its_case(store):
    await plan_from_decision(FakeUnitOfWork(store), decided(supplier_name="IDOX"))

    assert list(store.suppliers) == [IDOX.id]
    (system,) = store.systems.values()
    assert system.supplier_id == IDOX.id
    assert "estate.register.supplier.recorded" not in store.event_types()


async def test_a_term_of_unknown_length_is_planned_for_twelve_months_from_the_decision(store):
    await plan_from_decision(FakeUnitOfWork(store), decided(expected_start_date=None, term_months=None))

    (contract,) = store.contracts.values()
    assert (contract.start_date, contract.current_term_end) == (date(2025, 3, 1), date(2026, 2, 28))
    assert contract.total_value == Decimal("29000.00")


async def test_a_non_approval_records_nothing(store):
    result = await plan_from_decision(FakeUnitOfWork(store), decided("not_approved"))

    assert result is None
    assert store.systems == {}
    assert store.contracts == {}
    assert store.audit == []
    assert store.outbox == []


async def test_a_decision_delivered_twice_plans_one_system(store):
    decision = decided()
    await plan_from_decision(FakeUnitOfWork(store), decision)
    written = (len(store.audit), len(store.outbox), store.commits)

    again = await plan_from_decision(FakeUnitOfWork(store), decision)

    assert again is None
    assert len(store.systems) == 1
    assert len(store.contracts) == 1
    assert (len(store.audit), len(store.outbox), store.commits) == written


async def test_a_planned_name_the_council_already_uses_gets_the_request_reference(store):
    await plan_from_decision(FakeUnitOfWork(store), decided(reference="TR-2025-0042"))

    await plan_from_decision(FakeUnitOfWork(store), decided(reference="TR-2025-0057"))

    names = sorted(s.name for s in store.systems.values())
    assert names == ["Homelessness case manager", "Homelessness case manager (TR-2025-0057)"]
