"""Survey export: the template's shape, safe to open in a spreadsheet, and lossless when re-imported."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from survey_support import PLANNING_PORTAL, counts, headers, read_csv, upload, write_csv, xlsx_bytes

from estate_register.bootstrap import Container

FORMULA_NAME = '=HYPERLINK("http://evil.example","click")'


async def _system_named(client: httpx.AsyncClient, mint: Any, name: str, **fields: Any) -> dict[str, Any]:
    """A system recorded through the API, which (unlike the survey) takes any text as a name."""
    response = await client.post(
        "/api/v1/systems", json={"name": name, "lead_council": "CCC", **fields}, headers=mint("admin")
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_export_csv_escapes_formula_text_and_reimports_it_unchanged(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    await _system_named(
        client, mint, FORMULA_NAME, description="+44 1223 457000 helpdesk", capabilities=["-dash", "@mention"]
    )
    exported = await client.get(
        "/api/v1/survey/export.csv", params={"kind": "systems"}, headers=mint("auditor")
    )
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == 'attachment; filename="register-systems.csv"'
    rows = read_csv(exported.content)
    assert list(rows[0]) == headers("systems")
    row = next(r for r in rows if "HYPERLINK" in r["Name"])
    assert row["Name"] == "'" + FORMULA_NAME
    assert row["Description"] == "'+44 1223 457000 helpdesk"
    assert row["Capabilities"] == "'-dash; @mention"
    before = await counts(container)
    response = await upload(client, mint("admin"), "systems.csv", exported.content, kind="systems")
    assert response.status_code == 200, response.text
    assert response.json()["systems"] == {"created": 0, "updated": 0, "unchanged": 13, "failed": 0}
    assert await counts(container) == before


async def test_export_xlsx_writes_formula_text_as_string_cells_and_round_trips_as_a_no_op(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    await _system_named(client, mint, FORMULA_NAME)
    exported = await client.get("/api/v1/survey/export.xlsx", headers=mint("contract_manager"))
    assert exported.status_code == 200
    workbook = load_workbook(io.BytesIO(exported.content))
    assert workbook.sheetnames == ["Systems", "Contracts", "Read me"]
    systems = workbook["Systems"]
    cells = [row[1] for row in systems.iter_rows(min_row=2)]
    formula_cell = next(c for c in cells if "HYPERLINK" in str(c.value))
    assert formula_cell.data_type == "s"
    assert formula_cell.value == "'" + FORMULA_NAME
    assert all(c.data_type != "f" for row in systems.iter_rows() for c in row)
    contracts = [[c.value for c in row] for row in workbook["Contracts"].iter_rows(min_row=2)]
    assert len(contracts) == 8
    before = await counts(container)
    response = await upload(client, mint("admin"), "register.xlsx", exported.content)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["systems"] == {"created": 0, "updated": 0, "unchanged": 13, "failed": 0}
    assert report["contracts"] == {"created": 0, "updated": 0, "unchanged": 8, "failed": 0}
    assert await counts(container) == before


async def test_an_imported_survey_exports_as_it_was_filled_in(client: httpx.AsyncClient, mint: Any) -> None:
    response = await upload(client, mint("admin"), "s.xlsx", xlsx_bytes({"systems": [PLANNING_PORTAL]}))
    assert response.status_code == 200, response.text
    exported = await client.get(
        "/api/v1/survey/export.csv", params={"kind": "systems"}, headers=mint("admin")
    )
    row = next(r for r in read_csv(exported.content) if r["Name"] == "Planning portal")
    assert row["Service areas"] == "Greater Cambridge Shared Planning; Finance"
    assert row["Supplier"] == "Acme Planning Ltd"
    assert row["Hosting"] == "saas"
    assert row["DPIA date"] == "2024-03-31"
    assert row["Holds personal data"] == "yes"
    assert row["System owner email"] == "alex.morgan@cambridge.gov.uk"
    assert row["Reference"] == "SYS-00013"


async def test_a_csv_export_needs_a_known_kind(client: httpx.AsyncClient, mint: Any) -> None:
    response = await client.get("/api/v1/survey/export.csv", params={"kind": "people"}, headers=mint("admin"))
    assert response.status_code == 422


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_the_survey_round_trip_on_postgresql(
    client: httpx.AsyncClient, container: Container, mint: Any
) -> None:
    """The bulk path on the real database: COPY for new rows, version-checked UPDATEs for changes."""
    before = await counts(container)
    workbook = xlsx_bytes(
        {"systems": [PLANNING_PORTAL], "contracts": [{"Reference": "CCC-ICT-0100", "Title": "Portal",
         "Supplier": "Acme Planning Ltd", "Systems": "Planning portal; SYS-00001",
         "Contract type": "saas_subscription", "Start date": "2024-04-01", "Initial term end": "2027-03-31",
         "Annual value (GBP)": "1000.50"}]}
    )  # fmt: skip
    response = await upload(client, mint("admin"), "survey.xlsx", workbook)
    assert response.status_code == 200, response.text
    after = await counts(container)
    assert after["systems"] == before["systems"] + 1
    assert after["contracts"] == before["contracts"] + 1
    assert after["contract_systems"] == before["contract_systems"] + 2
    assert after["outbox"] == before["outbox"] + 3  # supplier, system, contract
    assert after["audit_log"] == before["audit_log"] + 3

    exported = await client.get("/api/v1/survey/export.xlsx", headers=mint("admin"))
    again = await upload(client, mint("admin"), "register.xlsx", exported.content)
    assert again.json()["systems"]["unchanged"] == 13
    assert again.json()["contracts"]["unchanged"] == 9
    assert await counts(container) == after

    rows = read_csv(
        (
            await client.get("/api/v1/survey/export.csv", params={"kind": "contracts"}, headers=mint("admin"))
        ).content
    )
    portal = next(r for r in rows if r["Reference"] == "CCC-ICT-0100")
    assert portal["Systems"] == "SYS-00013; SYS-00001"
    portal["Annual value (GBP)"] = "2000"
    changed = await upload(client, mint("admin"), "c.csv", write_csv("contracts", rows), kind="contracts")
    assert changed.json()["contracts"]["updated"] == 1
    final = await counts(container)
    assert final["outbox"] == after["outbox"] + 1
    assert final["contract_systems"] == after["contract_systems"]
