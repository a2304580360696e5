"""The register's use cases: one keyword-only function per command, each one transaction.

Every function checks that the records it refers to exist, applies the domain's rules, and ends with
:func:`commit`, which writes the audit trail and the outbox in the same commit as the change.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from estate_eventing.correlation import current_correlation_id
from estate_register.application.events import publish_recorded_facts
from estate_register.application.ports import Repository, UnitOfWork
from estate_register.domain.errors import Conflict, InvalidValue, NotFound, StaleVersion
from estate_register.domain.model import (
    Aggregate,
    Contract,
    Council,
    Happened,
    Kind,
    Person,
    RenewalDecision,
    ServiceArea,
    Supplier,
    System,
    to_plain,
)
from estate_register.domain.values import LifecycleStage, RenewalOutcome

_SPACES = re.compile(r"\s+")


def name_key(name: str) -> str:
    """The match key of a name: case and runs of spaces do not make two records different."""
    return _SPACES.sub(" ", name.strip()).casefold()


async def commit(uow: UnitOfWork) -> None:
    await publish_recorded_facts(uow)
    await uow.commit()


def _check_version(record: Aggregate, expected_version: int | None) -> int:
    if expected_version is not None and expected_version != record.version:
        raise StaleVersion(
            f"{record.KIND} was changed by someone else (you sent version {expected_version}, "
            f"it is now version {record.version}); reload it and apply your change again"
        )
    return record.version


async def require(uow: UnitOfWork, kind: str, record_id: uuid.UUID) -> Any:
    """The record of that kind and id, or NotFound."""
    repos: dict[str, Repository[Any]] = {
        "system": uow.systems,
        "contract": uow.contracts,
        "supplier": uow.suppliers,
        "person": uow.people,
    }
    record = await repos[kind].get(record_id)
    if record is None:
        raise NotFound(f"no {kind} with id {record_id}")
    return record


async def check_references(uow: UnitOfWork, fields: Mapping[str, Any]) -> None:
    """Every id or code a record refers to must exist; the error names the field to fix."""
    if fields.get("supplier_id") is not None and await uow.suppliers.get(fields["supplier_id"]) is None:
        raise InvalidValue(f"no supplier with id {fields['supplier_id']}", field="supplier_id")
    for name in ("system_owner_id", "data_owner_id", "signatory_id", "owner_id", "budget_holder_id"):
        if fields.get(name) is not None and await uow.people.get(fields[name]) is None:
            raise InvalidValue(f"no person with id {fields[name]}", field=name)
    if "service_area_ids" in fields:
        known = {a.id for a in await uow.reference.service_areas()}
        for area in fields["service_area_ids"]:
            if area not in known:
                raise InvalidValue(f"no service area with id {area}", field="service_area_ids")
    council_fields = [n for n in ("lead_council", "councils") if n in fields]
    if council_fields:
        codes = {c.code for c in await uow.reference.councils()}
        for name in council_fields:
            values = fields[name] if isinstance(fields[name], list | tuple) else [fields[name]]
            for code in values:
                if code not in codes:
                    raise InvalidValue(
                        f"unknown council {code!r} (known: {', '.join(sorted(codes))})", field=name
                    )
    if "system_ids" in fields:
        ids = list(fields["system_ids"])
        found = {s.id for s in await uow.systems.get_many(ids)}
        for system_id in ids:
            if system_id not in found:
                raise InvalidValue(f"no system with id {system_id}", field="system_ids")


# --- people, suppliers, reference data -------------------------------------------------------------


async def record_person(uow: UnitOfWork, *, fields: Mapping[str, Any], actor: str) -> Person:
    now = uow.clock()
    if await uow.people.get_by_email(fields["email"]) is not None:
        raise Conflict(f"a person with email {fields['email']} is already recorded", field="email")
    person = Person(id=uuid.uuid4(), created_at=now, updated_at=now, **fields)
    person.recorded(actor=actor, at=now)
    await uow.people.add(person)
    await commit(uow)
    return person


async def update_person(
    uow: UnitOfWork,
    *,
    person_id: uuid.UUID,
    changes: Mapping[str, Any],
    expected_version: int | None,
    actor: str,
) -> Person:
    person: Person = await require(uow, "person", person_id)
    version = _check_version(person, expected_version)
    if "email" in changes and changes["email"] != person.email:
        other = await uow.people.get_by_email(changes["email"])
        if other is not None:
            raise Conflict(f"a person with email {changes['email']} is already recorded", field="email")
    person.apply_changes(changes, actor=actor, at=uow.clock())
    await uow.people.save(person, expected_version=version)
    await commit(uow)
    return person


async def record_supplier(uow: UnitOfWork, *, fields: Mapping[str, Any], actor: str) -> Supplier:
    now = uow.clock()
    if await uow.suppliers.get_by_name(fields["name"]) is not None:
        raise Conflict(f"supplier {fields['name']!r} is already recorded", field="name")
    supplier = Supplier(id=uuid.uuid4(), created_at=now, updated_at=now, **fields)
    supplier.recorded(actor=actor, at=now)
    await uow.suppliers.add(supplier)
    await commit(uow)
    return supplier


async def update_supplier(
    uow: UnitOfWork,
    *,
    supplier_id: uuid.UUID,
    changes: Mapping[str, Any],
    expected_version: int | None,
    actor: str,
) -> Supplier:
    supplier: Supplier = await require(uow, "supplier", supplier_id)
    version = _check_version(supplier, expected_version)
    renamed = "name" in changes and name_key(changes["name"]) != name_key(supplier.name)
    if renamed and await uow.suppliers.get_by_name(changes["name"]) is not None:
        raise Conflict(f"supplier {changes['name']!r} is already recorded", field="name")
    retire = changes.get("retired") is True and not supplier.retired
    changes = {k: v for k, v in changes.items() if k != "retired"}
    now = uow.clock()
    supplier.apply_changes(changes, actor=actor, at=now)
    if retire:
        supplier.retire(actor=actor, at=now)
    await uow.suppliers.save(supplier, expected_version=version)
    await commit(uow)
    return supplier


async def _audit_reference(
    uow: UnitOfWork, *, kind: Kind, record_id: str, after: dict[str, Any], actor: str
) -> None:
    """Reference data is audited like every record, though no other service needs its events."""
    fact = Happened(
        kind=kind,
        action="recorded",
        record_id=record_id,
        actor=actor,
        at=uow.clock(),
        before=None,
        after=after,
    )
    await uow.audit.append(fact, correlation_id=current_correlation_id())


async def record_council(uow: UnitOfWork, *, code: str, name: str, actor: str) -> Council:
    council = Council(code=code, name=name)
    if any(c.code == code for c in await uow.reference.councils()):
        raise Conflict(f"council {code} is already recorded", field="code")
    await uow.reference.add_council(council)
    await _audit_reference(uow, kind="council", record_id=code, after=to_plain(council), actor=actor)
    await uow.commit()
    return council


async def record_service_area(uow: UnitOfWork, *, name: str, council_code: str, actor: str) -> ServiceArea:
    await check_references(uow, {"lead_council": council_code})
    for area in await uow.reference.service_areas():
        if area.council_code == council_code and name_key(area.name) == name_key(name):
            raise Conflict(f"service area {name!r} of {council_code} is already recorded", field="name")
    area = ServiceArea(id=uuid.uuid4(), name=name.strip(), council_code=council_code)
    await uow.reference.add_service_area(area)
    await _audit_reference(
        uow, kind="service_area", record_id=str(area.id), after=to_plain(area), actor=actor
    )
    await uow.commit()
    return area


# --- systems -------------------------------------------------------------------------------------


async def new_system(uow: UnitOfWork, *, fields: Mapping[str, Any], actor: str) -> System:
    """Build and check a new system without committing (used alone and by bulk import)."""
    fields = dict(fields)
    await check_references(uow, fields)
    if await uow.systems.get_by_name(fields["lead_council"], fields["name"]) is not None:
        raise Conflict(
            f"{fields['lead_council']} already has a system called {fields['name']!r}", field="name"
        )
    reference = fields.pop("reference", None) or await uow.systems.next_reference()
    if await uow.systems.get_by_reference(reference) is not None:
        raise Conflict(f"system reference {reference} is already used", field="reference")
    now = uow.clock()
    system = System(id=uuid.uuid4(), reference=reference, created_at=now, updated_at=now, **fields)
    system.recorded(actor=actor, at=now)
    await uow.systems.add(system)
    return system


async def record_system(uow: UnitOfWork, *, fields: Mapping[str, Any], actor: str) -> System:
    system = await new_system(uow, fields=fields, actor=actor)
    await commit(uow)
    return system


async def change_system(
    uow: UnitOfWork, *, system: System, changes: Mapping[str, Any], expected_version: int | None, actor: str
) -> list[str]:
    """Apply a change to a loaded system without committing (used alone and by bulk import)."""
    version = _check_version(system, expected_version)
    await check_references(uow, changes)
    if "name" in changes or "lead_council" in changes:
        council = changes.get("lead_council", system.lead_council)
        other = await uow.systems.get_by_name(council, changes.get("name", system.name))
        if other is not None and other.id != system.id:
            raise Conflict(f"{council} already has a system called {other.name!r}", field="name")
    changed = system.apply_changes(changes, actor=actor, at=uow.clock())
    if changed:
        await uow.systems.save(system, expected_version=version)
    return changed


async def update_system(
    uow: UnitOfWork,
    *,
    system_id: uuid.UUID,
    changes: Mapping[str, Any],
    expected_version: int | None,
    actor: str,
) -> System:
    system: System = await require(uow, "system", system_id)
    await change_system(uow, system=system, changes=changes, expected_version=expected_version, actor=actor)
    await commit(uow)
    return system


async def change_lifecycle(
    uow: UnitOfWork,
    *,
    system_id: uuid.UUID,
    to: LifecycleStage,
    on: date | None,
    note: str,
    expected_version: int | None,
    actor: str,
    decided_at: datetime | None = None,
) -> System:
    """Move a system along a lifecycle edge; ``decided_at`` records the decision taken elsewhere (a TDA
    decision) that the change carries out, when there is one."""
    system: System = await require(uow, "system", system_id)
    version = _check_version(system, expected_version)
    now = uow.clock()
    system.change_lifecycle(to, actor=actor, at=now, on=on or now.date(), note=note, decided_at=decided_at)
    await uow.systems.save(system, expected_version=version)
    await commit(uow)
    return system


async def mark_validated(
    uow: UnitOfWork, *, system_id: uuid.UUID, expected_version: int | None, actor: str
) -> System:
    system: System = await require(uow, "system", system_id)
    version = _check_version(system, expected_version)
    system.mark_validated(actor=actor, at=uow.clock())
    await uow.systems.save(system, expected_version=version)
    await commit(uow)
    return system


# --- contracts -----------------------------------------------------------------------------------


async def _check_covered_systems(uow: UnitOfWork, contract: Contract) -> None:
    contract.check_systems_accept(await uow.systems.get_many(list(contract.system_ids)))


async def new_contract(uow: UnitOfWork, *, fields: Mapping[str, Any], actor: str) -> Contract:
    fields = dict(fields)
    if fields.get("supplier_id") is None:
        raise InvalidValue("supplier_id is required", field="supplier_id")
    await check_references(uow, fields)
    if await uow.contracts.get_by_reference(fields["reference"]) is not None:
        raise Conflict(f"contract reference {fields['reference']} is already used", field="reference")
    fields.setdefault("current_term_end", fields.get("initial_term_end"))
    now = uow.clock()
    contract = Contract(id=uuid.uuid4(), created_at=now, updated_at=now, **fields)
    contract.compute_act_by(uow.calendar)
    await _check_covered_systems(uow, contract)
    contract.recorded(actor=actor, at=now)
    await uow.contracts.add(contract)
    return contract


async def record_contract(uow: UnitOfWork, *, fields: Mapping[str, Any], actor: str) -> Contract:
    contract = await new_contract(uow, fields=fields, actor=actor)
    await commit(uow)
    return contract


async def change_contract(
    uow: UnitOfWork,
    *,
    contract: Contract,
    changes: Mapping[str, Any],
    expected_version: int | None,
    actor: str,
) -> list[str]:
    version = _check_version(contract, expected_version)
    await check_references(uow, changes)
    changed = contract.apply_changes(changes, actor=actor, at=uow.clock())
    if changed:
        contract.compute_act_by(uow.calendar)
        await _check_covered_systems(uow, contract)
        await uow.contracts.save(contract, expected_version=version)
    return changed


async def update_contract(
    uow: UnitOfWork,
    *,
    contract_id: uuid.UUID,
    changes: Mapping[str, Any],
    expected_version: int | None,
    actor: str,
) -> Contract:
    contract: Contract = await require(uow, "contract", contract_id)
    await change_contract(
        uow, contract=contract, changes=changes, expected_version=expected_version, actor=actor
    )
    await commit(uow)
    return contract


async def decide_renewal(
    uow: UnitOfWork,
    *,
    contract_id: uuid.UUID,
    outcome: RenewalOutcome,
    rationale: str,
    new_term_end: date | None,
    expected_version: int | None,
    actor: str,
) -> Contract:
    contract: Contract = await require(uow, "contract", contract_id)
    version = _check_version(contract, expected_version)
    decision = RenewalDecision(
        id=uuid.uuid4(),
        outcome=outcome,
        rationale=rationale,
        decided_by=actor,
        decided_at=uow.clock(),
        new_term_end=new_term_end,
    )
    contract.record_renewal_decision(decision, calendar=uow.calendar)
    await uow.contracts.save(contract, expected_version=version)
    await commit(uow)
    return contract
