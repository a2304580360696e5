"""``estate-register``: run the register's processes and its maintenance commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from estate_eventing.cli import make_outbox_cli, sessionmaker_from_url
from estate_register.api.auth import mint_token
from estate_register.domain.values import Role
from estate_register.settings import AuthSettings, RegisterSettings

app = typer.Typer(help="Estate register service", no_args_is_help=True, add_completion=False)
app.add_typer(
    make_outbox_cli(lambda: sessionmaker_from_url(RegisterSettings().database_url)),
    name="outbox",
    help="Inspect, replay and purge the register's outbox",
)


@app.command()
def migrate() -> None:
    """Create or upgrade the register's database to the newest schema."""
    from estate_register.adapters.db.migrate import upgrade

    upgrade(RegisterSettings().database_url)
    typer.echo("register database is up to date")


@app.command()
def http() -> None:
    """Serve the HTTP API (ESTATE_REGISTER_HTTP_HOST / _PORT)."""
    from estate_register.entrypoints.processes import run_http

    run_http()


@app.command()
def worker() -> None:
    """Consume events: procurement decisions become planned systems."""
    from estate_register.entrypoints.processes import run_worker_async

    asyncio.run(run_worker_async())


@app.command()
def relay() -> None:
    """Publish the outbox to Kafka, in order per record, retrying until the broker takes it."""
    from estate_register.entrypoints.processes import run_relay_async

    asyncio.run(run_relay_async())


@app.command()
def token(
    role: Annotated[list[str], typer.Option("--role", "-r", help=f"One of: {', '.join(Role)}")],
    subject: Annotated[str, typer.Option(help="Who the token is for")] = "dev-user",
    email: Annotated[str | None, typer.Option(help="Their email (matches owner records)")] = None,
    name: Annotated[str | None, typer.Option()] = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 30)] = 8.0,
) -> None:
    """Mint a bearer token from the local development issuer."""
    settings = AuthSettings()
    try:
        typer.echo(
            mint_token(
                settings, subject=subject, roles=role, email=email, name=name, ttl_seconds=int(hours * 3600)
            )
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from exc


@app.command("demo-data")
def demo_data() -> None:
    """Load the Cambridge demo estate (idempotent: does nothing if the register already has councils)."""
    from estate_register.bootstrap import bootstrap
    from estate_register.demo_data import load_demo_data

    async def run() -> int:
        container = bootstrap(RegisterSettings())
        try:
            return await load_demo_data(container)
        finally:
            await container.close()

    count = asyncio.run(run())
    typer.echo(f"demo data: {count} records added")


@app.command()
def openapi(out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None) -> None:
    """Print the OpenAPI document of the HTTP API."""
    from estate_register.api.app import create_app
    from estate_register.bootstrap import bootstrap

    container = bootstrap(RegisterSettings(database_url="sqlite+aiosqlite:///:memory:"))
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
    """Print the AsyncAPI 3.0 document of what the register publishes and consumes."""
    import yaml

    from estate_eventing.settings import BrokerSettings
    from estate_register.bootstrap import bootstrap
    from estate_register.entrypoints.processes import asyncapi_document

    container = bootstrap(RegisterSettings(database_url="sqlite+aiosqlite:///:memory:"))
    schema = asyncapi_document(container, BrokerSettings()).to_specification().to_jsonable()
    document = yaml.safe_dump(schema, sort_keys=True, allow_unicode=True)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(document)
    else:
        typer.echo(document)


if __name__ == "__main__":
    app()
