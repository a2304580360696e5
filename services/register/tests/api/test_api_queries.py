"""Finding systems: every filter returns exactly the demo systems it should, and paging through any sort
order visits every system once, on SQLite and on PostgreSQL.

The demo estate is loaded as of 3 March 2025 (the fixed clock), so its contract dates are known:
Proactis's contract ended on 11 February (act by 13 November 2024), Alloy's ends on 2 April (act by
17 February), Storm's on 6 June (act by 7 March), Orchard and AccuServe's on 31 July (act by 2 April).
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from register_api_support import Register, on_both_databases, problem

ALL = {
    "AccuServe",
    "Alloy",
    "CaseTracker",
    "Complaints Tracker",
    "govmetric",
    "IEG4 online forms",
    "Miro",
    "Orchard",
    "Power BI",
    "Proactis",
    "Storm",
    "Tascomi",
}

# (query parameters, with <...> naming a demo record to look up, and the systems expected)
FILTERS = {
    "supplier": ({"supplier_id": "<supplier:MRI Software>"}, {"Orchard", "AccuServe"}),
    "service area": (
        {"service_area_id": "<area:Customer Services>"},
        {"Storm", "IEG4 online forms", "Complaints Tracker", "govmetric"},
    ),
    "lifecycle stage": ({"lifecycle_stage": "retired"}, {"govmetric"}),
    "two lifecycle stages": ({"lifecycle_stage": ["retired", "live"]}, ALL),
    "hosting": (
        {"hosting": "on_premises"},
        {"Orchard", "AccuServe", "Complaints Tracker", "CaseTracker"},
    ),
    "no personal data": ({"holds_personal_data": "false"}, {"Alloy", "Proactis", "govmetric"}),
    "personal data": (
        {"holds_personal_data": "true"},
        ALL - {"Alloy", "Proactis", "govmetric", "Miro"},
    ),
    # Sam owns Orchard and CaseTracker, and the contract that covers Orchard and AccuServe.
    "owner, including contract owner": (
        {"owner_id": "<person:sam.whitfield@cambridge.gov.uk>"},
        {"Orchard", "CaseTracker", "AccuServe"},
    ),
    # Tom owns no system but holds the budget of every contract but two.
    "budget holder": (
        {"owner_id": "<person:tom.ellis@cambridge.gov.uk>"},
        {"IEG4 online forms", "Orchard", "AccuServe", "Storm", "Tascomi", "Alloy", "Proactis"},
    ),
    "council shared with": ({"council": "SCDC"}, {"Tascomi", "Alloy"}),
    "lead council": ({"council": "CCC"}, ALL),
    "unknown council": ({"council": "HDC"}, set()),
    "contract ending before": ({"contract_ending_before": "2025-07-01"}, {"Proactis", "Alloy", "Storm"}),
    "act by before": (
        {"act_by_before": "2025-04-03"},
        {"Proactis", "Alloy", "Storm", "Orchard", "AccuServe"},
    ),
    "text in capabilities": (
        {"q": "case management"},
        {"Storm", "Tascomi", "Complaints Tracker", "CaseTracker"},
    ),
    "text in name, any case": ({"q": "ORCHARD"}, {"Orchard"}),
    "text in description": ({"q": "covid"}, {"AccuServe"}),
    "text in reference": ({"q": "sys-00001"}, {"Orchard"}),
    "a percent sign is text, not a wildcard": ({"q": "%"}, {"Complaints Tracker"}),
    "an underscore is text, not a wildcard": ({"q": "_"}, set()),
    "filters combine": (
        {"hosting": "saas", "holds_personal_data": "true"},
        {"Storm", "Tascomi", "IEG4 online forms", "Power BI"},
    ),
}

SORTS = ["name", "-name", "reference", "-reference", "updated_at", "-updated_at", "lifecycle_stage"]


async def resolve(register: Register, params: dict[str, object]) -> dict[str, object]:
    lookups = {
        "supplier": register.supplier_id,
        "area": register.service_area_id,
        "person": register.person_id,
    }
    resolved: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, str) and value.startswith("<"):
            kind, _, name = value.strip("<>").partition(":")
            value = await lookups[kind](name)
        resolved[key] = value
    return resolved


async def names(register: Register, **params: object) -> set[str]:
    response = await register.client.get(
        "/api/v1/systems",
        params={**params, "limit": 500, "count": "true"},
        headers=register.mint("requester"),
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    assert page["total"] == len(page["items"])
    return {item["name"] for item in page["items"]}


@pytest.mark.parametrize("case", sorted(FILTERS))
async def test_each_filter_returns_exactly_the_matching_systems(register: Register, case):
    params, expected = FILTERS[case]

    assert await names(register, **await resolve(register, params)) == expected


@on_both_databases
async def test_every_filter_gives_the_same_answer_on_this_database(register: Register):
    """The filters lean on SQL that differs between databases (JSON as text, booleans, UUID order)."""
    answers = {
        case: await names(register, **await resolve(register, params))
        for case, (params, _) in FILTERS.items()
    }

    assert answers == {case: expected for case, (_, expected) in FILTERS.items()}


async def walk(register: Register, sort: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(50):
        params: dict[str, object] = {"sort": sort, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await register.client.get("/api/v1/systems", params=params, headers=register.admin)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination never ended")


@on_both_databases
@pytest.mark.parametrize("limit", [1, 5])
async def test_paging_through_any_sort_order_visits_every_system_once_in_order(register: Register, limit):
    for sort in SORTS:
        everything = (
            await register.client.get(
                "/api/v1/systems", params={"sort": sort, "limit": 500}, headers=register.admin
            )
        ).json()["items"]

        paged = await walk(register, sort, limit)

        assert paged == [item["id"] for item in everything], sort
        assert len(set(paged)) == len(ALL)


async def test_sorting_by_name_ignores_case_and_minus_reverses_it(register: Register):
    forward = await register.client.get("/api/v1/systems", params={"sort": "name"}, headers=register.admin)
    backward = await register.client.get("/api/v1/systems", params={"sort": "-name"}, headers=register.admin)

    ordered = [item["name"] for item in forward.json()["items"]]
    assert ordered == sorted(ALL, key=str.casefold)
    assert [item["name"] for item in backward.json()["items"]] == ordered[::-1]


async def test_a_page_says_how_many_match_when_asked(register: Register):
    counted = await register.client.get(
        "/api/v1/systems", params={"limit": 5, "hosting": "saas", "count": "true"}, headers=register.admin
    )
    plain = await register.client.get(
        "/api/v1/systems", params={"limit": 5, "hosting": "saas"}, headers=register.admin
    )

    page = counted.json()
    assert len(page["items"]) == 5
    assert page["total"] == 8
    assert page["next_cursor"]
    assert plain.json()["total"] is None
    assert plain.json()["items"] == page["items"]


async def test_a_system_added_between_pages_does_not_shift_the_rest(register: Register):
    first = (await register.client.get("/api/v1/systems", params={"limit": 6}, headers=register.admin)).json()
    # "Aardvark" sorts before every name already seen: keyset paging must neither repeat nor skip.
    created = await register.client.post("/api/v1/systems", json={"name": "Aardvark"}, headers=register.admin)
    assert created.status_code == 201
    second = (
        await register.client.get(
            "/api/v1/systems", params={"limit": 500, "cursor": first["next_cursor"]}, headers=register.admin
        )
    ).json()

    seen = [i["name"] for i in first["items"]] + [i["name"] for i in second["items"]]
    assert sorted(seen, key=str.casefold) == sorted(ALL, key=str.casefold)


def _cursor(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("sort", "cursor"),
    [
        ("name", "not-a-cursor"),
        ("name", "%%%"),
        ("name", _cursor(123)),
        ("name", _cursor(["name", "orchard"])),
        ("name", _cursor(["name", "orchard", "not-a-uuid"])),
        ("updated_at", _cursor(["updated_at", "yesterday", str(uuid.uuid4())])),
        ("-updated_at", _cursor(["-updated_at", 17, str(uuid.uuid4())])),
    ],
)
async def test_a_cursor_the_api_did_not_give_out_is_refused(register: Register, sort, cursor):
    response = await register.client.get(
        "/api/v1/systems", params={"cursor": cursor, "sort": sort}, headers=register.admin
    )

    problem(response, 422, field="cursor")


async def test_a_cursor_of_another_sort_order_is_refused(register: Register):
    first = (await register.client.get("/api/v1/systems", params={"limit": 2}, headers=register.admin)).json()

    response = await register.client.get(
        "/api/v1/systems",
        params={"cursor": first["next_cursor"], "sort": "reference"},
        headers=register.admin,
    )

    problem(response, 422, field="cursor")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"lifecycle_stage": "zombie"}, "lifecycle_stage"),
        ({"contract_ending_before": "next tuesday"}, "contract_ending_before"),
        ({"owner_id": "sam"}, "owner_id"),
    ],
)
async def test_a_bad_query_parameter_is_refused_naming_it(register: Register, params, field):
    response = await register.client.get("/api/v1/systems", params=params, headers=register.admin)

    problem(response, 422, field=field)


async def test_contracts_filter_by_act_by_and_sort_by_it(register: Register):
    response = await register.client.get(
        "/api/v1/contracts", params={"act_by_before": "2025-04-03", "sort": "act_by"}, headers=register.admin
    )

    assert response.status_code == 200, response.text
    assert [c["reference"] for c in response.json()["items"]] == [
        "CCC-ICT-0001",  # 3C ICT: 30 September 2025 less 455 days
        "CCC-ICT-0008",
        "CCC-ICT-0006",
        "CCC-ICT-0004",
        "CCC-ICT-0003",
    ]
    assert [c["act_by"] for c in response.json()["items"]] == sorted(
        c["act_by"] for c in response.json()["items"]
    )


async def test_a_systems_contracts_are_listed_with_it(register: Register):
    orchard = await register.system_id("Orchard")

    response = await register.client.get(f"/api/v1/systems/{orchard}/contracts", headers=register.admin)

    assert [c["reference"] for c in response.json()] == ["CCC-ICT-0003"]
