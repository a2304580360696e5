"""``estate-procurement``: run the procurement service's processes and its maintenance commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from estate_eventing.cli import make_outbox_cli, sessionmaker_from_url
from estate_procurement.settings import AuthSettings, ProcurementSettings

app = typer.Typer(help="Estate procurement service", no_args_is_help=True, add_completion=False)
app.add_typer(
    make_outbox_cli(lambda: sessionmaker_from_url(ProcurementSettings().database_url)),
    name="outbox",
    help="Inspect, replay and purge the procurement service's outbox",
)


@app.command()
def migrate() -> None:
    """Create or upgrade the procurement database to the newest schema."""
    from estate_procurement.adapters.db.migrate import upgrade

    upgrade(ProcurementSettings().database_url)
    typer.echo("procurement database is up to date")


@app.command()
def http() -> None:
    """Serve the HTTP API (ESTATE_PROCUREMENT_HTTP_HOST / _PORT)."""
    from estate_procurement.entrypoints.processes import run_http

    run_http()


@app.command()
def worker() -> None:
    """Consume the register's system and supplier events into the re-use read model."""
    from estate_procurement.entrypoints.processes import run_worker_async

    asyncio.run(run_worker_async())


@app.command()
def relay() -> None:
    """Publish the outbox to Kafka, in order per request, retrying until the broker takes it."""
    from estate_procurement.entrypoints.processes import run_relay_async

    asyncio.run(run_relay_async())


@app.command("demo-data")
def demo_data() -> None:
    """Load Cambridge demo requests in every state (idempotent: does nothing if any request exists)."""
    from estate_procurement.bootstrap import bootstrap
    from estate_procurement.demo_data import load_demo_data

    async def run() -> int:
        container = bootstrap(ProcurementSettings())
        try:
            return await load_demo_data(container)
        finally:
            await container.close()

    count = asyncio.run(run())
    typer.echo(f"demo data: {count} requests added")


@app.command("check-checklist")
def check_checklist(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A checklist definition (.json)")],
) -> None:
    """Check a new checklist version before it is shipped: rules, items, weights, red lines, thresholds."""
    from estate_procurement.application.checklists import parse_checklist
    from estate_procurement.domain.errors import DomainError

    try:
        checklist = parse_checklist(json.loads(file.read_text("utf-8")))
    except json.JSONDecodeError as exc:
        typer.echo(f"{file}: not JSON ({exc})", err=True)
        raise typer.Exit(1) from None
    except DomainError as exc:
        typer.echo(f"{file}: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    items = [item for section in checklist.sections for rule in section.rules for item in rule.items]
    rules = sum(len(section.rules) for section in checklist.sections)
    red = [item.id for item in items if item.red_line]
    typer.echo(
        f"{checklist.key}: {len(checklist.sections)} sections, {rules} rules, {len(items)} items; "
        f"red lines: {', '.join(red) or 'none'}"
    )


@app.command()
def openapi(out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None) -> None:
    """Print the OpenAPI document of the HTTP API."""
    from estate_procurement.api.app import create_app
    from estate_procurement.bootstrap import bootstrap

    container = bootstrap(ProcurementSettings(database_url="sqlite+aiosqlite:///:memory:"))
    auth = AuthSettings(jwks_url="https://login.example/keys")  # never fetched: only the schema is built
    document = json.dumps(create_app(container, auth).openapi(), indent=2, sort_keys=True)
    if out:
        out.write_text(document + "\n")
    else:
        typer.echo(document)


@app.command()
def asyncapi(
    out: Annotated[Path | None, typer.Option(help="Write YAML here instead of stdout")] = None,
) -> None:
    """Print the AsyncAPI 3.0 document of what the procurement service publishes and consumes."""
    import yaml

    from estate_eventing.settings import BrokerSettings
    from estate_procurement.bootstrap import bootstrap
    from estate_procurement.entrypoints.processes import asyncapi_document

    container = bootstrap(ProcurementSettings(database_url="sqlite+aiosqlite:///:memory:"))
    schema = asyncapi_document(container, BrokerSettings()).to_specification().to_jsonable()
    document = yaml.safe_dump(schema, sort_keys=True, allow_unicode=True)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(document)
    else:
        typer.echo(document)


if __name__ == "__main__":
    app()
