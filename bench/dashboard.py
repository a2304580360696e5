"""The TDA dashboard at national scale: ``GET /dashboard`` on the portal over a register of 50,000 systems
and 100,000 contracts, beside the register's summary API it is drawn from and a trivial page.

    python bench/dashboard.py                                   # full size (about 5 minutes to load)
    python bench/dashboard.py --systems 2000 --contracts 4000   # a quick small run

What it does, in order (bench/README.md, "The dashboard", explains each figure):

1. creates a throwaway PostgreSQL database ``estate_bench_<random>``, migrates it, records the survey's
   reference data through the application services and imports the survey (``survey_data``,
   ``survey_import``: the register's own import, in-process);
2. fills the estate view's projections through the register's own projection code
   (``application.estate.project_request`` / ``project_alerts`` over ``SqlEstateProjections``, as the
   worker folds events): technology requests in every state, and renewal alerts, escalations,
   acknowledgements and renewal facts for the contracts whose act-by is near; then VACUUM ANALYZE;
3. in-process: the summary computed from scratch (``estate_queries.summary``), the cache's hit path
   (``change_marker``), the portal's ``build_dashboard`` + template render of the real summary, and
   EXPLAIN (ANALYZE, BUFFERS) of every statement the summary sends;
4. starts ``estate-register http`` on that database (default settings: its summary is cached in process
   while nothing it reads changes) and ``estate-portal http`` in front of it;
5. signs in through the portal's dev sign-in as the TDA chair (httpx clients keeping the cookie), warms up,
   then measures, sequentially and interleaved (one of each kind in turn, so every kind sees the machine
   in the same state): ``GET /dashboard``, ``GET /api/v1/estate/summary`` straight from the register
   with a bearer token, and ``GET /health/live`` on the portal and on the register; once with nothing
   changing (the summary cached) and once with a change before every dashboard and summary request (a
   renewal alert folded into the estate view, which moves the cache's change marker: the first render
   after any change); each with 1 client, then with 4 concurrent clients;
6. prints the table, writes bench/results/dashboard.json, stops everything, drops the database.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import asyncpg  # noqa: E402
import harness  # noqa: E402
import httpx  # noqa: E402
import psutil  # noqa: E402
import run as register_bench  # noqa: E402
import survey_data  # noqa: E402
import survey_import  # noqa: E402
from run import log  # noqa: E402
from sqlalchemy import event, text  # noqa: E402

from estate_contracts.common import Person  # noqa: E402
from estate_contracts.notification_events import (  # noqa: E402
    ActByApproaching,
    AlertAcknowledged,
    AlertEscalated,
    AlertSent,
    NoticeWindowOpened,
    Recipient,
    RenewalOverdue,
)
from estate_contracts.procurement_events import (  # noqa: E402
    DecisionCondition,
    ProposedSystem,
    RequestDecided,
    RequestInformationRequested,
    RequestReopened,
    RequestReviewStarted,
    RequestSubmitted,
    RequestWithdrawn,
)
from estate_register.adapters.db import estate_queries  # noqa: E402
from estate_register.adapters.db.estate_store import SqlEstateProjections  # noqa: E402
from estate_register.adapters.db.migrate import upgrade_async  # noqa: E402
from estate_register.application import estate  # noqa: E402
from estate_register.bootstrap import Container, bootstrap  # noqa: E402
from estate_register.settings import RegisterSettings  # noqa: E402
from estate_runtime.auth import AuthSettings, mint_token  # noqa: E402

FULL_SYSTEMS, FULL_CONTRACTS = 50_000, 100_000
TARGET_P95_MS = 300.0
EXPLAIN_OVER_MS = 150.0
ACTOR = "bench@estate.local"
PERSONA = "tda-chair"
SOURCES = (
    "services/register/src/estate_register/adapters/db/estate_queries.py",
    "services/register/src/estate_register/adapters/db/estate_store.py",
    "services/register/src/estate_register/application/estate.py",
    "services/register/src/estate_register/api/estate.py",
    "services/portal/src/estate_portal/views/dashboard.py",
    "services/portal/src/estate_portal/charts.py",
    "services/portal/src/estate_portal/templates/dashboard/dashboard.html",
)


# --- the estate view's projections ------------------------------------------------------------------------

CHAIR = Person(id="oid-tda-chair", name="Alex Morgan", email="alex.morgan@cambridge.gov.uk")
MEMBER = Person(id="oid-tda-member", name="Tom Reid", email="tom.reid@cambridge.gov.uk")


def _requester(rng: random.Random, councils: list[str]) -> tuple[Person, str]:
    code = rng.choice(councils)
    n = rng.randrange(1, 40)
    domain = "cambridge.gov.uk" if code == "CCC" else f"{code.lower()}.gov.uk"
    person = Person(id=f"oid-{code.lower()}-{n}", name=f"Service Manager {n}", email=f"manager{n}@{domain}")
    return person, code


def request_events(n: int, councils: list[str], now: datetime, seed: int = 11) -> list[Any]:
    """``n`` technology requests with the events of their lives so far. About a quarter are still waiting
    for the TDA (submitted, under review, information requested, reopened), submitted in the last four
    months; the rest were decided (approved, approved with conditions, not approved) or withdrawn, over
    the last two years."""
    rng = random.Random(seed)
    events: list[Any] = []
    for i in range(n):
        request_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        requester, council = _requester(rng, councils)
        fate = rng.choices(
            ["submitted", "review", "information", "reopened", "decided", "withdrawn"],
            weights=[8, 10, 4, 2, 60, 16],
        )[0]
        pending = fate in ("submitted", "review", "information", "reopened")
        age_days = rng.uniform(1, 120) if pending else rng.uniform(30, 730)
        at = now - timedelta(days=age_days)
        reference = f"TR-{at.year}-{i + 1:05d}"
        cost = Decimal(f"{rng.lognormvariate(9.5, 1.0):.2f}")
        area = rng.choice(survey_data.demo_data.SERVICE_AREAS)
        events.append(
            RequestSubmitted(
                request_id=request_id,
                reference=reference,
                title=f"{rng.choice(['Replace', 'Buy', 'Extend', 'Pilot'])} a {area.lower()} system ({i + 1})",
                requester=requester,
                service_area=area[:100],
                category=rng.choices(["it", "iot_protech"], weights=[85, 15])[0],
                problem_summary="The service needs a better way to do this work.",
                councils_in_scope=[council],
                estimated_annual_cost=cost,
                submitted_at=at,
            )
        )
        step = (now - at) / 4

        def later(k: float, at: datetime = at, step: timedelta = step) -> datetime:
            return at + step * k

        if fate == "submitted":
            continue
        events.append(
            RequestReviewStarted(
                request_id=request_id,
                reference=reference,
                started_by=MEMBER,
                checklist_version="appendix-k@1",
                started_at=later(1),
            )
        )
        if fate == "information":
            events.append(
                RequestInformationRequested(
                    request_id=request_id,
                    reference=reference,
                    requester=requester,
                    asked_by=MEMBER,
                    questions=["Which existing systems did you consider?"],
                    requested_at=later(2),
                )
            )
        elif fate == "withdrawn":
            events.append(
                RequestWithdrawn(
                    request_id=request_id,
                    reference=reference,
                    withdrawn_by=requester,
                    reason="No longer needed",
                    withdrawn_at=later(2),
                )
            )
        elif fate in ("decided", "reopened"):
            outcome = (
                "not_approved"
                if fate == "reopened"
                else rng.choices(
                    ["approved", "approved_with_conditions", "not_approved"], weights=[50, 30, 20]
                )[0]
            )
            proposed = (
                None
                if outcome == "not_approved"
                else ProposedSystem(
                    name=f"Requested system {i + 1}",
                    description="The system the request asked for.",
                    service_areas=[area[:100]],
                    capabilities=["case management"],
                    supplier_name="Idox",
                    hosting="saas",
                    holds_personal_data=rng.random() < 0.6,
                    councils_in_scope=[council],
                    estimated_annual_value=cost,
                    estimated_initial_cost=Decimal("5000.00"),
                )
            )
            conditions = (
                [
                    DecisionCondition(
                        condition_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                        text="Complete a DPIA before go-live",
                        owner=requester,
                        due_date=(now + timedelta(days=90)).date(),
                    )
                ]
                if outcome == "approved_with_conditions"
                else []
            )
            events.append(
                RequestDecided(
                    request_id=request_id,
                    reference=reference,
                    requester=requester,
                    outcome=outcome,
                    rationale="Decided by the TDA on the evidence given.",
                    decided_by=CHAIR,
                    decided_at=later(3),
                    conditions=conditions,
                    proposed_system=proposed,
                )
            )
            if fate == "reopened":
                events.append(
                    RequestReopened(
                        request_id=request_id,
                        reference=reference,
                        reopened_by=CHAIR,
                        reason="New evidence from the service",
                        reopened_at=later(3.5),
                    )
                )
    return events


async def alert_events(container: Container, n: int, today: date, now: datetime, seed: int = 12) -> list[Any]:
    """Renewal alerts for the ``n`` active contracts whose act-by is nearest to today (from 60 days ago to
    180 days ahead, where the notifications service's ladder is working): each has been sent an alert,
    carries the renewal fact of today (window opened, act-by approaching, overdue); 45 % were escalated
    (to the budget holder, or to the TDA when overdue), a third of those acknowledged since."""
    async with container.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT id, reference, act_by, current_term_end, notice_period_days, "
                    "internal_lead_time_days FROM contracts WHERE status = 'active' "
                    "AND act_by BETWEEN :low AND :high AND act_by <= current_term_end "
                    "ORDER BY abs(act_by - CAST(:today AS date)), id LIMIT :n"
                ),
                {
                    "low": today - timedelta(days=60),
                    "high": today + timedelta(days=180),
                    "today": today,
                    "n": n,
                },
            )
        ).all()
    rng = random.Random(seed)
    events: list[Any] = []
    for contract_id, ref, act_by, term_end, notice, lead in rows:
        days_left = (act_by - today).days
        alert_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        rung = max(-28, min(180, days_left + rng.choice([0, 7, 14, 30])))
        sent_at = now - timedelta(days=rng.uniform(1, 14))
        owner = Recipient(email=f"owner.{ref.lower()}@council.gov.uk", name=f"Owner of {ref}")
        events.append(
            AlertSent(
                alert_id=alert_id,
                contract_id=contract_id,
                contract_reference=ref,
                recipient_role="contract_owner",
                recipient=owner,
                rung_days=rung,
                act_by=act_by,
                channel="email",
                sent_at=sent_at,
            )
        )
        fact: dict[str, Any] = {
            "contract_id": contract_id,
            "contract_reference": ref,
            "act_by": act_by,
            "current_term_end": term_end,
            "notice_period_days": notice,
            "internal_lead_time_days": lead,
            "as_of": today,
        }
        if days_left < 0:
            events.append(RenewalOverdue(**fact, days_overdue=-days_left))
        elif days_left <= 90:
            events.append(ActByApproaching(**fact, days_left=days_left))
        else:
            events.append(NoticeWindowOpened(**fact))
        if rng.random() < 0.45:
            escalated_at = sent_at + (now - sent_at) * rng.uniform(0.2, 0.9)
            events.append(
                AlertEscalated(
                    alert_id=alert_id,
                    contract_id=contract_id,
                    contract_reference=ref,
                    from_role="contract_owner",
                    to_role="tda" if days_left < 0 else "budget_holder",
                    reason=rng.choices(["not_acknowledged", "recipient_missing"], weights=[85, 15])[0],
                    rung_days=rung,
                    act_by=act_by,
                    escalated_at=escalated_at,
                )
            )
            if rng.random() < 1 / 3:
                events.append(
                    AlertAcknowledged(
                        alert_id=alert_id,
                        contract_id=contract_id,
                        contract_reference=ref,
                        acknowledged_by=Person(
                            id=f"oid-owner-{ref}", name=f"Owner of {ref}", email=owner.email
                        ),
                        acknowledged_at=escalated_at + (now - escalated_at) / 2,
                    )
                )
    return events


async def project(container: Container, events: list[Any], *, per_transaction: int = 250) -> None:
    """Fold events into the estate view with the register's own projection code, as its worker does (the
    worker commits one event per inbox transaction; here a few hundred share one, which changes only how
    long loading takes)."""
    for start in range(0, len(events), per_transaction):
        async with container.sessions() as session, session.begin():
            store = SqlEstateProjections(session)
            for item in events[start : start + per_transaction]:
                at = datetime.now(UTC)
                if isinstance(item, estate.REQUEST_EVENTS):
                    await estate.project_request(store, item, at=at)
                else:
                    await estate.project_alerts(store, item, at=at)


# --- in-process: what the summary and the page cost, and the summary's plans ----------------------------------


_EXEC = re.compile(r"Execution Time: ([\d.]+) ms")


async def in_process(container: Container, today: date, repeats: int) -> dict[str, Any]:
    """The summary from scratch (``repeats`` times), the cache's hit path, and the portal's work on the
    real summary (``build_dashboard`` + the template), each timed in this process."""
    from estate_portal.views.dashboard import build_dashboard
    from estate_portal.web import build_environment

    def timed_ms(started: float) -> float:
        return round((time.perf_counter() - started) * 1000, 2)

    computed: list[float] = []
    body: dict[str, Any] = {}
    for _ in range(repeats):
        started = time.perf_counter()
        body = await estate_queries.summary(container.sessions, today=today)
        computed.append(timed_ms(started))
    markers: list[float] = []
    for _ in range(20):
        started = time.perf_counter()
        async with container.sessions() as session:
            await estate_queries.change_marker(session)
        markers.append(timed_ms(started))
    # The register's response: the body validated into its response model and written as JSON.
    from estate_register.api.estate import EstateSummary

    started = time.perf_counter()
    wire = EstateSummary.model_validate(body).model_dump_json()
    to_json_ms = timed_ms(started)
    summary = json.loads(wire)

    env = build_environment()
    builds: list[float] = []
    renders: list[float] = []
    html = ""
    for _ in range(20):
        started = time.perf_counter()
        context = build_dashboard(summary)
        builds.append(timed_ms(started))
        started = time.perf_counter()
        html = env.get_template("dashboard/dashboard.html").render(
            {
                "request": None,
                "user": None,
                "csrf_token": "x",
                "navigation": [],
                "flash": [],
                "service_name": "Estate",
                "cspNonce": "n",
                "assetPath": "/assets",
                **context,
            }
        )
        renders.append(timed_ms(started))
    return {
        "summary_computed_ms": computed,
        "summary_computed_median_ms": sorted(computed)[len(computed) // 2],
        "cache_hit_change_marker_median_ms": sorted(markers)[len(markers) // 2],
        "summary_validate_and_json_ms": to_json_ms,
        "summary_json_bytes": len(wire),
        "portal_build_dashboard_median_ms": sorted(builds)[len(builds) // 2],
        "portal_template_render_median_ms": sorted(renders)[len(renders) // 2],
        "dashboard_html_bytes": len(html.encode()),
        "summary_shape": {
            "requests_pending_count": summary["requests_pending_count"],
            "alerts_escalated": next(r["count"] for r in summary["risks"] if r["list"] == "alerts-escalated"),
            "duplication_clusters": summary["duplication_clusters"]["count"],
            "totals": summary["totals"],
        },
        "_summary": summary,
    }


async def explain_summary(container: Container, today: date) -> list[dict[str, Any]]:
    """Every statement the summary sends, captured while it runs (warm), then EXPLAIN (ANALYZE, BUFFERS)
    each on its own, with the summary's ``SET LOCAL work_mem``; slowest first."""
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        captured.append((statement, parameters))

    engine = container.engine
    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        await estate_queries.summary(container.sessions, today=today)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    plans = []
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        for statement, parameters in captured:
            if statement.lstrip().upper().startswith("SET "):
                continue
            async with raw.transaction():
                await raw.execute("SET LOCAL work_mem = '64MB'")
                rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + statement, *(parameters or ()))
            plan = "\n".join(r[0] for r in rows)
            match = _EXEC.search(plan)
            plans.append(
                {
                    "sql": " ".join(statement.split()),
                    "execution_ms": float(match.group(1)) if match else None,
                    "seq_scans": sorted(set(re.findall(r"Seq Scan on (\w+)", plan))),
                    "spilled_to_disk": "Disk:" in plan or "external merge" in plan,
                    "plan": plan,
                }
            )
    plans.sort(key=lambda p: -(p["execution_ms"] or 0))
    return plans


# --- HTTP -----------------------------------------------------------------------------------------------------


async def sign_in(portal_url: str) -> httpx.AsyncClient:
    """An httpx client signed in to the portal as the TDA chair through its dev sign-in."""
    client = httpx.AsyncClient(base_url=portal_url, timeout=120.0, follow_redirects=False)
    page = await client.get("/sign-in")
    page.raise_for_status()
    match = re.search(r'name="csrf_token"\s+value="([^"]+)"', page.text)
    if match is None:
        raise RuntimeError("no csrf_token on the sign-in page")
    answer = await client.post(
        "/sign-in/dev", data={"csrf_token": match.group(1), "persona": PERSONA, "next": "/dashboard"}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"dev sign-in answered {answer.status_code}: {answer.text[:300]}")
    return client


def check_dashboard(html: str, summary: dict[str, Any]) -> None:
    """The page shows the register's figures: the systems total, pending requests and escalations."""
    totals = summary["totals"]
    for figure in (str(totals["systems"]), str(summary["requests_pending_count"])):
        if f">{figure}</span>" not in html:
            raise RuntimeError(f"the dashboard does not show {figure}")
    if "Dashboard" not in html or "Renewal pipeline" not in html:
        raise RuntimeError("the dashboard page is not the dashboard")


Before = Callable[[], Awaitable[None]] | None
Kind = tuple[str, httpx.AsyncClient, str, Before]
"""(name, client, path, what to do, untimed, before each request)."""


async def measure(kinds: list[Kind], rounds: int) -> dict[str, list[float]]:
    """``rounds`` rounds of one request of each kind in turn, sequentially; latency of each, in seconds."""
    out: dict[str, list[float]] = {name: [] for name, _, _, _ in kinds}
    for _ in range(rounds):
        for name, client, path, before in kinds:
            if before is not None:
                await before()
            started = time.perf_counter()
            answer = await client.get(path)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                raise RuntimeError(f"{name}: {path} answered {answer.status_code}: {answer.text[:300]}")
            out[name].append(elapsed)
    return out


class Changes:
    """Changes to what the summary reads, one before each request of the "after a change" runs: the
    notifications service sent another renewal alert for a contract (an ``AlertSent`` folded through the
    register's own projection code, as its worker does), which moves the summary cache's change marker
    and changes no figure on the page."""

    def __init__(self, container: Container, targets: list[tuple[uuid.UUID, str, date]]) -> None:
        self.container = container
        self.targets = targets
        self.made = 0

    @classmethod
    async def load(cls, container: Container) -> Changes:
        async with container.sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT contract_id, contract_reference, last_alert_act_by FROM estate_contract_alerts "
                        "WHERE last_alert_act_by IS NOT NULL ORDER BY contract_id LIMIT 500"
                    )
                )
            ).all()
        return cls(container, [(r[0], r[1], r[2]) for r in rows])

    async def make(self) -> None:
        contract_id, reference, act_by = self.targets[self.made % len(self.targets)]
        self.made += 1
        alert = AlertSent(
            alert_id=uuid.uuid4(),
            contract_id=contract_id,
            contract_reference=reference,
            recipient_role="contract_owner",
            recipient=Recipient(
                email=f"owner.{reference.lower()}@council.gov.uk", name=f"Owner of {reference}"
            ),
            rung_days=7,
            act_by=act_by,
            channel="email",
            sent_at=datetime.now(UTC),
        )
        await project(self.container, [alert])


def postgres_cpu_s(database: str) -> float:
    """CPU time of the PostgreSQL backends connected to ``database`` (their process title names it;
    other databases' backends, other engineers' tests among them, are left out)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cmdline"]):
        title = " ".join(process.info["cmdline"] or ())
        if process.info["name"] in ("postgres", "postmaster") and f" {database} " in f"{title} ":
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    return total


async def phase(
    label: str,
    make_kinds: list[list[Kind]],
    rounds: int,
    children: dict[str, harness.Child],
    database: str,
) -> dict[str, Any]:
    """One measurement: ``len(make_kinds)`` clients, each with its own kinds (own connections), running
    ``rounds`` interleaved rounds concurrently. Per kind: p50/p95/p99/max; CPU of each process."""
    log(f"{label}: {len(make_kinds)} client(s) x {rounds} rounds of {[k[0] for k in make_kinds[0]]}")
    cpu_before = {name: harness.cpu_seconds(child.pid) for name, child in children.items()}
    pg_before = postgres_cpu_s(database)
    psi_before = register_bench.cpu_pressure()
    started = time.perf_counter()
    results = await asyncio.gather(*(measure(kinds, rounds) for kinds in make_kinds))
    elapsed = time.perf_counter() - started
    merged: dict[str, list[float]] = {}
    for result in results:
        for name, values in result.items():
            merged.setdefault(name, []).extend(values)
    out: dict[str, Any] = {
        "clients": len(make_kinds),
        "rounds_per_client": rounds,
        "seconds": round(elapsed, 2),
        "cpu_pressure_pct": {"before": psi_before, "after": register_bench.cpu_pressure()},
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
        "cpu_s": {
            **{
                name: round(harness.cpu_seconds(child.pid) - cpu_before[name], 2)
                for name, child in children.items()
            },
            "postgresql_backends": round(postgres_cpu_s(database) - pg_before, 2),
        },
        "by_kind": {name: harness.latency_summary(values, elapsed) for name, values in merged.items()},
    }
    for name, s in out["by_kind"].items():
        log(
            f"  {name:<28} p50 {s['p50_ms']:>8} p95 {s['p95_ms']:>8} p99 {s['p99_ms']:>8} max {s['max_ms']:>8}"
        )
    log(f"  cpu s {out['cpu_s']}")
    return out


# --- the run ---------------------------------------------------------------------------------------------------


def source_hashes() -> dict[str, str]:
    """What was measured: a hash of each file on the dashboard's path (others edit them concurrently)."""
    out = {}
    for path in SOURCES:
        with contextlib.suppress(OSError):
            out[path] = hashlib.sha256((harness.REPO / path).read_bytes()).hexdigest()[:12]
    return out


def portal_cli() -> str:
    path = harness.VENV_BIN / "estate-portal"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing")
    return str(path)


async def load(args: argparse.Namespace, results: dict[str, Any], container: Container, work: Path) -> None:
    today = date.today()
    log(f"generating the survey: {args.systems:,} systems, {args.contracts:,} contracts")
    survey = survey_data.generate(args.systems, args.contracts, today=today)
    paths = survey_data.write_csv(survey, work / "survey")
    log("reference data (councils, service areas, people) through the application services")
    watch = harness.Stopwatch()
    added = await register_bench.record_reference_data(container, survey)
    results["load"] = {"reference_records": added, "reference_s": round(watch.elapsed(), 1)}
    log("importing the survey (the register's own import, in-process)")
    imported = await survey_import.run_import(container, paths, actor=ACTOR)
    results["load"]["import"] = {k: imported[k] for k in ("records", "seconds")}
    log(f"  {imported['records']:,} records in {imported['seconds']:.1f} s")

    now = datetime.now(UTC)
    councils = [code for code, _ in survey.councils]
    watch = harness.Stopwatch()
    requests = request_events(args.requests, councils, now)
    alerts = await alert_events(container, args.alerts, today, now)
    log(f"projecting {len(requests):,} request events and {len(alerts):,} alert events")
    await project(container, requests)
    await project(container, alerts)
    results["load"]["projections"] = {
        "request_events": len(requests),
        "alert_events": len(alerts),
        "seconds": round(watch.elapsed(), 1),
    }
    raw = await asyncpg.connect(harness.asyncpg_dsn(container.settings.database_url))
    try:
        await raw.execute("VACUUM ANALYZE")
        counts = await raw.fetchrow(
            "SELECT (SELECT count(*) FROM systems) AS systems, (SELECT count(*) FROM contracts) AS contracts,"
            " (SELECT count(*) FROM contract_systems) AS contract_systems,"
            " (SELECT count(*) FROM estate_requests) AS requests,"
            " (SELECT count(*) FROM estate_requests WHERE pending) AS requests_pending,"
            " (SELECT count(*) FROM estate_contract_alerts) AS contracts_with_alerts,"
            " (SELECT count(*) FROM estate_contract_alerts WHERE escalation_open) AS escalations_open"
        )
        sizes = await raw.fetch(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables "
            "ORDER BY pg_total_relation_size(relid) DESC LIMIT 10"
        )
    finally:
        await raw.close()
    results["database_rows"] = dict(counts)
    results["database_tables"] = {n: {"rows": r, "mb": round(s / 2**20, 1)} for n, r, s in sizes}
    log(f"  {results['database_rows']}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    today = date.today()
    results: dict[str, Any] = {
        "benchmark": "dashboard",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "size": {"systems": args.systems, "contracts": args.contracts},
        "machine": register_bench.machine(),
        "versions": {**register_bench.versions(), "postgresql": await harness.pg_server_version()},
        "sources": source_hashes(),
        "target": {"dashboard_p95_ms": TARGET_P95_MS},
    }
    for package in ("jinja2", "govuk-frontend-jinja"):
        with contextlib.suppress(Exception):
            from importlib import metadata

            results["versions"][package] = metadata.version(package)
    work = Path(tempfile.mkdtemp(prefix="estate-bench-dashboard-"))
    logs = work / "logs"
    children: dict[str, harness.Child] = {}
    clients: list[httpx.AsyncClient] = []
    try:
        async with harness.throwaway_database() as url:
            results["database"] = url.rsplit("/", 1)[1]
            log(f"database {results['database']}: migrating")
            await upgrade_async(url)
            container = bootstrap(RegisterSettings(database_url=url))
            try:
                await load(args, results, container, work)
                log("in process: the summary from scratch, the cache's hit path, the portal's render")
                measured = await in_process(container, today, args.in_process_repeats)
                summary = measured.pop("_summary")
                results["in_process"] = measured
                results["summary_rendered"] = summary  # what the page drew: to profile the portal offline
                log(f"  {measured}")
                log("EXPLAIN ANALYZE of the summary's statements")
                results["explain"] = await explain_summary(container, today)
                for plan in results["explain"][:5]:
                    log(f"  {plan['execution_ms']:>9} ms  {plan['sql'][:110]}")

                # --- the processes ---
                key_path = work / "dev-key.pem"
                auth = AuthSettings(dev_key_path=key_path)
                token = mint_token(
                    auth, subject="bench", roles=["tda_chair"], email=ACTOR, ttl_seconds=6 * 3600
                )
                workers = str(args.workers)
                unused = f"http://127.0.0.1:{harness.free_port()}"
                register_port, portal_port = harness.free_port(), harness.free_port()
                register_url = f"http://127.0.0.1:{register_port}"
                portal_url = f"http://127.0.0.1:{portal_port}"
                register_env = {
                    "ESTATE_REGISTER_DATABASE_URL": url,
                    "ESTATE_REGISTER_HTTP_HOST": "127.0.0.1",
                    "ESTATE_REGISTER_HTTP_PORT": str(register_port),
                    "ESTATE_REGISTER_HTTP_WORKERS": workers,
                    "ESTATE_AUTH_DEV_KEY_PATH": str(key_path),
                }
                portal_env = {
                    "ESTATE_PORTAL_HTTP_HOST": "127.0.0.1",
                    "ESTATE_PORTAL_HTTP_PORT": str(portal_port),
                    "ESTATE_PORTAL_HTTP_WORKERS": workers,
                    "ESTATE_PORTAL_REGISTER_URL": register_url,
                    # Not running: the dashboard asks only the register.
                    "ESTATE_PORTAL_PROCUREMENT_URL": unused,
                    "ESTATE_PORTAL_NOTIFICATIONS_URL": unused,
                    "ESTATE_PORTAL_DEV_SIGN_IN": "true",
                    "ESTATE_PORTAL_SESSION_SECRET": "bench-" + "s" * 40,
                    "ESTATE_PORTAL_PUBLIC_URL": portal_url,
                    "ESTATE_AUTH_DEV_KEY_PATH": str(key_path),
                }
                children["register"] = harness.start_child(
                    "register", [harness.register_cli(), "http"], register_env, logs
                )
                children["portal"] = harness.start_child("portal", [portal_cli(), "http"], portal_env, logs)
                await harness.wait_http(f"{register_url}/health/ready", children["register"], timeout_s=180)
                # The portal's readiness asks procurement and notifications too, which do not run here.
                await harness.wait_http(f"{portal_url}/health/live", children["portal"], timeout_s=180)
                results["settings"] = {
                    "http_workers_each": args.workers,
                    "estate_summary_cache_seconds": "default (60)",
                    "persona": PERSONA,
                }
                changes = await Changes.load(container)

                def make_kinds(portal: httpx.AsyncClient, before: Before) -> list[Kind]:
                    register = httpx.AsyncClient(
                        base_url=register_url, timeout=120.0, headers={"Authorization": f"Bearer {token}"}
                    )
                    clients.append(register)
                    return [
                        ("dashboard", portal, "/dashboard", before),
                        ("summary API", register, "/api/v1/estate/summary", before),
                        ("portal /health/live", portal, "/health/live", None),
                        ("register /health/live", register, "/health/live", None),
                    ]

                portals = [await sign_in(portal_url) for _ in range(1 + args.clients)]
                clients.extend(portals)
                first = await portals[0].get("/dashboard")
                first.raise_for_status()
                check_dashboard(first.text, summary)
                results["dashboard_html_bytes"] = len(first.content)
                results["http"] = {}
                for variant, before, rounds in (
                    ("cached", None, args.renders),
                    ("after a change", changes.make, args.changed_renders),
                ):
                    one = [make_kinds(portals[0], before)]
                    many = [make_kinds(portal, before) for portal in portals[1:]]
                    log(f"warming up ({variant})")
                    await asyncio.gather(*(measure(kinds, args.warmup) for kinds in [*one, *many]))
                    results["http"][variant] = {
                        "1_client": await phase(
                            f"{variant}, 1 client", one, rounds, children, results["database"]
                        ),
                        f"{args.clients}_clients": await phase(
                            f"{variant}, {args.clients} clients",
                            many,
                            max(1, rounds // args.clients),
                            children,
                            results["database"],
                        ),
                    }
                results["changes_made"] = changes.made
            finally:
                for client in clients:
                    with contextlib.suppress(Exception):
                        await client.aclose()
                for child in children.values():
                    child.stop()
                await container.close()
    finally:
        for child in children.values():
            child.stop()
        if args.keep_logs:
            results["logs"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["timeline"] = [
        {"at": t, "loadavg_1m": load_1m, "cpu_pressure_some_avg10_pct": psi, "step": step}
        for t, load_1m, psi, step in register_bench.TIMELINE
    ]
    results["ratios"] = ratios(results, args.clients)
    results["verdict"] = verdict(results, args.clients)
    return results


def _p(results: dict[str, Any], variant: str, clients: str, kind: str, pct: str = "p95_ms") -> float:
    return float(results["http"][variant][clients]["by_kind"][kind][pct])


def ratios(results: dict[str, Any], clients: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for variant in ("cached", "after a change"):
        for load_name in ("1_client", f"{clients}_clients"):
            for pct in ("p50_ms", "p95_ms"):
                tag = f"{variant.replace(' ', '_')}_{load_name}_{pct[:3]}"
                dash = _p(results, variant, load_name, "dashboard", pct)
                api = _p(results, variant, load_name, "summary API", pct)
                trivial = _p(results, variant, load_name, "portal /health/live", pct)
                out[f"{tag}_dashboard_vs_summary_api"] = round(dash / api, 2)
                out[f"{tag}_summary_api_vs_trivial"] = round(api / trivial, 1)
                out[f"{tag}_dashboard_minus_summary_api_ms"] = round(dash - api, 2)
    return out


def verdict(results: dict[str, Any], clients: int) -> dict[str, Any]:
    out = {}
    for variant in ("cached", "after a change"):
        for load_name in ("1_client", f"{clients}_clients"):
            p95 = _p(results, variant, load_name, "dashboard")
            out[f"{variant.replace(' ', '_')}_{load_name}"] = {
                "dashboard_p95_ms": p95,
                "met": p95 <= TARGET_P95_MS,
            }
    return out


def table(results: dict[str, Any], clients: int) -> str:
    size = results["size"]
    lines = [
        f"Dashboard benchmark: {size['systems']:,} systems, {size['contracts']:,} contracts; "
        f"{results['machine']['cpus']} CPUs; {results['started_at']}",
        f"  database rows: {results['database_rows']}",
        f"  {'variant':<14} {'clients':>7} {'kind':<24} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'n':>5}",
    ]
    for variant, loads in results["http"].items():
        for measured in loads.values():
            for kind, s in measured["by_kind"].items():
                lines.append(
                    f"  {variant:<14} {measured['clients']:>7} {kind:<24} {s['p50_ms']:>8} {s['p95_ms']:>8}"
                    f" {s['p99_ms']:>8} {s['max_ms']:>8} {s['requests']:>5}"
                )
            lines.append(
                f"  {'':<14} {'':>7} cpu s {measured['cpu_s']}, cpu pressure {measured['cpu_pressure_pct']}"
            )
    ip = results["in_process"]
    lines.append(
        f"  in process: summary computed {ip['summary_computed_median_ms']} ms (median), cache hit marker "
        f"{ip['cache_hit_change_marker_median_ms']} ms, summary -> JSON {ip['summary_validate_and_json_ms']} ms, "
        f"build_dashboard {ip['portal_build_dashboard_median_ms']} ms, template "
        f"{ip['portal_template_render_median_ms']} ms, page {results.get('dashboard_html_bytes', 0):,} bytes"
    )
    lines.append("  slowest summary statements (EXPLAIN ANALYZE, ms):")
    for plan in results["explain"][:6]:
        lines.append(f"    {plan['execution_ms']:>9}  {plan['sql'][:120]}")
    lines.append("  ratios:")
    for key, value in results["ratios"].items():
        lines.append(f"    {key:<60} {value}")
    lines.append(f"  target: dashboard p95 <= {TARGET_P95_MS:.0f} ms")
    for key, value in results["verdict"].items():
        lines.append(
            f"    {key:<20} p95 {value['dashboard_p95_ms']:>8} ms  {'met' if value['met'] else 'NOT met'}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", type=int, default=FULL_SYSTEMS)
    parser.add_argument("--contracts", type=int, default=FULL_CONTRACTS)
    parser.add_argument(
        "--renders",
        type=int,
        default=300,
        help="rounds with nothing changing (1 client; the 4 clients share the same count)",
    )
    parser.add_argument(
        "--changed-renders",
        type=int,
        default=None,
        help="rounds with a change before each request (default: --renders)",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients of the second run")
    parser.add_argument("--warmup", type=int, default=5, help="rounds per client before measuring")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="HTTP worker processes of each server (default 1, both services' default; with more, uvicorn "
        "kills a worker that takes over 5 s to start, which happens on a saturated machine)",
    )
    parser.add_argument(
        "--requests", type=int, default=None, help="technology requests (default 3,000 at full size)"
    )
    parser.add_argument(
        "--alerts", type=int, default=None, help="contracts with renewal alerts (default 6,000 at full size)"
    )
    parser.add_argument("--in-process-repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "dashboard.json")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    if args.changed_renders is None:
        args.changed_renders = args.renders
    if args.requests is None:
        args.requests = max(100, round(3000 * args.systems / FULL_SYSTEMS))
    if args.alerts is None:
        args.alerts = max(200, round(6000 * args.contracts / FULL_CONTRACTS))
    results = asyncio.run(run(args))
    results["args"] = {k: str(v) for k, v in vars(args).items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print()
    print(table(results, args.clients))
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
