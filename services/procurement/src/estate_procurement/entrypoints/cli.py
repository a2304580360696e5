"""``estate-procurement``: run the procurement service's processes and its maintenance commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from estate_procurement.settings import ProcurementSettings
from estate_runtime.cli import ServiceCommands, service_cli, with_container


def demo_data() -> None:
    """Load Cambridge demo requests in every state (idempotent: does nothing if any request exists)."""
    from estate_procurement.bootstrap import bootstrap
    from estate_procurement.demo_data import load_demo_data

    count = with_container(bootstrap, ProcurementSettings(), load_demo_data)
    typer.echo(f"demo data: {count} requests added")


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


app = service_cli(
    ServiceCommands(
        name="procurement",
        package="estate_procurement",
        settings=ProcurementSettings,
        subject="the procurement service",
        database="the procurement database",
        worker="Consume the register's system and supplier events into the re-use read model.",
        relay_order="request",
    ),
    commands={"demo-data": demo_data, "check-checklist": check_checklist},
)


if __name__ == "__main__":
    app()
