"""Duplicate and re-use detection at scale: ``SimilarityIndex.search`` latency over a register of many
systems (target: p95 <= 100 ms at 50,000 systems on 2 shared cores).

    .venv/bin/python bench/reuse.py                       # 50,000 systems, 500 queries
    .venv/bin/python bench/reuse.py --systems 200000      # the national scale
    .venv/bin/python bench/reuse.py --sql postgresql      # also through the read model + ReuseFinder

Systems are generated from the council vocabulary (service areas, suppliers and products of the demo
estate and REQUIREMENTS.md §7), with numbered variants ("Alloy 12", "Idox 4") as the register's own
benchmark makes them; queries mix capability + service area, misspelt products, suppliers and free text.
Prints the figures and writes them to bench/results/reuse.json (``--out`` elsewhere).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import platform
import random
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import harness

from estate_procurement.domain.similarity import CatalogueSystem, PastDecision, ReuseQuery, SimilarityIndex
from estate_register.demo_data import SERVICE_AREAS as REGISTER_SERVICE_AREAS

# The Cambridge demo estate's service areas: the same vocabulary as the register benchmark.
SERVICE_AREAS = list(REGISTER_SERVICE_AREAS)

# (supplier, product, capabilities, service areas it usually serves)
PRODUCTS: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("Yotta", "Alloy", ("asset management", "inspections", "works orders"), ("Streets and Open Spaces",)),
    (
        "MRI Software",
        "Orchard",
        ("housing management", "rent accounting", "tenancy management"),
        ("Housing Services (City Homes)",),
    ),
    (
        "MRI Software",
        "AccuServe",
        ("repairs scheduling", "workforce management"),
        ("Housing Maintenance and Assets",),
    ),
    ("Content Guru", "Storm", ("contact centre", "telephony", "case management"), ("Customer Services",)),
    ("Idox", "Tascomi", ("licensing", "case management", "inspections"), ("Environmental Health",)),
    (
        "Idox",
        "Uniform",
        ("planning applications", "building control", "land charges"),
        ("Greater Cambridge Shared Planning", "Building Control"),
    ),
    ("IEG4", "OneVu e-forms", ("online forms", "benefit claims"), ("Local Taxation", "Customer Services")),
    ("Civica", "Paris", ("payments", "income management"), ("Finance",)),
    (
        "NEC",
        "Northgate Revenues and Benefits",
        ("council tax", "business rates", "housing benefit"),
        ("Local Taxation",),
    ),
    ("Microsoft", "Power BI", ("dashboards", "reporting"), ("Digital Service", "Finance")),
    ("Microsoft", "SharePoint", ("document management", "intranet"), ("Digital Service",)),
    ("Microsoft", "Teams", ("collaboration", "video meetings"), ("Digital Service",)),
    ("Miro", "Miro online whiteboard", ("whiteboarding", "collaboration"), ("Digital Service",)),
    (
        "Silktide",
        "Silktide accessibility monitoring",
        ("accessibility monitoring", "website quality"),
        ("Digital Service",),
    ),
    ("Proactis", "Proactis contract register", ("contract management", "purchasing"), ("Finance",)),
    (
        "Whitespace",
        "Whitespace Waste",
        ("waste rounds", "in-cab devices", "bin ordering"),
        ("Greater Cambridge Shared Waste",),
    ),
    ("Xpress", "Xpress Electoral Management", ("electoral register", "postal votes"), ("Elections",)),
    (
        "iTrent",
        "iTrent HR and payroll",
        ("payroll", "recruitment", "absence management"),
        ("Human Resources",),
    ),
    ("Agilisys", "Agilisys Parking", ("parking permits", "penalty charge notices"), ("Commercial Services",)),
    ("Spektrix", "Spektrix ticketing", ("ticketing", "box office", "fundraising"), ("Cultural Services",)),
    (
        "CitizenLab",
        "CitizenLab engagement platform",
        ("consultation", "community engagement"),
        ("Customer Services",),
    ),
    (
        "Future Fox",
        "Future Fox local plan",
        ("consultation", "local plan comments"),
        ("Greater Cambridge Shared Planning",),
    ),
    ("Mulesoft", "Anypoint", ("integration", "middleware", "API management"), ("Digital Service",)),
    ("Zapier", "Zapier automations", ("integration", "workflow automation"), ("Digital Service",)),
    ("Navigatr", "Navigatr badges", ("digital badges", "learning records"), ("Human Resources",)),
    ("Granicus", "GovDelivery", ("email bulletins", "subscriber management"), ("Customer Services",)),
    ("Egress", "Egress secure email", ("secure email", "file transfer"), ("Information Governance",)),
    ("Netcall", "Liberty Create", ("low-code forms", "case management", "CRM"), ("Customer Services",)),
    ("Capita", "One CCTV", ("CCTV", "incident logging"), ("Community Safety",)),
    ("Bereavement Services Ltd", "BACAS", ("burial records", "cremation bookings"), ("Commercial Services",)),
]
PHRASES = [
    "for {area}",
    "used by the {area} team",
    "shared with South Cambridgeshire",
    "covering {cap} and {cap2}",
    "hosted as SaaS",
    "on premises in the data centre",
    "with a mobile app for officers in the field",
    "integrated with Orchard through nightly CSV files",
    "with an open API",
    "residents use it online",
    "replaces paper forms",
    "case records kept seven years",
    "reports to Power BI",
]
STAGES = (
    ["live"] * 72
    + ["planned"] * 5
    + ["in_procurement"] * 3
    + ["implementing"] * 4
    + (["under_review"] * 6 + ["decommissioning"] * 4 + ["retired"] * 6)
)


def make_systems(count: int, seed: int = 7) -> list[CatalogueSystem]:
    rng = random.Random(seed)
    suppliers = [f"{s} {n}" if n else s for n in range(34) for s, *_ in PRODUCTS][:1000]
    systems = []
    for i in range(count):
        supplier_base, product, caps, areas = PRODUCTS[
            i % len(PRODUCTS) if rng.random() < 0.6 else rng.randrange(len(PRODUCTS))
        ]
        variant = rng.randrange(1, 400)
        supplier = supplier_base if rng.random() < 0.5 else suppliers[rng.randrange(len(suppliers))]
        area_list = list(areas) + rng.sample(SERVICE_AREAS, rng.choice((0, 0, 1, 2)))
        cap_list = list(caps[: rng.randint(1, len(caps))])
        if rng.random() < 0.3:
            cap_list.append(rng.choice(PRODUCTS)[2][0])
        phrases = rng.sample(PHRASES, 3)
        description = f"{product}: {', '.join(cap_list)}. " + ". ".join(
            p.format(area=rng.choice(area_list), cap=rng.choice(cap_list), cap2=rng.choice(caps))
            for p in phrases
        )
        systems.append(
            CatalogueSystem(
                id=uuid.UUID(int=rng.getrandbits(128)),
                reference=f"SYS-{i + 1:06d}",
                name=f"{product} {variant}" if rng.random() < 0.8 else product,
                description=description,
                capabilities=tuple(dict.fromkeys(cap_list)),
                supplier=supplier,
                product_family=product,
                service_areas=tuple(dict.fromkeys(area_list)),
                lifecycle_stage=rng.choice(STAGES),
                councils=(f"CC{rng.randrange(100)}",),
            )
        )
    return systems


def make_decisions(count: int, seed: int = 11) -> list[PastDecision]:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    decisions = []
    for i in range(count):
        supplier, product, caps, areas = rng.choice(PRODUCTS)
        outcome = rng.choice(["approved", "approved_with_conditions", "not_approved"])
        decisions.append(
            PastDecision(
                request_id=uuid.UUID(int=rng.getrandbits(128)),
                reference=f"TR-{2024 + i % 3}-{i + 1:04d}",
                title=f"{rng.choice(caps).capitalize()} for {rng.choice(areas)}",
                summary=f"A request for {', '.join(caps)}.",
                capabilities=caps[:2],
                product=product if rng.random() < 0.5 else None,
                supplier=supplier if rng.random() < 0.5 else None,
                service_area=areas[0],
                outcome=outcome,
                rationale=f"re-use {product}" if outcome == "not_approved" else "meets the TDA rules",
                decided_at=start + timedelta(days=rng.randrange(800)),
            )
        )
    return decisions


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]


def make_queries(count: int, seed: int = 3) -> list[ReuseQuery]:
    rng = random.Random(seed)
    queries = []
    for i in range(count):
        supplier, product, caps, areas = rng.choice(PRODUCTS)
        area = rng.choice(areas)
        kind = i % 5
        if kind == 0:  # what a full draft says
            queries.append(
                ReuseQuery(
                    title=f"New {caps[0]} system for {area}",
                    text=f"We need {', '.join(caps)} {rng.choice(PHRASES).format(area=area, cap=caps[0], cap2=caps[-1])}.",
                    capabilities=caps[:2],
                    service_area=area,
                )
            )
        elif kind == 1:  # a misspelt product
            queries.append(ReuseQuery(title=f"{_typo(product, rng)} licences", product=_typo(product, rng)))
        elif kind == 2:  # supplier and a title
            queries.append(ReuseQuery(title=f"{caps[-1].capitalize()} upgrade", supplier=supplier))
        elif kind == 3:  # free text only
            queries.append(
                ReuseQuery(
                    title=f"{rng.choice(caps).capitalize()} app",
                    text=f"An app for {area} to handle {rng.choice(caps)} and {rng.choice(PRODUCTS)[2][0]}.",
                )
            )
        else:  # everything at once
            queries.append(
                ReuseQuery(
                    title=f"{product} replacement",
                    text=f"Replace {product} for {area}.",
                    capabilities=caps,
                    product=product,
                    supplier=supplier,
                    service_area=area,
                )
            )
    return queries


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)

    return {
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def bench_index(
    systems: list[CatalogueSystem], decisions: list[PastDecision], queries: list[ReuseQuery]
) -> dict[str, Any]:
    gc.collect()
    rss_before = _rss_mb()
    started = time.perf_counter()
    index = SimilarityIndex()
    for system in systems:
        index.upsert_system(system)
    for decision in decisions:
        index.upsert_decision(decision)
    build_s = time.perf_counter() - started
    gc.collect()
    rss_after = _rss_mb()
    for query in queries[:20]:  # warm the caches as a running process would have them
        index.search(query)
    latencies: list[float] = []
    found: list[int] = []
    for query in queries:
        t0 = time.perf_counter()
        result = index.search(query)
        latencies.append((time.perf_counter() - t0) * 1000)
        found.append(len(result))
    sample = index.search(queries[0])
    return {
        "systems_generated": len(systems),
        "systems_indexed": len(index),
        "decisions_indexed": index.decision_count,
        "queries": len(queries),
        "build_s": round(build_s, 2),
        "index_rss_mb": round(rss_after - rss_before, 1),
        "search": _percentiles(latencies),
        "mean_candidates": round(statistics.fmean(found), 2),
        "sample": {
            "query": queries[0].title,
            "candidates": [
                {"name": c.name, "score": c.score, "reasons": list(c.reasons)} for c in sample[:3]
            ],
        },
    }


@contextlib.asynccontextmanager
async def read_model_database(kind: str) -> AsyncIterator[str]:
    """A migrated procurement database: a temporary SQLite file, or a throwaway PostgreSQL database."""
    from estate_procurement.adapters.db.migrate import upgrade_async

    if kind == "postgresql":
        async with harness.throwaway_database() as url:
            await upgrade_async(url)
            yield url
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/reuse.db"
        await upgrade_async(url)
        yield url


async def bench_sql(
    systems: list[CatalogueSystem], decisions: list[PastDecision], queries: list[ReuseQuery], kind: str
) -> dict[str, Any]:
    from estate_procurement.adapters.db.reuse_store import SqlReuseStore
    from estate_procurement.application.reuse import ReuseFinder
    from estate_runtime.db import make_engine, make_sessionmaker

    async with read_model_database(kind) as url:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        started = time.perf_counter()
        for chunk in range(0, len(systems), 2000):
            async with sessions.begin() as session:
                store = SqlReuseStore(session)
                for system in systems[chunk : chunk + 2000]:
                    await store.upsert_system(system, version=1)
        async with sessions.begin() as session:
            for decision in decisions:
                await SqlReuseStore(session).record_decision(decision)
        write_s = time.perf_counter() - started

        finder = ReuseFinder()
        async with sessions() as session:
            t0 = time.perf_counter()
            await finder.refresh(SqlReuseStore(session))
            load_s = time.perf_counter() - t0
        idle: list[float] = []
        with_changes: list[float] = []
        for i, query in enumerate(queries[:200]):
            if i % 2:  # the worker changed ten systems since the last search
                async with sessions.begin() as session:
                    store = SqlReuseStore(session)
                    for system in systems[i * 10 : i * 10 + 10]:
                        await store.upsert_system(system, version=2 + i)
            async with sessions() as session:
                t0 = time.perf_counter()
                await finder.search(SqlReuseStore(session), query)
                (with_changes if i % 2 else idle).append((time.perf_counter() - t0) * 1000)
        await engine.dispose()
    return {
        "database": kind,
        "write_systems_s": round(write_s, 2),
        "writes_per_s": round(len(systems) / write_s),
        "finder_full_load_s": round(load_s, 2),
        "search_with_refresh_nothing_changed": _percentiles(idle),
        "search_with_refresh_10_changed": _percentiles(with_changes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", type=int, default=50_000)
    parser.add_argument("--decisions", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument(
        "--sql",
        nargs="?",
        const="sqlite",
        choices=["sqlite", "postgresql"],
        help="also through the migrated read model (SqlReuseStore) and ReuseFinder: sqlite (a temporary "
        "file) or postgresql (a throwaway database on 127.0.0.1:5432)",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "reuse.json")
    args = parser.parse_args()

    systems = make_systems(args.systems)
    decisions = make_decisions(args.decisions)
    queries = make_queries(args.queries)
    result: dict[str, Any] = {
        "benchmark": "reuse",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": {"cpus": len(__import__("os").sched_getaffinity(0)), "platform": platform.platform()},
        "index": bench_index(systems, decisions, queries),
    }
    if args.sql:
        result["sql"] = asyncio.run(bench_sql(systems, decisions, queries, args.sql))
    print(json.dumps(result, indent=2))
    previous: dict[str, Any] = {}
    if args.out.exists():
        try:
            previous = json.loads(args.out.read_text())
        except ValueError:
            previous = {}
    runs = previous.get("runs", {}) if isinstance(previous.get("runs"), dict) else {}
    runs[str(args.systems)] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
