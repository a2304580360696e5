"""``estate``: run the whole of Estate on one machine (``estate up``) and mint tokens for it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Annotated

import typer

from estate_devstack.plan import DEFAULT_DATA_DIR, LOCK_FILE, STATE_FILE, PlanError, key_path_for, make_plan

app = typer.Typer(
    help="Estate on this machine: `estate up` starts everything, `estate token` mints a token for it.",
    no_args_is_help=True,
    add_completion=False,
)

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="ESTATE_DATA_DIR",
        help="Where the SQLite databases, the signing key and the broker's port live (delete it to reset)",
    ),
]


@contextlib.contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[IO[str] | None]:
    """Hold an exclusive lock on the data directory while ``estate up`` runs (released if it dies)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not a POSIX system: go without the guard
        yield None
        return
    with (data_dir / LOCK_FILE).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PlanError(
                f"Estate is already running from {data_dir} (see `estate status --data-dir {data_dir}`); "
                "stop it, or use another --data-dir"
            ) from None
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@app.command()
def up(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    http_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Port of the register API, the next ones for procurement and notifications (default 8000, "
            "or a free one if taken); the portal keeps 8080 (ESTATE_PORTAL_HTTP_PORT to change)",
        ),
    ] = None,
    kafka_port: Annotated[
        int | None,
        typer.Option(
            min=1, max=65535, help="Port of the embedded broker (default 9092, or a free one if taken)"
        ),
    ] = None,
    demo_data: Annotated[
        bool, typer.Option("--demo-data/--no-demo-data", help="Load the Cambridge demo estate (idempotent)")
    ] = True,
) -> None:
    """Start Estate: broker, topics, databases, signing key, demo data and every service; Ctrl-C stops it.

    Set ESTATE_KAFKA_BOOTSTRAP_SERVERS to use a running Kafka instead of the embedded broker, and
    ESTATE_REGISTER_DATABASE_URL (postgresql+asyncpg://...) to use PostgreSQL instead of SQLite.
    """
    from estate_devstack.supervisor import Output
    from estate_devstack.up import run_up

    try:
        plan = make_plan(
            data_dir=data_dir,
            http_port=http_port,
            kafka_port=kafka_port,
            demo_data=demo_data,
            python=sys.executable,
        )
        with _data_dir_lock(plan.data_dir):
            out = Output(width=max(16, *(len(d.name) for d in plan.processes() + plan.setup_tasks())))
            out.say(f"data directory {plan.data_dir}")
            code = asyncio.run(run_up(plan, out))
    except PlanError as exc:
        typer.echo(f"estate up: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def token(
    role: Annotated[
        list[str],
        typer.Option(
            "--role",
            "-r",
            help="requester, tda_member, tda_chair, owner, contract_manager, admin or auditor (repeatable)",
        ),
    ],
    email: Annotated[str | None, typer.Option(help="Their email (matches owner records)")] = None,
    subject: Annotated[str | None, typer.Option(help="Who the token is for (default: the email)")] = None,
    name: Annotated[str | None, typer.Option(help="Their display name")] = None,
    hours: Annotated[float, typer.Option(min=0.01, max=24 * 30, help="How long it is valid")] = 8.0,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Print a bearer token signed with the key of the stack that `estate up` runs from --data-dir."""
    from estate_runtime.auth import AuthSettings, mint_token

    key_path = key_path_for(data_dir)
    if not key_path.exists():
        typer.echo(
            f"estate token: no signing key at {key_path} yet, so a new one is made; a stack that is already "
            "running from another data directory will not accept this token",
            err=True,
        )
    try:
        typer.echo(
            mint_token(
                AuthSettings(dev_key_path=key_path),
                subject=subject or email or "dev-user",
                roles=role,
                email=email,
                name=name,
                ttl_seconds=int(hours * 3600),
            )
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from exc


@app.command()
def status(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Say whether Estate runs from --data-dir, where, and whether each API answers its health check."""
    import httpx

    from estate_devstack.specs import SERVICES

    state_file = data_dir.resolve() / STATE_FILE
    if not state_file.exists():
        typer.echo(f"Estate is not running from {data_dir.resolve()}")
        raise typer.Exit(1)
    state = json.loads(state_file.read_text())
    try:
        os.kill(int(state["pid"]), 0)
    except (ProcessLookupError, PermissionError, ValueError):
        typer.echo(f"Estate is not running from {data_dir.resolve()} (stale {STATE_FILE})")
        raise typer.Exit(1) from None
    typer.echo(f"Estate is running (estate up, pid {state['pid']}, since {state['started_at']})")
    typer.echo(f"  broker     {state['broker']['bootstrap_servers']}")
    healthy = True
    for service, url in state["http"].items():
        try:
            answer = httpx.get(f"{url}/health/ready", timeout=2.0)
            verdict = "ready" if answer.status_code == 200 else f"not ready ({answer.status_code})"
        except httpx.HTTPError as exc:
            verdict = f"not answering ({type(exc).__name__})"
        healthy = healthy and verdict == "ready"
        shown = url if any(s.name == service and s.web for s in SERVICES) else f"{url}/docs"
        typer.echo(f"  {service:<10} {shown}  {verdict}")
    raise typer.Exit(0 if healthy else 1)


if __name__ == "__main__":
    app()
