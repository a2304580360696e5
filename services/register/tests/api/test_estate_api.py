"""The estate view over HTTP, on the hand-built estate of ``register_estate_support.py``: who may read it,
the summary, paged lists, and the CSV, XLSX, Transparency Code and OCDS downloads read back."""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from estate_register.api.app import create_app
from estate_register.bootstrap import Container

PROBLEM_JSON = "application/problem+json"
on_both_databases = pytest.mark.parametrize("estate_db", ["sqlite", "postgresql"], indirect=True)
READERS = ("tda_member", "tda_chair", "contract_manager", "admin", "auditor")
PATHS = (
    "/api/v1/estate/summary",
    "/api/v1/estate/lists/systems",
    "/api/v1/estate/lists/pipeline?format=csv",
    "/api/v1/estate/exports/transparency.csv",
    "/api/v1/estate/exports/transparency.xlsx",
    "/api/v1/estate/exports/ocds.json",
)


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.headers["content-type"].startswith("text/csv")
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff"), "a BOM, so Excel reads UTF-8"
    return list(csv.DictReader(io.StringIO(text[1:])))


def read_xlsx(response: httpx.Response) -> list[dict[str, Any]]:
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = workbook.worksheets[0]
    header, *body = list(sheet.iter_rows(values_only=True))
    workbook.close()
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.mark.parametrize("path", PATHS)
async def test_every_estate_endpoint_needs_a_token(estate_client: httpx.AsyncClient, path: str):
    response = await estate_client.get(path)

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"].endswith("/unauthenticated")


@pytest.mark.parametrize("role", ["requester", "owner"])
@pytest.mark.parametrize("path", PATHS)
async def test_roles_outside_the_tda_contracts_admin_and_audit_are_refused(
    estate_client: httpx.AsyncClient, mint: Any, path: str, role: str
):
    response = await estate_client.get(path, headers=mint(role))

    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 403
    assert "tda_member" in problem["detail"] and "auditor" in problem["detail"]


@pytest.mark.parametrize("role", READERS)
async def test_the_tda_contract_managers_admins_and_auditors_read_the_summary(
    estate_client: httpx.AsyncClient, mint: Any, role: str
):
    response = await estate_client.get("/api/v1/estate/summary", headers=mint(role))

    assert response.status_code == 200, response.text
    assert response.json()["totals"]["live_contracts"] == 8


async def test_the_summary_has_the_shape_the_portal_reads(estate_client: httpx.AsyncClient, mint: Any):
    body = (await estate_client.get("/api/v1/estate/summary", headers=mint("tda_chair"))).json()

    assert set(body) == {
        "as_of",
        "totals",
        "pipeline",
        "pipeline_overdue",
        "spend",
        "lifecycle",
        "disposition",
        "requests_pending",
        "requests_pending_count",
        "duplication_clusters",
        "risks",
        "refreshing",
    }
    assert body["refreshing"] is False
    assert body["as_of"] == "2025-03-03"
    assert body["totals"]["annual_value"] == "545501.01"
    assert len(body["pipeline"]) == 24
    assert body["pipeline"][3] == {"month": "2025-06", "contracts": 1, "annual_value": "184500.00"}
    assert set(body["spend"]) == {"by_supplier", "by_service_area", "by_council"}
    assert set(body["spend"]["by_council"][0]) == {"key", "label", "contracts", "annual_value"}
    assert set(body["requests_pending"][0]) == {
        "request_id",
        "request_key",
        "title",
        "state",
        "requester",
        "submitted_on",
        "age_days",
    }
    assert set(body["duplication_clusters"]["top"][0]["systems"][0]) == {"id", "reference", "name"}
    assert [r["list"] for r in body["risks"]] == [
        "personal-data-without-dpia-or-ropa",
        "no-owner",
        "on-premises-cloud-feasible",
        "expired-contract-live-system",
        "notice-unknown",
        "alerts-escalated",
    ]


async def test_a_list_comes_a_page_at_a_time_with_its_columns(estate_client: httpx.AsyncClient, mint: Any):
    headers = mint("auditor")
    first = await estate_client.get("/api/v1/estate/lists/systems?page_size=4", headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["name"], body["page"], body["page_size"], body["total"], body["next_cursor"]) == (
        "systems",
        1,
        4,
        6,
        "2",
    )
    assert [c["key"] for c in body["columns"]][:3] == ["id", "reference", "name"]
    assert [r["name"] for r in body["items"]] == ["CaseTracker", "govmetric", "Miro whiteboard", "Orchard"]
    assert uuid.UUID(body["items"][0]["id"])  # for a link to /systems/{id}

    second = (
        await estate_client.get("/api/v1/estate/lists/systems?page_size=4&cursor=2", headers=headers)
    ).json()
    assert ([r["name"] for r in second["items"]], second["next_cursor"]) == (["Storm", "Tascomi"], None)
    same = (
        await estate_client.get("/api/v1/estate/lists/systems?page_size=4&page=2", headers=headers)
    ).json()
    assert same["items"] == second["items"]

    bad = await estate_client.get("/api/v1/estate/lists/systems?cursor=abc", headers=headers)
    assert (bad.status_code, bad.headers["content-type"]) == (422, PROBLEM_JSON)
    too_big = await estate_client.get("/api/v1/estate/lists/systems?page_size=501", headers=headers)
    assert (too_big.status_code, too_big.headers["content-type"]) == (422, PROBLEM_JSON)


async def test_an_unknown_list_is_a_404_problem_naming_the_lists(estate_client: httpx.AsyncClient, mint: Any):
    response = await estate_client.get("/api/v1/estate/lists/shadow-it", headers=mint("tda_member"))

    assert (response.status_code, response.headers["content-type"]) == (404, PROBLEM_JSON)
    detail = response.json()["detail"]
    for name in ("systems", "pipeline", "requests-pending", "alerts-escalated", "spend-by-council"):
        assert name in detail


@on_both_databases
async def test_a_list_downloads_whole_as_csv_and_xlsx(estate_client: httpx.AsyncClient, mint: Any):
    headers = mint("contract_manager")

    as_csv = await estate_client.get(
        "/api/v1/estate/lists/expired-contract-live-system?format=csv", headers=headers
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-disposition"] == (
        'attachment; filename="estate-expired-contract-live-system-2025-03-03.csv"'
    )
    rows = read_csv(as_csv)
    assert [(r["Contract reference"], r["Term ended"], r["Live systems covered"]) for r in rows] == [
        ("C-08", "2024-12-31", "SYS-00002 CaseTracker; SYS-00001 Orchard"),
        ("C-03", "2025-01-31", "SYS-00002 CaseTracker"),
    ]

    as_xlsx = await estate_client.get(
        "/api/v1/estate/lists/spend-by-supplier?format=xlsx&page_size=1", headers=headers
    )
    assert as_xlsx.status_code == 200
    assert as_xlsx.headers["content-disposition"].endswith('estate-spend-by-supplier-2025-03-03.xlsx"')
    spend = read_xlsx(as_xlsx)  # the whole list, whatever the page size
    # Money cells are numbers (formatted with pence), read back as floats.
    assert [(r["Name"], r["Active contracts"], Decimal(str(r["Annual value (GBP)"]))) for r in spend] == [
        ("Content Guru", 3, Decimal("346001.00")),
        ("MRI Software", 2, Decimal("185500.00")),
        ("Miro", 2, Decimal("10000.01")),
        ("Idox", 1, Decimal("4000.00")),
    ]


TRANSPARENCY_HEADER = [
    "Reference number",
    "Title of agreement",
    "Description of the goods and/or services",
    "Local authority department responsible",
    "Supplier name",
    "Supplier company or charity registration number",
    "Supplier is an SME",
    "Supplier is a VCSE organisation",
    "Start date",
    "End date",
    "Review date",
    "Value of the contract over its length (GBP)",
    "Estimated annual value (GBP)",
    "VAT that cannot be recovered (GBP)",
    "Procurement route",
    "Councils",
]


@on_both_databases
async def test_the_transparency_code_list_has_active_contracts_over_5000_pounds(
    estate_client: httpx.AsyncClient, mint: Any
):
    response = await estate_client.get("/api/v1/estate/exports/transparency.csv", headers=mint("tda_member"))

    assert response.status_code == 200, response.text
    assert (
        response.headers["content-disposition"]
        == 'attachment; filename="transparency-contracts-2025-03-03.csv"'
    )
    rows = read_csv(response)
    assert list(rows[0]) == TRANSPARENCY_HEADER
    # C-04 is worth exactly £5,000.00 (not over), C-05 £5,000.01; C-09 and C-11 are small; C-06 is pending
    # and C-07, C-08 are over. A recorded total (C-03: £12,000 over three years) is what counts.
    assert [r["Reference number"] for r in rows] == ["C-01", "C-02", "C-03", "C-05", "C-10"]
    orchard = rows[0]
    assert orchard == {
        "Reference number": "C-01",
        "Title of agreement": "Orchard contract C-01",
        "Description of the goods and/or services": "SaaS subscription: Orchard",
        "Local authority department responsible": "Housing",
        "Supplier name": "MRI Software",
        "Supplier company or charity registration number": "",
        "Supplier is an SME": "",
        "Supplier is a VCSE organisation": "",
        "Start date": "2023-04-01",
        "End date": "2025-09-30",
        "Review date": "2025-06-02",
        "Value of the contract over its length (GBP)": "553500.00",
        "Estimated annual value (GBP)": "184500.00",
        "VAT that cannot be recovered (GBP)": "",
        "Procurement route": "Framework call-off",
        "Councils": "Cambridge City Council",
    }
    miro = rows[3]
    assert (miro["Local authority department responsible"], miro["Estimated annual value (GBP)"]) == (
        "Customer Services; Finance",
        "5000.01",
    )
    assert rows[1]["Councils"] == "Cambridge City Council; South Cambridgeshire District Council"

    workbook = await estate_client.get("/api/v1/estate/exports/transparency.xlsx", headers=mint("tda_member"))
    assert workbook.status_code == 200
    sheet = read_xlsx(workbook)
    assert list(sheet[0]) == TRANSPARENCY_HEADER
    assert [r["Reference number"] for r in sheet] == ["C-01", "C-02", "C-03", "C-05", "C-10"]
    assert Decimal(str(sheet[3]["Estimated annual value (GBP)"])) == Decimal("5000.01")


@on_both_databases
async def test_the_ocds_package_has_one_contract_release_per_contract(
    estate_client: httpx.AsyncClient, mint: Any, estate_ids: dict[str, uuid.UUID]
):
    response = await estate_client.get("/api/v1/estate/exports/ocds.json", headers=mint("admin"))

    assert response.status_code == 200, response.text
    package = response.json()
    assert package["version"] == "1.1"
    assert package["uri"].endswith("/api/v1/estate/exports/ocds.json")
    assert package["publisher"] == {"name": "Estate register"}
    assert package["publishedDate"] == "2025-03-03T09:30:00+00:00"
    releases = {r["ocid"]: r for r in package["releases"]}
    assert len(releases) == 11
    storm = releases["ocds-estate-C-02"]
    supplier = {"id": f"supplier-{estate_ids['Content Guru']}", "name": "Content Guru"}
    assert storm == {
        "ocid": "ocds-estate-C-02",
        "id": "ocds-estate-C-02-v1",
        "date": storm["date"],
        "tag": ["contract"],
        "initiationType": "tender",
        "buyer": {"id": "council-CCC", "name": "Cambridge City Council"},
        "parties": [
            {"id": "council-CCC", "name": "Cambridge City Council", "roles": ["buyer"]},
            {**supplier, "roles": ["supplier"]},
            {"id": "council-SCDC", "name": "South Cambridgeshire District Council", "roles": ["payer"]},
        ],
        "awards": [
            {"id": "C-02-award", "suppliers": [supplier], "value": {"amount": 96000.0, "currency": "GBP"}}
        ],
        "contracts": [
            {
                "id": "C-02",
                "awardID": "C-02-award",
                "title": "Storm contract C-02",
                "status": "active",
                "period": {"startDate": "2023-04-01", "endDate": "2025-04-30"},
                "value": {"amount": 96000.0, "currency": "GBP"},
            }
        ],
    }
    assert releases["ocds-estate-C-01"]["contracts"][0]["value"]["amount"] == 553500.0  # the total
    assert releases["ocds-estate-C-08"]["contracts"][0]["status"] == "terminated"  # expired
    assert releases["ocds-estate-C-06"]["contracts"][0]["status"] == "pending"
    assert releases["ocds-estate-C-03"]["buyer"] == {"id": "publisher", "name": "Estate register"}
    assert releases["ocds-estate-C-09"]["id"] == "ocds-estate-C-09-v2"  # a renewal decision since


async def test_the_ocid_prefix_comes_from_the_settings(estate_container: Container, mint: Any):
    settings = estate_container.settings.model_copy(
        update={"ocds_ocid_prefix": "ocds-x1y2z3-", "ocds_publisher_name": "Cambridge City Council"}
    )
    app = create_app(dataclasses.replace(estate_container, settings=settings))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://register.test"
    ) as http:
        package = (await http.get("/api/v1/estate/exports/ocds.json", headers=mint("admin"))).json()

    assert package["publisher"] == {"name": "Cambridge City Council"}
    assert sorted(r["ocid"] for r in package["releases"])[0] == "ocds-x1y2z3-C-01"
