"""The estate view's API (the TDA's single view): ``/api/v1/estate/...``.

Readable by the TDA (members and chair), contract managers, administrators and auditors; any other role
gets 403 and no token gets 401, both as problem+json. Money is a string in GBP with two decimal places,
dates are ISO calendar days in Europe/London, and ``as_of`` is the council's day the figures are for.
Spreadsheets (CSV, XLSX) are written on a worker thread, so a large export does not hold up other
requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from estate_register.adapters.db import estate_queries
from estate_register.adapters.tables import CSV, XLSX, csv_bytes, xlsx_bytes
from estate_register.api import auth
from estate_register.api.deps import AuthenticatedRoute, ContainerDep, SessionDep, require
from estate_register.api.schemas import Page
from estate_register.application import estate
from estate_register.bootstrap import Container
from estate_register.domain.errors import InvalidValue

router = APIRouter(prefix="/api/v1/estate", tags=["estate"], route_class=AuthenticatedRoute)

Reader = Annotated[auth.Principal, require(auth.READ_ESTATE, "Reading the estate view")]
Gbp = Annotated[str, Field(pattern=r"^\d+\.\d{2}$", examples=["1250.00"], description="GBP, two decimals")]


class Totals(BaseModel):
    systems: int = Field(description="Every system in the register, retired ones included")
    live_systems: int = Field(description="Systems live or live and under review")
    contracts: int = Field(description="Every contract, whatever its status")
    live_contracts: int = Field(description="Active contracts")
    live_contracts_without_value: int = Field(description="Active contracts with no annual value recorded")
    suppliers: int = Field(description="Suppliers not retired")
    annual_value: Gbp = Field(description="Annual value of the active contracts")
    act_within_90_days: int = Field(description="Active contracts whose act-by date is in the next 90 days")


class PipelineMonth(BaseModel):
    month: str = Field(examples=["2026-12"], description="YYYY-MM; this month and the next 23")
    contracts: int = Field(description="Active contracts whose act-by date falls in the month (from today)")
    annual_value: Gbp


class Overdue(BaseModel):
    contracts: int = Field(
        description="Active contracts whose act-by date has passed, no decision to end them"
    )
    annual_value: Gbp


class SpendGroup(BaseModel):
    key: str = Field(description="Supplier or service-area id, council code; 'none' or 'other'")
    label: str
    contracts: int
    annual_value: Gbp


class Spend(BaseModel):
    by_supplier: list[SpendGroup] = Field(description="Top 10, then an 'other' row for the rest, if any")
    by_service_area: list[SpendGroup] = Field(
        description="Top 10 and 'other'; a contract counts in full in each area its systems serve"
    )
    by_council: list[SpendGroup] = Field(
        description="Top 10 and 'other'; a contract counts in full for each council it names"
    )


class Count(BaseModel):
    key: str
    label: str
    count: int


class PendingRequest(BaseModel):
    request_id: str
    request_key: str = Field(description="The request's reference, e.g. TR-2025-0042")
    title: str
    state: str
    requester: str | None
    submitted_on: date
    age_days: int


class SystemLink(BaseModel):
    id: str
    reference: str
    name: str


class Cluster(BaseModel):
    capability: str
    system_count: int
    systems: list[SystemLink] = Field(description="The live systems (at most 20 here; the list has all)")


class Clusters(BaseModel):
    count: int = Field(description="Capabilities that two or more live systems provide")
    top: list[Cluster] = Field(description="The 10 with the most systems")


class Risk(BaseModel):
    list: str = Field(description="The list's name: GET /api/v1/estate/lists/{list}")
    label: str
    count: int


class EstateSummary(BaseModel):
    as_of: date
    totals: Totals
    pipeline: list[PipelineMonth] = Field(description="24 months, months with nothing included")
    pipeline_overdue: Overdue
    spend: Spend
    lifecycle: list[Count] = Field(description="Systems by lifecycle stage, every stage")
    disposition: list[Count] = Field(description="Systems not retired by disposition (TIME), and not set")
    requests_pending: list[PendingRequest] = Field(description="The 20 oldest requests awaiting a decision")
    requests_pending_count: int
    duplication_clusters: Clusters
    risks: list[Risk]
    refreshing: bool = Field(
        default=False,
        description="True: these are the figures from before the latest change, answered at once while "
        "they are recomputed (ask again in a moment for the new ones)",
    )


class Column(BaseModel):
    key: str
    label: str


class EstatePage(Page[dict[str, Any]]):
    """The register's Page (``items``, ``next_cursor``, ``total``) with what the list is."""

    name: str
    title: str
    page: int
    page_size: int
    columns: list[Column] = Field(description="The keys of each item, with their headings in CSV and XLSX")


def today_for(container: Container) -> date:
    return estate.council_day(container.clock())


def _download(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


async def _spreadsheet(
    kind: str,
    sheet: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[dict[str, Any]],
    filename: str,
) -> Response:
    """``rows`` in ``columns`` (key, heading) as a download: CSV, else XLSX (one sheet, ``sheet``)."""
    header = [label for _, label in columns]
    data = estate_queries.cells(columns, rows)
    if kind == "csv":
        return _download(await asyncio.to_thread(csv_bytes, header, data), CSV, filename)
    return _download(await asyncio.to_thread(xlsx_bytes, sheet, header, data), XLSX, filename)


@router.get("/summary", response_model=EstateSummary)
async def summary(container: ContainerDep, _: Reader) -> Response:
    """Everything on one screen: totals, the renewal pipeline, spend, lifecycle and disposition, pending
    requests, duplication and the risk lists' counts (each risk links to its list)."""
    body = await container.estate_summary.summary(container.sessions, today=today_for(container))
    return Response(EstateSummary.model_validate(body).model_dump_json(), media_type="application/json")


ListName = Annotated[str, Path(description=f"One of: {estate.known_lists()}")]
Format = Literal["json", "csv", "xlsx"]


@router.get(
    "/lists/{name}",
    response_model=EstatePage,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}, 404: {"description": "No such list"}},
)
async def estate_list(
    name: ListName,
    session: SessionDep,
    container: ContainerDep,
    _: Reader,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(description="next_cursor of the previous page (same as page)")
    ] = None,
    format: Annotated[Format, Query(description="csv or xlsx: the whole list as a download")] = "json",
) -> Response:
    """One list of the estate view, a page at a time (``page``, ``page_size``; ``next_cursor`` is the
    next page's number), or the whole list as CSV or XLSX. Rows carry record ids for links to
    ``/systems/{id}`` and ``/contracts/{id}``."""
    spec = estate_queries.list_spec(name)
    today = today_for(container)
    if format != "json":
        rows, _total = await estate_queries.list_page(session, name, today=today, offset=0, limit=None)
        return await _spreadsheet(
            format, name, spec.columns, rows, f"estate-{name}-{today.isoformat()}.{format}"
        )
    if cursor is not None:
        if not cursor.isdigit() or int(cursor) < 1:
            raise InvalidValue(
                "cursor is a page number this API gave out; start again without it", field="cursor"
            )
        page = int(cursor)
    rows, total = await estate_queries.list_page(
        session, name, today=today, offset=(page - 1) * page_size, limit=page_size
    )
    body = EstatePage(
        items=[estate_queries.json_row(r) for r in rows],
        next_cursor=str(page + 1) if page * page_size < total else None,
        total=total,
        name=name,
        title=spec.title,
        page=page,
        page_size=page_size,
        columns=[Column(key=k, label=label) for k, label in spec.columns],
    )
    return Response(body.model_dump_json(), media_type="application/json")


async def _transparency(session: SessionDep, container: Container, kind: str) -> Response:
    today = today_for(container)
    rows = await estate_queries.transparency_rows(session, today=today)
    filename = f"transparency-contracts-{today.isoformat()}.{kind}"
    return await _spreadsheet(kind, "Contracts", estate_queries.TRANSPARENCY_COLUMNS, rows, filename)


@router.get(
    "/exports/transparency.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}}
)
async def transparency_csv(session: SessionDep, container: ContainerDep, _: Reader) -> Response:
    """The Local Government Transparency Code 2015 contracts list: active contracts whose value (total
    over their length, else annual) exceeds £5,000, in the Code's columns."""
    return await _transparency(session, container, "csv")


@router.get("/exports/transparency.xlsx", response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def transparency_xlsx(session: SessionDep, container: ContainerDep, _: Reader) -> Response:
    """The Transparency Code contracts list as a workbook (one sheet, "Contracts")."""
    return await _transparency(session, container, "xlsx")


OCDS_STATUS = {"pending": "pending", "active": "active", "cancelled": "cancelled", "terminated": "terminated"}


def _amount(row: dict[str, Any]) -> dict[str, Any] | None:
    value = row["total_value"] if row["total_value"] is not None else row["annual_value"]
    # The register keeps at most 12 digits of pounds, which a JSON number (a double) holds to the penny.
    return None if value is None else {"amount": float(value), "currency": "GBP"}


def ocds_release(
    row: dict[str, Any], councils: dict[str, str], *, prefix: str, publisher: str
) -> dict[str, Any]:
    """One OCDS 1.1 release (tag ``contract``) for one register contract."""
    ocid = f"{prefix}{row['reference']}"
    codes = list(dict.fromkeys(row["councils"] or []))
    buyer = (
        {"id": f"council-{codes[0]}", "name": councils.get(codes[0], codes[0])}
        if codes
        else {"id": "publisher", "name": publisher}
    )
    supplier = {"id": f"supplier-{row['supplier_id']}", "name": row["supplier"]}
    parties = [{**buyer, "roles": ["buyer"]}, {**supplier, "roles": ["supplier"]}]
    parties += [{"id": f"council-{c}", "name": councils.get(c, c), "roles": ["payer"]} for c in codes[1:]]
    award_id = f"{row['reference']}-award"
    value = _amount(row)
    award: dict[str, Any] = {"id": award_id, "suppliers": [supplier]}
    contract: dict[str, Any] = {
        "id": row["reference"],
        "awardID": award_id,
        "title": row["title"],
        # OCDS has no "expired": a contract whose term ended is terminated.
        "status": OCDS_STATUS.get(row["status"], "terminated"),
        "period": {
            "startDate": row["start_date"].isoformat(),
            "endDate": row["current_term_end"].isoformat(),
        },
    }
    if value is not None:
        award["value"] = value
        contract["value"] = value
    return {
        "ocid": ocid,
        "id": f"{ocid}-v{row['version']}",
        "date": row["updated_at"].isoformat(),
        "tag": ["contract"],
        "initiationType": "tender",
        "buyer": buyer,
        "parties": parties,
        "awards": [award],
        "contracts": [contract],
    }


@router.get(
    "/exports/ocds.json", response_class=Response, responses={200: {"content": {"application/json": {}}}}
)
async def ocds(request: Request, session: SessionDep, container: ContainerDep, _: Reader) -> Response:
    """Every contract as an OCDS 1.1 release package (one ``contract`` release per contract; ocid =
    the configured prefix + the contract reference; the value is the total when recorded, else the
    annual value)."""
    settings = container.settings
    rows, councils = await estate_queries.ocds_contracts(session)
    package = {
        "uri": str(request.url),
        "version": "1.1",
        "publishedDate": container.clock().isoformat(),
        "publisher": {"name": settings.ocds_publisher_name},
        "releases": [
            ocds_release(
                r, councils, prefix=settings.ocds_ocid_prefix, publisher=settings.ocds_publisher_name
            )
            for r in rows
        ],
    }
    return Response(orjson.dumps(package), media_type="application/json")


__all__ = ["router"]
