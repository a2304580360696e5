"""Decision to planned system: how long an approval takes to appear in the register, beside the raw
broker hop measured in the same run.

    uv run python bench/flow.py                  # 300 decisions, one every 100 ms
    uv run python bench/flow.py --decisions 50   # a quick run

What it does (bench/README.md explains the figures):

1. starts the embedded broker and creates every topic;
2. creates two throwaway PostgreSQL databases (register, procurement), migrates both and loads the
   register's demo estate (its councils and service areas);
3. starts ``estate-register worker`` and ``estate-procurement relay`` as processes, with the relay's
   default settings, as deployed (on PostgreSQL it wakes on each outbox commit; the poll is the fallback);
4. raw broker hop: one aiokafka producer sends a message every ``--interval`` seconds carrying its send
   time; one consumer in a group (as the worker is) reads it; latency = receive time - send time;
5. the flow: in-process, through the procurement service's own use cases, a request is drafted,
   submitted, taken into review and approved by the chair every ``--interval`` seconds; latency = the
   register's ``created_at`` of the planned system - the moment the decision's transaction committed
   (both from this machine's clock). That covers the outbox, the relay's wake-up, the broker, the
   worker's consumer, its inbox claim and the register's writes;
6. prints p50/p95/p99 of both and writes bench/results/flow.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import harness  # noqa: E402
from broker_baseline import HOP_TOPIC, raw_hop  # noqa: E402
from sqlalchemy import text  # noqa: E402

from estate_contracts.topics import ALL_TOPICS, dead_letter_topic  # noqa: E402
from estate_eventing.embedded import EmbeddedBroker, ensure_topics  # noqa: E402
from estate_eventing.settings import BrokerSettings  # noqa: E402
from estate_procurement.adapters.db.migrate import upgrade_async as procurement_upgrade  # noqa: E402
from estate_procurement.application import services  # noqa: E402
from estate_procurement.bootstrap import Container, bootstrap  # noqa: E402
from estate_procurement.domain.values import Actor  # noqa: E402
from estate_procurement.settings import ProcurementSettings  # noqa: E402
from estate_register.adapters.db.migrate import upgrade_async as register_upgrade  # noqa: E402
from estate_register.bootstrap import bootstrap as register_bootstrap  # noqa: E402
from estate_register.demo_data import load_demo_data  # noqa: E402
from estate_register.settings import RegisterSettings  # noqa: E402

REQUESTER = Actor(
    id="bench-req", name="Bench Requester", email="req@bench.local", roles=frozenset({"requester"})
)
CHAIR = Actor(
    id="bench-chair",
    name="Bench Chair",
    email="chair@bench.local",
    roles=frozenset({"tda_member", "tda_chair"}),
)


def request_fields(n: int) -> dict[str, Any]:
    return {
        "title": f"Bench request {n}",
        "service_area": "Digital Service",
        "problem_statement": "A benchmark request.",
        "user_need": "Measure the flow.",
        "business_requirements": "None.",
        "user_stories": [{"text": "As a benchmark I need a story", "priority": "must"}],
        "technical_specification": "SaaS with a REST API.",
        "strategic_alignment": "Benchmarks.",
        "options_considered": [
            {"kind": "buy", "description": f"Product {n}", "reason": "chosen", "chosen": True},
            {"kind": "reuse", "description": "Existing", "reason": "none fits"},
        ],
        "proposed_product": f"Bench Product {n}",
        "proposed_supplier": "Bench Supplier Ltd",
        "capabilities": ["benchmarking"],
        "initial_cost": "1000.00",
        "annual_cost": "2000.00",
        "expected_annual_savings": "0.00",
        "holds_personal_data": False,
        "dpia_needed": False,
        "hosting": "saas",
        "integration_approach": "restful_api",
        "accessibility_assessment": "AA",
        "wcag_level": "AA",
        "risks": [{"risk": "none", "mitigation": "none", "rag": "green"}],
        "stakeholders_engaged": ["Bench"],
        "success_criteria": "Measured.",
        "councils_in_scope": ["CCC"],
        "category": "it",
        "data_extraction_clauses": True,
        "api_clauses": True,
        "clause_charging": "free",
        "system_owner": {"id": "bench-owner", "name": "Bench Owner", "email": "owner@bench.local"},
        "budget_holder": {"id": "bench-budget", "name": "Bench Budget", "email": "budget@bench.local"},
    }


async def approve(container: Container, n: int) -> tuple[uuid.UUID, float]:
    """Draft, submit, review (the red lines rated met) and approve one request; the decision's commit time
    (epoch seconds)."""

    async def step(action: Any, **kwargs: Any) -> Any:
        async with container.uow() as uow:
            return await action(uow, **kwargs)

    draft = await step(services.create_draft, actor=REQUESTER, fields=request_fields(n))
    await step(services.submit, request_id=draft.id, actor=REQUESTER)
    await step(services.start_review, request_id=draft.id, actor=CHAIR)
    for item in container.checklists.current.red_lines():  # an approval needs every red line rated
        await step(services.rate_item, request_id=draft.id, actor=CHAIR, item_id=item.id, rating="met")
    await step(
        services.decide,
        request_id=draft.id,
        actor=CHAIR,
        outcome="approved",
        rationale="Benchmark approval.",
    )
    return draft.id, time.time()


async def planned_at(register_url: str, request_ids: list[uuid.UUID]) -> dict[str, float]:
    """When the register created the planned system of each request (epoch seconds)."""
    container = register_bootstrap(RegisterSettings(database_url=register_url))
    try:
        async with container.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT source_request_id, created_at FROM systems WHERE source_request_id IS NOT NULL")
            )
            return {str(r[0]): r[1].timestamp() for r in rows}
    finally:
        await container.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    logs = Path(tempfile.mkdtemp(prefix="estate-bench-flow-"))
    broker = EmbeddedBroker(log_path=logs / "tansu.log")
    broker.start()
    children: list[harness.Child] = []
    try:
        settings = BrokerSettings(bootstrap_servers=broker.bootstrap_servers, profile="embedded")
        groups = ["estate-register-worker", "estate-procurement-worker"]
        await ensure_topics(
            settings.bootstrap_servers, [*ALL_TOPICS, HOP_TOPIC, *map(dead_letter_topic, groups)]
        )
        async with (
            harness.throwaway_database() as register_url,
            harness.throwaway_database() as procurement_url,
        ):
            await register_upgrade(register_url)
            await procurement_upgrade(procurement_url)
            register = register_bootstrap(RegisterSettings(database_url=register_url))
            try:
                await load_demo_data(register)
            finally:
                await register.close()
            env = {
                "ESTATE_KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
                "ESTATE_KAFKA_PROFILE": "embedded",
                "ESTATE_REGISTER_DATABASE_URL": register_url,
                "ESTATE_PROCUREMENT_DATABASE_URL": procurement_url,
                "ESTATE_AUTH_DEV_KEY_PATH": str(logs / "key.pem"),
            }
            if args.relay_poll_ms is not None:
                env["ESTATE_RELAY_POLL_INTERVAL_MS"] = str(args.relay_poll_ms)
            bin_dir = harness.VENV_BIN
            children.append(
                harness.start_child(
                    "register-worker", [str(bin_dir / "estate-register"), "worker"], env, logs
                )
            )
            children.append(
                harness.start_child(
                    "procurement-relay", [str(bin_dir / "estate-procurement"), "relay"], env, logs
                )
            )
            print(f"raw broker hop: {args.decisions} messages, one every {args.interval}s", flush=True)
            hop = await raw_hop(settings, args.decisions, args.interval)

            container = bootstrap(ProcurementSettings(database_url=procurement_url))
            committed: dict[str, float] = {}
            try:
                print("warming up (the worker joins its group)", flush=True)
                warm_id, _ = await approve(container, -1)
                deadline = time.monotonic() + 120
                while str(warm_id) not in await planned_at(register_url, [warm_id]):
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            "the warm-up decision never reached the register:\n" + children[0].tail()
                        )
                    await asyncio.sleep(0.2)
                print(f"flow: {args.decisions} approvals, one every {args.interval}s", flush=True)
                started = time.perf_counter()
                for n in range(args.decisions):
                    request_id, at = await approve(container, n)
                    committed[str(request_id)] = at
                    await asyncio.sleep(args.interval)
                elapsed = time.perf_counter() - started
            finally:
                await container.close()
            deadline = time.monotonic() + 120
            while True:
                planned = await planned_at(register_url, [])
                if all(k in planned for k in committed) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            flow = [planned[k] - committed[k] for k in committed if k in planned]
            missing = len(committed) - len(flow)
    finally:
        for child in children:
            child.stop()
        broker.stop()
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "decisions": args.decisions,
        "interval_s": args.interval,
        "relay_poll_interval_ms": args.relay_poll_ms or "default (ESTATE_RELAY_POLL_INTERVAL_MS)",
        "raw_broker_hop": harness.latency_summary(hop, args.decisions * args.interval),
        "decision_to_planned_system": harness.latency_summary(flow, elapsed, errors=missing),
        "ratio_p50_flow_to_hop": round(
            harness.percentile(flow, 50) / max(harness.percentile(hop, 50), 1e-6), 1
        ),
        "logs": str(logs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between decisions (and hops)")
    parser.add_argument(
        "--relay-poll-ms",
        type=int,
        default=None,
        help="what-if: the relay's poll interval (default: as deployed)",
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "flow.json")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    hop, flow = results["raw_broker_hop"], results["decision_to_planned_system"]
    print(
        f"raw broker hop      p50 {hop['p50_ms']:8.1f} ms  p95 {hop['p95_ms']:8.1f}  p99 {hop['p99_ms']:8.1f}"
    )
    print(
        f"decision → planned  p50 {flow['p50_ms']:8.1f} ms  p95 {flow['p95_ms']:8.1f}  p99 {flow['p99_ms']:8.1f}"
        f"  (missing {flow['errors']})"
    )
    print(f"ratio p50 flow / hop: {results['ratio_p50_flow_to_hop']}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
