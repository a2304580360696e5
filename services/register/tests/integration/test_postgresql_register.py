"""On PostgreSQL: the migrations build and unbuild the schema, and concurrent writers cannot lose an update.

The create, change and list tests of ``tests/api`` run here too: they are parametrized over SQLite and
PostgreSQL (``on_both_databases``) rather than repeated.
"""

from __future__ import annotations

import asyncio

import httpx
from register_integration_support import on_postgresql, rows
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from estate_register.adapters.db.migrate import alembic_config, upgrade_async
from estate_register.bootstrap import Container

REGISTER_TABLES = {
    "alembic_version",
    "audit_log",
    "contract_systems",
    "contracts",
    "councils",
    "estate_contract_alerts",
    "estate_requests",
    "inbox",
    "outbox",
    "people",
    "service_areas",
    "suppliers",
    "system_councils",
    "system_service_areas",
    "systems",
}


async def tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_migrations_upgrade_an_empty_database_downgrade_it_and_upgrade_it_again(
    fresh_postgres_database,
):
    from alembic import command

    await upgrade_async(fresh_postgres_database)
    built = await tables(fresh_postgres_database)
    await asyncio.to_thread(command.downgrade, alembic_config(fresh_postgres_database), "base")
    emptied = await tables(fresh_postgres_database)
    await upgrade_async(fresh_postgres_database)
    await upgrade_async(fresh_postgres_database)  # a second upgrade to head changes nothing

    assert built == REGISTER_TABLES
    assert emptied == {"alembic_version"}
    assert await tables(fresh_postgres_database) == REGISTER_TABLES


@on_postgresql
async def test_twenty_concurrent_changes_with_the_same_etag_let_exactly_one_through(
    client: httpx.AsyncClient, container: Container, mint
):
    admin = mint("admin", email="admin@cambridge.gov.uk")
    ((system_id,),) = await rows(container, "SELECT id FROM systems WHERE name = 'Orchard'")
    path = f"/api/v1/systems/{system_id}"
    etag = (await client.get(path, headers=admin)).headers["ETag"]

    async def change(writer: int) -> httpx.Response:
        return await client.patch(
            path, json={"description": f"written by writer {writer}"}, headers={**admin, "If-Match": etag}
        )

    responses = await asyncio.gather(*(change(writer) for writer in range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 19
    (winner,) = [r for r in responses if r.status_code == 200]
    stored = (await client.get(path, headers=admin)).json()
    assert stored["description"] == winner.json()["description"]
    assert stored["version"] == 2
    audit = await rows(
        container, "SELECT action FROM audit_log WHERE record_id = :id ORDER BY id", id=str(system_id)
    )
    assert [a for (a,) in audit] == ["recorded", "changed"]
    events = await rows(container, "SELECT event_type FROM outbox WHERE key = :id", id=str(system_id))
    assert sorted(e for (e,) in events) == [
        "estate.register.system.changed",
        "estate.register.system.recorded",
    ]
