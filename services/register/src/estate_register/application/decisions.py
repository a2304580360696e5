"""An approved technology request becomes a *planned* system with a draft (pending) contract.

The procurement service decides; the register records the outcome so that the estate shows what is
coming before it is bought. The planned system and its contract both carry the request id, and a
request is planned at most once, however often its decision is delivered.
"""

from __future__ import annotations

import calendar
import logging
import uuid
from datetime import date, timedelta
from decimal import Decimal

from estate_contracts.procurement_events import ProposedSystem, RequestDecided
from estate_register.application import services
from estate_register.application.ports import UnitOfWork
from estate_register.domain.model import Contract, Supplier, System
from estate_register.domain.values import (
    ContractStatus,
    ContractType,
    Hosting,
    LifecycleStage,
    ProcurementRoute,
)

log = logging.getLogger(__name__)

APPROVALS = frozenset({"approved", "approved_with_conditions"})
HOSTING = {
    "on_premises": Hosting.ON_PREMISES,
    "saas": Hosting.SAAS,
    "cloud": Hosting.CLOUD,
    "hybrid": Hosting.HYBRID,
}
DEFAULT_TERM_MONTHS = 12


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


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


async def plan_from_decision(uow: UnitOfWork, decided: RequestDecided) -> System | None:
    """Record the planned system and draft contract of an approval; a non-approval changes nothing."""
    proposed = decided.proposed_system
    if decided.outcome not in APPROVALS or proposed is None:
        return None
    request_id = str(decided.request_id)
    if await uow.systems.from_request(request_id) is not None:
        return None
    actor = decided.decided_by.email
    councils = await uow.reference.councils()
    known = {c.code for c in councils}
    in_scope = [c for c in proposed.councils_in_scope if c in known] or [
        councils[0].code if councils else "CCC"
    ]
    supplier = await _supplier(uow, proposed, actor)
    name = proposed.name
    if await uow.systems.get_by_name(in_scope[0], name) is not None:
        name = f"{proposed.name} ({decided.reference})"
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
            "hosting": HOSTING.get(proposed.hosting),
            "holds_personal_data": proposed.holds_personal_data,
            "source_request_id": request_id,
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
            "reference": f"{decided.reference}-C1",
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
        },
        actor=actor,
    )
    await services.commit(uow)
    return system


__all__ = ["Contract", "plan_from_decision"]
