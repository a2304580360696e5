"""EXPLAIN ANALYZE of the list queries behind each request type of the HTTP mix.

The statements are the service's own: each request's query string is turned into the same
``SystemFilter``/``ContractFilter`` the route builds, ``queries.list_systems``/``list_contracts`` runs
in-process against the benchmark database, and every SQL statement it sends (the total count and the
page) is captured with its parameters and explained with ``EXPLAIN (ANALYZE, BUFFERS)``.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import date
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from estate_register.adapters.db import queries

SYSTEM_LIST_FIELDS = {"lifecycle_stage", "hosting"}
UUID_FIELDS = {"service_area_id", "supplier_id", "owner_id", "system_id"}
DATE_FIELDS = {"contract_ending_before", "act_by_before", "ending_before"}


def _filter_kwargs(
    params: list[tuple[str, str]], list_fields: set[str]
) -> tuple[dict[str, Any], str | None, str | None]:
    kwargs: dict[str, Any] = {}
    sort = cursor = None
    for name, value in params:
        if name == "sort":
            sort = value
        elif name == "cursor":
            cursor = value
        elif name in list_fields:
            kwargs.setdefault(name, []).append(value)
        elif name in UUID_FIELDS:
            kwargs[name] = uuid.UUID(value)
        elif name in DATE_FIELDS:
            kwargs[name] = date.fromisoformat(value)
        elif name == "holds_personal_data":
            kwargs[name] = value == "true"
        else:
            kwargs[name] = value
    return kwargs, sort, cursor


async def run_query(session: AsyncSession, path: str, params: list[tuple[str, str]]) -> Any:
    if path.endswith("/systems"):
        kwargs, sort, cursor = _filter_kwargs(params, SYSTEM_LIST_FIELDS)
        return await queries.list_systems(
            session, queries.SystemFilter(**kwargs), sort=sort or "name", cursor=cursor, limit=50
        )
    kwargs, sort, cursor = _filter_kwargs(params, {"status"})
    return await queries.list_contracts(
        session, queries.ContractFilter(**kwargs), sort=sort or "current_term_end", cursor=cursor, limit=50
    )


_EXEC = re.compile(r"Execution Time: ([\d.]+) ms")


async def explain(engine: AsyncEngine, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    """Run the request's queries once (warm), capture their SQL, and EXPLAIN ANALYZE each of them."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        captured.append((statement, parameters))

    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        await run_query(session, path, params)  # warm the caches and the prepared statements
    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with sessions() as session:
            started = time.perf_counter()
            await run_query(session, path, params)
            in_process_ms = (time.perf_counter() - started) * 1000
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        for statement, parameters in captured:
            rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(parameters or ()))
            plan = "\n".join(r[0] for r in rows)
            match = _EXEC.search(plan)
            plans.append(
                {
                    "sql": statement,
                    "execution_ms": float(match.group(1)) if match else None,
                    "seq_scans": sorted(set(re.findall(r"Seq Scan on (\w+)", plan))),
                    "plan": plan,
                }
            )
    return {
        "in_process_ms": round(in_process_ms, 2),
        "db_ms": round(sum(p["execution_ms"] or 0 for p in plans), 2),
        "statements": plans,
    }
