"""An approved technology request becomes a planned system with a pending contract, once; a later
non-approval (after the chair reopened the request) retires that plan while nobody has moved it on."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from fakes import NOW, FakeStore, FakeUnitOfWork

from estate_contracts.common import Person as EventPerson
from estate_contracts.procurement_events import ProposedSystem, RequestDecided
from estate_eventing.correlation import correlation_scope
from estate_register.application import services
from estate_register.application.decisions import plan_from_decision
from estate_register.domain.model import Council, Person, ServiceArea, Supplier
from estate_register.domain.values import ContractStatus, Hosting, LifecycleStage, ProcurementRoute

HOUSING = ServiceArea(id=uuid.uuid4(), name="Housing Advice", council_code="CCC")
IDOX = Supplier(id=uuid.uuid4(), name="Idox", created_at=NOW, updated_at=NOW)
CHAIR = EventPerson(id="oid-chair", name="Alex Morgan", email="alex.morgan@cambridge.gov.uk")


def decided(
    outcome: str = "approved",
    reference: str = "TR-2025-0042",
    *,
    request_id: uuid.UUID | None = None,
    decided_at: datetime = datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
    **proposed_overrides,
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
        request_id=request_id or uuid.uuid4(),
        reference=reference,
        requester=EventPerson(id="oid-req", name="Sam Whitfield", email="sam.whitfield@cambridge.gov.uk"),
        outcome=outcome,  # type: ignore[arg-type]
        rationale="Meets the need at a fair price",
        decided_by=CHAIR,
        decided_at=decided_at,
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


# --- re-decisions: the chair reopened the request and decided again -------------------------------

REQUEST = uuid.UUID("7d3c1f52-5a8e-4f0e-9a43-2b1f6c9d0e11")
APPROVED_AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REJECTED_AT = APPROVED_AT + timedelta(hours=3)  # the same day: decision times, not dates, are compared
APPROVED_AGAIN_AT = APPROVED_AT + timedelta(days=7)


def redecided(outcome: str, at: datetime) -> RequestDecided:
    return decided(outcome, request_id=REQUEST, decided_at=at)


async def planned(store: FakeStore):
    await plan_from_decision(FakeUnitOfWork(store), redecided("approved", APPROVED_AT))
    (system,) = store.systems.values()
    (contract,) = store.contracts.values()
    return system, contract


async def test_a_plan_records_the_approval_it_carries_out(store):
    system, _ = await planned(store)

    (entry,) = system.lifecycle_history
    assert (entry.stage, entry.on, entry.decided_at) == (
        LifecycleStage.PLANNED,
        date(2025, 3, 1),
        APPROVED_AT,
    )
    assert entry.note == "TR-2025-0042 approved by the TDA"


async def test_a_non_approval_on_re_decision_retires_the_plan_and_cancels_its_contract(store):
    system, contract = await planned(store)
    before = (len(store.audit), len(store.outbox), store.commits)

    with correlation_scope("corr-redecided"):
        retired = await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", REJECTED_AT))

    assert retired is not None and retired.id == system.id
    now = store.systems[system.id]
    assert now.lifecycle_stage is LifecycleStage.RETIRED
    entry = now.lifecycle_history[-1]
    assert entry.stage is LifecycleStage.RETIRED
    assert "TR-2025-0042" in entry.note and "not approved by the TDA on re-decision" in entry.note
    assert (entry.on, entry.decided_at, entry.by) == (date(2025, 3, 1), REJECTED_AT, CHAIR.email)
    assert store.contracts[contract.id].status is ContractStatus.CANCELLED
    assert store.commits == before[2] + 1  # one transaction for both changes
    new_events = store.outbox[before[1] :]
    assert sorted(e.envelope.type for e in new_events) == [
        "estate.register.contract.retired",
        "estate.register.system.retired",
    ]
    assert {e.envelope.correlationid for e in new_events} == {"corr-redecided"}
    audited = store.audit[before[0] :]
    assert sorted((a.fact.kind, a.fact.record_id) for a in audited) == [
        ("contract", contract.id),
        ("system", system.id),
    ]
    assert {a.fact.actor for a in audited} == {CHAIR.email}


async def test_a_non_approval_delivered_twice_retires_once(store):
    await planned(store)
    rejection = redecided("not_approved", REJECTED_AT)
    await plan_from_decision(FakeUnitOfWork(store), rejection)
    written = (len(store.audit), len(store.outbox), store.commits)

    assert await plan_from_decision(FakeUnitOfWork(store), rejection) is None

    assert (len(store.audit), len(store.outbox), store.commits) == written


@pytest.mark.parametrize("stage", [LifecycleStage.IN_PROCUREMENT, LifecycleStage.LIVE])
async def test_a_non_approval_leaves_a_system_someone_moved_on_and_warns(store, caplog, stage):
    system, contract = await planned(store)
    await services.change_lifecycle(
        FakeUnitOfWork(store),
        system_id=system.id,
        to=stage,
        on=None,
        note="",
        expected_version=None,
        actor="someone@cambridge.gov.uk",
    )
    written = (len(store.audit), len(store.outbox), store.commits)

    with caplog.at_level(logging.WARNING, logger="estate_register.application.decisions"):
        result = await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", REJECTED_AT))

    assert result is None
    assert store.systems[system.id].lifecycle_stage is stage
    assert store.contracts[contract.id].status is ContractStatus.PENDING
    assert (len(store.audit), len(store.outbox), store.commits) == written
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING
    assert "TR-2025-0042" in warning.getMessage() and system.reference in warning.getMessage()


async def test_a_non_approval_leaves_a_plan_whose_contract_someone_activated(store, caplog):
    system, contract = await planned(store)
    await services.update_contract(
        FakeUnitOfWork(store),
        contract_id=contract.id,
        changes={"status": ContractStatus.ACTIVE},
        expected_version=None,
        actor="buyer@cambridge.gov.uk",
    )

    with caplog.at_level(logging.WARNING, logger="estate_register.application.decisions"):
        result = await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", REJECTED_AT))

    assert result is None
    assert store.systems[system.id].lifecycle_stage is LifecycleStage.PLANNED
    assert store.contracts[contract.id].status is ContractStatus.ACTIVE
    assert len(caplog.records) == 1


async def test_an_approval_after_the_plan_was_retired_plans_again(store):
    first, first_contract = await planned(store)
    await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", REJECTED_AT))

    again = await plan_from_decision(FakeUnitOfWork(store), redecided("approved", APPROVED_AGAIN_AT))

    assert again is not None and again.id != first.id
    assert store.systems[first.id].lifecycle_stage is LifecycleStage.RETIRED
    assert store.contracts[first_contract.id].status is ContractStatus.CANCELLED
    replanned = store.systems[again.id]
    assert replanned.lifecycle_stage is LifecycleStage.PLANNED
    assert replanned.source_request_id == str(REQUEST)
    assert replanned.name == "Homelessness case manager (TR-2025-0042)"  # the retired plan keeps the name
    assert replanned.lifecycle_history[-1].decided_at == APPROVED_AGAIN_AT
    (contract,) = [c for c in store.contracts.values() if c.id != first_contract.id]
    assert (contract.reference, contract.status, contract.system_ids) == (
        "TR-2025-0042-C2",
        ContractStatus.PENDING,
        (again.id,),
    )

    # ... and a further round (reopened, not approved, reopened, approved) works the same way.
    later = APPROVED_AGAIN_AT + timedelta(days=1)
    await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", later))
    third = await plan_from_decision(FakeUnitOfWork(store), redecided("approved", later + timedelta(hours=1)))
    assert third is not None
    assert store.systems[again.id].lifecycle_stage is LifecycleStage.RETIRED
    assert third.name == "Homelessness case manager (TR-2025-0042, plan 2)"
    assert sorted(c.reference for c in store.contracts.values()) == [
        "TR-2025-0042-C1",
        "TR-2025-0042-C2",
        "TR-2025-0042-C3",
    ]


async def test_the_earlier_approval_delivered_again_after_the_retirement_does_not_plan_again(store):
    await planned(store)
    await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", REJECTED_AT))
    written = (len(store.audit), len(store.outbox), store.commits)

    assert await plan_from_decision(FakeUnitOfWork(store), redecided("approved", APPROVED_AT)) is None

    assert len(store.systems) == 1
    assert (len(store.audit), len(store.outbox), store.commits) == written


async def test_an_older_non_approval_arriving_after_a_newer_approval_does_not_undo_it(store):
    await planned(store)
    await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", REJECTED_AT))
    replanned = await plan_from_decision(FakeUnitOfWork(store), redecided("approved", APPROVED_AGAIN_AT))
    assert replanned is not None

    late = await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", REJECTED_AT))
    older = await plan_from_decision(
        FakeUnitOfWork(store), redecided("not_approved", APPROVED_AGAIN_AT - timedelta(seconds=1))
    )

    assert late is None and older is None
    assert store.systems[replanned.id].lifecycle_stage is LifecycleStage.PLANNED


async def test_a_non_approval_older_than_the_plan_does_not_retire_it(store):
    system, contract = await planned(store)

    result = await plan_from_decision(
        FakeUnitOfWork(store), redecided("not_approved", APPROVED_AT - timedelta(days=2))
    )

    assert result is None
    assert store.systems[system.id].lifecycle_stage is LifecycleStage.PLANNED
    assert store.contracts[contract.id].status is ContractStatus.PENDING


async def test_a_plan_someone_retired_by_hand_is_planned_again_only_on_a_newer_approval(store):
    system, _ = await planned(store)
    await services.change_lifecycle(
        FakeUnitOfWork(store),
        system_id=system.id,
        to=LifecycleStage.RETIRED,
        on=None,
        note="not wanted after all",
        expected_version=None,
        actor="someone@cambridge.gov.uk",
    )

    assert await plan_from_decision(FakeUnitOfWork(store), redecided("approved", APPROVED_AT)) is None
    assert await plan_from_decision(FakeUnitOfWork(store), redecided("not_approved", REJECTED_AT)) is None
    assert len(store.systems) == 1
    again = await plan_from_decision(FakeUnitOfWork(store), redecided("approved", APPROVED_AGAIN_AT))
    assert again is not None and store.systems[again.id].lifecycle_stage is LifecycleStage.PLANNED


# --- R22: the owner roles named on the request ------------------------------------------------------


def known_person(store: FakeStore, name: str, email: str) -> uuid.UUID:
    person = Person(id=uuid.uuid4(), name=name, email=email, created_at=NOW, updated_at=NOW)
    store.people[person.id] = person
    return person.id


async def test_the_owner_roles_are_matched_to_the_registers_people_by_e_mail(store):
    owner = known_person(store, "Priya Shah", "priya.shah@cambridge.gov.uk")
    manager = known_person(store, "Dan Okafor", "dan.okafor@cambridge.gov.uk")
    holder = known_person(store, "Helen Marsh", "helen.marsh@cambridge.gov.uk")
    signatory = known_person(store, "Jo Reeves", "jo.reeves@cambridge.gov.uk")
    decision = decided(
        system_owner=EventPerson(id="oid-1", name="Priya Shah", email="Priya.Shah@Cambridge.gov.uk"),
        contract_owner=EventPerson(id="oid-2", name="Dan Okafor", email="dan.okafor@cambridge.gov.uk"),
        budget_holder=EventPerson(id="oid-3", name="Helen Marsh", email="HELEN.MARSH@cambridge.gov.uk"),
        signatory=EventPerson(id="oid-4", name="Jo Reeves", email="jo.reeves@cambridge.gov.uk"),
    )

    system = await plan_from_decision(FakeUnitOfWork(store), decision)

    assert system is not None
    assert store.systems[system.id].system_owner_id == owner
    (contract,) = store.contracts.values()
    assert (contract.owner_id, contract.budget_holder_id, contract.signatory_id) == (
        manager,
        holder,
        signatory,
    )


async def test_an_owner_the_register_does_not_know_is_left_unset_with_a_warning(store, caplog):
    holder = known_person(store, "Helen Marsh", "helen.marsh@cambridge.gov.uk")
    people_before = set(store.people)
    decision = decided(
        system_owner=EventPerson(id="oid-1", name="Nina Cole", email="nina.cole@cambridge.gov.uk"),
        budget_holder=EventPerson(id="oid-3", name="Helen Marsh", email="helen.marsh@cambridge.gov.uk"),
    )

    with caplog.at_level(logging.WARNING, logger="estate_register.application.decisions"):
        system = await plan_from_decision(FakeUnitOfWork(store), decision)

    assert system is not None
    assert store.systems[system.id].system_owner_id is None
    (contract,) = store.contracts.values()
    assert (contract.owner_id, contract.budget_holder_id, contract.signatory_id) == (None, holder, None)
    assert set(store.people) == people_before  # nobody is created from an event
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "system_owner" in warnings[0] and "nina.cole@cambridge.gov.uk" in warnings[0]


async def test_a_decision_naming_no_owners_plans_without_them_and_without_warnings(store, caplog):
    with caplog.at_level(logging.WARNING, logger="estate_register.application.decisions"):
        system = await plan_from_decision(FakeUnitOfWork(store), decided())

    assert system is not None
    assert store.systems[system.id].system_owner_id is None
    (contract,) = store.contracts.values()
    assert (contract.owner_id, contract.budget_holder_id, contract.signatory_id) == (None, None, None)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
