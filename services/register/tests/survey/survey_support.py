"""Helpers of the survey tests: survey files as a person would fill them in, and what the database holds."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
from openpyxl import Workbook
from sqlalchemy import text

from estate_register.application.survey import COLUMNS, SurveyKind
from estate_register.bootstrap import Container

IMPORT = "/api/v1/survey/import"
TABLES = (
    "systems",
    "contracts",
    "suppliers",
    "audit_log",
    "outbox",
    "system_service_areas",
    "contract_systems",
)

PLANNING_PORTAL = {
    "Name": "Planning portal",
    "Lead council": "CCC",
    "Description": "Planning applications and comments online.",
    "Service areas": "Greater Cambridge Shared Planning; Finance",
    "Capabilities": "planning applications; public comments",
    "Supplier": "Acme Planning Ltd",
    "Lifecycle stage": "live",
    "Hosting": "SaaS",
    "Holds personal data": "yes",
    "Personal data categories": "applicant details",
    "DPIA status": "completed",
    "DPIA date": "31/03/2024",
    "Integration capabilities": "api",
    "System owner email": "alex.morgan@cambridge.gov.uk",
}
BINS_APP = {
    "Reference": "SYS-90001",
    "Name": "Bins app",
    "Lead council": "CCC",
    "Supplier": "yotta",  # an existing supplier, whatever the case
    "Hosting": "cloud",
    "Holds personal data": "no",
}
PORTAL_CONTRACT = {
    "Reference": "CCC-ICT-0100",
    "Title": "Planning portal subscription",
    "Supplier": "Acme Planning Ltd",
    "Systems": "Planning portal",
    "Contract type": "saas_subscription",
    "Start date": "2024-04-01",
    "Initial term end": "2027-03-31",
    "Renewal type": "express",
    "Notice period (days)": "90",
    "Annual value (GBP)": "£12,500.00",
    "Status": "active",
    "Contract owner email": "priya.shah@cambridge.gov.uk",
}


def headers(kind: SurveyKind) -> list[str]:
    return [c.header for c in COLUMNS[kind]]


def csv_bytes(kind: SurveyKind, rows: list[dict[str, str]], *, columns: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = columns or headers(kind)
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(name, "") for name in names])
    return buffer.getvalue().encode()


def xlsx_bytes(sheets: dict[SurveyKind, list[dict[str, Any]]]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for kind, rows in sheets.items():
        sheet = workbook.create_sheet("Systems" if kind == "systems" else "Contracts")
        sheet.append(headers(kind))
        for row in rows:
            sheet.append([row.get(name) for name in headers(kind)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def write_csv(kind: SurveyKind, rows: list[dict[str, str]]) -> bytes:
    return csv_bytes(kind, rows)


async def upload(
    client: httpx.AsyncClient, auth: dict[str, str], name: str, data: bytes, **params: Any
) -> httpx.Response:
    kind = "text/csv" if name.endswith(".csv") else "application/octet-stream"
    return await client.post(IMPORT, params=params, files={"file": (name, data, kind)}, headers=auth)


async def counts(container: Container) -> dict[str, int]:
    async with container.engine.connect() as connection:
        return {
            table: (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
            for table in TABLES
        }


async def outbox_events(container: Container, *, after: int = 0) -> list[dict[str, Any]]:
    """The envelopes in the outbox, oldest first, skipping the first ``after``."""
    async with container.engine.connect() as connection:
        result = await connection.execute(text("SELECT payload FROM outbox ORDER BY id"))
        return [json.loads(row[0]) for row in result][after:]
