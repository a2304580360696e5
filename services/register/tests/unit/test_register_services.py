"""The register's use cases over the in-memory unit of work: each change is audited once and announced
once, in the same commit, with the correlation id of the work in hand and a snapshot people can read."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from fakes import NOW, FakeStore, FakeUnitOfWork, a_contract, a_system

from estate_contracts.topics import REGISTER_CONTRACTS, REGISTER_SUPPLIERS, REGISTER_SYSTEMS
from estate_eventing.correlation import correlation_scope
from estate_register.application import services
from estate_register.domain.errors import Conflict, InvalidTransition, InvalidValue, NotFound, StaleVersion
from estate_register.domain.model import Council, Person, ServiceArea, Supplier
from estate_register.domain.values import (
    ContractStatus,
    ContractType,
    LifecycleStage,
    RenewalOutcome,
)

HOUSING = ServiceArea(id=uuid.uuid4(), name="Housing Services", council_code="CCC")
MRI = Supplier(id=uuid.uuid4(), name="MRI Software", created_at=NOW, updated_at=NOW)
SAM = Person(
    id=uuid.uuid4(),
    name="Sam Whitfield",
    email="sam.whitfield@cambridge.gov.uk",
    created_at=NOW,
    updated_at=NOW,
)
ACTOR = "clerk@cambridge.gov.uk"


@pytest.fixture
def store() -> FakeStore:
    """Two councils, one service area, one supplier and one person; nothing audited yet."""
    store = FakeStore(
        councils=[Council(code="CCC", name="Cambridge City"), Council(code="SCDC", name="South Cambs")],
        service_areas=[HOUSING],
    )
    store.suppliers[MRI.id] = MRI
    store.people[SAM.id] = SAM
    return store


def uow(store: FakeStore) -> FakeUnitOfWork:
    return FakeUnitOfWork(store)


def system_fields(**overrides):
    fields = {
        "name": "Orchard",
        "lead_council": "CCC",
        "supplier_id": MRI.id,
        "system_owner_id": SAM.id,
        "service_area_ids": (HOUSING.id,),
        "holds_personal_data": True,
    }
    fields.update(overrides)
    return fields


def contract_fields(**overrides):
    fields = {
        "reference": "CCC-ICT-0003",
        "title": "Orchard licence and support",
        "supplier_id": MRI.id,
        "contract_type": ContractType.SUPPORT_AND_MAINTENANCE,
        "start_date": date(2025, 4, 1),
        "initial_term_end": date(2028, 3, 31),
        "notice_period_days": 90,
        "internal_lead_time_days": 30,
        "annual_value": Decimal("184500.00"),
        "owner_id": SAM.id,
    }
    fields.update(overrides)
    return fields


async def recorded_system(store: FakeStore, **overrides):
    system = await services.record_system(uow(store), fields=system_fields(**overrides), actor=ACTOR)
    store.audit.clear()
    store.outbox.clear()
    return system


async def recorded_contract(store: FakeStore, **overrides):
    contract = await services.record_contract(uow(store), fields=contract_fields(**overrides), actor=ACTOR)
    store.audit.clear()
    store.outbox.clear()
    return contract


def only_event(store: FakeStore):
    assert len(store.audit) == 1, [a.fact.action for a in store.audit]
    assert len(store.outbox) == 1, store.event_types()
    return store.audit[0], store.outbox[0]


# --- systems ------------------------------------------------------------------------------------------


async def test_recording_a_system_audits_it_once_and_announces_it_with_names_people_can_read(store):
    with correlation_scope("corr-record-1"):
        system = await services.record_system(uow(store), fields=system_fields(), actor=ACTOR)

    audit, out = only_event(store)
    assert store.systems[system.id].reference == "SYS-00001"
    assert (audit.fact.action, audit.fact.actor, audit.correlation_id) == ("recorded", ACTOR, "corr-record-1")
    assert out.topic == REGISTER_SYSTEMS
    envelope = out.envelope
    assert envelope.type == "estate.register.system.recorded"
    assert envelope.subject == str(system.id)
    assert envelope.correlationid == "corr-record-1"
    snapshot = envelope.data["system"]
    assert snapshot["supplier"] == {"id": str(MRI.id), "name": "MRI Software"}
    assert snapshot["system_owner"]["email"] == "sam.whitfield@cambridge.gov.uk"
    assert snapshot["service_areas"] == [{"id": str(HOUSING.id), "name": "Housing Services"}]
    assert snapshot["version"] == 1


async def test_work_started_outside_a_request_gets_one_correlation_id_for_audit_and_event(store):
    await services.record_system(uow(store), fields=system_fields(), actor=ACTOR)

    audit, out = only_event(store)
    assert audit.correlation_id
    assert audit.correlation_id == out.envelope.correlationid


async def test_changing_a_system_announces_exactly_the_fields_that_changed_at_the_new_version(store):
    system = await recorded_system(store)

    with correlation_scope("corr-change-1"):
        changed = await services.update_system(
            uow(store),
            system_id=system.id,
            changes={"description": "Housing management", "name": "Orchard"},
            expected_version=1,
            actor="sam.whitfield@cambridge.gov.uk",
        )

    audit, out = only_event(store)
    assert changed.version == 2
    assert store.systems[system.id].description == "Housing management"
    assert audit.fact.detail["changed"] == ["description"]
    assert audit.fact.before["description"] == ""
    assert audit.fact.after["description"] == "Housing management"
    assert out.envelope.type == "estate.register.system.changed"
    assert out.envelope.data["changed_fields"] == ["description"]
    assert out.envelope.data["system"]["version"] == 2
    assert (out.envelope.subject, out.envelope.correlationid) == (str(system.id), "corr-change-1")


async def test_a_change_that_changes_nothing_is_neither_audited_nor_announced(store):
    system = await recorded_system(store, description="same")

    await services.update_system(
        uow(store), system_id=system.id, changes={"description": "same"}, expected_version=1, actor=ACTOR
    )

    assert store.audit == []
    assert store.outbox == []
    assert store.systems[system.id].version == 1


async def test_a_lifecycle_change_is_announced_as_a_lifecycle_change_with_both_stages(store):
    system = await recorded_system(store, lifecycle_stage=LifecycleStage.LIVE)

    with correlation_scope("corr-lifecycle"):
        await services.change_lifecycle(
            uow(store),
            system_id=system.id,
            to=LifecycleStage.DECOMMISSIONING,
            on=date(2025, 3, 1),
            note="replaced",
            expected_version=1,
            actor=ACTOR,
        )

    _, out = only_event(store)
    assert out.envelope.type == "estate.register.system.lifecycle_changed"
    assert (out.envelope.data["from_stage"], out.envelope.data["to_stage"]) == ("live", "decommissioning")
    assert out.envelope.correlationid == "corr-lifecycle"
    assert store.systems[system.id].lifecycle_history[-1].on == date(2025, 3, 1)


async def test_retiring_a_system_is_announced_as_a_retirement(store):
    system = await recorded_system(store, lifecycle_stage=LifecycleStage.DECOMMISSIONING)

    await services.change_lifecycle(
        uow(store),
        system_id=system.id,
        to=LifecycleStage.RETIRED,
        on=None,
        note="",
        expected_version=1,
        actor=ACTOR,
    )

    _, out = only_event(store)
    assert out.envelope.type == "estate.register.system.retired"
    assert out.envelope.data["from_stage"] == "decommissioning"
    assert store.systems[system.id].lifecycle_history[-1].on == NOW.date()


async def test_a_change_made_to_an_older_version_is_refused_and_nothing_is_written(store):
    system = await recorded_system(store)
    await services.update_system(
        uow(store), system_id=system.id, changes={"description": "first"}, expected_version=1, actor=ACTOR
    )
    store.audit.clear()
    store.outbox.clear()

    with pytest.raises(StaleVersion):
        await services.update_system(
            uow(store),
            system_id=system.id,
            changes={"description": "second"},
            expected_version=1,
            actor=ACTOR,
        )

    assert store.systems[system.id].description == "first"
    assert store.audit == []
    assert store.outbox == []


async def test_two_units_of_work_reading_the_same_version_cannot_both_commit(store):
    system = await recorded_system(store)
    first, second = uow(store), uow(store)
    await services.change_system(
        first,
        system=await first.systems.get(system.id),
        changes={"description": "first"},
        expected_version=1,
        actor=ACTOR,
    )
    await services.change_system(
        second,
        system=await second.systems.get(system.id),
        changes={"description": "second"},
        expected_version=1,
        actor=ACTOR,
    )

    await services.commit(first)
    with pytest.raises(StaleVersion):
        await services.commit(second)

    assert store.systems[system.id].description == "first"
    assert len(store.outbox) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("supplier_id", uuid.uuid4()),
        ("system_owner_id", uuid.uuid4()),
        ("data_owner_id", uuid.uuid4()),
        ("service_area_ids", (uuid.uuid4(),)),
        ("lead_council", "XYZ"),
        ("councils", ("SCDC", "XYZ")),
    ],
)
async def test_a_system_referring_to_something_unknown_is_refused_naming_the_field(store, field, value):
    with pytest.raises(InvalidValue) as refused:
        await services.record_system(uow(store), fields=system_fields(**{field: value}), actor=ACTOR)

    assert refused.value.field == field
    assert store.systems == {}
    assert store.audit == []


async def test_an_unknown_council_is_refused_with_the_councils_that_exist(store):
    with pytest.raises(InvalidValue, match="known: CCC, SCDC"):
        await services.record_system(uow(store), fields=system_fields(lead_council="XYZ"), actor=ACTOR)


@pytest.mark.parametrize("name", ["Orchard", "  orchard ", "ORCHARD"])
async def test_a_council_cannot_record_two_systems_of_the_same_name(store, name):
    await recorded_system(store)

    with pytest.raises(Conflict) as refused:
        await services.record_system(uow(store), fields=system_fields(name=name), actor=ACTOR)

    assert refused.value.field == "name"
    assert len(store.systems) == 1
    assert store.outbox == []


async def test_another_council_may_record_a_system_of_the_same_name(store):
    await recorded_system(store)

    await services.record_system(uow(store), fields=system_fields(lead_council="SCDC"), actor=ACTOR)

    assert sorted(s.lead_council for s in store.systems.values()) == ["CCC", "SCDC"]


async def test_renaming_a_system_to_a_name_its_council_already_uses_is_refused(store):
    await recorded_system(store)
    other = await recorded_system(store, name="Storm")

    with pytest.raises(Conflict):
        await services.update_system(
            uow(store), system_id=other.id, changes={"name": "orchard"}, expected_version=1, actor=ACTOR
        )

    assert store.systems[other.id].name == "Storm"


async def test_a_reference_in_use_is_refused(store):
    await recorded_system(store, reference="SYS-00042")

    with pytest.raises(Conflict) as refused:
        await services.record_system(
            uow(store), fields=system_fields(name="Storm", reference="SYS-00042"), actor=ACTOR
        )

    assert refused.value.field == "reference"


async def test_changing_a_record_that_does_not_exist_is_not_found(store):
    with pytest.raises(NotFound):
        await services.update_system(
            uow(store), system_id=uuid.uuid4(), changes={"description": "x"}, expected_version=1, actor=ACTOR
        )


# --- contracts ----------------------------------------------------------------------------------------


async def test_recording_a_contract_computes_act_by_and_announces_it_with_names(store):
    system = await recorded_system(store)

    with correlation_scope("corr-contract"):
        contract = await services.record_contract(
            uow(store), fields=contract_fields(system_ids=(system.id,)), actor=ACTOR
        )

    audit, out = only_event(store)
    # 2028-03-31 less 90 days' notice and 30 days' lead time is Thursday 2 December 2027.
    assert store.contracts[contract.id].act_by == date(2027, 12, 2)
    assert store.contracts[contract.id].current_term_end == date(2028, 3, 31)
    assert audit.correlation_id == "corr-contract"
    assert out.topic == REGISTER_CONTRACTS
    assert out.envelope.type == "estate.register.contract.recorded"
    assert out.envelope.subject == str(contract.id)
    snapshot = out.envelope.data["contract"]
    assert snapshot["supplier"]["name"] == "MRI Software"
    assert snapshot["owner"]["email"] == "sam.whitfield@cambridge.gov.uk"
    assert snapshot["systems"] == [{"id": str(system.id), "name": "Orchard"}]
    assert snapshot["annual_value"] == "184500.00"


async def test_changing_a_contract_announces_the_changed_fields_and_moves_act_by(store):
    contract = await recorded_contract(store)

    await services.update_contract(
        uow(store),
        contract_id=contract.id,
        changes={"notice_period_days": 60, "title": "Orchard licence and support"},
        expected_version=1,
        actor=ACTOR,
    )

    _, out = only_event(store)
    assert out.envelope.type == "estate.register.contract.changed"
    assert out.envelope.data["changed_fields"] == ["notice_period_days"]
    assert out.envelope.data["contract"]["version"] == 2
    # 90 days before 2028-03-31 is Saturday 1 January 2028: the Friday before.
    assert store.contracts[contract.id].act_by == date(2027, 12, 31)


@pytest.mark.parametrize(
    ("to", "event_type"),
    [
        (ContractStatus.TERMINATED, "estate.register.contract.retired"),
        (ContractStatus.EXPIRED, "estate.register.contract.lifecycle_changed"),
    ],
)
async def test_a_contract_status_change_is_announced_with_both_statuses(store, to, event_type):
    contract = await recorded_contract(store)

    await services.update_contract(
        uow(store), contract_id=contract.id, changes={"status": to}, expected_version=1, actor=ACTOR
    )

    _, out = only_event(store)
    assert out.envelope.type == event_type
    assert (out.envelope.data["from_status"], out.envelope.data["to_status"]) == ("active", to.value)


async def test_a_renewal_decision_is_announced_with_the_decision_and_the_new_term(store):
    contract = await recorded_contract(store, extension_options_left=1)

    with correlation_scope("corr-renewal"):
        await services.decide_renewal(
            uow(store),
            contract_id=contract.id,
            outcome=RenewalOutcome.EXTEND,
            rationale="One more year while we re-procure",
            new_term_end=date(2029, 3, 31),
            expected_version=1,
            actor="sam.whitfield@cambridge.gov.uk",
        )

    audit, out = only_event(store)
    assert audit.fact.action == "renewal_decision_recorded"
    assert out.envelope.type == "estate.register.contract.renewal_decision_recorded"
    assert out.envelope.correlationid == "corr-renewal"
    assert out.envelope.data["decision"]["outcome"] == "extend"
    assert out.envelope.data["decision"]["rationale"] == "One more year while we re-procure"
    assert out.envelope.data["contract"]["current_term_end"] == "2029-03-31"
    assert out.envelope.data["contract"]["extension_options_left"] == 0
    assert store.contracts[contract.id].version == 2


async def test_a_renewal_decision_on_an_older_version_is_refused(store):
    contract = await recorded_contract(store)

    with pytest.raises(StaleVersion):
        await services.decide_renewal(
            uow(store),
            contract_id=contract.id,
            outcome=RenewalOutcome.TERMINATE,
            rationale="No longer needed",
            new_term_end=None,
            expected_version=7,
            actor=ACTOR,
        )

    assert store.contracts[contract.id].renewal_decisions == ()
    assert store.outbox == []


async def test_a_retired_system_cannot_be_put_under_a_new_active_contract(store):
    retired = await recorded_system(store, name="govmetric", lifecycle_stage=LifecycleStage.RETIRED)

    with pytest.raises(InvalidTransition) as refused:
        await services.record_contract(
            uow(store), fields=contract_fields(system_ids=(retired.id,)), actor=ACTOR
        )

    assert refused.value.field == "system_ids"
    assert store.contracts == {}
    assert store.audit == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("supplier_id", uuid.uuid4()),
        ("owner_id", uuid.uuid4()),
        ("budget_holder_id", uuid.uuid4()),
        ("signatory_id", uuid.uuid4()),
        ("system_ids", (uuid.uuid4(),)),
    ],
)
async def test_a_contract_referring_to_something_unknown_is_refused_naming_the_field(store, field, value):
    with pytest.raises(InvalidValue) as refused:
        await services.record_contract(uow(store), fields=contract_fields(**{field: value}), actor=ACTOR)

    assert refused.value.field == field
    assert store.contracts == {}


async def test_a_contract_reference_in_use_is_refused(store):
    await recorded_contract(store)

    with pytest.raises(Conflict) as refused:
        await services.record_contract(uow(store), fields=contract_fields(title="Another"), actor=ACTOR)

    assert refused.value.field == "reference"
    assert len(store.contracts) == 1


# --- suppliers and people ----------------------------------------------------------------------------


async def test_recording_changing_and_retiring_a_supplier_are_announced_in_turn(store):
    supplier = await services.record_supplier(uow(store), fields={"name": "Idox"}, actor=ACTOR)
    await services.update_supplier(
        uow(store), supplier_id=supplier.id, changes={"notes": "Tascomi"}, expected_version=1, actor=ACTOR
    )
    await services.update_supplier(
        uow(store), supplier_id=supplier.id, changes={"retired": True}, expected_version=2, actor=ACTOR
    )

    assert store.event_types() == [
        "estate.register.supplier.recorded",
        "estate.register.supplier.changed",
        "estate.register.supplier.retired",
    ]
    assert {o.topic for o in store.outbox} == {REGISTER_SUPPLIERS}
    assert {o.envelope.subject for o in store.outbox} == {str(supplier.id)}
    assert store.outbox[1].envelope.data["changed_fields"] == ["notes"]
    assert store.suppliers[supplier.id].retired is True
    assert [a.fact.action for a in store.audit] == ["recorded", "changed", "retired"]


async def test_a_supplier_name_in_use_is_refused_whatever_its_case(store):
    with pytest.raises(Conflict) as refused:
        await services.record_supplier(uow(store), fields={"name": "mri  software"}, actor=ACTOR)

    assert refused.value.field == "name"


async def test_people_are_audited_but_not_announced(store):
    await services.record_person(
        uow(store), fields={"name": "Priya Shah", "email": "priya.shah@cambridge.gov.uk"}, actor=ACTOR
    )

    assert [a.fact.kind for a in store.audit] == ["person"]
    assert store.outbox == []


async def test_a_person_email_in_use_is_refused(store):
    with pytest.raises(Conflict) as refused:
        await services.record_person(
            uow(store), fields={"name": "Sam W", "email": "Sam.Whitfield@cambridge.gov.uk"}, actor=ACTOR
        )

    assert refused.value.field == "email"


async def test_a_service_area_is_one_per_council_whatever_its_case(store):
    with pytest.raises(Conflict):
        await services.record_service_area(
            uow(store), name="housing  services", council_code="CCC", actor="admin@x"
        )

    area = await services.record_service_area(
        uow(store), name="Housing Services", council_code="SCDC", actor="admin@x"
    )
    assert area in store.service_areas


def test_builders_make_valid_records():
    a_system().validate()
    a_contract().validate()
