"""The pieces every service's settings, command line, unit of work and publishing share."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
import typer
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert, select
from typer.testing import CliRunner

from estate_contracts.envelope import EventPayload
from estate_eventing.tables import eventing_metadata, outbox_table
from estate_runtime import uow
from estate_runtime.cli import ServiceCommands, service_cli, with_container
from estate_runtime.db import (
    JoinedSessionUnitOfWork,
    SessionUnitOfWork,
    SqlOutbox,
    make_engine,
    make_sessionmaker,
)
from estate_runtime.errors import Conflict
from estate_runtime.publishing import envelopes_for
from estate_runtime.settings import PoolSize, ServiceSettings, UploadLimit


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ESTATE_EXAMPLE_")

    database_url: str = "sqlite+aiosqlite:///var/example.db"
    http_port: int = 8123
    max_upload_bytes: UploadLimit = 4096
    db_pool_size: PoolSize = 3


# --- settings ----------------------------------------------------------------------------------------


def test_a_service_reads_its_own_prefix_and_keeps_its_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESTATE_EXAMPLE_HTTP_WORKERS", "4")
    monkeypatch.setenv("ESTATE_OTHER_HTTP_PORT", "9999")
    settings = ExampleSettings()
    assert (settings.http_port, settings.http_workers, settings.max_upload_bytes) == (8123, 4, 4096)
    assert settings.is_sqlite


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_upload_bytes", 1023),
        ("db_pool_size", 0),
        ("http_workers", 65),
        ("page_size_max", 0),
        ("metrics_port", 70000),
        ("environment", "staging"),
    ],
)
def test_unsafe_values_fail_at_start_up(name: str, value: object) -> None:
    with pytest.raises(ValidationError):
        ExampleSettings(**{name: value})


def test_a_service_that_gives_no_database_fails_closed() -> None:
    class Incomplete(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="ESTATE_INCOMPLETE_")

    with pytest.raises(ValidationError):
        Incomplete()


# --- command line --------------------------------------------------------------------------------------


def _service_app() -> typer.Typer:
    def hello() -> None:
        """Say hello."""
        print("hello")

    return service_cli(
        ServiceCommands(
            name="example",
            package="estate_example",
            settings=ExampleSettings,
            subject="the example service",
            database="the example database",
            worker="Consume nothing.",
            relay_order="thing",
        ),
        commands={"hello": hello},
    )


def test_the_common_commands_come_first_then_the_services_own_then_the_documents() -> None:
    app = _service_app()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    commands = result.output.split("Commands")[1]
    listed = [line.split()[1] for line in commands.splitlines() if line.startswith("│ ") and line[2] != " "]
    assert listed == ["migrate", "http", "worker", "relay", "hello", "openapi", "asyncapi", "outbox"]
    assert "Estate example service" in result.output
    assert "ESTATE_EXAMPLE_HTTP_HOST / _PORT" in result.output
    assert "in order per thing" in result.output
    assert "the example service's outbox" in result.output
    assert "Say hello." in result.output
    assert CliRunner().invoke(app, ["hello"]).output == "hello\n"


def test_a_command_closes_its_container_however_the_work_ends() -> None:
    closed: list[str] = []

    class Container:
        def __init__(self, settings: ExampleSettings) -> None:
            self.port = settings.http_port

        async def close(self) -> None:
            closed.append("closed")

    async def port(container: Container) -> int:
        return container.port

    async def fail(container: Container) -> int:
        raise RuntimeError("boom")

    assert with_container(Container, ExampleSettings(), port) == 8123
    with pytest.raises(RuntimeError, match="boom"):
        with_container(Container, ExampleSettings(), fail)
    assert closed == ["closed", "closed"]


# --- unit of work ---------------------------------------------------------------------------------------


class RecordingUnitOfWork(uow.UnitOfWork):
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def commit(self) -> None:
        self.calls.append("commit")

    async def rollback(self) -> None:
        self.calls.append("rollback")

    async def flush(self) -> None:
        self.calls.append("flush")


async def test_leaving_a_unit_of_work_rolls_back_even_after_an_error() -> None:
    unit = RecordingUnitOfWork()
    with pytest.raises(ValueError, match="oops"):
        async with unit as entered:
            assert entered is unit
            raise ValueError("oops")
    assert unit.calls == ["rollback"]


names = MetaData()
names_table = Table(
    "names", names, Column("id", Integer, primary_key=True), Column("name", String(20), unique=True)
)
# Checked at commit, so a clash surfaces where the unit of work commits.
children = Table(
    "children",
    names,
    Column("id", Integer, primary_key=True),
    Column("parent_id", ForeignKey("names.id", deferrable=True, initially="DEFERRED"), nullable=False),
)


class SqlExample(SessionUnitOfWork, RecordingUnitOfWork):
    def __init__(self, session: object) -> None:
        super().__init__()
        self.session = session  # type: ignore[assignment]
        self.outbox = SqlOutbox(self.session)


class JoinedExample(JoinedSessionUnitOfWork, SqlExample):
    pass


class Fact:
    def __init__(self, *, at: datetime, name: str) -> None:
        self.at = at
        self.name = name


class Thing(EventPayload):
    event_type: ClassVar[str] = "estate.tests.thing.noted"
    event_version: ClassVar[int] = 1
    topic: ClassVar[str] = "estate.tests.things"
    key_field: ClassVar[str] = "name"

    name: str


async def test_the_sql_unit_of_work_commits_turns_clashes_into_conflicts_and_rolls_back_on_exit(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'uow.db'}")
    sessions = make_sessionmaker(engine)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(names.create_all)
            await connection.run_sync(eventing_metadata.create_all)
        async with SqlExample(sessions()) as unit:
            await unit.session.execute(insert(names_table).values(id=1, name="a"))
            [(envelope, topic)] = envelopes_for(
                [Fact(at=datetime(2026, 11, 21, tzinfo=UTC), name="a")],
                lambda fact: Thing(name=fact.name),
                source="/estate/tests",
                subject=lambda fact: fact.name,
                correlation="c-1",
                causation=None,
            )
            await unit.outbox.put(envelope, topic=topic)
            await unit.commit()
        async with SqlExample(sessions()) as unit:
            await unit.session.execute(insert(children).values(id=1, parent_id=99))
            with pytest.raises(Conflict, match="clashes with a record already stored"):
                await unit.commit()
        async with SqlExample(sessions()) as unit:
            await unit.session.execute(insert(names_table).values(id=3, name="c"))
        # Joined: commit only flushes, leaving does not roll back; the owner's transaction decides.
        async with sessions() as session, session.begin(), JoinedExample(session) as joined:
            await joined.session.execute(insert(names_table).values(id=4, name="d"))
            await joined.commit()
            await joined.rollback()
        async with sessions() as session:
            stored = (await session.execute(select(names_table.c.name).order_by(names_table.c.id))).scalars()
            assert list(stored) == ["a", "d"]
            assert (await session.execute(select(outbox_table.c.event_type))).scalars().all() == [
                "estate.tests.thing.noted"
            ]
    finally:
        await engine.dispose()


def test_only_published_facts_become_envelopes_in_the_order_they_happened() -> None:
    first = Fact(at=datetime(2026, 11, 21, 9, tzinfo=UTC), name="one")
    audited_only = Fact(at=datetime(2026, 11, 21, 10, tzinfo=UTC), name="quiet")
    last = Fact(at=datetime(2026, 11, 21, 11, tzinfo=UTC), name="two")
    out = envelopes_for(
        [first, audited_only, last],
        lambda fact: None if fact.name == "quiet" else Thing(name=fact.name),
        source="/estate/tests",
        subject=lambda fact: f"thing-{fact.name}",
        correlation="corr",
        causation="cause",
    )
    assert [(e.subject, e.time, e.correlationid, e.causationid, topic) for e, topic in out] == [
        ("thing-one", first.at, "corr", "cause", "estate.tests.things"),
        ("thing-two", last.at, "corr", "cause", "estate.tests.things"),
    ]
    assert all(e.source == "/estate/tests" and isinstance(e.id, uuid.UUID) for e, _ in out)
