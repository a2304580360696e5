"""Read-side queries: list and search with filters, sorting and keyset (cursor) pagination.

Keyset pagination keeps every page as fast as the first at 50,000 rows and does not skip or repeat rows
when records are added between pages. The cursor is opaque to clients (base64 JSON of the last row's
sort value and id, and the sort it belongs to).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, String, cast, exists, func, or_, select, tuple_, union
from sqlalchemy.ext.asyncio import AsyncSession

from estate_register.adapters.db.records import AuditRecord
from estate_register.adapters.db.repositories import (
    CONTRACT_SYSTEMS,
    CONTRACTS,
    PEOPLE,
    SUPPLIERS,
    SYSTEM_AREAS,
    SYSTEM_COUNCILS,
    SYSTEMS,
)
from estate_register.domain.errors import InvalidValue
from estate_register.domain.model import Contract, Person, Supplier, System


@dataclass(frozen=True)
class SystemFilter:
    q: str | None = None
    service_area_id: uuid.UUID | None = None
    supplier_id: uuid.UUID | None = None
    lifecycle_stage: list[str] = field(default_factory=list)
    hosting: list[str] = field(default_factory=list)
    holds_personal_data: bool | None = None
    owner_id: uuid.UUID | None = None
    council: str | None = None
    contract_ending_before: date | None = None
    act_by_before: date | None = None
    capability: str | None = None


@dataclass(frozen=True)
class ContractFilter:
    q: str | None = None
    supplier_id: uuid.UUID | None = None
    system_id: uuid.UUID | None = None
    status: list[str] = field(default_factory=list)
    owner_id: uuid.UUID | None = None
    council: str | None = None
    ending_before: date | None = None
    act_by_before: date | None = None


@dataclass(frozen=True)
class PageResult:
    """One page of rows as plain dicts (column name -> value): the read side never builds domain objects."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None


SYSTEM_SORTS: dict[str, ColumnElement[Any]] = {
    "name": SYSTEMS.c.name_key,
    "reference": SYSTEMS.c.reference,
    "updated_at": SYSTEMS.c.updated_at,
    "lifecycle_stage": SYSTEMS.c.lifecycle_stage,
}
CONTRACT_SORTS: dict[str, ColumnElement[Any]] = {
    "reference": CONTRACTS.c.reference,
    "title": CONTRACTS.c.title,
    "current_term_end": CONTRACTS.c.current_term_end,
    "act_by": CONTRACTS.c.act_by,
    "updated_at": CONTRACTS.c.updated_at,
    "annual_value": func.coalesce(CONTRACTS.c.annual_value, -1),
}


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.casefold()}%"


def encode_cursor(sort: str, value: Any, row_id: uuid.UUID) -> str:
    raw = json.dumps(
        [sort, value if isinstance(value, int | float | str | None) else str(value), str(row_id)]
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        cursor_sort, value, row_id = json.loads(base64.urlsafe_b64decode(padded))
        parsed_id = uuid.UUID(row_id)
    except (ValueError, binascii.Error, TypeError) as exc:
        raise InvalidValue(
            "cursor is not one this API gave out; start again without it", field="cursor"
        ) from exc
    if cursor_sort != sort:
        raise InvalidValue("cursor belongs to another sort order; start again without it", field="cursor")
    return value, parsed_id


def _sort_value(column: ColumnElement[Any], value: Any) -> Any:
    """Turn the JSON cursor value back into the column's Python type."""
    python_type: Any = None
    try:
        # A TypeDecorator (UtcDateTime) does not know its Python type; the type it decorates does.
        python_type = getattr(column.type, "impl", column.type).python_type
    except NotImplementedError:
        python_type = None
    if value is None or python_type is None:
        return value
    if python_type is date:
        return date.fromisoformat(value)
    if python_type.__name__ == "datetime":
        from datetime import datetime

        return datetime.fromisoformat(value)
    if python_type.__name__ == "Decimal":
        from decimal import Decimal

        return Decimal(value)
    return value


async def _page(
    session: AsyncSession,
    query: Select[Any],
    *,
    table_id: ColumnElement[Any],
    sorts: dict[str, ColumnElement[Any]],
    sort: str,
    cursor: str | None,
    limit: int,
    with_total: bool,
) -> PageResult:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in sorts:
        raise InvalidValue(
            f"cannot sort by {key!r}; choose one of {', '.join(sorted(sorts))} (prefix - for descending)",
            field="sort",
        )
    column = sorts[key]
    total = None
    if with_total:
        total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    if cursor is not None:
        value, last_id = decode_cursor(cursor, sort)
        try:
            value = _sort_value(column, value)
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise InvalidValue(
                "cursor is not one this API gave out; start again without it", field="cursor"
            ) from exc
        # A row-value comparison, so the database seeks straight into the (column, id) index.
        after = tuple_(column, table_id)
        query = query.where(after < tuple_(value, last_id) if descending else after > tuple_(value, last_id))
    order = [column.desc(), table_id.desc()] if descending else [column.asc(), table_id.asc()]
    query = query.add_columns(column.label("_sort")).order_by(*order).limit(limit + 1)
    rows = list((await session.execute(query)).mappings())
    more = len(rows) > limit
    rows = rows[:limit]
    items = [dict(r) for r in rows]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        sort_value = last["_sort"]
        next_cursor = encode_cursor(
            sort, sort_value if not hasattr(sort_value, "isoformat") else sort_value.isoformat(), last["id"]
        )
    return PageResult(items=items, next_cursor=next_cursor, total=total)


def _owned_systems(owner_id: uuid.UUID) -> Select[Any]:
    """Ids of the systems a person owns in any role. A union of index lookups: an OR across tables
    would make the database test every system."""
    return union(
        select(SYSTEMS.c.id).where(SYSTEMS.c.system_owner_id == owner_id),
        select(SYSTEMS.c.id).where(SYSTEMS.c.data_owner_id == owner_id),
        select(CONTRACT_SYSTEMS.c.system_id)
        .join(CONTRACTS, CONTRACTS.c.id == CONTRACT_SYSTEMS.c.contract_id)
        .where(
            or_(
                CONTRACTS.c.owner_id == owner_id,
                CONTRACTS.c.budget_holder_id == owner_id,
                CONTRACTS.c.signatory_id == owner_id,
            )
        ),
    )  # type: ignore[return-value]


def _systems_under_contracts(*where: ColumnElement[bool]) -> Select[Any]:
    """Ids of the systems covered by a live (active or pending) contract that matches."""
    return (
        select(CONTRACT_SYSTEMS.c.system_id)
        .join(CONTRACTS, CONTRACTS.c.id == CONTRACT_SYSTEMS.c.contract_id)
        .where(CONTRACTS.c.status.in_(("active", "pending")), *where)
    )


def system_query(f: SystemFilter) -> Select[Any]:
    query = select(SYSTEMS)
    if f.q:
        # Matches first, then sort: left to itself the planner walks the sort index and filters, which
        # reads most of the table when few systems match.
        matches = (
            select(SYSTEMS.c.id)
            .where(SYSTEMS.c.search_text.like(_like(f.q), escape="\\"))
            .cte("matches")
            .prefix_with("MATERIALIZED")
        )
        query = query.where(SYSTEMS.c.id.in_(select(matches.c.id)))
    if f.capability:
        query = query.where(
            func.lower(cast(SYSTEMS.c.capabilities, String)).like(_like(f.capability), escape="\\")
        )
    if f.service_area_id:
        query = query.where(
            SYSTEMS.c.id.in_(
                select(SYSTEM_AREAS.c.system_id).where(SYSTEM_AREAS.c.service_area_id == f.service_area_id)
            )
        )
    if f.council:
        query = query.where(
            SYSTEMS.c.id.in_(
                select(SYSTEM_COUNCILS.c.system_id).where(SYSTEM_COUNCILS.c.council_code == f.council)
            )
        )
    if f.supplier_id:
        query = query.where(SYSTEMS.c.supplier_id == f.supplier_id)
    if f.lifecycle_stage:
        query = query.where(SYSTEMS.c.lifecycle_stage.in_(f.lifecycle_stage))
    if f.hosting:
        query = query.where(SYSTEMS.c.hosting.in_(f.hosting))
    if f.holds_personal_data is not None:
        query = query.where(SYSTEMS.c.holds_personal_data.is_(f.holds_personal_data))
    if f.owner_id:
        query = query.where(SYSTEMS.c.id.in_(_owned_systems(f.owner_id)))
    if f.contract_ending_before is not None:
        ending = CONTRACTS.c.current_term_end < f.contract_ending_before
        query = query.where(SYSTEMS.c.id.in_(_systems_under_contracts(ending)))
    if f.act_by_before is not None:
        acting = CONTRACTS.c.act_by < f.act_by_before
        query = query.where(SYSTEMS.c.id.in_(_systems_under_contracts(acting)))
    return query


def contract_query(f: ContractFilter) -> Select[Any]:
    query = select(CONTRACTS)
    if f.q:
        pattern = _like(f.q)
        query = query.where(
            or_(
                func.lower(CONTRACTS.c.title).like(pattern, escape="\\"),
                func.lower(CONTRACTS.c.reference).like(pattern, escape="\\"),
                func.lower(func.coalesce(CONTRACTS.c.proactis_reference, "")).like(pattern, escape="\\"),
            )
        )
    if f.supplier_id:
        query = query.where(CONTRACTS.c.supplier_id == f.supplier_id)
    if f.system_id:
        query = query.where(
            exists().where(
                CONTRACT_SYSTEMS.c.contract_id == CONTRACTS.c.id, CONTRACT_SYSTEMS.c.system_id == f.system_id
            )
        )
    if f.status:
        query = query.where(CONTRACTS.c.status.in_(f.status))
    if f.owner_id:
        query = query.where(
            or_(
                CONTRACTS.c.owner_id == f.owner_id,
                CONTRACTS.c.budget_holder_id == f.owner_id,
                CONTRACTS.c.signatory_id == f.owner_id,
            )
        )
    if f.council:
        query = query.where(
            func.lower(cast(CONTRACTS.c.councils, String)).like(_like(f'"{f.council}"'), escape="\\")
        )
    if f.ending_before:
        query = query.where(CONTRACTS.c.current_term_end < f.ending_before)
    if f.act_by_before:
        query = query.where(CONTRACTS.c.act_by < f.act_by_before)
    return query


async def list_systems(
    session: AsyncSession,
    f: SystemFilter,
    *,
    sort: str,
    cursor: str | None,
    limit: int,
    with_total: bool = False,
) -> PageResult:
    return await _page(
        session,
        system_query(f),
        table_id=SYSTEMS.c.id,
        sorts=SYSTEM_SORTS,
        sort=sort,
        cursor=cursor,
        limit=limit,
        with_total=with_total,
    )


async def list_contracts(
    session: AsyncSession,
    f: ContractFilter,
    *,
    sort: str,
    cursor: str | None,
    limit: int,
    with_total: bool = False,
) -> PageResult:
    return await _page(
        session,
        contract_query(f),
        table_id=CONTRACTS.c.id,
        sorts=CONTRACT_SORTS,
        sort=sort,
        cursor=cursor,
        limit=limit,
        with_total=with_total,
    )


async def list_suppliers(
    session: AsyncSession, *, q: str | None, cursor: str | None, limit: int, with_total: bool = False
) -> PageResult:
    query = select(SUPPLIERS)
    if q:
        query = query.where(SUPPLIERS.c.name_key.like(_like(q), escape="\\"))
    return await _page(
        session,
        query,
        table_id=SUPPLIERS.c.id,
        sorts={"name": SUPPLIERS.c.name_key},
        sort="name",
        cursor=cursor,
        limit=limit,
        with_total=with_total,
    )


async def list_people(
    session: AsyncSession, *, q: str | None, cursor: str | None, limit: int, with_total: bool = False
) -> PageResult:
    query = select(PEOPLE)
    if q:
        pattern = _like(q)
        query = query.where(
            or_(
                func.lower(PEOPLE.c.name).like(pattern, escape="\\"),
                func.lower(PEOPLE.c.email).like(pattern, escape="\\"),
            )
        )
    return await _page(
        session,
        query,
        table_id=PEOPLE.c.id,
        sorts={"name": func.lower(PEOPLE.c.name)},
        sort="name",
        cursor=cursor,
        limit=limit,
        with_total=with_total,
    )


async def audit_entries(
    session: AsyncSession, *, kind: str, record_id: uuid.UUID | str, limit: int = 500
) -> list[AuditRecord]:
    result = await session.execute(
        select(AuditRecord)
        .where(AuditRecord.record_kind == kind, AuditRecord.record_id == str(record_id))
        .order_by(AuditRecord.id)
        .limit(limit)
    )
    return list(result.scalars())


__all__ = [
    "Contract",
    "ContractFilter",
    "PageResult",
    "Person",
    "Supplier",
    "System",
    "SystemFilter",
    "audit_entries",
    "list_contracts",
    "list_people",
    "list_suppliers",
    "list_systems",
]
