"""A TDA decision on a technology request plans, or retires the plan of, a system in the register.

The procurement service decides; the register records the outcome so that the estate shows what is
coming before it is bought. The chair may reopen a decided request and decide it again, so a request
can be decided several times; the register follows the latest decision:

- An approval (with or without conditions) records a *planned* system with a draft (*pending*)
  contract, both carrying the request id (``source_request_id``). A request has at most one plan in
  force: an approval for a request whose latest plan is not retired changes nothing, however often it
  is delivered.
- A non-approval of a request whose plan is in force retires the plan, when nobody has moved it on:
  the system, still ``planned``, becomes ``retired`` (the note names the request and says the TDA did
  not approve it on re-decision) and its contract, still ``pending``, becomes ``cancelled``, audited
  and published as any change is, in the decision's own transaction. If someone has moved the system
  on (in procurement, live, ...) or the contract on (active, ...), nothing changes and a warning is
  logged: a person must decide what becomes of it.
- A retired plan does not block a new one: an approval after the plan was retired (approved, reopened,
  not approved, reopened, approved) plans again, as a new system with its own contract
  (``<reference>-C2``, ...), the retired one staying on record.
- The owner roles the request names (REQUIREMENTS R22) are matched to the register's people by e-mail
  (case-insensitive): the system owner becomes the system's owner; the contract owner, budget holder
  and signatory the pending contract's. Someone the register does not know is left unset and a
  warning names the role and e-mail: people are recorded in the register, never created from events.
- The lifecycle entry each decision writes records the decision's ``decided_at``. A decision no newer
  than the latest one the request's plan records is stale (a redelivery, a replay, or an older
  decision arriving after a newer one) and changes nothing, so a late decision never undoes a newer
  one.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from estate_contracts.common import Person as EventPerson
from estate_contracts.procurement_events import ProposedSystem, RequestDecided
from estate_register.application import services
from estate_register.application.ports import UnitOfWork
from estate_register.domain.model import Contract, LifecycleEntry, Supplier, System
from estate_register.domain.values import (
    ContractStatus,
    ContractType,
    Hosting,
    LifecycleStage,
    ProcurementRoute,
)
from estate_runtime.workdays import add_months

log = logging.getLogger(__name__)

APPROVALS = frozenset({"approved", "approved_with_conditions"})
HOSTING = {
    "on_premises": Hosting.ON_PREMISES,
    "saas": Hosting.SAAS,
    "cloud": Hosting.CLOUD,
    "hybrid": Hosting.HYBRID,
}
DEFAULT_TERM_MONTHS = 12


async def _supplier(uow: UnitOfWork, proposed: ProposedSystem, actor: str) -> Supplier:
    if proposed.supplier_id is not None:
        found = await uow.suppliers.get(proposed.supplier_id)
        if found is not None:
            return found
    found = await uow.suppliers.get_by_name(proposed.supplier_name)
    if found is not None:
        return found
    now = uow.clock()
    products = (proposed.product_family,) if proposed.product_family else ()
    supplier = Supplier(
        id=uuid.uuid4(), name=proposed.supplier_name, products=products, created_at=now, updated_at=now
    )
    supplier.recorded(actor=actor, at=now)
    await uow.suppliers.add(supplier)
    return supplier


async def _service_area_ids(uow: UnitOfWork, names: list[str]) -> tuple[uuid.UUID, ...]:
    """Service areas named by id or by name (case-insensitive); ones the register does not know are left out."""
    areas = await uow.reference.service_areas()
    by_key = {services.name_key(a.name): a.id for a in areas} | {str(a.id): a.id for a in areas}
    found = []
    for name in names:
        area = by_key.get(name) or by_key.get(services.name_key(name))
        if area is None:
            log.warning("service area %r of an approved request is not in the register; left out", name)
        elif area not in found:
            found.append(area)
    return tuple(found)


async def _person_id(
    uow: UnitOfWork, role: str, named: EventPerson | None, reference: str
) -> uuid.UUID | None:
    """The register's person with the e-mail the request gives for ``role`` (R22), or None (with a warning
    when someone was named whom the register does not know)."""
    if named is None:
        return None
    found = await uow.people.get_by_email(named.email)
    if found is None:
        log.warning(
            "%s of %s is %s, who is not among the register's people; the %s is left unset",
            role,
            reference,
            named.email,
            role.replace("_", " "),
        )
        return None
    return found.id


def _last_decision(system: System) -> datetime | None:
    """When the latest decision the plan carried out was taken (None for a plan made before the register
    recorded decision times)."""
    times = [e.decided_at for e in system.lifecycle_history if e.decided_at is not None]
    return max(times, default=None)


def _is_stale(system: System, decided: RequestDecided) -> bool:
    last = _last_decision(system)
    return last is not None and decided.decided_at <= last


async def plan_from_decision(uow: UnitOfWork, decided: RequestDecided) -> System | None:
    """Follow the request's latest decision: an approval plans the system and its draft contract (unless
    a plan is in force); a non-approval retires a plan nobody has moved on. Returns the system planned
    or retired, or None when nothing changed."""
    request_id = str(decided.request_id)
    latest = await uow.systems.from_request(request_id)
    if latest is not None and _is_stale(latest, decided):
        log.info(
            "decision on %s taken at %s is no newer than the one its plan %s records; nothing to do",
            decided.reference,
            decided.decided_at.isoformat(),
            latest.reference,
        )
        return None
    if decided.outcome == "not_approved":
        return await _retire_plan(uow, decided, latest) if latest is not None else None
    if decided.outcome not in APPROVALS:
        return None
    if decided.proposed_system is None or (latest is not None and not latest.is_retired):
        return None
    return await _plan(uow, decided, decided.proposed_system, planned_before=latest is not None)


async def _retire_plan(uow: UnitOfWork, decided: RequestDecided, system: System) -> System | None:
    """Retire the planned system and cancel its pending contract, unless someone has moved either on."""
    if system.is_retired:
        return None
    request_id = str(decided.request_id)
    contracts = [c for c in await uow.contracts.covering(system.id) if c.source_request_id == request_id]
    moved_on = [c for c in contracts if c.status is not ContractStatus.PENDING]
    if system.lifecycle_stage is not LifecycleStage.PLANNED or moved_on:
        log.warning(
            "%s was not approved on re-decision, but its system %s (%s) is %s and its contracts %s are "
            "not all pending any more; left as it is for a person to decide",
            decided.reference,
            system.name,
            system.reference,
            system.lifecycle_stage,
            ", ".join(f"{c.reference} ({c.status})" for c in contracts) or "(none)",
        )
        return None
    actor = decided.decided_by.email
    for found in contracts:
        contract: Contract = await services.require(uow, "contract", found.id)
        await services.change_contract(
            uow,
            contract=contract,
            changes={"status": ContractStatus.CANCELLED},
            expected_version=found.version,
            actor=actor,
        )
    return await services.change_lifecycle(
        uow,
        system_id=system.id,
        to=LifecycleStage.RETIRED,
        on=decided.decided_at.date(),
        note=f"{decided.reference} was not approved by the TDA on re-decision; the plan made from its "
        "earlier approval is retired",
        expected_version=system.version,
        actor=actor,
        decided_at=decided.decided_at,
    )


async def _free_name(uow: UnitOfWork, council: str, name: str, reference: str) -> str:
    """The proposed name, or failing that one naming the request (and the plan's number, on a re-plan)."""
    candidates = [name, f"{name} ({reference})"]
    candidates += [f"{name} ({reference}, plan {n})" for n in range(2, 100)]
    for candidate in candidates:
        if await uow.systems.get_by_name(council, candidate) is None:
            return candidate
    return f"{name} ({reference}, {uuid.uuid4().hex[:8]})"


async def _free_contract_reference(uow: UnitOfWork, reference: str) -> str:
    number = 1
    while await uow.contracts.get_by_reference(f"{reference}-C{number}") is not None:
        number += 1
    return f"{reference}-C{number}"


async def _plan(
    uow: UnitOfWork, decided: RequestDecided, proposed: ProposedSystem, *, planned_before: bool
) -> System:
    request_id = str(decided.request_id)
    actor = decided.decided_by.email
    councils = await uow.reference.councils()
    known = {c.code for c in councils}
    in_scope = [c for c in proposed.councils_in_scope if c in known] or [
        councils[0].code if councils else "CCC"
    ]
    supplier = await _supplier(uow, proposed, actor)
    name = await _free_name(uow, in_scope[0], proposed.name, decided.reference)
    owners = {
        role: await _person_id(uow, role, getattr(proposed, role), decided.reference)
        for role in ("system_owner", "contract_owner", "budget_holder", "signatory")
    }
    now = uow.clock()
    again = " again, after its earlier plan was retired" if planned_before else ""
    system = await services.new_system(
        uow,
        fields={
            "name": name,
            "description": proposed.description,
            "lead_council": in_scope[0],
            "councils": tuple(in_scope[1:]),
            "service_area_ids": await _service_area_ids(uow, list(proposed.service_areas)),
            "capabilities": tuple(dict.fromkeys(proposed.capabilities)),
            "supplier_id": supplier.id,
            "product_family": proposed.product_family,
            "lifecycle_stage": LifecycleStage.PLANNED,
            "lifecycle_history": (
                LifecycleEntry(
                    stage=LifecycleStage.PLANNED,
                    on=decided.decided_at.date(),
                    at=now,
                    by=actor,
                    note=f"{decided.reference} approved by the TDA{again}",
                    decided_at=decided.decided_at,
                ),
            ),
            "hosting": HOSTING.get(proposed.hosting),
            "holds_personal_data": proposed.holds_personal_data,
            "source_request_id": request_id,
            "system_owner_id": owners["system_owner"],
        },
        actor=actor,
    )
    start = proposed.expected_start_date or decided.decided_at.date()
    months = proposed.term_months or DEFAULT_TERM_MONTHS
    end = add_months(start, months) - timedelta(days=1)
    annual = proposed.estimated_annual_value
    total = (annual * Decimal(months) / Decimal(12) + proposed.estimated_initial_cost).quantize(
        Decimal("0.01")
    )
    await services.new_contract(
        uow,
        fields={
            "reference": await _free_contract_reference(uow, decided.reference),
            "title": f"{proposed.name}: {proposed.supplier_name} (draft from {decided.reference})",
            "supplier_id": supplier.id,
            "system_ids": (system.id,),
            "contract_type": ContractType.SAAS_SUBSCRIPTION
            if system.hosting is Hosting.SAAS
            else ContractType.SOFTWARE_LICENCE,
            "procurement_route": ProcurementRoute.TDA_REQUEST,
            "start_date": start,
            "initial_term_end": end,
            "current_term_end": end,
            "annual_value": annual,
            "total_value": total,
            "councils": tuple(in_scope),
            "status": ContractStatus.PENDING,
            "source_request_id": request_id,
            "owner_id": owners["contract_owner"],
            "budget_holder_id": owners["budget_holder"],
            "signatory_id": owners["signatory"],
        },
        actor=actor,
    )
    await services.commit(uow)
    return system


__all__ = ["Contract", "plan_from_decision"]
