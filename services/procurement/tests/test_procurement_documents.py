"""The procurement service's command line as an operator meets it: the published API documents are
current, a new checklist version is checked before it ships, and the demo requests load once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from pathlib import Path

import yaml
from typer.testing import CliRunner

from estate_procurement.adapters.db.migrate import upgrade
from estate_procurement.bootstrap import bootstrap
from estate_procurement.demo_data import load_demo_data
from estate_procurement.domain.values import local_date
from estate_procurement.entrypoints.cli import app
from estate_procurement.settings import ProcurementSettings

ROOT = Path(__file__).resolve().parents[3]
ASYNCAPI = ROOT / "contracts" / "asyncapi" / "procurement.yaml"
CHECKLIST = (
    ROOT / "services" / "procurement" / "src" / "estate_procurement" / "checklists" / "tda-review-v1.json"
)


def test_committed_asyncapi_document_is_what_the_code_generates() -> None:
    result = CliRunner().invoke(app, ["asyncapi"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output) == yaml.safe_load(ASYNCAPI.read_text()), (
        "contracts/asyncapi/procurement.yaml is stale: run `make asyncapi`"
    )


def test_asyncapi_lists_the_requests_topic_published_and_the_register_topics_consumed() -> None:
    document = yaml.safe_load(ASYNCAPI.read_text())
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {
        "estate.procurement.requests",
        "estate.register.systems",
        "estate.register.suppliers",
    }


def test_openapi_declares_bearer_tokens_on_every_api_route() -> None:
    result = CliRunner().invoke(app, ["openapi"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    api = {
        (m, p): op for p, ops in document["paths"].items() if p.startswith("/api/") for m, op in ops.items()
    }
    assert len(api) >= 25
    for (method, path), operation in api.items():
        assert {"bearer": []} in operation.get("security", []), (
            f"{method.upper()} {path} has no bearer security"
        )


def test_the_shipped_checklist_checks_out_with_its_red_lines_named() -> None:
    result = CliRunner().invoke(app, ["check-checklist", str(CHECKLIST)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("tda-review@1: ")
    assert "red lines: " in result.output
    assert "DPIA1" in result.output


def test_a_checklist_version_with_a_bad_weight_is_refused_saying_where(tmp_path: Path) -> None:
    data = json.loads(CHECKLIST.read_text())
    data["sections"][0]["rules"][0]["items"][0]["weight"] = "heavy"
    bad = tmp_path / "tda-review-v2.json"
    bad.write_text(json.dumps(data))
    result = CliRunner().invoke(app, ["check-checklist", str(bad)])
    assert result.exit_code == 1
    assert "weight must be a number" in result.output


def test_demo_requests_load_once_in_every_state_the_tda_meets(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'procurement.db'}"
    upgrade(url)

    async def load_twice() -> tuple[int, int, dict[str, str]]:
        container = bootstrap(ProcurementSettings(database_url=url))
        try:
            first = await load_demo_data(container)
            second = await load_demo_data(container)
            async with container.uow() as uow:
                states = {r.title or "": r.state.value for r in await uow.requests.list()}
            return first, second, states
        finally:
            await container.close()

    first, second, states = asyncio.run(load_twice())
    assert (first, second) == (6, 0)
    assert set(states.values()) == {
        "draft",
        "submitted",
        "under_review",
        "information_requested",
        "decided",
    }
    assert states["Street asset inspection app"] == "under_review"


def test_demo_requests_are_dated_by_the_london_day_of_the_clock(tmp_path: Path) -> None:
    # 23:30 UTC on Tuesday 30 June 2026 is already Wednesday 1 July in Cambridge: the draft raised one
    # working day ago is dated 30 June (by a UTC reading of the clock it would be Monday 29 June).
    url = f"sqlite+aiosqlite:///{tmp_path / 'procurement.db'}"
    upgrade(url)
    late_evening = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)

    async def load() -> dict[str, date]:
        container = bootstrap(ProcurementSettings(database_url=url), clock=lambda: late_evening)
        try:
            await load_demo_data(container)
            async with container.uow() as uow:
                return {r.title or "": local_date(r.created_at) for r in await uow.requests.list()}
        finally:
            await container.close()

    created = asyncio.run(load())
    assert created["Housing repairs scheduling"] == date(2026, 6, 30)
    assert created["Online forms for council tax discounts and benefits"] == date(2026, 6, 23)
