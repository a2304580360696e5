"""The command line every service has: ``migrate``, ``http``, ``worker``, ``relay``, ``openapi``,
``asyncapi`` and the ``outbox`` sub-app. A service builds its CLI with :func:`service_cli` and adds its
own commands::

    app = service_cli(ServiceCommands(name="register", package="estate_register", ...), commands={...})

The runtime knows no service: it imports the service's modules by name, when a command runs, from the
layout every service has (``<package>.adapters.db.migrate``, ``<package>.entrypoints.processes``,
``<package>.bootstrap``, ``<package>.api.app``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Protocol, TypeVar

import typer

from estate_eventing.cli import make_outbox_cli, sessionmaker_from_url
from estate_runtime.auth import AuthSettings
from estate_runtime.settings import ServiceSettings

IN_MEMORY_DATABASE = "sqlite+aiosqlite:///:memory:"
"""What the document commands build a container on: only the schemas are read, nothing is stored."""

T = TypeVar("T")
S = TypeVar("S", bound=ServiceSettings)


class Closable(Protocol):
    async def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


@dataclass(frozen=True, kw_only=True)
class ServiceCommands:
    """What differs between two services' common commands: their modules, settings and help texts."""

    name: str
    """``register``: the CLI is the "Estate register service"; "register database is up to date"."""
    package: str
    """``estate_register``: the package whose modules the commands run."""
    settings: type[ServiceSettings]
    """The service's settings (its ``env_prefix`` names the HTTP host and port variables)."""
    subject: str
    """``the register``: "what the register publishes", "the register's outbox"."""
    database: str
    """``the register's database``: "Create or upgrade the register's database ..."."""
    worker: str
    """The help of ``worker``: what the service consumes and what it makes of it."""
    relay_order: str
    """``record``: the relay publishes "in order per record"."""

    def module(self, path: str) -> ModuleType:
        return import_module(f"{self.package}.{path}")


def with_container(bootstrap: Callable[[S], C], settings: S, work: Callable[[C], Awaitable[T]]) -> T:
    """Run ``work`` on a container bootstrapped from ``settings`` in a new event loop, closing the
    container however the work ends (a command's whole life)."""

    async def run() -> T:
        container = bootstrap(settings)
        try:
            return await work(container)
        finally:
            await container.close()

    return asyncio.run(run())


def service_cli(
    service: ServiceCommands, *, commands: Mapping[str, Callable[..., Any]] | None = None
) -> typer.Typer:
    """The service's Typer app with the common commands; ``commands`` (name: function, the docstring is
    the help) are listed after ``relay`` and before ``openapi``. Add more with ``@app.command()``."""
    settings = service.settings
    app = typer.Typer(help=f"Estate {service.name} service", no_args_is_help=True, add_completion=False)
    app.add_typer(
        make_outbox_cli(lambda: sessionmaker_from_url(settings().database_url)),
        name="outbox",
        help=f"Inspect, replay and purge {service.subject}'s outbox",
    )

    @app.command(help=f"Create or upgrade {service.database} to the newest schema.")
    def migrate() -> None:
        service.module("adapters.db.migrate").upgrade(settings().database_url)
        typer.echo(f"{service.name} database is up to date")

    env_prefix = settings.model_config.get("env_prefix", "")

    @app.command(help=f"Serve the HTTP API ({env_prefix}HTTP_HOST / _PORT).")
    def http() -> None:
        service.module("entrypoints.processes").run_http()

    @app.command(help=service.worker)
    def worker() -> None:
        asyncio.run(service.module("entrypoints.processes").run_worker_async())

    @app.command(
        help=f"Publish the outbox to Kafka, in order per {service.relay_order}, retrying until the broker "
        "takes it."
    )
    def relay() -> None:
        asyncio.run(service.module("entrypoints.processes").run_relay_async())

    for name, command in (commands or {}).items():
        app.command(name)(command)

    @app.command(help="Print the OpenAPI document of the HTTP API.")
    def openapi(
        out: Annotated[Path | None, typer.Option(help="Write here instead of stdout")] = None,
    ) -> None:
        container = service.module("bootstrap").bootstrap(settings(database_url=IN_MEMORY_DATABASE))
        auth = AuthSettings(jwks_url="https://login.example/keys")  # never fetched: only the schema is built
        create_app = service.module("api.app").create_app
        document = json.dumps(create_app(container, auth).openapi(), indent=2, sort_keys=True)
        if out:
            out.write_text(document + "\n")
        else:
            typer.echo(document)

    @app.command(help=f"Print the AsyncAPI 3.0 document of what {service.subject} publishes and consumes.")
    def asyncapi(
        out: Annotated[Path | None, typer.Option(help="Write YAML here instead of stdout")] = None,
    ) -> None:
        import yaml

        from estate_eventing.settings import BrokerSettings

        container = service.module("bootstrap").bootstrap(settings(database_url=IN_MEMORY_DATABASE))
        asyncapi_document = service.module("entrypoints.processes").asyncapi_document
        schema = asyncapi_document(container, BrokerSettings()).to_specification().to_jsonable()
        document = yaml.safe_dump(schema, sort_keys=True, allow_unicode=True)
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(document)
        else:
            typer.echo(document)

    return app


__all__ = ["IN_MEMORY_DATABASE", "ServiceCommands", "service_cli", "with_container"]
