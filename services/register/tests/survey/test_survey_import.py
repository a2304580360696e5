"""Survey import over HTTP: what an administrator uploading the council's survey sees, and what is stored.

Every test starts from the demo estate (12 systems SYS-00001..SYS-00012, 8 contracts CCC-ICT-0001..0008).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from survey_support import (
    BINS_APP,
    PLANNING_PORTAL,
    PORTAL_CONTRACT,
    counts,
    csv_bytes,
    headers,
    outbox_events,
    read_csv,
    upload,
    write_csv,
    xlsx_bytes,
)

from estate_register.api.app import create_app
from estate_register.bootstrap import Container, bootstrap
from estate_register.settings import RegisterSettings

ADMIN = ("admin",)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


# --- templates ---------------------------------------------------------------------------------------


async def test_the_xlsx_template_has_every_column_and_a_read_me_explaining_them(
    client: httpx.AsyncClient, mint: Any
) -> None:
    response = await client.get("/api/v1/survey/template.xlsx", headers=mint("auditor"))
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Systems", "Contracts", "Read me"]
    assert [c.value for c in workbook["Systems"][1]] == headers("systems")
    assert [c.value for c in workbook["Contracts"][1]] == headers("contracts")
    assert workbook["Systems"].max_row == 1
    readme = [[c.value for c in row] for row in workbook["Read me"].iter_rows()]
    hosting = next(r for r in readme if r[:2] == ["Systems", "Hosting"])
    assert hosting[2] == "no"
    assert "on_premises" in hosting[3] and "saas" in hosting[3]
    name = next(r for r in readme if r[:2] == ["Systems", "Name"])
    assert name[2] == "yes"
    assert any("API register" in (r[0] or "") and "KPIs" in (r[0] or "") for r in readme)
    described = {(r[0], r[1]) for r in readme if r[0] in ("Systems", "Contracts")}
    assert {("Contracts", h) for h in headers("contracts")} <= described


async def test_the_csv_template_is_the_header_row_of_one_kind_in_utf8(
    client: httpx.AsyncClient, mint: Any
) -> None:
    response = await client.get(
        "/api/v1/survey/template.csv", params={"kind": "contracts"}, headers=mint("contract_manager")
    )
    assert response.status_code == 200
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert response.content.decode("utf-8-sig").strip() == ",".join(headers("contracts"))


# --- good imports ------------------------------------------------------------------------------------


async def test_a_good_csv_creates_systems_with_audit_and_events_and_discovers_a_supplier(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    before = await counts(container)
    response = await upload(
        client, mint(*ADMIN, email="it@cambridge.gov.uk"), "systems.csv",
        csv_bytes("systems", [PLANNING_PORTAL, BINS_APP]), kind="systems",
    )  # fmt: skip
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["systems"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    assert report["suppliers_created"] == ["Acme Planning Ltd"]
    assert report["written"] is True
    after = await counts(container)
    assert after["systems"] == before["systems"] + 2
    assert after["suppliers"] == before["suppliers"] + 1
    assert after["system_service_areas"] == before["system_service_areas"] + 2
    assert after["audit_log"] == before["audit_log"] + 3
    assert after["outbox"] == before["outbox"] + 3
    events = await outbox_events(container, after=before["outbox"])
    assert [e["type"] for e in events] == [
        "estate.register.supplier.recorded",
        "estate.register.system.recorded",
        "estate.register.system.recorded",
    ]
    portal = events[1]["data"]["system"]
    assert portal["reference"] == "SYS-00013"  # the next free reference
    assert portal["supplier"]["name"] == "Acme Planning Ltd"
    assert [a["name"] for a in portal["service_areas"]] == ["Greater Cambridge Shared Planning", "Finance"]
    assert portal["system_owner"]["email"] == "alex.morgan@cambridge.gov.uk"
    assert portal["hosting"] == "saas"
    assert events[2]["data"]["system"]["reference"] == "SYS-90001"
    assert events[2]["data"]["system"]["supplier"]["name"] == "Yotta"
    assert len({e["correlationid"] for e in events}) == 1
    audit = await client.get(f"/api/v1/systems/{portal['id']}/audit", headers=mint("auditor"))
    assert [(a["action"], a["actor"]) for a in audit.json()] == [("recorded", "it@cambridge.gov.uk")]


async def test_a_good_xlsx_creates_systems_and_the_contracts_that_cover_them(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    before = await counts(container)
    contract = {**PORTAL_CONTRACT, "Start date": datetime(2024, 4, 1), "Notice period (days)": 90}
    workbook = xlsx_bytes({"contracts": [contract], "systems": [PLANNING_PORTAL]})
    response = await upload(client, mint(*ADMIN), "survey.xlsx", workbook)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["systems"]["created"] == 1
    assert report["contracts"]["created"] == 1
    after = await counts(container)
    assert (after["systems"], after["contracts"], after["contract_systems"]) == (
        before["systems"] + 1,
        before["contracts"] + 1,
        before["contract_systems"] + 1,
    )
    recorded = (await outbox_events(container, after=before["outbox"]))[-1]
    assert recorded["type"] == "estate.register.contract.recorded"
    body = recorded["data"]["contract"]
    assert [s["name"] for s in body["systems"]] == ["Planning portal"]
    assert body["annual_value"] == "12500.00"
    assert body["start_date"] == "2024-04-01"
    assert body["act_by"] == "2026-12-31"  # 2027-03-31 less 90 days' notice


async def test_reimporting_the_same_survey_writes_nothing(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    survey = csv_bytes("systems", [PLANNING_PORTAL, BINS_APP])
    first = await upload(client, mint(*ADMIN), "systems.csv", survey, kind="systems")
    assert first.status_code == 200
    before = await counts(container)
    again = await upload(client, mint(*ADMIN), "systems.csv", survey, kind="systems")
    assert again.status_code == 200
    assert again.json()["systems"] == {"created": 0, "updated": 0, "unchanged": 2, "failed": 0}
    assert again.json()["suppliers_created"] == []
    assert await counts(container) == before


async def test_a_changed_cell_updates_one_record_with_one_event(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    exported = await client.get("/api/v1/survey/export.csv", params={"kind": "systems"}, headers=mint(*ADMIN))
    rows = read_csv(exported.content)
    orchard = next(r for r in rows if r["Name"] == "Orchard")
    assert orchard["Hosting"] == "on_premises"
    orchard["Hosting"] = "Cloud"
    before = await counts(container)
    response = await upload(client, mint(*ADMIN), "systems.csv", write_csv("systems", rows), kind="systems")
    assert response.status_code == 200, response.text
    assert response.json()["systems"] == {"created": 0, "updated": 1, "unchanged": 11, "failed": 0}
    after = await counts(container)
    assert after["outbox"] == before["outbox"] + 1
    assert after["audit_log"] == before["audit_log"] + 1
    (event,) = await outbox_events(container, after=before["outbox"])
    assert event["type"] == "estate.register.system.changed"
    assert event["data"]["changed_fields"] == ["hosting"]
    assert event["data"]["system"]["hosting"] == "cloud"
    assert event["data"]["system"]["supplier"]["name"] == "MRI Software"
    stored = await client.get(f"/api/v1/systems/{event['subject']}", headers=mint("auditor"))
    assert stored.json()["hosting"] == "cloud"
    assert stored.headers["ETag"].endswith(':2"')


async def test_a_lifecycle_change_follows_the_rules_and_is_published_as_such(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    before = await counts(container)
    rows = read_csv(
        (
            await client.get("/api/v1/survey/export.csv", params={"kind": "systems"}, headers=mint(*ADMIN))
        ).content
    )
    next(r for r in rows if r["Name"] == "Storm")["Lifecycle stage"] = "under_review"
    response = await upload(client, mint(*ADMIN), "s.csv", write_csv("systems", rows), kind="systems")
    assert response.json()["systems"]["updated"] == 1
    (event,) = await outbox_events(container, after=before["outbox"])
    assert event["type"] == "estate.register.system.lifecycle_changed"
    assert (event["data"]["from_stage"], event["data"]["to_stage"]) == ("live", "under_review")


# --- bad input: 422 naming row and column, nothing written ----------------------------------------------


def _systems_with(change: dict[str, str], *, row: int = 2) -> bytes:
    rows = [dict(PLANNING_PORTAL), dict(BINS_APP)]
    rows[row - 2].update(change)
    return csv_bytes("systems", rows)


def _contracts_with(change: dict[str, str]) -> bytes:
    return csv_bytes("contracts", [{**PORTAL_CONTRACT, "Systems": "SYS-00001", **change}])


BAD_ROWS = [
    pytest.param("systems", _systems_with({"Hosting": "mainframe"}), 2, "Hosting",
                 "use one of: on_premises, cloud, saas, hybrid", id="unknown-enum"),
    pytest.param("systems", _systems_with({"DPIA date": "31/02/2024"}), 2, "DPIA date",
                 "YYYY-MM-DD (2024-03-31) or DD/MM/YYYY", id="bad-date"),
    pytest.param("systems", _systems_with({"Service areas": "Parks"}, row=3), 3, "Service areas",
                 "no service area 'Parks'", id="unknown-service-area"),
    pytest.param("systems", _systems_with({"Lead council": "XYZ"}), 2, "Lead council",
                 "unknown council 'XYZ' (known: CCC, HDC, SCDC)", id="unknown-council"),
    pytest.param("systems", _systems_with({"Data owner email": "nobody@cambridge.gov.uk"}), 2,
                 "Data owner email", "no person with email nobody@cambridge.gov.uk", id="unknown-person"),
    pytest.param("systems", _systems_with({"Name": '=HYPERLINK("http://evil.example","x")'}), 2, "Name",
                 "could run it as a formula", id="formula"),
    pytest.param("systems", _systems_with({"Description": "@SUM(A1)"}, row=3), 3, "Description",
                 "could run it as a formula", id="formula-at"),
    pytest.param("systems", _systems_with({"Name": "Planning Portal "}, row=3), 3, "Name",
                 "row 2 has the same Lead council and Name", id="duplicate-row"),
    pytest.param("systems", _systems_with({"Hosting": "", "Name": ""}), 2, "Name", "Name is required",
                 id="missing-required"),
    pytest.param("systems", _systems_with({"DPIA status": "in_progress"}), 2, "DPIA date",
                 "DPIA date is given only when the status is completed", id="domain-rule"),
    pytest.param("systems", csv_bytes("systems", [{**BINS_APP, "Reference": "SYS-00012", "Name": "govmetric",
                                                   "Lifecycle stage": "live"}]),
                 2, "Lifecycle stage", "a retired system cannot become live", id="invalid-transition"),
    pytest.param("contracts", _contracts_with({"Annual value (GBP)": "-100"}), 2, "Annual value (GBP)",
                 "negative", id="negative-money"),
    pytest.param("contracts", _contracts_with({"Initial term end": "2023-03-31"}), 2, "Initial term end",
                 "Initial term end must not be before Start date", id="end-before-start"),
    pytest.param("contracts", _contracts_with({"Systems": "SYS-77777"}), 2, "Systems",
                 "no system with reference or name 'SYS-77777'", id="unknown-system"),
    pytest.param("contracts", _contracts_with({"Notice period (days)": "ninety"}), 2, "Notice period (days)",
                 "'ninety' is not a whole number", id="not-a-number"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "data", "row", "column", "detail"), BAD_ROWS)
async def test_a_bad_row_is_a_422_naming_row_and_column_and_nothing_is_written(
    client: httpx.AsyncClient,
    container: Container,
    mint: Any,
    kind: str,
    data: bytes,
    row: int,
    column: str,
    detail: str,
) -> None:
    before = await counts(container)
    response = await upload(client, mint(*ADMIN), f"{kind}.csv", data, kind=kind)
    problem = _problem(response, 422)
    assert "nothing was imported" in problem["detail"]
    matching = [e for e in problem["errors"] if e["row"] == row and e["column"] == column]
    assert matching, problem["errors"]
    assert detail in matching[0]["detail"]
    assert await counts(container) == before


async def test_an_xlsx_error_names_the_sheet_and_a_formula_cell_is_refused_not_evaluated(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    before = await counts(container)
    workbook = xlsx_bytes({"systems": [PLANNING_PORTAL, {**BINS_APP, "Product family": "=1+1"}]})
    problem = _problem(await upload(client, mint(*ADMIN), "survey.xlsx", workbook), 422)
    assert problem["errors"] == [
        {
            "row": 3,
            "sheet": "Systems",
            "column": "Product family",
            "detail": problem["errors"][0]["detail"],
        }
    ]
    assert "formula" in problem["errors"][0]["detail"]
    assert await counts(container) == before


async def test_missing_and_unknown_headers_are_named_with_the_template_to_download(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    columns = [h for h in headers("systems") if h not in ("Hosting", "DPIA status")] + ["Colour"]
    data = csv_bytes("systems", [BINS_APP], columns=columns)
    problem = _problem(await upload(client, mint(*ADMIN), "systems.csv", data, kind="systems"), 422)
    assert "missing columns: Hosting, DPIA status" in problem["detail"]
    assert "columns the survey does not know: Colour" in problem["detail"]
    assert "/api/v1/survey/template.csv?kind=systems" in problem["detail"]


async def test_a_contracts_file_sent_as_systems_says_so(client: httpx.AsyncClient, mint: Any) -> None:
    data = csv_bytes("contracts", [PORTAL_CONTRACT])
    problem = _problem(await upload(client, mint(*ADMIN), "c.csv", data, kind="systems"), 422)
    assert "looks like a contracts file (send kind=contracts)" in problem["detail"]


async def test_a_csv_that_is_not_utf8_asks_for_csv_utf8(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    data = csv_bytes("systems", [{**BINS_APP, "Description": "Café bins"}]).decode().encode("cp1252")
    problem = _problem(await upload(client, mint(*ADMIN), "systems.csv", data, kind="systems"), 422)
    assert 'save it again as "CSV UTF-8' in problem["detail"]


async def test_a_csv_with_a_byte_order_mark_is_read(client: httpx.AsyncClient, mint: Any) -> None:
    data = b"\xef\xbb\xbf" + csv_bytes("systems", [{**BINS_APP, "Description": "Café bins"}])
    response = await upload(client, mint(*ADMIN), "systems.csv", data, kind="systems")
    assert response.status_code == 200, response.text
    assert response.json()["systems"]["created"] == 1


async def test_a_csv_needs_its_kind_and_other_files_are_refused(client: httpx.AsyncClient, mint: Any) -> None:
    data = csv_bytes("systems", [BINS_APP])
    assert (
        "kind=systems or kind=contracts"
        in _problem(await upload(client, mint(*ADMIN), "systems.csv", data), 422)["detail"]
    )
    assert (
        "neither .csv nor .xlsx"
        in _problem(await upload(client, mint(*ADMIN), "systems.txt", data, kind="systems"), 422)["detail"]
    )
    assert (
        "not an Excel workbook"
        in _problem(await upload(client, mint(*ADMIN), "systems.xlsx", data), 422)["detail"]
    )


# --- modes -----------------------------------------------------------------------------------------------


async def test_valid_rows_only_imports_the_good_rows_and_reports_the_bad(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    before = await counts(container)
    data = _systems_with({"Hosting": "mainframe"}, row=3)
    response = await upload(client, mint(*ADMIN), "s.csv", data, kind="systems", mode="valid_rows_only")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["systems"] == {"created": 1, "updated": 0, "unchanged": 0, "failed": 1}
    assert report["errors"] == [{"row": 3, "column": "Hosting", "detail": report["errors"][0]["detail"]}]
    assert (await counts(container))["systems"] == before["systems"] + 1


async def test_valid_rows_only_skips_a_contract_whose_system_failed(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    before = await counts(container)
    workbook = xlsx_bytes(
        {"systems": [{**PLANNING_PORTAL, "Hosting": "mainframe"}], "contracts": [PORTAL_CONTRACT]}
    )
    response = await upload(client, mint(*ADMIN), "survey.xlsx", workbook, mode="valid_rows_only")
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert [(e["sheet"], e["row"], e["column"]) for e in errors] == [
        ("Systems", 2, "Hosting"),
        ("Contracts", 2, "Systems"),
    ]
    assert await counts(container) == before


async def test_a_dry_run_reports_what_would_happen_and_writes_nothing(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    before = await counts(container)
    data = csv_bytes("systems", [PLANNING_PORTAL, BINS_APP])
    response = await upload(client, mint(*ADMIN), "s.csv", data, kind="systems", dry_run="true")
    assert response.status_code == 200
    report = response.json()
    assert report["dry_run"] is True and report["written"] is False
    assert report["systems"]["created"] == 2
    assert report["suppliers_created"] == ["Acme Planning Ltd"]
    assert await counts(container) == before


# --- roles and limits ------------------------------------------------------------------------------------


async def test_only_an_administrator_may_import(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    before = await counts(container)
    data = csv_bytes("systems", [BINS_APP])
    for roles in (("tda_chair",), ("contract_manager",), ("auditor",)):
        problem = _problem(await upload(client, mint(*roles), "s.csv", data, kind="systems"), 403)
        assert "Importing a survey needs one of these roles: admin" in problem["detail"]
    assert (await client.post("/api/v1/survey/import")).status_code == 401
    assert await counts(container) == before


async def test_a_requester_may_not_export_or_download_templates(client: httpx.AsyncClient, mint: Any) -> None:
    for path in ("/api/v1/survey/export.xlsx", "/api/v1/survey/template.xlsx"):
        assert (await client.get(path, headers=mint("requester"))).status_code == 403


@pytest.fixture
async def small_limit_client(
    db_url: str, auth_settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Container]]:
    container = bootstrap(RegisterSettings(database_url=db_url, max_upload_bytes=2048), auth=auth_settings)
    transport = httpx.ASGITransport(app=create_app(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://register.test") as http:
        yield http, container
    await container.close()


async def test_an_upload_over_the_limit_is_refused_with_413(
    small_limit_client: tuple[httpx.AsyncClient, Container], mint: Any
) -> None:
    client, container = small_limit_client
    before = await counts(container)
    big = csv_bytes("systems", [{**BINS_APP, "Description": "x" * 3000}])
    response = await upload(client, mint(*ADMIN), "s.csv", big, kind="systems")
    assert _problem(response, 413)["detail"].endswith("the limit is 2,048 bytes")

    async def streamed() -> AsyncIterator[bytes]:  # chunked: no Content-Length for the middleware to see
        boundary = b'--b\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n\r\n'
        yield boundary
        for start in range(0, len(big), 500):
            yield big[start : start + 500]
        yield b"\r\n--b--\r\n"

    response = await client.post(
        "/api/v1/survey/import",
        params={"kind": "systems"},
        content=streamed(),
        headers={**mint(*ADMIN), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert "over the limit of 2,048 bytes" in _problem(response, 413)["detail"]
    assert await counts(container) == before
