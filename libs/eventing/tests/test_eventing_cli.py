"""The operator's ``outbox`` commands, on a real database file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eventing_support import TOPIC, envelope
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from typer.testing import CliRunner

from estate_eventing.cli import make_outbox_cli, sessionmaker_from_url
from estate_eventing.outbox import outbox_rows
from estate_eventing.tables import eventing_metadata, outbox_table

runner = CliRunner()


def prepared_database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"

    async def prepare() -> None:
        engine = create_async_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(eventing_metadata.create_all)
            rows = outbox_rows((envelope(f"s{i}"), TOPIC) for i in range(3))
            await connection.execute(insert(outbox_table), rows)
            # Two published long ago, one still waiting after a failure.
            await connection.execute(
                update(outbox_table)
                .where(outbox_table.c.key != "s2")
                .values(published_at=rows[0]["created_at"])
            )
            await connection.execute(
                update(outbox_table).where(outbox_table.c.key == "s2").values(attempts=1, last_error="down")
            )
        await engine.dispose()

    asyncio.run(prepare())
    return url


def test_status_replay_and_purge_from_the_command_line(tmp_path: Path):
    url = prepared_database(tmp_path)
    app = make_outbox_cli(lambda: sessionmaker_from_url(url))

    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0, status.output
    assert "pending:   1" in status.output
    assert "failing:   1" in status.output
    assert "published: 2" in status.output

    naive = runner.invoke(app, ["replay", "--since", "2025-01-01T00:00:00"])
    assert naive.exit_code != 0
    assert "time zone" in naive.output

    replay = runner.invoke(app, ["replay", "--since", "2025-01-01T00:00:00Z", "--topic", TOPIC])
    assert replay.exit_code == 0, replay.output
    assert "marked 2 events" in replay.output

    purge = runner.invoke(app, ["purge", "--older-than-days", "0"])
    assert purge.exit_code == 0, purge.output
    assert "deleted 0 events" in purge.output  # nothing published any more: replay unpublished them


def test_the_cli_needs_only_a_sessionmaker_factory():
    assert isinstance(sessionmaker_from_url("sqlite+aiosqlite://"), async_sessionmaker)
