"""Pages: the TDA's single view of the estate.

* ``GET /dashboard``: headline figures, the renewal pipeline, spend, lifecycle and disposition, requests
  waiting for the TDA, duplication and the risk lists, all from ONE call to the register's
  ``GET /api/v1/estate/summary`` (the page is as fast as that answer). Each chart is an SVG drawn here
  (:mod:`estate_portal.charts`) and followed by a table of the same figures.
* ``GET /dashboard/lists/{name}``: any of the register's estate lists as a paged table, each record
  linked to its page, with the list as CSV or XLSX (``/exports/lists/{name}.csv``).

Both are for the estate roles (TDA members and chair, contract management, administrators, auditors),
the same roles the register's estate API serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from estate_portal.charts import Chart, Point, bar_chart, column_chart, describe, figures_table
from estate_portal.csrf import protect
from estate_portal.errors import PageNotFound
from estate_portal.session import User
from estate_portal.web import ESTATE_READERS, PagesDep, UserApi, long_date, pounds, require, words
from estate_runtime.dates import MONTHS, month_year

router = APIRouter(dependencies=[Depends(protect)])

LISTS: dict[str, dict[str, str]] = {
    "systems": {
        "title": "Every system",
        "about": "What the council runs: each system with its owner, lifecycle stage, hosting and data.",
    },
    "contracts": {
        "title": "Every contract",
        "about": "The central contract register: supplier, term dates, notice, annual value and owner.",
    },
    "pipeline": {
        "title": "Renewal pipeline",
        "about": "Contracts to act on in the next 24 months, soonest first, with their act-by dates.",
    },
    "renewals-overdue": {
        "title": "Renewals overdue",
        "about": "Active contracts whose act-by date has passed with no decision recorded.",
    },
    "requests-pending": {
        "title": "Requests waiting for the TDA",
        "about": "Technology requests waiting for a TDA decision, oldest first.",
    },
    "duplication-clusters": {
        "title": "Duplication",
        "about": "Capabilities that two or more live systems provide: candidates to consolidate.",
    },
    "personal-data-without-dpia-or-ropa": {
        "title": "Personal data without a DPIA or RoPA",
        "about": "Systems holding personal data without a completed DPIA or record of processing.",
    },
    "no-owner": {
        "title": "No owner",
        "about": "Systems or contracts with nobody recorded as their owner.",
    },
    "on-premises-cloud-feasible": {
        "title": "On premises, could move to the cloud",
        "about": "Systems run on the council's servers that could move to the cloud.",
    },
    "expired-contract-live-system": {
        "title": "Expired contract, live system",
        "about": "Contracts that have expired while a system they cover is still live.",
    },
    "notice-unknown": {
        "title": "Notice period unknown",
        "about": "Contracts with no notice period recorded, so no act-by date can be worked out.",
    },
    "alerts-escalated": {
        "title": "Renewal alerts escalated",
        "about": "Renewal alerts escalated past the contract owner and not yet acknowledged.",
    },
    "spend-by-supplier": {
        "title": "Spend by supplier",
        "about": "The annual value of active contracts by supplier, for ICT finance.",
    },
    "spend-by-service-area": {
        "title": "Spend by service area",
        "about": "The annual value of active contracts by the service areas their systems serve.",
    },
    "spend-by-council": {
        "title": "Spend by council",
        "about": "The annual value of active contracts by council, for the shared service's recharges.",
    },
}
"""The register's estate lists (``GET /api/v1/estate/lists/{name}``), with the words this portal uses."""

PAGE_SIZE = 50


# --- reading the summary -------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _month(key: str) -> date:
    year, month = key.split("-")[:2]
    return date(int(year), int(month), 1)


def _count_words(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def pipeline_figures(pipeline: Sequence[Mapping[str, Any]]) -> tuple[list[Point], dict[str, Any]]:
    """The renewal pipeline's chart points (contracts by act-by month) and its table (with the value)."""
    points: list[Point] = []
    rows: list[list[Any]] = []
    for index, month in enumerate(pipeline):
        first = _month(str(month["month"]))
        contracts = _int(month.get("contracts"))
        label = month_year(first)
        points.append(
            Point(
                label=label,
                value=contracts,
                shown=str(contracts),
                axis_label=MONTHS[first.month - 1][:3],
                group_label=str(first.year) if index == 0 or first.month == 1 else None,
            )
        )
        rows.append([label, str(contracts), pounds(month.get("annual_value"))])
    table = figures_table(
        caption="Contracts to act on by month",
        head=["Month to act by", "Contracts", "Annual value"],
        rows=rows,
        numeric=(1, 2),
    )
    return points, table


def group_figures(
    groups: Sequence[Mapping[str, Any]], *, noun: str, caption: str
) -> tuple[list[Point], dict[str, Any]]:
    """Spend by a grouping: chart points of annual value, and a table with the number of contracts."""
    points = [
        Point(
            label=str(group.get("label") or group.get("key") or "Not recorded"),
            value=_decimal(group.get("annual_value")),
            shown=pounds(group.get("annual_value")),
        )
        for group in groups
    ]
    rows = [
        [point.label, str(_int(group.get("contracts"))), point.shown]
        for point, group in zip(points, groups, strict=True)
    ]
    table = figures_table(
        caption=caption, head=[noun, "Contracts", "Annual value"], rows=rows, numeric=(1, 2)
    )
    return points, table


def count_figures(
    groups: Sequence[Mapping[str, Any]], *, noun: str, counted: str, caption: str
) -> tuple[list[Point], dict[str, Any]]:
    """A distribution of systems (lifecycle stage, disposition): chart points and a table of counts."""
    points = [
        Point(
            label=str(group.get("label") or words(group.get("key")) or "Not recorded"),
            value=_int(group.get("count")),
            shown=str(_int(group.get("count"))),
        )
        for group in groups
    ]
    table = figures_table(
        caption=caption, head=[noun, counted], rows=[[p.label, p.shown] for p in points], numeric=(1,)
    )
    return points, table


def _spend_chart(groups: Sequence[Mapping[str, Any]], *, key: str, noun: str, plural: str) -> dict[str, Any]:
    points, table = group_figures(
        groups, noun=noun, caption=f"Annual value of active contracts by {noun.lower()}"
    )
    chart = bar_chart(
        points,
        id=f"spend-{key}-chart",
        title=f"Annual spend by {noun.lower()}",
        description=describe(
            points,
            what=(
                f"Bar chart of the annual value of active contracts by {noun.lower()}, largest first: "
                f"{len(points)} {plural if len(points) != 1 else noun.lower()}"
            ),
            unit_words=lambda point: point.shown,
        ),
    )
    return {
        "key": key,
        "noun": noun,
        "plural": plural,
        "chart": chart,
        "table": table,
        "list": f"spend-by-{key}",
    }


def _last_day(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def due_soon(totals: Mapping[str, Any]) -> tuple[int, str]:
    """How many contracts must be acted on within 90 days (the register's figure), and the words for it."""
    return _int(totals.get("act_within_90_days")), "renewals to act on within 90 days"


def _as_of(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def build_dashboard(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the dashboard shows, from the register's estate summary. Pure: the page's figures are
    the summary's, and each chart and its table come from the same points."""
    totals: Mapping[str, Any] = summary.get("totals") or {}
    months: Sequence[Mapping[str, Any]] = summary.get("pipeline") or []
    overdue: Mapping[str, Any] = summary.get("pipeline_overdue") or {}
    risks = [
        {**risk, "count": _int(risk.get("count")), "title": LISTS.get(str(risk.get("list")), {}).get("title")}
        for risk in summary.get("risks") or []
    ]
    risks_total = sum(risk["count"] for risk in risks)
    soon, soon_words = due_soon(totals)

    pipeline_points, pipeline_table = pipeline_figures(months)
    total_in_window = sum(int(point.value) for point in pipeline_points)
    pipeline_chart = column_chart(
        pipeline_points,
        id="pipeline-chart",
        title="Contracts to act on, by the month of their act-by date",
        description=describe(
            pipeline_points,
            what=(
                f"Column chart of the contracts to act on in each month from {pipeline_points[0].label} to "
                f"{pipeline_points[-1].label}, by the month of their act-by date: "
                f"{_count_words(total_in_window, 'contract', 'contracts')} in all"
                if pipeline_points
                else "Column chart of the contracts to act on, by the month of their act-by date"
            ),
            unit_words=lambda point: _count_words(int(point.value), "contract", "contracts"),
        ),
    )

    spend = summary.get("spend") or {}
    spend_groups = [
        _spend_chart(spend.get("by_supplier") or [], key="supplier", noun="Supplier", plural="suppliers"),
        _spend_chart(
            spend.get("by_service_area") or [],
            key="service-area",
            noun="Service area",
            plural="service areas",
        ),
        _spend_chart(spend.get("by_council") or [], key="council", noun="Council", plural="councils"),
    ]

    lifecycle_points, lifecycle_table = count_figures(
        summary.get("lifecycle") or [],
        noun="Lifecycle stage",
        counted="Systems",
        caption="Systems by lifecycle stage",
    )
    disposition_points, disposition_table = count_figures(
        summary.get("disposition") or [],
        noun="Disposition",
        counted="Systems",
        caption="Systems in use or planned, by disposition",
    )

    def distribution(points: list[Point], key: str, title: str, what: str) -> Chart:
        return bar_chart(
            points,
            id=f"{key}-chart",
            title=title,
            description=describe(
                points,
                what=what,
                unit_words=lambda point: _count_words(int(point.value), "system", "systems"),
            ),
            width=560,
            label_width=170,
        )

    duplication: Mapping[str, Any] = summary.get("duplication_clusters") or {}
    requests_count = _int(summary.get("requests_pending_count"))
    cards = [
        {
            "label": "systems in the register",
            "value": str(_int(totals.get("systems"))),
            "href": "/dashboard/lists/systems",
        },
        {"label": "live systems", "value": str(_int(totals.get("live_systems"))), "href": "#lifecycle"},
        {
            "label": "contracts",
            "value": str(_int(totals.get("contracts"))),
            "href": "/dashboard/lists/contracts",
        },
        {
            "label": "a year on active contracts",
            "value": pounds(totals.get("annual_value")),
            "href": "#spend",
        },
        {"label": "requests waiting for the TDA", "value": str(requests_count), "href": "#requests"},
        {"label": soon_words, "value": str(soon), "href": "#pipeline"},
        {"label": "risks to look at", "value": str(risks_total), "href": "#risks"},
    ]
    return {
        "as_of": summary.get("as_of"),
        "refreshing": bool(summary.get("refreshing")),
        "totals": totals,
        "cards": cards,
        "pipeline_chart": pipeline_chart,
        "pipeline_table": pipeline_table,
        "overdue": _int(overdue.get("contracts")),
        "overdue_value": overdue.get("annual_value"),
        "spend_groups": spend_groups,
        "lifecycle_chart": distribution(
            lifecycle_points,
            "lifecycle",
            "Systems by lifecycle stage",
            "Bar chart of systems by lifecycle stage",
        ),
        "lifecycle_table": lifecycle_table,
        "disposition_chart": distribution(
            disposition_points,
            "disposition",
            "Systems by disposition (tolerate, invest, migrate, eliminate)",
            "Bar chart of systems not retired, by disposition",
        ),
        "disposition_table": disposition_table,
        "requests": summary.get("requests_pending") or [],
        "requests_count": requests_count,
        "clusters": duplication.get("top") or [],
        "clusters_count": _int(duplication.get("count")),
        "risks": risks,
        "risks_total": risks_total,
    }


@router.get("/dashboard", summary="The TDA's single view of the estate")
async def dashboard(
    request: Request, pages: PagesDep, api: UserApi, _: Annotated[User, require(*ESTATE_READERS)]
) -> Response:
    summary = await api.get("register", "/api/v1/estate/summary")
    return pages.render(request, "dashboard/dashboard.html", build_dashboard(summary))


# --- lists ----------------------------------------------------------------------------------------------

SYSTEM_LISTS = frozenset({"systems", "personal-data-without-dpia-or-ropa", "on-premises-cloud-feasible"})
CONTRACT_LISTS = frozenset(
    {
        "contracts",
        "pipeline",
        "renewals-overdue",
        "expired-contract-live-system",
        "notice-unknown",
        "alerts-escalated",
    }
)
PRIMARY = ("name", "title", "capability", "label")
"""The column that names a row (its header cell, and its link when the row is a record)."""
DATE_KEYS = frozenset({"start_date", "current_term_end", "act_by", "submitted_on"})
INSTANT_KEYS = frozenset({"last_alert_at", "acknowledged_at", "escalated_at"})
ENUM_KEYS = frozenset(
    {
        "lifecycle_stage",
        "status",
        "disposition",
        "hosting",
        "cloud_feasibility",
        "dpia_status",
        "ropa_status",
        "renewal_type",
        "contract_type",
        "state",
        "kind",
        "missing",
        "business_criticality",
        "escalated_to",
        "escalated_from",
        "escalation_reason",
    }
)
COUNT_KEYS = frozenset(
    {
        "contracts",
        "system_count",
        "age_days",
        "days_to_act",
        "days_overdue",
        "notified_days_overdue",
        "notice_period_days",
        "internal_lead_time_days",
        "rung_days",
    }
)


def _shown_columns(name: str, columns: Sequence[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """The list's columns a person reads: no record ids (they become links), the naming column first."""
    shown = [c for c in columns if c["key"] != "id" and not c["key"].endswith("_id") and c["key"] != "key"]
    primary = next((c for key in PRIMARY for c in shown if c["key"] == key), None)
    if primary is None:
        return shown
    return [primary, *(c for c in shown if c is not primary)]


def _record_href(name: str, row: Mapping[str, Any]) -> str | None:
    if name == "requests-pending" and row.get("request_key"):
        return f"/requests/{row['request_key']}"
    if not row.get("id"):
        return None
    if name in SYSTEM_LISTS or (name == "no-owner" and row.get("kind") == "system"):
        return f"/systems/{row['id']}"
    if name in CONTRACT_LISTS or (name == "no-owner" and row.get("kind") == "contract"):
        return f"/contracts/{row['id']}"
    return None


ACRONYMS = {
    "Saas": "SaaS",
    "saas": "SaaS",
    "tda": "TDA",
    "Tda": "TDA",
    "ict": "ICT",
    "Ict": "ICT",
    "iot": "IoT",
}


def enum_words(value: Any) -> str:
    """An enumerated value as words, acronyms kept (``saas`` → ``SaaS``, ``tda`` → ``TDA``)."""
    return " ".join(ACRONYMS.get(word, word) for word in words(value).split(" "))


def _cell(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        if value and all(isinstance(v, Mapping) and v.get("id") for v in value):
            links = [
                {
                    "href": f"/systems/{v['id']}",
                    "text": str(v.get("name") or v.get("reference")),
                    "reference": v.get("reference"),
                }
                for v in value
            ]
            return {"links": links}
        return {"text": ", ".join(str(v) for v in value)}
    if value is None or value == "":
        return {"text": ""}
    if isinstance(value, bool):
        return {"text": "Yes" if value else "No"}
    if key in DATE_KEYS or key in INSTANT_KEYS:
        return {"text": long_date(value)}
    if "value" in key:
        return {"text": pounds(value), "numeric": True}
    if key in COUNT_KEYS:
        return {"text": str(value), "numeric": True}
    if key == "reference" or key.endswith("_key"):
        return {"text": str(value), "nowrap": True}
    if key in ENUM_KEYS:
        return {"text": enum_words(value)}
    return {"text": str(value)}


def list_table(name: str, answer: Mapping[str, Any]) -> dict[str, Any]:
    """A page of an estate list as a table: headings, and each row's cells with the first one (the
    record's name) linked to the record's page."""
    columns = _shown_columns(name, answer.get("columns") or [])
    rows = []
    for item in answer.get("items") or []:
        cells = [_cell(column["key"], item.get(column["key"])) for column in columns]
        if cells and "links" not in cells[0]:
            cells[0]["href"] = _record_href(name, item)
        rows.append(cells)
    head = [
        {"label": column["label"], "numeric": column["key"] in COUNT_KEYS or "value" in column["key"]}
        for column in columns
    ]
    return {"head": head, "rows": rows}


def pagination(name: str, page: int, pages: int) -> dict[str, Any] | None:
    """govukPagination's parameters: previous, next, and the pages around this one (with ellipses)."""
    if pages <= 1:
        return None

    def href(number: int) -> str:
        return f"/dashboard/lists/{name}?page={number}"

    wanted = sorted({1, pages, page - 1, page, page + 1} & set(range(1, pages + 1)))
    items: list[dict[str, Any]] = []
    previous = 0
    for number in wanted:
        if previous and number - previous > 1:
            items.append({"ellipsis": True})
        items.append({"number": str(number), "href": href(number), "current": number == page})
        previous = number
    return {
        "items": items,
        "previous": {"href": href(page - 1)} if page > 1 else None,
        "next": {"href": href(page + 1)} if page < pages else None,
        "landmarkLabel": "Pages of the list",
    }


@router.get("/dashboard/lists/{name}", summary="An estate list")
async def estate_list(
    request: Request,
    name: str,
    pages: PagesDep,
    api: UserApi,
    _: Annotated[User, require(*ESTATE_READERS)],
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    if name not in LISTS:
        raise PageNotFound(
            "There is no list with that name: the lists are on the dashboard and the exports page."
        )
    answer = await api.get("register", f"/api/v1/estate/lists/{name}", page=page, page_size=PAGE_SIZE)
    total = _int(answer.get("total"))
    size = _int(answer.get("page_size")) or PAGE_SIZE
    page_count = max(1, -(-total // size))
    if page > page_count:
        raise PageNotFound(f"This list has {page_count} {'page' if page_count == 1 else 'pages'}.")
    first = (page - 1) * size + 1 if total else 0
    context = {
        "name": name,
        "list_title": LISTS[name]["title"],
        "about": LISTS[name]["about"],
        "description": str(answer.get("title") or LISTS[name]["about"]).rstrip("."),
        "table": list_table(name, answer),
        "total": total,
        "first": first,
        "last": first + len(answer.get("items") or []) - 1 if total else 0,
        "page": page,
        "page_count": page_count,
        "pagination": pagination(name, page, page_count),
    }
    return pages.render(request, "dashboard/list.html", context)


__all__ = ["LISTS", "build_dashboard", "list_table", "router"]
