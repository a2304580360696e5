"""Pages: the systems and contract registers.

* ``GET /systems``: browse, search and filter the register of systems (everyone signed in).
* ``GET /systems/{id}``: one system: about, ownership, hosting, data protection, lifecycle, integrations,
  the contracts that cover it and its history.
* ``GET /contracts``: browse, search and filter the contract register (everyone but requesters: the
  register's API refuses them contracts, and the page says so).
* ``GET /contracts/{id}``: one contract: its terms, renewal decisions and history.

Each page reads what the person may see through the register's API and nothing more: where the API
refuses a part of a page (people's names and the contracts for a requester, the audit trail for anyone
but the TDA, auditors and administrators) that part says who may see it, and the rest of the page shows.

Lists page by the API's keyset cursors. A cursor only goes forwards, so each page's address carries the
cursors of the pages before it (``trail``): "Previous" is a link like any other, with JavaScript off
and after a reload, and every filter stays in every link.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from math import ceil
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from estate_portal.backends import Api
from estate_portal.csrf import protect
from estate_portal.errors import ApiProblem, NotAllowed, PageNotFound
from estate_portal.session import User
from estate_portal.web import CurrentUser, FormErrors, PagesDep, UserApi, long_date, pounds, words
from estate_runtime.dates import LONDON

router = APIRouter(dependencies=[Depends(protect)])

PAGE_SIZE = 25
REGISTER = "/api/v1"

T = TypeVar("T")

# --- words for the register's enumerated values ------------------------------------------------------
# The portal may not import the register (services are independent), so the labels live here; a value
# the register adds later still shows, as words, until it is given a label.

LABELS: dict[str, dict[str, str]] = {
    "lifecycle_stage": {
        "proposed": "Proposed",
        "planned": "Planned",
        "in_procurement": "In procurement",
        "implementing": "Implementing",
        "live": "Live",
        "under_review": "Under review",
        "decommissioning": "Decommissioning",
        "retired": "Retired",
    },
    "hosting": {
        "on_premises": "On premises",
        "cloud": "Cloud",
        "saas": "Software as a service (SaaS)",
        "hybrid": "Hybrid",
    },
    "cloud_feasibility": {
        "unknown": "Not known",
        "feasible": "Could move to the cloud",
        "not_feasible": "Cannot move to the cloud",
        "already_cloud": "Already in the cloud",
    },
    "compliance": {
        "unknown": "Not known",
        "not_started": "Not started",
        "in_progress": "In progress",
        "completed": "Completed",
        "not_required": "Not required",
    },
    "rationalisation_decision": {
        "undecided": "Not decided",
        "retain": "Retain",
        "upgrade": "Upgrade",
        "decommission": "Decommission",
    },
    "disposition": {
        "tolerate": "Tolerate",
        "invest": "Invest",
        "migrate": "Migrate",
        "eliminate": "Eliminate",
    },
    "integration": {
        "api": "API",
        "bulk_csv": "Bulk import and export (CSV)",
        "middleware": "Middleware",
        "none": "None",
    },
    "criticality": {"critical": "Critical", "high": "High", "medium": "Medium", "low": "Low"},
    "risk_rag": {"red": "Red", "amber": "Amber", "green": "Green"},
    "accessibility": {
        "not_assessed": "Not assessed",
        "wcag22_aa": "Meets WCAG 2.2 AA",
        "wcag21_aa": "Meets WCAG 2.1 AA",
        "partial": "Partly meets WCAG",
        "not_applicable": "Not applicable",
    },
    "usage": {"in_use": "In use", "under_used": "Under-used", "not_in_use": "Not in use"},
    "contract_type": {
        "software_licence": "Software licence",
        "saas_subscription": "SaaS subscription",
        "it_service": "IT service",
        "support_and_maintenance": "Support and maintenance",
        "shared_service_agreement": "Shared-service agreement",
        "iot_protech": "IoT and PropTech",
        "hardware": "Hardware",
    },
    "procurement_route": {
        "via_3c_ict": "Through 3C ICT",
        "council_procurement": "Council procurement",
        "framework_call_off": "Framework call-off",
        "direct_by_service_area": "Bought directly by a service area",
        "shared_service": "Shared service",
        "tda_request": "TDA request",
    },
    "renewal_type": {
        "tacit": "Tacit: renews automatically unless notice is given",
        "express": "Express: ends unless renewed",
        "none": "No renewal",
    },
    "status": {
        "pending": "Pending",
        "active": "Active",
        "cancelled": "Cancelled",
        "terminated": "Terminated",
        "expired": "Expired",
    },
    "outcome": {"renew": "Renew", "extend": "Extend", "reprocure": "Re-procure", "terminate": "Terminate"},
    "action": {
        "recorded": "Recorded",
        "changed": "Changed",
        "lifecycle_changed": "Lifecycle stage changed",
        "retired": "Retired",
        "renewal_decision_recorded": "Renewal decision recorded",
    },
}

TAG_COLOURS: dict[str, dict[str, str]] = {
    "lifecycle_stage": {
        "proposed": "govuk-tag--light-blue",
        "planned": "govuk-tag--blue",
        "in_procurement": "govuk-tag--purple",
        "implementing": "govuk-tag--turquoise",
        "live": "govuk-tag--green",
        "under_review": "govuk-tag--yellow",
        "decommissioning": "govuk-tag--orange",
        "retired": "govuk-tag--grey",
    },
    "status": {
        "pending": "govuk-tag--blue",
        "active": "govuk-tag--green",
        "cancelled": "govuk-tag--grey",
        "terminated": "govuk-tag--grey",
        "expired": "govuk-tag--red",
    },
    "compliance": {
        "unknown": "govuk-tag--grey",
        "not_started": "govuk-tag--red",
        "in_progress": "govuk-tag--yellow",
        "completed": "govuk-tag--green",
        "not_required": "govuk-tag--grey",
    },
}

FIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "reference": "Reference",
    "description": "Description",
    "lead_council": "Lead council",
    "councils": "Councils",
    "service_area_ids": "Service areas",
    "capabilities": "Capabilities",
    "supplier_id": "Supplier",
    "product_family": "Product family",
    "lifecycle_stage": "Lifecycle stage",
    "rationalisation_decision": "Rationalisation decision",
    "rationalisation_rationale": "Rationalisation rationale",
    "disposition": "Disposition (TIME)",
    "hosting": "Hosting",
    "cloud_feasibility": "Cloud feasibility",
    "cloud_alternative": "Cloud alternative",
    "holds_personal_data": "Holds personal data",
    "personal_data_categories": "Personal data categories",
    "special_category_data": "Special category data",
    "data_location": "Data location",
    "dpia_status": "DPIA status",
    "dpia_date": "DPIA date",
    "ropa_status": "RoPA status",
    "ropa_date": "RoPA date",
    "integration_capabilities": "Integration",
    "api_register": "APIs",
    "business_criticality": "Business criticality",
    "risk_rag": "Risk rating",
    "accessibility_level": "Accessibility",
    "usage_status": "Usage",
    "resident_facing": "Used by residents",
    "procured_outside_ict": "Bought outside ICT",
    "system_owner_id": "System owner",
    "data_owner_id": "Data owner",
    "title": "Title",
    "system_ids": "Systems covered",
    "proactis_reference": "Proactis reference",
    "contract_type": "Type",
    "procurement_route": "Procurement route",
    "start_date": "Start date",
    "initial_term_end": "Initial term end",
    "current_term_end": "Current term end",
    "renewal_type": "Renewal type",
    "renewal_period_months": "Renewal period",
    "extension_options_left": "Extension options left",
    "notice_period_days": "Notice period",
    "internal_lead_time_days": "Internal lead time",
    "annual_value": "Annual value",
    "total_value": "Total value",
    "cost_centre": "Cost centre",
    "status": "Status",
    "owner_id": "Contract owner",
    "budget_holder_id": "Budget holder",
    "signatory_id": "Signatory",
    "act_by": "Act by",
}

# Fields the audit trail records but a person reading the history does not need to see change.
QUIET_FIELDS = frozenset(
    {
        "version",
        "updated_at",
        "created_at",
        "lifecycle_history",
        "renewal_decisions",
        "search_text",
        "name_key",
    }
)
LIFECYCLE_ORDER = tuple(LABELS["lifecycle_stage"])


def label(kind: str, value: Any) -> str:
    """The words for an enumerated value (``label("hosting", "saas")``), or the value as words."""
    if value in (None, ""):
        return ""
    return LABELS.get(kind, {}).get(str(value)) or words(value)


def tag(kind: str, value: Any) -> dict[str, str]:
    """A GOV.UK tag for a value: its words carry the meaning, the colour only repeats it."""
    return {
        "text": label(kind, value),
        "classes": TAG_COLOURS.get(kind, {}).get(str(value), "govuk-tag--grey"),
    }


def money(value: Any) -> str:
    """£184,500, or £2,400.50 where there are pence: a figure is never rounded on the way to a page."""
    if value in (None, ""):
        return ""
    try:
        whole = Decimal(str(value)) % 1 == 0
    except InvalidOperation:
        return str(value)
    return pounds(value, pence=not whole)


def days(value: Any) -> str:
    """A period in days; none (0, the register's default) is a period nobody has recorded."""
    if not value:
        return ""
    return "1 day" if value == 1 else f"{value} days"


def months(value: Any) -> str:
    if not value:
        return ""
    return "1 month" if value == 1 else f"{value} months"


def today() -> date:
    return datetime.now(LONDON).date()


def months_ahead(start: date, months: int) -> date:
    """The same day ``months`` later (the month's last day where it has fewer days)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def local_time(value: Any) -> datetime | None:
    """An instant from the API as Europe/London wall-clock time."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value)).astimezone(LONDON)
    except ValueError:
        return None


def as_uuid(value: str) -> str:
    """A record id from the address; anything else is a page that does not exist."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise PageNotFound("If you typed the web address, check it is correct.") from None


async def unless_refused(call: Awaitable[T]) -> T | None:
    """The API's answer, or ``None`` where it refuses this person that part of the page."""
    try:
        return await call
    except NotAllowed:
        return None


# --- what the register calls things: names for ids -----------------------------------------------------


@dataclass
class Names:
    """Names for the ids on a page, looked up once per page (and concurrently)."""

    api: Api
    suppliers: dict[str, str] = field(default_factory=dict)
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    areas: dict[str, str] = field(default_factory=dict)
    councils: dict[str, str] = field(default_factory=dict)
    people_visible: bool = True

    async def load_reference(self) -> None:
        areas, councils = await asyncio.gather(
            self.api.get("register", f"{REGISTER}/service-areas"),
            self.api.get("register", f"{REGISTER}/councils"),
        )
        self.areas = {a["id"]: a["name"] for a in areas}
        self.councils = {c["code"]: c["name"] for c in councils}

    async def load_suppliers(self, *, all_of_them: bool = False, ids: Iterable[str | None] = ()) -> None:
        if all_of_them:
            page = await self.api.get("register", f"{REGISTER}/suppliers", limit=500)
            self.suppliers.update({s["id"]: s["name"] for s in page["items"]})
        missing = {i for i in ids if i and i not in self.suppliers}
        found = await asyncio.gather(
            *(self.api.find("register", f"{REGISTER}/suppliers/{i}") for i in missing)
        )
        self.suppliers.update({s["id"]: s["name"] for s in found if s})

    async def load_people(self, ids: Iterable[str | None]) -> None:
        """People's names and e-mails; a role that may not read people (requesters) sees none."""
        missing = {i for i in ids if i and i not in self.people}
        if not missing or not self.people_visible:
            return
        found = await asyncio.gather(
            *(self.api.find("register", f"{REGISTER}/people/{i}") for i in missing), return_exceptions=True
        )
        for answer in found:
            if isinstance(answer, NotAllowed):
                self.people_visible = False
            elif isinstance(answer, BaseException):
                raise answer
            elif answer:
                self.people[answer["id"]] = answer

    def supplier(self, supplier_id: str | None) -> str:
        return self.suppliers.get(supplier_id or "", "") if supplier_id else ""

    def person(self, person_id: str | None) -> str:
        if not person_id:
            return ""
        person = self.people.get(person_id)
        return person["name"] if person else ""

    def area_names(self, ids: Sequence[str]) -> list[str]:
        return [self.areas[i] for i in ids if i in self.areas]

    def council(self, code: str | None) -> str:
        return self.councils.get(code or "", code or "")


# --- filters and the addresses that keep them ----------------------------------------------------------


@dataclass
class Listing:
    """A list page's filters as sent in its address, and links that keep or drop them."""

    path: str
    pairs: list[tuple[str, str]]
    """The filters, in the order sent (cursor and trail not included)."""
    cursor: str | None
    trail: list[str]

    @classmethod
    def of(cls, request: Request, path: str, names: Sequence[str]) -> Listing:
        params = request.query_params
        pairs = [(k, v.strip()) for k, v in params.multi_items() if k in names and v.strip()]
        cursor = params.get("cursor") or None
        trail = [c for c in (params.get("trail") or "").split(".") if c] if cursor else []
        return cls(path, pairs, cursor, trail)

    def get(self, name: str) -> str:
        return next((v for k, v in self.pairs if k == name), "")

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def href(
        self, pairs: Iterable[tuple[str, str]], *, cursor: str | None = None, trail: Sequence[str] = ()
    ) -> str:
        query = list(pairs)
        if cursor:
            query.append(("cursor", cursor))
            if trail:
                query.append(("trail", ".".join(trail)))
        return self.path + ("?" + urlencode(query) if query else "")

    def without(self, name: str, value: str) -> str:
        """This list without one filter value (back to its first page)."""
        return self.href((k, v) for k, v in self.pairs if (k, v) != (name, value))

    @property
    def page_number(self) -> int:
        return len(self.trail) + 2 if self.cursor else 1

    def pagination(self, next_cursor: str | None, total: int | None) -> dict[str, Any] | None:
        """GOV.UK pagination: previous and next, each keeping every filter."""
        pages = ceil(total / PAGE_SIZE) if total else None
        params: dict[str, Any] = {"landmarkLabel": "Pages of results"}
        number = self.page_number
        if number > 1:
            back = self.trail[-1] if self.trail else None
            params["previous"] = {
                "href": self.href(self.pairs, cursor=back, trail=self.trail[:-1]),
                "labelText": f"{number - 1} of {pages}" if pages else None,
            }
        if next_cursor:
            trail = [*self.trail, self.cursor] if self.cursor else []
            params["next"] = {
                "href": self.href(self.pairs, cursor=next_cursor, trail=trail),
                "labelText": f"{number + 1} of {pages}" if pages else None,
            }
        return params if ("previous" in params or "next" in params) else None


def checkbox_items(
    kind: str, chosen: Sequence[str], values: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    return [
        {"value": value, "text": label(kind, value), "checked": value in chosen}
        for value in (values if values is not None else LABELS[kind])
    ]


def select_items(options: Iterable[tuple[str, str]], chosen: str, *, blank: str) -> list[dict[str, Any]]:
    items = [{"value": "", "text": blank, "selected": not chosen}]
    items += [{"value": v, "text": t, "selected": v == chosen} for v, t in options]
    return items


WITHIN_MONTHS = (
    ("1", "1 month"),
    ("3", "3 months"),
    ("6", "6 months"),
    ("12", "12 months"),
    ("24", "2 years"),
)


def within(value: str) -> date | None:
    """``ending within 6 months`` as the register's ``..._before`` date."""
    if value not in dict(WITHIN_MONTHS):
        return None
    return months_ahead(today(), int(value))


async def find_me(api: Api, user: User, names: Names) -> str | None:
    """The register's record of the signed-in person (found by e-mail), for "only mine"; on the way,
    whether this person may see people at all (the register refuses requesters)."""
    page = await unless_refused(
        api.get("register", f"{REGISTER}/people", q=user.email or user.subject, limit=5)
    )
    if page is None:
        names.people_visible = False
        return None
    for person in page.get("items", []):
        if user.email and str(person.get("email", "")).casefold() == user.email.casefold():
            names.people[str(person["id"])] = person
            return str(person["id"])
    return None


def selected_filters(listing: Listing, describe: Mapping[str, Any]) -> list[dict[str, str]]:
    """Each filter in use, with its words and a link that removes it."""
    chosen = []
    for name, value in listing.pairs:
        if name == "sort":
            continue
        what = describe.get(name)
        if what is None:
            continue
        heading, text = what(value) if callable(what) else (what, value)
        if text:
            chosen.append({"heading": heading, "text": text, "href": listing.without(name, value)})
    return chosen


def sort_of(listing: Listing, sorts: Sequence[tuple[str, str]]) -> str:
    """The order asked for, if the list offers it, else the list's first (its default)."""
    return listing.get("sort") if listing.get("sort") in dict(sorts) else sorts[0][0]


async def search(
    api: Api,
    user: User,
    names: Names,
    listing: Listing,
    resource: str,
    filters: Sequence[str],
    params: Mapping[str, Any],
) -> tuple[dict[str, Any], FormErrors]:
    """One page of a register (``resource``: systems or contracts) for the filters both registers share
    and the list's own ``params``; a filter the register cannot read comes back as an error against it."""
    me = await find_me(api, user, names)
    mine = listing.get("mine") == "yes" and names.people_visible
    errors = FormErrors()
    result: dict[str, Any] = {"items": [], "next_cursor": None, "total": 0}
    # Nobody in the register has this person's e-mail: they own nothing, so "only mine" finds nothing.
    if mine and me is None:
        return result, errors
    query = {
        "q": listing.get("q"),
        **params,
        "supplier_id": listing.get("supplier_id"),
        "council": listing.get("council"),
        "act_by_before": within(listing.get("act_by_within")),
        "owner_id": me if mine else None,
        "cursor": listing.cursor,
        "limit": PAGE_SIZE,
        "count": "true",
    }
    try:
        result = await api.get("register", f"{REGISTER}/{resource}", **query)
    except ApiProblem as problem:
        errors.absorb(problem, filters)
    return result, errors


def list_context(
    listing: Listing,
    names: Names,
    result: Mapping[str, Any],
    errors: FormErrors,
    *,
    title: str,
    sorts: Sequence[tuple[str, str]],
    describe: Mapping[str, Any],
    mine_text: str,
) -> dict[str, Any]:
    """What both register lists show: the page of results, its pages, the filters in use and the filter
    fields both lists have (search, supplier, council, act by, only mine, sort)."""
    sort = sort_of(listing, sorts)
    total = result.get("total")
    common: dict[str, Any] = {
        "q": "Search",
        "supplier_id": lambda v: ("Supplier", names.suppliers.get(v, v)),
        "council": lambda v: ("Council", names.council(v)),
    }
    return {
        "title": title,
        "listing": listing,
        "total": total,
        "errors": errors,
        "people_visible": names.people_visible,
        "pagination": listing.pagination(result.get("next_cursor"), total),
        "selected": selected_filters(listing, {**common, **describe}),
        "supplier_items": select_items(
            sorted(names.suppliers.items(), key=lambda s: s[1].casefold()),
            listing.get("supplier_id"),
            blank="Any supplier",
        ),
        "council_items": select_items(names.councils.items(), listing.get("council"), blank="Any council"),
        "act_by_items": select_items(WITHIN_MONTHS, listing.get("act_by_within"), blank="Any time"),
        "sort_items": select_items(sorts[1:], "" if sort == sorts[0][0] else sort, blank=sorts[0][1]),
        "mine_items": [{"value": "yes", "text": mine_text, "checked": listing.get("mine") == "yes"}],
    }


# --- the register of systems -------------------------------------------------------------------------

SYSTEM_FILTERS = (
    "q",
    "lifecycle_stage",
    "hosting",
    "service_area_id",
    "supplier_id",
    "council",
    "holds_personal_data",
    "capability",
    "contract_ending_within",
    "act_by_within",
    "mine",
    "sort",
)
SYSTEM_SORTS = (
    ("name", "Name"),
    ("reference", "Reference"),
    ("lifecycle_stage", "Lifecycle stage"),
    ("-updated_at", "Recently changed"),
)
PERSONAL_DATA = (("true", "Yes"), ("false", "No"))


@router.get("/systems", summary="The register of systems")
async def systems(
    request: Request,
    pages: PagesDep,
    api: UserApi,
    user: CurrentUser,
) -> Response:
    listing = Listing.of(request, "/systems", SYSTEM_FILTERS)
    names = Names(api)
    await asyncio.gather(names.load_reference(), names.load_suppliers(all_of_them=True))
    params: dict[str, Any] = {
        "lifecycle_stage": [s for s in listing.all("lifecycle_stage") if s in LABELS["lifecycle_stage"]],
        "hosting": [h for h in listing.all("hosting") if h in LABELS["hosting"]],
        "service_area_id": listing.get("service_area_id"),
        "holds_personal_data": listing.get("holds_personal_data")
        if listing.get("holds_personal_data") in dict(PERSONAL_DATA)
        else None,
        "capability": listing.get("capability"),
        "contract_ending_before": within(listing.get("contract_ending_within")),
        "sort": sort_of(listing, SYSTEM_SORTS),
    }
    result, errors = await search(api, user, names, listing, "systems", SYSTEM_FILTERS, params)
    items = result["items"]
    await asyncio.gather(
        names.load_suppliers(ids=(s.get("supplier_id") for s in items)),
        names.load_people(s.get("system_owner_id") for s in items),
    )
    rows = [
        {
            "id": s["id"],
            "reference": s["reference"],
            "name": s["name"],
            "supplier": names.supplier(s.get("supplier_id")),
            "stage": tag("lifecycle_stage", s["lifecycle_stage"]),
            "owner": names.person(s.get("system_owner_id")),
            "areas": names.area_names(s.get("service_area_ids") or []),
        }
        for s in items
    ]
    describe: dict[str, Any] = {
        "lifecycle_stage": lambda v: ("Lifecycle stage", label("lifecycle_stage", v)),
        "hosting": lambda v: ("Hosting", label("hosting", v)),
        "service_area_id": lambda v: ("Service area", names.areas.get(v, v)),
        "holds_personal_data": lambda v: ("Holds personal data", dict(PERSONAL_DATA).get(v, "")),
        "capability": "Capability",
        "contract_ending_within": lambda v: ("A contract ends within", dict(WITHIN_MONTHS).get(v, "")),
        "act_by_within": lambda v: ("Act on a renewal within", dict(WITHIN_MONTHS).get(v, "")),
        "mine": lambda v: ("Owner", "Systems I own" if v == "yes" and names.people_visible else ""),
    }
    context = list_context(
        listing,
        names,
        result,
        errors,
        title="Register of systems",
        sorts=SYSTEM_SORTS,
        describe=describe,
        mine_text="Only systems I own",
    )
    context |= {
        "rows": rows,
        "stage_items": checkbox_items("lifecycle_stage", listing.all("lifecycle_stage")),
        "hosting_items": checkbox_items("hosting", listing.all("hosting")),
        "area_items": select_items(
            sorted(names.areas.items(), key=lambda a: a[1].casefold()),
            listing.get("service_area_id"),
            blank="Any service area",
        ),
        "personal_items": [
            {
                "value": "",
                "text": "Any",
                "checked": listing.get("holds_personal_data") not in dict(PERSONAL_DATA),
            },
            *(
                {"value": v, "text": t, "checked": listing.get("holds_personal_data") == v}
                for v, t in PERSONAL_DATA
            ),
        ],
        "ending_items": select_items(WITHIN_MONTHS, listing.get("contract_ending_within"), blank="Any time"),
    }
    return pages.render(request, "register/systems.html", context, status_code=400 if errors else 200)


@router.get("/systems/{system_id}", summary="A system")
async def system_page(request: Request, system_id: str, pages: PagesDep, api: UserApi) -> Response:
    system_id = as_uuid(system_id)
    system = await api.get("register", f"{REGISTER}/systems/{system_id}")
    names = Names(api)
    contracts, history, _ = await asyncio.gather(
        unless_refused(api.get("register", f"{REGISTER}/systems/{system_id}/contracts")),
        unless_refused(api.get("register", f"{REGISTER}/systems/{system_id}/audit")),
        names.load_reference(),
    )
    people_ids = [system.get("system_owner_id"), system.get("data_owner_id")]
    for contract in contracts or []:
        people_ids += [
            contract.get("owner_id"),
            contract.get("budget_holder_id"),
            contract.get("signatory_id"),
        ]
    await asyncio.gather(
        names.load_suppliers(
            ids=[system.get("supplier_id")] + [c.get("supplier_id") for c in contracts or []]
        ),
        names.load_people(people_ids),
    )
    context = {
        "title": system["name"],
        "system": system,
        "names": names,
        "contracts": [contract_row(c, names) for c in contracts] if contracts is not None else None,
        "contract_people": contract_people(contracts or [], names),
        "history": history_rows(history, names) if history is not None else None,
        "label": label,
        "tag": tag,
        "lifecycle": [
            {**entry, "at": local_time(entry.get("at"))}
            for entry in reversed(system.get("lifecycle_history") or [])
        ],
        "validated_at": local_time(system.get("last_validated_at")),
        "shared_with": [names.council(code) for code in system.get("councils") or []],
        "integrations": [label("integration", v) for v in system.get("integration_capabilities") or []],
        "money": money,
    }
    return pages.render(request, "register/system.html", context)


def contract_row(contract: Mapping[str, Any], names: Names) -> dict[str, Any]:
    return {
        "id": contract["id"],
        "reference": contract["reference"],
        "title": contract["title"],
        "supplier": names.supplier(contract.get("supplier_id")),
        "status": tag("status", contract["status"]),
        "term_end": contract["current_term_end"],
        "act_by": contract.get("act_by"),
        "annual_value": contract.get("annual_value"),
        "owner": names.person(contract.get("owner_id")),
    }


def contract_people(contracts: Sequence[Mapping[str, Any]], names: Names) -> list[dict[str, Any]]:
    """Who holds each contract role (R22: contract owner, signatory, budget holder) across the contracts."""
    roles = (
        ("owner_id", "Contract owner"),
        ("budget_holder_id", "Budget holder"),
        ("signatory_id", "Signatory"),
    )
    found: list[dict[str, Any]] = []
    for key, role in roles:
        for contract in contracts:
            person = names.people.get(contract.get(key) or "")
            if person:
                found.append({"role": role, "person": person, "contract": contract["reference"]})
    return found


# --- the contract register ---------------------------------------------------------------------------

CONTRACT_FILTERS = ("q", "supplier_id", "status", "council", "ending_within", "act_by_within", "mine", "sort")
CONTRACT_SORTS = (
    ("current_term_end", "Term end, soonest first"),
    ("act_by", "Act-by date, soonest first"),
    ("reference", "Reference"),
    ("title", "Title"),
    ("-annual_value", "Annual value, highest first"),
    ("-updated_at", "Recently changed"),
)


@router.get("/contracts", summary="The contract register")
async def contracts_page(
    request: Request,
    pages: PagesDep,
    api: UserApi,
    user: CurrentUser,
) -> Response:
    listing = Listing.of(request, "/contracts", CONTRACT_FILTERS)
    names = Names(api)
    params: dict[str, Any] = {
        "status": [s for s in listing.all("status") if s in LABELS["status"]],
        "ending_before": within(listing.get("ending_within")),
        "sort": sort_of(listing, CONTRACT_SORTS),
    }
    # First, so that a person the register refuses contracts gets the "cannot see" page.
    result, errors = await search(api, user, names, listing, "contracts", CONTRACT_FILTERS, params)
    items = result["items"]
    await asyncio.gather(
        names.load_reference(),
        names.load_suppliers(all_of_them=True, ids=(c.get("supplier_id") for c in items)),
        names.load_people(c.get("owner_id") for c in items),
    )
    describe: dict[str, Any] = {
        "status": lambda v: ("Status", label("status", v)),
        "ending_within": lambda v: ("Term ends within", dict(WITHIN_MONTHS).get(v, "")),
        "act_by_within": lambda v: ("Act on renewal within", dict(WITHIN_MONTHS).get(v, "")),
        "mine": lambda v: ("Owner", "My contracts" if v == "yes" and names.people_visible else ""),
    }
    context = list_context(
        listing,
        names,
        result,
        errors,
        title="Contract register",
        sorts=CONTRACT_SORTS,
        describe=describe,
        mine_text="Only contracts I own, sign or hold the budget for",
    )
    context |= {
        "rows": [contract_row(c, names) for c in items],
        "status_items": checkbox_items("status", listing.all("status")),
        "ending_items": select_items(WITHIN_MONTHS, listing.get("ending_within"), blank="Any time"),
        "money": money,
    }
    return pages.render(request, "register/contracts.html", context, status_code=400 if errors else 200)


@router.get("/contracts/{contract_id}", summary="A contract")
async def contract_page(request: Request, contract_id: str, pages: PagesDep, api: UserApi) -> Response:
    contract_id = as_uuid(contract_id)
    contract = await api.get("register", f"{REGISTER}/contracts/{contract_id}")
    names = Names(api)
    systems_covered, history, *_ = await asyncio.gather(
        asyncio.gather(
            *(api.find("register", f"{REGISTER}/systems/{i}") for i in contract.get("system_ids") or [])
        ),
        unless_refused(api.get("register", f"{REGISTER}/contracts/{contract_id}/audit")),
        names.load_reference(),
        names.load_suppliers(ids=[contract.get("supplier_id")]),
        names.load_people(
            [contract.get("owner_id"), contract.get("budget_holder_id"), contract.get("signatory_id")]
        ),
    )
    covered = [s for s in systems_covered if s]
    await names.load_people(
        [
            d.get("decided_by")
            for d in contract.get("renewal_decisions") or []
            if _looks_like_id(d.get("decided_by"))
        ]
    )
    context = {
        "title": f"{contract['reference']}: {contract['title']}",
        "contract": contract,
        "names": names,
        "systems": covered,
        "history": history_rows(history, names, systems={s["id"]: s["name"] for s in covered})
        if history is not None
        else None,
        "decisions": [
            {**d, "decided_at": local_time(d.get("decided_at"))}
            for d in sorted(
                contract.get("renewal_decisions") or [], key=lambda d: d.get("decided_at") or "", reverse=True
            )
        ],
        "councils": [names.council(code) for code in contract.get("councils") or []],
        "label": label,
        "tag": tag,
        "money": money,
        "days": days,
        "months": months,
    }
    return pages.render(request, "register/contract.html", context)


def _looks_like_id(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


# --- history -----------------------------------------------------------------------------------------


def history_rows(
    entries: Sequence[Mapping[str, Any]], names: Names, *, systems: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The audit trail, newest first, each change as "field: before → after" in words a person reads."""
    rows = []
    for entry in reversed(entries):
        action = entry.get("action", "")
        changes: list[dict[str, str]] = []
        if action != "recorded":
            before, after = entry.get("before") or {}, entry.get("after") or {}
            for name in entry.get("changed_fields") or []:
                if name in QUIET_FIELDS:
                    continue
                changes.append(
                    {
                        "field": FIELD_LABELS.get(name) or words(name),
                        "before": show_value(name, before.get(name), names, systems or {}),
                        "after": show_value(name, after.get(name), names, systems or {}),
                    }
                )
        rows.append(
            {
                "at": local_time(entry.get("at")),
                "actor": entry.get("actor", ""),
                "action": label("action", action),
                "changes": changes,
            }
        )
    return rows


VALUE_KINDS = {
    "lifecycle_stage": "lifecycle_stage",
    "hosting": "hosting",
    "cloud_feasibility": "cloud_feasibility",
    "dpia_status": "compliance",
    "ropa_status": "compliance",
    "rationalisation_decision": "rationalisation_decision",
    "disposition": "disposition",
    "integration_capabilities": "integration",
    "business_criticality": "criticality",
    "risk_rag": "risk_rag",
    "accessibility_level": "accessibility",
    "usage_status": "usage",
    "contract_type": "contract_type",
    "procurement_route": "procurement_route",
    "renewal_type": "renewal_type",
    "status": "status",
}
MONEY_FIELDS = frozenset({"annual_value", "total_value"})
PEOPLE_FIELDS = frozenset(
    {"system_owner_id", "data_owner_id", "owner_id", "budget_holder_id", "signatory_id"}
)


def show_value(name: str, value: Any, names: Names, systems: Mapping[str, str]) -> str:
    """One recorded value as a person reads it; long text is cut short (the record has it in full)."""
    if value is None or value == "" or value == []:
        return "(blank)"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(show_value(name, v, names, systems) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, "", False))
    if name in VALUE_KINDS:
        return label(VALUE_KINDS[name], value)
    if name in MONEY_FIELDS:
        return pounds(value, pence=True)
    if name in PEOPLE_FIELDS:
        return names.person(str(value)) or str(value)
    if name == "supplier_id":
        return names.supplier(str(value)) or str(value)
    if name == "service_area_ids":
        return names.areas.get(str(value), str(value))
    if name == "system_ids":
        return systems.get(str(value), str(value))
    text = str(value)
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            return text
        return long_date(parsed)
    return text if len(text) <= 160 else text[:157] + "…"
