"""Contract change to renewal schedule: how long a change in the register takes to move the contract's
act-by date in the notifications service's renewal watch, beside the raw broker hop measured in the same
run.

    uv run python bench/renewal_flow.py                 # 300 changes, one every 100 ms
    uv run python bench/renewal_flow.py --changes 50    # a quick run

What it does (bench/README.md explains the figures):

1. starts the embedded broker and creates every topic;
2. creates two throwaway PostgreSQL databases (register, notifications), migrates both and loads the
   register's demo estate (its eight contracts);
3. starts ``estate_register.entrypoints.cli relay`` and ``estate_notifications.entrypoints.cli worker`` as
   processes, with their default settings, and waits until the renewal watch holds every contract of the
   register, then for one warm-up change to arrive;
4. raw broker hop: one aiokafka producer sends a message every ``--interval`` seconds carrying its send
   time; one consumer in a group (as the worker is) reads it; latency = receive time - send time;
5. the flow: every ``--interval`` seconds, through the register's own use case
   (``services.update_contract``), one contract's ``notice_period_days`` moves by 7 days (and back on
   its next turn; the contracts in turn), so its act-by moves by a week. A probe polls the notifications
   database (one primary-key query every ``--poll-ms``, only while a change is outstanding) for the
   contract's new version. Two latencies per change, both from this machine's clock:

   * **visible**: the start of the first poll that saw the new version - the moment the register's
     transaction committed. That covers the outbox, the relay's wake-up, the broker, the worker's
     consumer, its inbox claim, the projection and its commit; its resolution is one poll;
   * **applied**: ``watched_contracts.updated_at`` (the worker's clock when the projection began to write
     the new snapshot, before its transaction commits) - the same commit time;

6. prints p50/p95/p99 of each and writes bench/results/renewal_flow.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import asyncpg  # noqa: E402
import harness  # noqa: E402
from broker_baseline import HOP_TOPIC, raw_hop  # noqa: E402

from estate_contracts.topics import ALL_TOPICS, dead_letter_topic  # noqa: E402
from estate_eventing.embedded import EmbeddedBroker, ensure_topics  # noqa: E402
from estate_eventing.settings import BrokerSettings  # noqa: E402
from estate_notifications.adapters.db.migrate import upgrade_async as notifications_upgrade  # noqa: E402
from estate_register.adapters.db.migrate import upgrade_async as register_upgrade  # noqa: E402
from estate_register.application import services  # noqa: E402
from estate_register.bootstrap import Container, bootstrap  # noqa: E402
from estate_register.demo_data import load_demo_data  # noqa: E402
from estate_register.settings import RegisterSettings  # noqa: E402

ACTOR = "bench-renewal-flow"
NOTICE_STEP_DAYS = 7  # a week: the act-by keeps its weekday, so it always moves
WATCH_GROUP = "estate-notifications-worker"


@dataclass(frozen=True, slots=True)
class Seen:
    """What the probe read when a change reached the watch (epoch seconds)."""

    at: float
    applied_at: float
    act_by: date | None


class WatchProbe:
    """Waits for contract versions to reach ``watched_contracts``: while any is outstanding, one indexed
    query (primary key) every ``poll_s``; idle otherwise, so that polling loads the machine only while a
    change is in flight."""

    QUERY = (
        "SELECT contract_id, version, act_by, updated_at FROM watched_contracts"
        " WHERE contract_id = ANY($1::uuid[])"
    )

    def __init__(self, connection: asyncpg.Connection, poll_s: float) -> None:
        self.connection = connection
        self.poll_s = poll_s
        self.polls = 0
        self.poll_durations: list[float] = []
        self._pending: dict[tuple[uuid.UUID, int], asyncio.Future[Seen]] = {}
        self._wake = asyncio.Event()

    def expect(self, contract_id: uuid.UUID, version: int) -> asyncio.Future[Seen]:
        future: asyncio.Future[Seen] = asyncio.get_running_loop().create_future()
        self._pending[(contract_id, version)] = future
        self._wake.set()
        return future

    async def run(self) -> None:
        statement = await self.connection.prepare(self.QUERY)
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                issued = time.time()
                rows = await statement.fetch(list({cid for cid, _ in self._pending}))
                self.poll_durations.append(time.time() - issued)
                self.polls += 1
                held = {row["contract_id"]: row for row in rows}
                for (contract_id, version), future in list(self._pending.items()):
                    row = held.get(contract_id)
                    if row is not None and row["version"] >= version:
                        del self._pending[(contract_id, version)]
                        if not future.done():  # not given up on
                            future.set_result(Seen(issued, row["updated_at"].timestamp(), row["act_by"]))
                await asyncio.sleep(self.poll_s)


async def fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    """One query on a connection of its own (the probe's stays the probe's)."""
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(query))
    finally:
        await connection.close()


async def count_rows(dsn: str, table: str) -> int:
    return int((await fetch(dsn, f"SELECT count(*) FROM {table}"))[0][0])


async def wait_for_watch(register_dsn: str, watch_dsn: str, worker: harness.Child, timeout_s: float) -> int:
    """Until the renewal watch holds as many contracts as the register; returns that number."""
    expected = await count_rows(register_dsn, "contracts")
    deadline = time.monotonic() + timeout_s
    while (held := await count_rows(watch_dsn, "watched_contracts")) < expected:
        if not worker.alive():
            raise RuntimeError(f"{worker.name} exited:\n{worker.tail()}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the watch holds {held} of {expected} contracts:\n{worker.tail()}")
        await asyncio.sleep(0.2)
    return expected


async def change_notice(container: Container, contract_id: uuid.UUID, notice_days: int) -> tuple[int, float]:
    """Set one contract's notice period through the register's use case; its new version and the moment
    the transaction committed (epoch seconds)."""
    async with container.uow() as uow:
        contract = await services.update_contract(
            uow,
            contract_id=contract_id,
            changes={"notice_period_days": notice_days},
            expected_version=None,
            actor=ACTOR,
        )
        committed = time.time()
    return contract.version, committed


async def start_services(
    stack: contextlib.AsyncExitStack, logs: Path
) -> tuple[BrokerSettings, str, str, harness.Child]:
    """The broker, both databases (migrated, the register's demo estate loaded), the register's relay and
    the notifications worker: broker settings, register and notifications URLs, the worker. ``stack``
    undoes it all in reverse, so the processes stop before their databases are dropped."""
    broker = EmbeddedBroker(log_path=logs / "tansu.log")
    broker.start()
    stack.callback(broker.stop)
    settings = BrokerSettings(bootstrap_servers=broker.bootstrap_servers, profile="embedded")
    await ensure_topics(settings.bootstrap_servers, [*ALL_TOPICS, HOP_TOPIC, dead_letter_topic(WATCH_GROUP)])
    register_url = await stack.enter_async_context(harness.throwaway_database())
    notifications_url = await stack.enter_async_context(harness.throwaway_database())
    await register_upgrade(register_url)
    await notifications_upgrade(notifications_url)
    container = bootstrap(RegisterSettings(database_url=register_url))
    try:
        await load_demo_data(container)
    finally:
        await container.close()
    env = {
        "ESTATE_KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "ESTATE_KAFKA_PROFILE": "embedded",
        "ESTATE_REGISTER_DATABASE_URL": register_url,
        "ESTATE_NOTIFICATIONS_DATABASE_URL": notifications_url,
        "ESTATE_NOTIFICATIONS_LINK_SECRET": secrets.token_urlsafe(48),
        "ESTATE_AUTH_DEV_KEY_PATH": str(logs / "key.pem"),
    }
    for name, module, command in (
        ("register-relay", "estate_register.entrypoints.cli", "relay"),
        ("notifications-worker", "estate_notifications.entrypoints.cli", "worker"),
    ):
        child = harness.start_child(name, [sys.executable, "-m", module, command], env, logs)
        stack.callback(child.stop)
    return settings, register_url, notifications_url, child


@dataclass
class FlowFigures:
    visible: list[float]
    applied: list[float]
    missing: int
    act_by_unchanged: int
    elapsed_s: float


async def measure_flow(
    args: argparse.Namespace, register_url: str, watch_dsn: str, probe: WatchProbe
) -> FlowFigures:
    """One warm-up change there and back, then ``args.changes`` changes round-robin over the contracts."""
    contracts = [
        (row["id"], row["notice_period_days"])
        for row in await fetch(
            harness.asyncpg_dsn(register_url),
            "SELECT id, notice_period_days FROM contracts ORDER BY reference",
        )
    ]
    container = bootstrap(RegisterSettings(database_url=register_url))
    try:
        print("warming up (one change through the whole path, and back)", flush=True)
        warm_id, warm_notice = contracts[0]
        for notice in (warm_notice + 1, warm_notice):
            version, _ = await change_notice(container, warm_id, notice)
            await asyncio.wait_for(probe.expect(warm_id, version), timeout=60)
        act_by = {
            row["contract_id"]: row["act_by"]
            for row in await fetch(watch_dsn, "SELECT contract_id, act_by FROM watched_contracts")
        }
        print(f"flow: {args.changes} contract changes, one every {args.interval}s", flush=True)
        changes: list[tuple[uuid.UUID, float, asyncio.Future[Seen]]] = []
        started = time.perf_counter()
        for n in range(args.changes):
            contract_id, notice = contracts[n % len(contracts)]
            if (n // len(contracts)) % 2 == 0:  # moved on odd turns of a contract, back on even ones
                notice += NOTICE_STEP_DAYS
            version, committed = await change_notice(container, contract_id, notice)
            changes.append((contract_id, committed, probe.expect(contract_id, version)))
            await asyncio.sleep(args.interval)
        elapsed = time.perf_counter() - started
        await asyncio.wait([future for _, _, future in changes], timeout=60)
    finally:
        await container.close()
    figures = FlowFigures(visible=[], applied=[], missing=0, act_by_unchanged=0, elapsed_s=elapsed)
    for contract_id, committed, future in changes:
        if not future.done() or future.cancelled():
            figures.missing += 1
            continue
        seen = future.result()
        figures.visible.append(seen.at - committed)
        figures.applied.append(seen.applied_at - committed)
        if seen.act_by is None or seen.act_by == act_by.get(contract_id):
            figures.act_by_unchanged += 1
        act_by[contract_id] = seen.act_by
    return figures


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="estate-bench-renewal-flow-"))
    load_start = round(os.getloadavg()[0], 2)  # the machine is shared: how busy it was
    async with contextlib.AsyncExitStack() as stack:
        settings, register_url, notifications_url, worker = await start_services(stack, logs)
        watch_dsn = harness.asyncpg_dsn(notifications_url)
        print("waiting for the renewal watch to hold every contract", flush=True)
        watched = await wait_for_watch(harness.asyncpg_dsn(register_url), watch_dsn, worker, timeout_s=120)

        print(f"raw broker hop: {args.changes} messages, one every {args.interval}s", flush=True)
        hop = await raw_hop(settings, args.changes, args.interval)

        probe_connection = await asyncpg.connect(watch_dsn)
        stack.push_async_callback(probe_connection.close)
        probe = WatchProbe(probe_connection, args.poll_ms / 1000)
        probe_task = asyncio.create_task(probe.run())
        try:
            flow = await measure_flow(args, register_url, watch_dsn, probe)
        finally:
            probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe_task
    query_ms = [d * 1000 for d in probe.poll_durations]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "changes": args.changes,
        "interval_s": args.interval,
        "contracts": watched,
        "load_average_1m": {"start": load_start, "end": round(os.getloadavg()[0], 2)},
        "probe": {
            "poll_every_ms": args.poll_ms,
            "polls": probe.polls,
            "query_p50_ms": round(harness.percentile(query_ms, 50), 2),
            "query_mean_ms": round(statistics.fmean(query_ms), 2) if query_ms else float("nan"),
        },
        "raw_broker_hop": harness.latency_summary(hop, args.changes * args.interval),
        "change_to_schedule_visible": harness.latency_summary(flow.visible, flow.elapsed_s, flow.missing),
        "change_to_schedule_applied": harness.latency_summary(flow.applied, flow.elapsed_s, flow.missing),
        "act_by_unchanged": flow.act_by_unchanged,
        "ratio_p50_visible_to_hop": round(
            harness.percentile(flow.visible, 50) / max(harness.percentile(hop, 50), 1e-6), 1
        ),
        "logs": str(logs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between changes (and hops)")
    parser.add_argument(
        "--poll-ms", type=float, default=2.0, help="the probe's poll of the watch while a change is out"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "renewal_flow.json")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    rows = [
        ("raw broker hop", results["raw_broker_hop"]),
        ("change → visible", results["change_to_schedule_visible"]),
        ("change → applied", results["change_to_schedule_applied"]),
    ]
    for label, figures in rows:
        print(
            f"{label:<18} p50 {figures['p50_ms']:8.1f} ms  p95 {figures['p95_ms']:8.1f}"
            f"  p99 {figures['p99_ms']:8.1f}  (missing {figures['errors']})"
        )
    print(f"act-by unchanged: {results['act_by_unchanged']} of {results['changes']}")
    print(f"ratio p50 visible / hop: {results['ratio_p50_visible_to_hop']}")
    load = results["load_average_1m"]
    print(f"load average (1 min): {load['start']} at the start, {load['end']} at the end (2 cores)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
