"""``estate-register``: run the register's processes and its maintenance commands."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from estate_register.api.auth import mint_token
from estate_register.domain.values import Role
from estate_register.settings import AuthSettings, RegisterSettings
from estate_runtime.cli import ServiceCommands, service_cli, with_container


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


def demo_data() -> None:
    """Load the Cambridge demo estate (idempotent: does nothing if the register already has councils)."""
    from estate_register.bootstrap import bootstrap
    from estate_register.demo_data import load_demo_data

    count = with_container(bootstrap, RegisterSettings(), load_demo_data)
    typer.echo(f"demo data: {count} records added")


app = service_cli(
    ServiceCommands(
        name="register",
        package="estate_register",
        settings=RegisterSettings,
        subject="the register",
        database="the register's database",
        worker="Consume events: procurement decisions become planned systems.",
        relay_order="record",
    ),
    commands={"token": token, "demo-data": demo_data},
)


# --- survey ----------------------------------------------------------------------------------------

SurveyKindOption = Annotated[
    str | None, typer.Option("--kind", help="systems or contracts: needed for CSV; for XLSX, one sheet only")
]


def _survey_kind(kind: str | None) -> Any:
    if kind is not None and kind not in ("systems", "contracts"):
        raise typer.BadParameter("use systems or contracts", param_hint="--kind")
    return kind


@app.command("import")
def import_survey(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The survey, .xlsx or .csv")],
    kind: SurveyKindOption = None,
    mode: Annotated[str, typer.Option(help="all_or_nothing or valid_rows_only")] = "all_or_nothing",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; write nothing")] = False,
    actor: Annotated[str, typer.Option(help="Who the audit trail names")] = "survey-import@estate.local",
    max_bytes: Annotated[
        int | None, typer.Option(help="Refuse bigger files (default: ESTATE_REGISTER_MAX_UPLOAD_BYTES)")
    ] = None,
) -> None:
    """Import a completed survey into the register's database, in one transaction."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from estate_register.adapters.survey.files import open_survey
    from estate_register.adapters.survey.store import survey_store
    from estate_register.application.survey import SurveyFileError, import_survey
    from estate_register.bootstrap import Container, bootstrap

    if mode not in ("all_or_nothing", "valid_rows_only"):
        raise typer.BadParameter("use all_or_nothing or valid_rows_only", param_hint="--mode")
    settings = RegisterSettings()
    limit = max_bytes or settings.max_upload_bytes
    size = file.stat().st_size
    console = Console(stderr=True)
    if size > limit:
        console.print(f"[red]{file} is {size:,} bytes; the limit is {limit:,} bytes (--max-bytes)[/red]")
        raise typer.Exit(2)

    async def run(container: Container) -> Any:
        with (
            open_survey(file.read_bytes(), file.name, _survey_kind(kind), max_bytes=limit) as tables,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as progress,
        ):
            total = sum(t.total or 0 for t in tables) or None
            parsed = progress.add_task("rows parsed", total=total)
            written = progress.add_task("records written", total=None if dry_run else total)

            def update(rows: int, records: int) -> None:
                progress.update(parsed, completed=rows)
                progress.update(written, completed=records)

            async with container.uow() as uow:
                return await import_survey(
                    survey_store(uow),
                    tables,
                    actor=actor,
                    mode=mode,  # type: ignore[arg-type]
                    dry_run=dry_run,
                    progress=update,
                )

    try:
        report = with_container(bootstrap, settings, run)
    except SurveyFileError as exc:
        console.print(f"[red]{exc.detail}[/red]")
        raise typer.Exit(1) from None
    for name, counts in (("systems", report.systems), ("contracts", report.contracts)):
        typer.echo(
            f"{name}: {counts.created} created, {counts.updated} updated, {counts.unchanged} unchanged, "
            f"{counts.failed} failed"
        )
    if report.suppliers_created:
        typer.echo(f"suppliers created: {', '.join(report.suppliers_created)}")
    if report.error_count:
        for error in report.errors[:50]:
            console.print(f"  {error}", markup=False, highlight=False)
        more = report.error_count - min(50, len(report.errors))
        if more > 0:
            console.print(f"  ... and {more} more")
        verdict = "nothing was imported" if not report.written else "the other rows were imported"
        console.print(f"[red]{report.error_count} problem(s); {verdict}[/red]")
        raise typer.Exit(1)
    typer.echo("dry run: nothing was written" if dry_run else "imported")


@app.command("export")
def export_survey(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write: .xlsx or .csv")],
    kind: SurveyKindOption = None,
) -> None:
    """Export the register in the survey's shape (re-importing the file changes nothing)."""
    from estate_register.adapters.survey import files
    from estate_register.adapters.survey.store import survey_store
    from estate_register.application.survey import KINDS, ExportNames, export_rows
    from estate_register.bootstrap import Container, bootstrap

    suffix = file.suffix.casefold()
    if suffix not in (".csv", ".xlsx"):
        raise typer.BadParameter("the file must end in .csv or .xlsx", param_hint="FILE")
    if suffix == ".csv" and kind is None:
        raise typer.BadParameter("a CSV export holds one kind: give --kind systems or contracts")

    async def run(container: Container) -> None:
        async with container.uow() as uow:
            store = survey_store(uow)
            names = ExportNames(await store.catalogue())
            with file.open("wb") as out:
                if suffix == ".xlsx":
                    await files.write_xlsx(out, {k: export_rows(store, k, names) for k in KINDS})
                else:
                    chosen = _survey_kind(kind)
                    async for chunk in files.csv_chunks(chosen, export_rows(store, chosen, names)):
                        out.write(chunk)

    with_container(bootstrap, RegisterSettings(), run)
    typer.echo(f"exported to {file}")


@app.command("template")
def survey_template(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="Where to write: .xlsx or .csv")],
    kind: SurveyKindOption = None,
) -> None:
    """Write an empty survey template (XLSX with a Read me sheet, or the CSV header of one kind)."""
    from estate_register.adapters.survey import files

    suffix = file.suffix.casefold()
    if suffix == ".xlsx":
        file.write_bytes(asyncio.run(files.template_xlsx()))
    elif suffix == ".csv":
        if kind is None:
            raise typer.BadParameter("a CSV template holds one kind: give --kind systems or contracts")
        file.write_bytes(files.template_csv(_survey_kind(kind)))
    else:
        raise typer.BadParameter("the file must end in .csv or .xlsx", param_hint="FILE")
    typer.echo(f"template written to {file}")


if __name__ == "__main__":
    app()
