"""The register's REST API (v1): systems, contracts, suppliers, people and reference data."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from estate_register.adapters.db import queries
from estate_register.adapters.db.repositories import (
    CONTRACT_CODEC,
    PERSON_CODEC,
    SUPPLIER_CODEC,
    SYSTEM_CODEC,
)
from estate_register.api import auth
from estate_register.api.deps import (
    AuthenticatedRoute,
    ContainerDep,
    IfMatch,
    PrincipalDep,
    SessionDep,
    UowDep,
    ensure_owner_or,
    etag,
    expected_version,
    require,
)
from estate_register.api.problems import Problem
from estate_register.api.schemas import (
    AuditEntryOut,
    ContractFields,
    ContractIn,
    ContractOut,
    ContractPatch,
    CouncilIn,
    CouncilOut,
    LifecycleChangeIn,
    Page,
    PersonFields,
    PersonOut,
    PersonPatch,
    RenewalDecisionIn,
    ServiceAreaIn,
    ServiceAreaOut,
    SupplierFields,
    SupplierOut,
    SupplierPatch,
    SystemFields,
    SystemIn,
    SystemOut,
    SystemPatch,
    nullable,
)
from estate_register.application import services
from estate_register.application.ports import UnitOfWork
from estate_register.domain.errors import NotFound
from estate_register.domain.model import Contract, Person, Supplier, System
from estate_register.domain.values import ContractStatus, Hosting, LifecycleStage

router = APIRouter(prefix="/api/v1", route_class=AuthenticatedRoute)

Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Cursor = Annotated[str | None, Query(description="next_cursor from the previous page")]
Count = Annotated[bool, Query(description="Also say how many records match the filters (costs a count)")]


def changes_from(patch: BaseModel, fields: type[BaseModel], codec: Any) -> dict[str, Any]:
    """The fields a PATCH sent, typed for the domain; null only where the field may be empty."""
    sent = patch.model_dump(mode="json", exclude_unset=True)
    for name, value in sent.items():
        if value is None and not nullable(fields, name):  # type: ignore[arg-type]
            raise Problem(
                422,
                "The request is not valid",
                f"/body/{name}: may not be null; leave the field out to keep its value",
                kind="validation",
                errors=[{"pointer": f"/body/{name}", "detail": "may not be null"}],
            )
    return dict(codec.decode_fields(sent))


def fields_from(model: BaseModel, codec: Any) -> dict[str, Any]:
    return dict(codec.decode_fields(model.model_dump(mode="json")))


def page_response(item: type[BaseModel], page: queries.PageResult) -> Response:
    """A page of rows straight from the read side to JSON: validated once, serialised once (FastAPI
    does not validate a Response again; the route's response_model still documents it)."""
    body = Page[item](  # type: ignore[valid-type]
        items=[item.model_validate(row) for row in page.items], next_cursor=page.next_cursor, total=page.total
    )
    return Response(body.model_dump_json(), media_type="application/json")


def system_out(system: System, response: Response | None = None) -> SystemOut:
    if response is not None:
        response.headers["ETag"] = etag(system)
    return SystemOut.model_validate(system.snapshot())


def contract_out(contract: Contract, response: Response | None = None) -> ContractOut:
    if response is not None:
        response.headers["ETag"] = etag(contract)
    return ContractOut.model_validate(contract.snapshot())


def supplier_out(supplier: Supplier, response: Response | None = None) -> SupplierOut:
    if response is not None:
        response.headers["ETag"] = etag(supplier)
    return SupplierOut.model_validate(supplier.snapshot())


def person_out(person: Person, response: Response | None = None) -> PersonOut:
    if response is not None:
        response.headers["ETag"] = etag(person)
    return PersonOut.model_validate(person.snapshot())


async def _writable_system(
    uow: UnitOfWork, principal: auth.Principal, system_id: uuid.UUID, if_match: str | None
) -> int:
    """The version the caller may write, once the system exists and the caller may change it."""
    system: System = await services.require(uow, "system", system_id)
    version = expected_version(system_id, if_match)
    owners = await _emails(uow, system.system_owner_id, system.data_owner_id)
    ensure_owner_or(principal, auth.CREATE_SYSTEMS, owners, "system")
    return version


async def _writable_contract(
    uow: UnitOfWork, principal: auth.Principal, contract_id: uuid.UUID, if_match: str | None
) -> int:
    contract: Contract = await services.require(uow, "contract", contract_id)
    version = expected_version(contract_id, if_match)
    owners = await _emails(uow, contract.owner_id, contract.budget_holder_id)
    ensure_owner_or(principal, auth.CREATE_CONTRACTS, owners, "contract")
    return version


async def _emails(uow: UnitOfWork, *ids: uuid.UUID | None) -> list[str | None]:
    people = await uow.people.get_many([i for i in ids if i is not None])
    return [p.email for p in people]


# --- systems ---------------------------------------------------------------------------------------


@router.get("/systems", response_model=Page[SystemOut], tags=["systems"])
async def list_systems(
    session: SessionDep,
    _: PrincipalDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Words in the name, reference, description or capabilities"),
    ] = None,
    service_area_id: uuid.UUID | None = None,
    supplier_id: uuid.UUID | None = None,
    lifecycle_stage: Annotated[list[LifecycleStage] | None, Query()] = None,
    hosting: Annotated[list[Hosting] | None, Query()] = None,
    holds_personal_data: bool | None = None,
    owner_id: Annotated[
        uuid.UUID | None, Query(description="System, data, contract owner, signatory or budget holder")
    ] = None,
    council: str | None = None,
    capability: str | None = None,
    contract_ending_before: date | None = None,
    act_by_before: date | None = None,
    sort: str = "name",
    cursor: Cursor = None,
    limit: Limit = 50,
    count: Count = False,
) -> Response:
    page = await queries.list_systems(
        session,
        queries.SystemFilter(
            q=q,
            service_area_id=service_area_id,
            supplier_id=supplier_id,
            lifecycle_stage=[s.value for s in lifecycle_stage or []],
            hosting=[h.value for h in hosting or []],
            holds_personal_data=holds_personal_data,
            owner_id=owner_id,
            council=council,
            capability=capability,
            contract_ending_before=contract_ending_before,
            act_by_before=act_by_before,
        ),
        sort=sort,
        cursor=cursor,
        limit=limit,
        with_total=count,
    )
    return page_response(SystemOut, page)


@router.post("/systems", status_code=status.HTTP_201_CREATED, response_model=SystemOut, tags=["systems"])
async def create_system(
    body: SystemIn,
    uow: UowDep,
    response: Response,
    principal: auth.Principal = require(auth.CREATE_SYSTEMS, "Recording a system"),
) -> SystemOut:
    fields = fields_from(body, SYSTEM_CODEC)
    system = await services.record_system(uow, fields=fields, actor=principal.actor)
    response.headers["Location"] = f"/api/v1/systems/{system.id}"
    return system_out(system, response)


@router.get("/systems/{system_id}", response_model=SystemOut, tags=["systems"])
async def get_system(system_id: uuid.UUID, uow: UowDep, response: Response, _: PrincipalDep) -> SystemOut:
    return system_out(await services.require(uow, "system", system_id), response)


@router.patch("/systems/{system_id}", response_model=SystemOut, tags=["systems"])
async def update_system(
    system_id: uuid.UUID,
    body: SystemPatch,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,  # type: ignore[valid-type]
    principal: auth.Principal = require(auth.WRITE_SYSTEMS, "Changing a system"),
) -> SystemOut:
    version = await _writable_system(uow, principal, system_id, if_match)
    changes = changes_from(body, SystemFields, SYSTEM_CODEC)
    system = await services.update_system(
        uow, system_id=system_id, changes=changes, expected_version=version, actor=principal.actor
    )
    return system_out(system, response)


@router.post("/systems/{system_id}/lifecycle", response_model=SystemOut, tags=["systems"])
async def change_lifecycle(
    system_id: uuid.UUID,
    body: LifecycleChangeIn,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
    principal: auth.Principal = require(auth.WRITE_SYSTEMS, "Changing a system's lifecycle stage"),
) -> SystemOut:
    version = await _writable_system(uow, principal, system_id, if_match)
    system = await services.change_lifecycle(
        uow,
        system_id=system_id,
        to=body.to,
        on=body.on,
        note=body.note,
        expected_version=version,
        actor=principal.actor,
    )
    return system_out(system, response)


@router.post("/systems/{system_id}/validation", response_model=SystemOut, tags=["systems"])
async def validate_system(
    system_id: uuid.UUID,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
    principal: auth.Principal = require(auth.WRITE_SYSTEMS, "Confirming a system's record"),
) -> SystemOut:
    """The owner confirms the record is current: sets last validated at/by (S0:2680)."""
    version = await _writable_system(uow, principal, system_id, if_match)
    system = await services.mark_validated(
        uow, system_id=system_id, expected_version=version, actor=principal.actor
    )
    return system_out(system, response)


@router.get("/systems/{system_id}/contracts", response_model=list[ContractOut], tags=["systems"])
async def system_contracts(
    system_id: uuid.UUID,
    uow: UowDep,
    _: auth.Principal = require(auth.READ_CONTRACTS, "Reading contracts"),
) -> list[ContractOut]:
    await services.require(uow, "system", system_id)
    return [contract_out(c) for c in await uow.contracts.covering(system_id)]


# --- contracts -------------------------------------------------------------------------------------


@router.get("/contracts", response_model=Page[ContractOut], tags=["contracts"])
async def list_contracts(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    supplier_id: uuid.UUID | None = None,
    system_id: uuid.UUID | None = None,
    status_: Annotated[list[ContractStatus] | None, Query(alias="status")] = None,
    owner_id: uuid.UUID | None = None,
    council: str | None = None,
    ending_before: date | None = None,
    act_by_before: date | None = None,
    sort: str = "current_term_end",
    cursor: Cursor = None,
    limit: Limit = 50,
    count: Count = False,
    _: auth.Principal = require(auth.READ_CONTRACTS, "Reading contracts"),
) -> Response:
    page = await queries.list_contracts(
        session,
        queries.ContractFilter(
            q=q,
            supplier_id=supplier_id,
            system_id=system_id,
            status=[s.value for s in status_ or []],
            owner_id=owner_id,
            council=council,
            ending_before=ending_before,
            act_by_before=act_by_before,
        ),
        sort=sort,
        cursor=cursor,
        limit=limit,
        with_total=count,
    )
    return page_response(ContractOut, page)


@router.post(
    "/contracts", status_code=status.HTTP_201_CREATED, response_model=ContractOut, tags=["contracts"]
)
async def create_contract(
    body: ContractIn,
    uow: UowDep,
    response: Response,
    principal: auth.Principal = require(auth.CREATE_CONTRACTS, "Recording a contract"),
) -> ContractOut:
    fields = fields_from(body, CONTRACT_CODEC)
    if fields.get("current_term_end") is None:
        fields["current_term_end"] = fields["initial_term_end"]
    contract = await services.record_contract(uow, fields=fields, actor=principal.actor)
    response.headers["Location"] = f"/api/v1/contracts/{contract.id}"
    return contract_out(contract, response)


@router.get("/contracts/{contract_id}", response_model=ContractOut, tags=["contracts"])
async def get_contract(
    contract_id: uuid.UUID,
    uow: UowDep,
    response: Response,
    _: auth.Principal = require(auth.READ_CONTRACTS, "Reading contracts"),
) -> ContractOut:
    return contract_out(await services.require(uow, "contract", contract_id), response)


@router.patch("/contracts/{contract_id}", response_model=ContractOut, tags=["contracts"])
async def update_contract(
    contract_id: uuid.UUID,
    body: ContractPatch,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,  # type: ignore[valid-type]
    principal: auth.Principal = require(auth.WRITE_CONTRACTS, "Changing a contract"),
) -> ContractOut:
    version = await _writable_contract(uow, principal, contract_id, if_match)
    changes = changes_from(body, ContractFields, CONTRACT_CODEC)
    contract = await services.update_contract(
        uow, contract_id=contract_id, changes=changes, expected_version=version, actor=principal.actor
    )
    return contract_out(contract, response)


@router.post("/contracts/{contract_id}/renewal-decisions", response_model=ContractOut, tags=["contracts"])
async def decide_renewal(
    contract_id: uuid.UUID,
    body: RenewalDecisionIn,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
    principal: auth.Principal = require(auth.DECIDE_RENEWALS, "Recording a renewal decision"),
) -> ContractOut:
    """Renew, extend, re-procure or terminate, with the rationale; renew and extend move the term end."""
    version = await _writable_contract(uow, principal, contract_id, if_match)
    contract = await services.decide_renewal(
        uow,
        contract_id=contract_id,
        outcome=body.outcome,
        rationale=body.rationale,
        new_term_end=body.new_term_end,
        expected_version=version,
        actor=principal.actor,
    )
    return contract_out(contract, response)


# --- suppliers and people --------------------------------------------------------------------------


@router.get("/suppliers", response_model=Page[SupplierOut], tags=["suppliers"])
async def list_suppliers(
    session: SessionDep,
    _: PrincipalDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    count: Count = False,
) -> Response:
    page = await queries.list_suppliers(session, q=q, cursor=cursor, limit=limit, with_total=count)
    return page_response(SupplierOut, page)


@router.post(
    "/suppliers", status_code=status.HTTP_201_CREATED, response_model=SupplierOut, tags=["suppliers"]
)
async def create_supplier(
    body: SupplierFields,
    uow: UowDep,
    response: Response,
    principal: auth.Principal = require(auth.WRITE_SUPPLIERS, "Recording a supplier"),
) -> SupplierOut:
    supplier = await services.record_supplier(
        uow, fields=fields_from(body, SUPPLIER_CODEC), actor=principal.actor
    )
    response.headers["Location"] = f"/api/v1/suppliers/{supplier.id}"
    return supplier_out(supplier, response)


@router.get("/suppliers/{supplier_id}", response_model=SupplierOut, tags=["suppliers"])
async def get_supplier(
    supplier_id: uuid.UUID, uow: UowDep, response: Response, _: PrincipalDep
) -> SupplierOut:
    return supplier_out(await services.require(uow, "supplier", supplier_id), response)


@router.patch("/suppliers/{supplier_id}", response_model=SupplierOut, tags=["suppliers"])
async def update_supplier(
    supplier_id: uuid.UUID,
    body: SupplierPatch,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,  # type: ignore[valid-type]
    principal: auth.Principal = require(auth.WRITE_SUPPLIERS, "Changing a supplier"),
) -> SupplierOut:
    version = expected_version(supplier_id, if_match)
    changes = changes_from(body, SupplierFields, SUPPLIER_CODEC)
    supplier = await services.update_supplier(
        uow, supplier_id=supplier_id, changes=changes, expected_version=version, actor=principal.actor
    )
    return supplier_out(supplier, response)


@router.post("/suppliers/{supplier_id}/retirement", response_model=SupplierOut, tags=["suppliers"])
async def retire_supplier(
    supplier_id: uuid.UUID,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,
    principal: auth.Principal = require(auth.WRITE_SUPPLIERS, "Retiring a supplier"),
) -> SupplierOut:
    version = expected_version(supplier_id, if_match)
    supplier = await services.update_supplier(
        uow,
        supplier_id=supplier_id,
        changes={"retired": True},
        expected_version=version,
        actor=principal.actor,
    )
    return supplier_out(supplier, response)


@router.get("/people", response_model=Page[PersonOut], tags=["people"])
async def list_people(
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    count: Count = False,
    _: auth.Principal = require(auth.READ_CONTRACTS, "Reading people"),
) -> Response:
    page = await queries.list_people(session, q=q, cursor=cursor, limit=limit, with_total=count)
    return page_response(PersonOut, page)


@router.post("/people", status_code=status.HTTP_201_CREATED, response_model=PersonOut, tags=["people"])
async def create_person(
    body: PersonFields,
    uow: UowDep,
    response: Response,
    principal: auth.Principal = require(auth.WRITE_PEOPLE, "Recording a person"),
) -> PersonOut:
    person = await services.record_person(uow, fields=fields_from(body, PERSON_CODEC), actor=principal.actor)
    response.headers["Location"] = f"/api/v1/people/{person.id}"
    return person_out(person, response)


@router.get("/people/{person_id}", response_model=PersonOut, tags=["people"])
async def get_person(
    person_id: uuid.UUID,
    uow: UowDep,
    response: Response,
    _: auth.Principal = require(auth.READ_CONTRACTS, "Reading people"),
) -> PersonOut:
    return person_out(await services.require(uow, "person", person_id), response)


@router.patch("/people/{person_id}", response_model=PersonOut, tags=["people"])
async def update_person(
    person_id: uuid.UUID,
    body: PersonPatch,
    uow: UowDep,
    response: Response,
    if_match: IfMatch = None,  # type: ignore[valid-type]
    principal: auth.Principal = require(auth.WRITE_PEOPLE, "Changing a person"),
) -> PersonOut:
    version = expected_version(person_id, if_match)
    changes = changes_from(body, PersonFields, PERSON_CODEC)
    person = await services.update_person(
        uow, person_id=person_id, changes=changes, expected_version=version, actor=principal.actor
    )
    return person_out(person, response)


# --- reference data --------------------------------------------------------------------------------


@router.get("/councils", response_model=list[CouncilOut], tags=["reference data"])
async def list_councils(uow: UowDep, _: PrincipalDep) -> list[CouncilOut]:
    return [CouncilOut.model_validate(c) for c in await uow.reference.councils()]


@router.post(
    "/councils", status_code=status.HTTP_201_CREATED, response_model=CouncilOut, tags=["reference data"]
)
async def create_council(
    body: CouncilIn,
    uow: UowDep,
    principal: auth.Principal = require(auth.WRITE_REFERENCE, "Recording a council"),
) -> CouncilOut:
    return CouncilOut.model_validate(
        await services.record_council(uow, code=body.code, name=body.name, actor=principal.actor)
    )


@router.get("/service-areas", response_model=list[ServiceAreaOut], tags=["reference data"])
async def list_service_areas(uow: UowDep, _: PrincipalDep) -> list[ServiceAreaOut]:
    areas = sorted(await uow.reference.service_areas(), key=lambda a: (a.council_code, a.name.casefold()))
    return [ServiceAreaOut.model_validate(a) for a in areas]


@router.post(
    "/service-areas",
    status_code=status.HTTP_201_CREATED,
    response_model=ServiceAreaOut,
    tags=["reference data"],
)
async def create_service_area(
    body: ServiceAreaIn,
    uow: UowDep,
    principal: auth.Principal = require(auth.WRITE_REFERENCE, "Recording a service area"),
) -> ServiceAreaOut:
    return ServiceAreaOut.model_validate(
        await services.record_service_area(
            uow, name=body.name, council_code=body.council_code, actor=principal.actor
        )
    )


# --- audit -----------------------------------------------------------------------------------------


@router.get("/{kind}/{record_id}/audit", response_model=list[AuditEntryOut], tags=["audit"])
async def audit_history(
    kind: str,
    record_id: Annotated[str, Path(max_length=60, description="The record's id (a council's code)")],
    session: SessionDep,
    _: auth.Principal = require(auth.READ_AUDIT, "Reading the audit trail"),
) -> list[AuditEntryOut]:
    """Every change to one record, oldest first: who, when, which fields, before and after."""
    kinds = {
        "systems": "system",
        "contracts": "contract",
        "suppliers": "supplier",
        "people": "person",
        "councils": "council",
        "service-areas": "service_area",
    }
    if kind not in kinds:
        raise NotFound(f"no audit trail for {kind!r}; use one of {', '.join(kinds)}")
    entries = await queries.audit_entries(session, kind=kinds[kind], record_id=record_id)
    return [AuditEntryOut.model_validate(e) for e in entries]


@router.get("/me", tags=["identity"])
async def me(principal: PrincipalDep, container: ContainerDep) -> dict[str, Any]:
    """Who the token says you are, and your roles."""
    return {
        "subject": principal.subject,
        "email": principal.email,
        "name": principal.name,
        "roles": sorted(principal.roles),
    }


__all__ = ["router"]
