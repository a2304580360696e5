"""Turning what the domain recorded into audit entries and outbox events, inside the same transaction."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from estate_contracts import register_events as ev
from estate_contracts.envelope import Envelope, EventPayload
from estate_eventing.correlation import current_causation_id, current_correlation_id
from estate_register.application.ports import UnitOfWork
from estate_register.domain.model import Happened, Person, Supplier, System
from estate_register.domain.values import ContractStatus
from estate_runtime import publishing

SOURCE = ev.SOURCE


class Names:
    """Names of the records that snapshots refer to, loaded once per batch of facts."""

    def __init__(
        self,
        *,
        suppliers: Mapping[uuid.UUID, Supplier],
        people: Mapping[uuid.UUID, Person],
        systems: Mapping[uuid.UUID, System],
        areas: Mapping[uuid.UUID, str],
    ) -> None:
        self.suppliers = suppliers
        self.people = people
        self.systems = systems
        self.areas = areas

    @classmethod
    async def load(cls, uow: UnitOfWork, facts: Iterable[Happened]) -> Names:
        supplier_ids: set[uuid.UUID] = set()
        person_ids: set[uuid.UUID] = set()
        system_ids: set[uuid.UUID] = set()
        for fact in facts:
            after = fact.after
            for key in ("supplier_id",):
                if after.get(key):
                    supplier_ids.add(uuid.UUID(after[key]))
            for key in ("system_owner_id", "data_owner_id", "signatory_id", "owner_id", "budget_holder_id"):
                if after.get(key):
                    person_ids.add(uuid.UUID(after[key]))
            if fact.kind == "contract":
                system_ids.update(uuid.UUID(s) for s in after.get("system_ids", []))
        suppliers = {s.id: s for s in await uow.suppliers.get_many(sorted(supplier_ids))}
        people = {p.id: p for p in await uow.people.get_many(sorted(person_ids))}
        systems = {s.id: s for s in await uow.systems.get_many(sorted(system_ids))}
        areas = {a.id: a.name for a in await uow.reference.service_areas()}
        return cls(suppliers=suppliers, people=people, systems=systems, areas=areas)

    def person(self, value: str | None) -> dict[str, Any] | None:
        if not value:
            return None
        person = self.people.get(uuid.UUID(value))
        if person is None:
            return None
        return {"id": str(person.id), "name": person.name, "email": person.email}

    def supplier(self, value: str | None) -> dict[str, Any] | None:
        if not value:
            return None
        supplier = self.suppliers.get(uuid.UUID(value))
        return {"id": value, "name": supplier.name if supplier else "(unknown supplier)"}


def system_snapshot(after: dict[str, Any], names: Names) -> ev.SystemSnapshot:
    return ev.SystemSnapshot.model_validate(
        {
            **after,
            "service_areas": [
                {"id": a, "name": names.areas.get(uuid.UUID(a), "(unknown)")}
                for a in after["service_area_ids"]
            ],
            "supplier": names.supplier(after.get("supplier_id")),
            "system_owner": names.person(after.get("system_owner_id")),
            "data_owner": names.person(after.get("data_owner_id")),
        }
    )


def contract_snapshot(after: dict[str, Any], names: Names) -> ev.ContractSnapshot:
    systems = []
    for value in after["system_ids"]:
        system = names.systems.get(uuid.UUID(value))
        systems.append({"id": value, "name": system.name if system else "(unknown system)"})
    decisions = after.get("renewal_decisions") or []
    return ev.ContractSnapshot.model_validate(
        {
            **after,
            "supplier": names.supplier(after["supplier_id"]),
            "systems": systems,
            "signatory": names.person(after.get("signatory_id")),
            "owner": names.person(after.get("owner_id")),
            "budget_holder": names.person(after.get("budget_holder_id")),
            "latest_renewal_decision": decisions[-1] if decisions else None,
        }
    )


def payload_for(fact: Happened, names: Names) -> EventPayload | None:
    """The event a fact is published as; people and reference data are audited but not published."""
    changed = list(fact.detail.get("changed", []))
    if fact.kind == "system":
        system = system_snapshot(fact.after, names)
        match fact.action:
            case "recorded":
                return ev.SystemRecorded(system=system)
            case "changed":
                return ev.SystemChanged(system=system, changed_fields=changed)
            case "lifecycle_changed":
                return ev.SystemLifecycleChanged(
                    system=system, from_stage=fact.detail["from_stage"], to_stage=fact.detail["to_stage"]
                )
            case "retired":
                return ev.SystemRetired(system=system, from_stage=fact.detail["from_stage"])
    if fact.kind == "contract":
        contract = contract_snapshot(fact.after, names)
        match fact.action:
            case "recorded":
                return ev.ContractRecorded(contract=contract)
            case "changed":
                return ev.ContractChanged(contract=contract, changed_fields=changed)
            case "lifecycle_changed":
                to_status = fact.detail["to_status"]
                kind = (
                    ev.ContractRetired
                    if to_status in (ContractStatus.TERMINATED, ContractStatus.CANCELLED)
                    else ev.ContractLifecycleChanged
                )
                return kind(contract=contract, from_status=fact.detail["from_status"], to_status=to_status)
            case "renewal_decision_recorded":
                return ev.RenewalDecisionRecorded(
                    contract=contract, decision=ev.RenewalDecision.model_validate(fact.detail["decision"])
                )
    if fact.kind == "supplier":
        supplier = ev.SupplierSnapshot.model_validate(fact.after)
        match fact.action:
            case "recorded":
                return ev.SupplierRecorded(supplier=supplier)
            case "changed":
                return ev.SupplierChanged(supplier=supplier, changed_fields=changed)
            case "retired":
                return ev.SupplierRetired(supplier=supplier)
    return None


async def publish_recorded_facts(uow: UnitOfWork) -> int:
    """Write an audit entry and (for published kinds) an outbox event for every fact recorded by the
    records this unit of work touched. Call it just before commit; it empties the records' event lists."""
    facts: list[Happened] = []
    for record in uow.touched():
        # A fact's snapshot is taken before the repository stores the record and bumps its version;
        # the audit entry and the event carry the version the change was stored as.
        for fact in record.events:
            facts.append(dataclasses.replace(fact, after={**fact.after, "version": record.version}))
        record.events.clear()
    if not facts:
        return 0
    await uow.flush()
    names = await Names.load(uow, facts)
    correlation = current_correlation_id() or str(uuid.uuid4())
    for fact in facts:
        await uow.audit.append(fact, correlation_id=correlation)
    for envelope, topic in envelopes_for(
        facts, names, correlation=correlation, causation=current_causation_id()
    ):
        await uow.outbox.put(envelope, topic=topic)
    return len(facts)


def envelopes_for(
    facts: Iterable[Happened], names: Names, *, correlation: str, causation: str | None
) -> list[tuple[Envelope, str]]:
    """The envelope and topic of every fact that is published, in the order the facts happened."""
    return publishing.envelopes_for(
        facts,
        lambda fact: payload_for(fact, names),
        source=SOURCE,
        subject=lambda fact: str(fact.record_id),
        correlation=correlation,
        causation=causation,
    )
