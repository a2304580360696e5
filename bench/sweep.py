"""The daily renewal sweep over a national estate: 1,000,000 watched contracts in PostgreSQL.

    uv run python bench/sweep.py                      # 1,000,000 contracts, 3 consecutive days
    uv run python bench/sweep.py --contracts 100000   # a quick run

What it does (bench/README.md explains the figures):

1. creates a throwaway PostgreSQL database and migrates it (the notifications schema);
2. writes ``--contracts`` watched contracts as the register's events would have left them: term ends
   spread over the next three years, a mix of tacit and express renewal, notice periods of 30 to 180 days
   (a third unknown), 50,000 owners and budget holders, 200,000 systems with owners; each watch is in
   the state the sweep of the day before left it (the latest step due by then raised, ``next_due_on``
   the next one), computed with the service's own arithmetic;
3. for each of ``--days`` consecutive days, runs one sweep in a fresh child process (the service's own
   ``Sweeper``, its settings, its container), timing ``Sweeper.run`` alone and sampling the child's RSS
   (peak over the whole child, imports included);
4. prints the figures and writes bench/results/sweep.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import asyncpg  # noqa: E402
import harness  # noqa: E402

from estate_notifications.adapters.db.migrate import upgrade_async  # noqa: E402
from estate_notifications.domain.renewal import AlertPolicy, ContractTerms, WatchState, plan_renewal  # noqa: E402
from estate_runtime.calendar import EnglandAndWalesCalendar  # noqa: E402

FIRST_DAY = date(2027, 3, 2)  # a Tuesday
LINK_SECRET = "bench-link-secret-0123456789-abcdefghijklmnopq"
CHILD = """
import asyncio, json, resource, sys, time
from datetime import UTC, datetime
from estate_notifications.bootstrap import bootstrap
from estate_notifications.settings import NotificationsSettings

def peak_rss_mb() -> float:
    # VmHWM: the peak resident set of this process since exec (ru_maxrss would count the parent's fork).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

async def main() -> None:
    day = datetime.fromisoformat(sys.argv[1])
    container = bootstrap(NotificationsSettings())
    sweeper = container.sweeper()
    imported_mb = peak_rss_mb()
    started = time.time()
    report = await sweeper.run(day)
    ended = time.time()
    await container.close()
    print(json.dumps({
        "started": started,
        "ended": ended,
        "seconds": ended - started,
        "rss_after_imports_mb": imported_mb,
        "contracts_looked_at": report.contracts_looked_at,
        "alerts_raised": report.alerts_raised,
        "escalations": report.escalations,
        "deliveries": report.deliveries,
        "events": report.events,
        "peak_rss_mb": peak_rss_mb(),
    }))

asyncio.run(main())
"""


def _rows(count: int, seed: int, decided_share: float) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    calendar = EnglandAndWalesCalendar()
    policy = AlertPolicy()
    yesterday = FIRST_DAY - timedelta(days=1)
    now = datetime.combine(yesterday, datetime.min.time(), UTC)
    systems = [(uuid.UUID(int=rng.getrandbits(128)), i) for i in range(min(200_000, max(1, count // 5)))]
    system_rows = [
        (
            sid,
            1,
            f"System {i}",
            f"system.owner{i % 50_000}@council{i % 300}.gov.uk",
            f"System Owner {i}",
            False,
        )
        for sid, i in systems
    ]
    rows: list[tuple[Any, ...]] = []
    for n in range(count):
        term_end = FIRST_DAY + timedelta(days=rng.randrange(-30, 3 * 365))
        start = term_end - timedelta(days=rng.choice((365, 730, 1095, 1826)))
        tacit = rng.random() < 0.4
        notice = rng.choice((0, 0, 30, 60, 90, 90, 180))
        lead = rng.choice((0, 30, 30, 60))
        terms = ContractTerms(
            start_date=start,
            current_term_end=term_end,
            renewal_type="tacit" if tacit else "express",
            renewal_period_months=12 if tacit else None,
            notice_period_days=notice or None,
            internal_lead_time_days=lead,
        )
        plan = plan_renewal(terms, WatchState(), today=yesterday, policy=policy, calendar=calendar)
        assert plan.position is not None
        decided = None
        if plan.position.act_by < yesterday and rng.random() < decided_share:
            # The owner decided (terminate or re-procure) by act-by: only the end-of-term alert is left.
            decided = plan.position.term_end
            plan = plan_renewal(
                terms,
                WatchState(),
                today=yesterday,
                policy=policy,
                calendar=calendar,
                decided_term_ends=[decided],
            )
            assert plan.position is not None
        owner = n % 50_000
        rows.append(
            (
                uuid.UUID(int=rng.getrandbits(128)),
                1,
                f"CON-{n:07d}",
                f"Contract {n}",
                f"Supplier {n % 5000}",
                "saas_subscription",
                "active",
                start,
                term_end,
                terms.renewal_type,
                terms.renewal_period_months,
                0,
                terms.notice_period_days,
                lead,
                None,
                f"owner{owner}@council{owner % 300}.gov.uk",
                f"Owner {owner}",
                None if n % 10 == 0 else f"budget{owner}@council{owner % 300}.gov.uk",
                None if n % 10 == 0 else f"Budget Holder {owner}",
                json.dumps([str(systems[n % len(systems)][0])]),
                None,
                decided,
                "[]",
                plan.state.term_end,
                plan.position.act_by,
                plan.position.notice_unknown,
                plan.state.last_raised_on,
                plan.next_due_on,
                now,
            )
        )
    return rows, system_rows


CONTRACT_COLUMNS = [
    "contract_id", "version", "reference", "title", "supplier_name", "contract_type", "status", "start_date",
    "current_term_end", "renewal_type", "renewal_period_months", "extension_options_left", "notice_period_days",
    "internal_lead_time_days", "annual_value", "owner_email", "owner_name", "budget_holder_email",
    "budget_holder_name", "system_ids", "ladder", "decided_term_end", "problems", "term_end", "act_by",
    "notice_unknown", "last_raised_on", "next_due_on", "updated_at",
]  # fmt: skip
SYSTEM_COLUMNS = ["system_id", "version", "name", "owner_email", "owner_name", "retired"]


async def load(url: str, count: int, decided_share: float) -> dict[str, float]:
    started = time.perf_counter()
    rows, system_rows = await asyncio.to_thread(_rows, count, 20261121, decided_share)
    computed = time.perf_counter() - started
    conn = await asyncpg.connect(harness.asyncpg_dsn(url))
    try:
        await conn.copy_records_to_table("watched_systems", records=system_rows, columns=SYSTEM_COLUMNS)
        for offset in range(0, len(rows), 100_000):
            await conn.copy_records_to_table(
                "watched_contracts", records=rows[offset : offset + 100_000], columns=CONTRACT_COLUMNS
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return {"compute_s": computed, "load_s": time.perf_counter() - started - computed}


def sweep_children(url: str, day: date, sweepers: int) -> dict[str, Any]:
    """``sweepers`` sweep processes at once on one database (as two replicas would run); the figure is
    from the first start to the last end."""
    with ThreadPoolExecutor(sweepers) as pool:
        results = list(pool.map(lambda _: sweep_child(url, day), range(sweepers)))
    started, ended = min(r["started"] for r in results), max(r["ended"] for r in results)
    total = {
        key: sum(r[key] for r in results)
        for key in ("contracts_looked_at", "alerts_raised", "escalations", "deliveries", "events")
    }
    return {
        "seconds": round(ended - started, 3),
        **total,
        "per_sweeper": results,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "sampled_peak_rss_mb": max(r["sampled_peak_rss_mb"] for r in results),
    }


def sweep_child(url: str, day: date) -> dict[str, Any]:
    env = {
        **os.environ,
        "ESTATE_NOTIFICATIONS_DATABASE_URL": url,
        "ESTATE_NOTIFICATIONS_LINK_SECRET": LINK_SECRET,
        "ESTATE_NOTIFICATIONS_ENVIRONMENT": "test",
    }
    at = datetime.combine(day, datetime.min.time(), UTC).replace(hour=7)
    peak = 0.0
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, at.isoformat()], env=env, stdout=subprocess.PIPE, text=True
    ) as child:
        while child.poll() is None:
            peak = max(peak, harness.rss_bytes(child.pid) / 2**20)
            time.sleep(0.02)
        out = child.stdout.read() if child.stdout else ""
    if child.returncode != 0:
        raise SystemExit(f"the sweep child failed ({child.returncode})")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["sampled_peak_rss_mb"] = round(peak, 1)
    return result


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with harness.throwaway_database() as url:
        await upgrade_async(url)
        loaded = await load(url, args.contracts, args.decided_share)
        print(f"loaded {args.contracts:,} contracts: {loaded}", flush=True)
        days = []
        for offset in range(args.days):
            day = FIRST_DAY + timedelta(days=offset)
            result = await asyncio.to_thread(sweep_children, url, day, args.sweepers)
            result["day"] = day.isoformat()
            days.append(result)
            print(json.dumps(result), flush=True)
        return {
            "contracts": args.contracts,
            "decided_share": args.decided_share,
            "sweepers": args.sweepers,
            "postgresql": await harness.pg_server_version(),
            "load": loaded,
            "days": days,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contracts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument(
        "--decided-share",
        type=float,
        default=0.0,
        help="share of contracts past act-by whose owner recorded a decision (0: nobody decides, the worst case)",
    )
    parser.add_argument("--sweepers", type=int, default=1, help="sweep processes at once on one database")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "sweep.json")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
