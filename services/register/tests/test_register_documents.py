"""The published API documents are current: the committed AsyncAPI file is what the code generates,
and the OpenAPI document tells clients how to authenticate."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from estate_register.entrypoints.cli import app

ROOT = Path(__file__).resolve().parents[3]
ASYNCAPI = ROOT / "contracts" / "asyncapi" / "register.yaml"


def test_committed_asyncapi_document_is_what_the_code_generates() -> None:
    result = CliRunner().invoke(app, ["asyncapi"])
    assert result.exit_code == 0, result.output
    generated = yaml.safe_load(result.output)
    committed = yaml.safe_load(ASYNCAPI.read_text())
    assert generated == committed, "contracts/asyncapi/register.yaml is stale: run `make asyncapi`"


def test_asyncapi_lists_what_the_register_publishes_and_consumes() -> None:
    document = yaml.safe_load(ASYNCAPI.read_text())
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {
        "estate.register.systems",
        "estate.register.contracts",
        "estate.register.suppliers",
        "estate.procurement.requests",
        "estate.notifications.renewals",
        "estate.notifications.alerts",
    }
    assert document["asyncapi"].startswith("3.")


def test_openapi_declares_bearer_tokens_on_every_api_route() -> None:
    result = CliRunner().invoke(app, ["openapi"])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.output)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            assert {"bearer": []} in operation.get("security", []), (
                f"{method.upper()} {path} has no bearer security"
            )
