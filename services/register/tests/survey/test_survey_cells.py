"""Cell rules of the survey, without a database: formula escaping, reading values, and the bulk store's
row encoder agreeing with the repositories' codec."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from estate_register.adapters.db.repositories import CONTRACT_CODEC
from estate_register.adapters.db.repositories import system_row as repository_system_row
from estate_register.adapters.survey.store import contract_row, system_row
from estate_register.application.survey import (
    CONTRACT_COLUMNS,
    SYSTEM_COLUMNS,
    CellProblem,
    escape_cell,
    read_cell,
    unescape_cell,
)
from estate_register.domain.model import ApiEntry, Contract, LifecycleEntry, ServiceLevel, System
from estate_register.domain.values import ContractType, Hosting, IntegrationCapability, LifecycleStage

NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
COLUMN = {c.header: c for c in (*SYSTEM_COLUMNS, *CONTRACT_COLUMNS)}


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+44 1223", "-dash", "@SUM(A1)", "\tindent", "\rline", "'=already quoted", "''=twice", "'", "'plain",
     "plain", "", "a=b", "'-", "-5"],
)  # fmt: skip
def test_escaping_then_unescaping_gives_the_text_back(text: str) -> None:
    escaped = escape_cell(text)
    assert unescape_cell(escaped) == text
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert escaped == "'" + text


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2+3", "@x", "\tx", "\rx", '=HYPERLINK("x")'])
def test_text_that_could_run_as_a_formula_is_refused(text: str) -> None:
    with pytest.raises(CellProblem, match="formula"):
        unescape_cell(text)


@pytest.mark.parametrize("number", ["-5", "+3.25", "-1,250.00", "-1e3"])
def test_a_plain_number_may_start_with_a_sign(number: str) -> None:
    assert unescape_cell(number) == number


def test_cells_read_as_people_write_them() -> None:
    assert read_cell(COLUMN["Hosting"], "On premises") is Hosting.ON_PREMISES
    assert read_cell(COLUMN["Hosting"], " SaaS ") is Hosting.SAAS
    assert read_cell(COLUMN["Hosting"], "  ") is None
    assert read_cell(COLUMN["Integration capabilities"], "API; bulk csv; api") == (
        IntegrationCapability.API,
        IntegrationCapability.BULK_CSV,
    )
    assert read_cell(COLUMN["DPIA date"], "31/03/2024") == date(2024, 3, 31)
    assert read_cell(COLUMN["DPIA date"], "2024-03-31") == date(2024, 3, 31)
    assert read_cell(COLUMN["DPIA date"], datetime(2024, 3, 31)) == date(2024, 3, 31)
    assert read_cell(COLUMN["Annual value (GBP)"], "£1,234.50") == Decimal("1234.50")
    assert read_cell(COLUMN["Annual value (GBP)"], 1234.5) == Decimal("1234.5")
    assert read_cell(COLUMN["Notice period (days)"], 90.0) == 90
    assert read_cell(COLUMN["Holds personal data"], "Y") is True
    assert read_cell(COLUMN["Holds personal data"], False) is False
    assert read_cell(COLUMN["Capabilities"], " a ;; b ") == ("a", "b")
    assert read_cell(COLUMN["Description"], "  two\nlines ") == "  two\nlines "
    assert read_cell(COLUMN["Name"], "'=kept") == "=kept"


@pytest.mark.parametrize(
    ("header", "value", "message"),
    [
        ("DPIA date", "2024-02-30", "is not a date"),
        ("DPIA date", "March 2024", "YYYY-MM-DD"),
        ("Annual value (GBP)", "12.345", "more than two decimal places"),
        ("Annual value (GBP)", "lots", "not an amount of money"),
        ("Notice period (days)", "-1", "must be 0 or more"),
        ("Holds personal data", "maybe", "not yes or no"),
        ("Lifecycle stage", "dead", "use one of: proposed, planned"),
    ],
)
def test_bad_cells_say_what_to_write_instead(header: str, value: str, message: str) -> None:
    with pytest.raises(CellProblem, match=message):
        read_cell(COLUMN[header], value)


def test_the_bulk_row_encoder_writes_exactly_what_the_repositories_write() -> None:
    system = System(
        id=uuid.uuid4(),
        reference="SYS-00042",
        name="Orchard  Housing",
        lead_council="CCC",
        councils=("SCDC",),
        service_area_ids=(uuid.uuid4(), uuid.uuid4()),
        capabilities=("housing",),
        supplier_id=uuid.uuid4(),
        lifecycle_stage=LifecycleStage.LIVE,
        lifecycle_history=(LifecycleEntry(stage=LifecycleStage.LIVE, on=date(2024, 1, 2), at=NOW, by="me"),),
        hosting=Hosting.SAAS,
        integration_capabilities=(IntegrationCapability.API,),
        api_register=(ApiEntry(name="v1", docs_url="https://x"),),
        dpia_date=None,
        last_validated_at=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    assert system_row(system) == repository_system_row(system)
    row = system_row(system)
    assert row["name_key"] == "orchard housing"
    assert row["search_text"] == "orchard  housing sys-00042  housing"
    assert row["api_register"] == [
        {
            "name": "v1",
            "docs_url": "https://x",
            "open_api": False,
            "real_time": False,
            "time_based_extracts": False,
            "test_environment": False,
        }
    ]
    assert row["lifecycle_history"][0]["on"] == "2024-01-02"
    contract = Contract(
        id=uuid.uuid4(),
        reference="C-1",
        title="T",
        supplier_id=uuid.uuid4(),
        system_ids=(system.id,),
        contract_type=ContractType.IT_SERVICE,
        start_date=date(2024, 1, 1),
        initial_term_end=date(2025, 1, 1),
        current_term_end=date(2025, 1, 1),
        annual_value=Decimal("10.50"),
        kpis=(ServiceLevel(name="uptime", target="99.9%"),),
        created_at=NOW,
        updated_at=NOW,
    )
    assert contract_row(contract) == CONTRACT_CODEC.to_row(contract)
