"""``estate-portal``: serve the staff portal."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Estate's staff portal (GOV.UK Design System) over the register, procurement and "
    "notifications APIs.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def http() -> None:
    """Serve the portal on ESTATE_PORTAL_HTTP_HOST:ESTATE_PORTAL_HTTP_PORT (default 127.0.0.1:8080)."""
    from estate_eventing.correlation import configure_logging
    from estate_portal.settings import PortalSettings
    from estate_runtime.auth import AuthSettings
    from estate_runtime.processes import run_http

    configure_logging("portal")
    settings = PortalSettings()
    AuthSettings()
    settings.session_key()
    run_http(
        "estate_portal.app:create_app_from_env",
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.http_workers,
    )


@app.command()
def version() -> None:
    """Print the portal's version."""
    from importlib.metadata import version as package_version

    typer.echo(package_version("estate-portal"))


if __name__ == "__main__":
    app()
