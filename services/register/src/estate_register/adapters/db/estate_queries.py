"""The estate view's queries: the summary and the lists behind it, as SQL aggregates over the register's own
tables and the estate projections (``estate_requests``, ``estate_contract_alerts``).

Every figure is computed in the database and only small results travel: one GROUP BY over systems gives
the lifecycle, disposition and every system-level risk count; one over contracts gives the contract totals
and contract-level risks; the pipeline groups active contracts by act-by day through the (status, act_by)
index. On PostgreSQL those two GROUP BYs and the spend by supplier are index-only scans of covering
indexes (migration 0004). The summary's four parts run side by side, each on a connection of its own.

The only dialect-specific SQL: lists of capabilities (systems) and councils (contracts) are JSON arrays,
expanded with ``json_array_elements_text`` on PostgreSQL and ``json_each`` on SQLite, and a contract's
latest renewal decision is read with ``-> -1 ->>`` / ``json_extract(..., '$[#-1]...')``.

The rules each list keeps are written in services/register/README.md ("The estate view"); the words for
people are in :mod:`estate_register.application.estate`.

**The summary is cached in process** (:class:`SummaryCache`): it is recomputed when the council's day
changes, when the cheap change marker moves (the newest audit-log id, which every change to every register
record writes in its own transaction, and the newest write time of each estate projection: three index
lookups), or when the entry is older than ``estate_summary_cache_seconds`` (which bounds how stale it
can be if two writers commit out of id order). Lists and exports are never cached.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    column,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from estate_register.adapters.db.estate_store import ESTATE_ALERTS, ESTATE_REQUESTS
from estate_register.adapters.db.records import AuditRecord, CouncilRecord, ServiceAreaRecord
from estate_register.adapters.db.repositories import (
    CONTRACT_SYSTEMS,
    CONTRACTS,
    PEOPLE,
    SUPPLIERS,
    SYSTEM_AREAS,
    SYSTEMS,
)
from estate_register.application import estate
from estate_register.application.estate import (
    COMPLIANCE_DONE,
    CONTRACT_TYPE_LABELS,
    CURRENT_CONTRACT_STATUSES,
    DISPOSITION_LABELS,
    LIVE_STAGES,
    NOT_SET,
    ROUTE_LABELS,
    STAGE_LABELS,
    TOP,
    TRANSPARENCY_THRESHOLD,
    money,
)
from estate_register.domain.errors import NotFound

COUNCILS: Table = CouncilRecord.__table__  # type: ignore[assignment]
AREAS: Table = ServiceAreaRecord.__table__  # type: ignore[assignment]
AUDIT: Table = AuditRecord.__table__  # type: ignore[assignment]
OWNERS = PEOPLE.alias("owners")
PENCE = Decimal("0.01")
NONE_KEY = "none"
EVERYTHING = 2**62  # "no limit" that both PostgreSQL and SQLite take as a LIMIT

Row = dict[str, Any]

log = logging.getLogger("estate.register.estate")

ACT_SOON_DAYS = 90
"""The dashboard's "renewals to act on soon": act-by within this many days of today."""


def gbp(value: Any) -> Decimal:
    """A database sum as GBP: SQLite sums NUMERIC as binary floats, so round to pence."""
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(PENCE)


@dataclass(frozen=True)
class Ctx:
    """What every query needs: the session, its dialect and the council's day."""

    session: AsyncSession
    today: date

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    @property
    def window_end(self) -> date:
        return estate.month_after_window(self.today)

    async def rows(self, query: Any, **params: Any) -> list[Row]:
        return [dict(r) for r in (await self.session.execute(query, params)).mappings()]


# --- rules as SQL ------------------------------------------------------------------------------------------


def _last_outcome(dialect: str) -> ColumnElement[Any]:
    """The outcome of the contract's latest renewal decision (NULL when it has none)."""
    if dialect == "postgresql":
        return literal_column("(contracts.renewal_decisions -> -1 ->> 'outcome')", String)
    return literal_column("json_extract(contracts.renewal_decisions, '$[#-1].outcome')", String)


def ended_by_decision(dialect: str) -> ColumnElement[bool]:
    """The owner decided to let the term end (terminate or re-procure); renew and extend move the term
    on, so a decision to end is always the latest one of its term."""
    return func.coalesce(_last_outcome(dialect), "").in_(("terminate", "reprocure"))


def expired_contract(ctx: Ctx) -> ColumnElement[bool]:
    """Marked expired, or active with its recorded term over and no tacit renewal rolling it on (a tacit
    contract whose owner decided to end it does not roll)."""
    tacit_rolling = and_(
        CONTRACTS.c.renewal_type == "tacit",
        func.coalesce(CONTRACTS.c.renewal_period_months, 0) > 0,
        not_(ended_by_decision(ctx.dialect)),
    )
    return or_(
        CONTRACTS.c.status == "expired",
        and_(CONTRACTS.c.status == "active", CONTRACTS.c.current_term_end < ctx.today, not_(tacit_rolling)),
    )


def covers_live_system() -> ColumnElement[bool]:
    return exists(
        select(literal(1))
        .select_from(CONTRACT_SYSTEMS.join(SYSTEMS, SYSTEMS.c.id == CONTRACT_SYSTEMS.c.system_id))
        .where(CONTRACT_SYSTEMS.c.contract_id == CONTRACTS.c.id, SYSTEMS.c.lifecycle_stage.in_(LIVE_STAGES))
    )


NOT_RETIRED = SYSTEMS.c.lifecycle_stage != "retired"
PERSONAL_DATA_GAP = and_(
    NOT_RETIRED,
    SYSTEMS.c.holds_personal_data.is_(True),
    or_(SYSTEMS.c.dpia_status.not_in(COMPLIANCE_DONE), SYSTEMS.c.ropa_status.not_in(COMPLIANCE_DONE)),
)
ON_PREMISES_FEASIBLE = and_(
    NOT_RETIRED, SYSTEMS.c.hosting == "on_premises", SYSTEMS.c.cloud_feasibility == "feasible"
)
SYSTEM_WITHOUT_OWNER = and_(NOT_RETIRED, SYSTEMS.c.system_owner_id.is_(None))
CURRENT_CONTRACT = CONTRACTS.c.status.in_(CURRENT_CONTRACT_STATUSES)
CONTRACT_WITHOUT_OWNER = and_(CURRENT_CONTRACT, CONTRACTS.c.owner_id.is_(None))
NOTICE_UNKNOWN = and_(CURRENT_CONTRACT, CONTRACTS.c.notice_period_days == 0)
ACTIVE = CONTRACTS.c.status == "active"
ESCALATION_OPEN = and_(
    ESTATE_ALERTS.c.escalation_open == true(),  # = true, so the index serves it
    ESTATE_ALERTS.c.escalated_act_by == CONTRACTS.c.act_by,
    CONTRACTS.c.status.in_(("active", "expired")),
)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


# --- the summary ---------------------------------------------------------------------------------------------


async def _system_counts(ctx: Ctx) -> list[Row]:
    flags = {
        "personal": _flag(PERSONAL_DATA_GAP),
        "on_premises": _flag(ON_PREMISES_FEASIBLE),
        "no_owner": _flag(SYSTEM_WITHOUT_OWNER),
    }
    query = select(
        SYSTEMS.c.lifecycle_stage.label("stage"),
        SYSTEMS.c.disposition.label("disposition"),
        *(expression.label(name) for name, expression in flags.items()),
        func.count().label("n"),
    ).group_by(SYSTEMS.c.lifecycle_stage, SYSTEMS.c.disposition, *flags.values())
    return await ctx.rows(query)


async def _contract_counts(ctx: Ctx) -> list[Row]:
    flags = {"no_owner": _flag(CONTRACT_WITHOUT_OWNER), "notice": _flag(NOTICE_UNKNOWN)}
    query = select(
        CONTRACTS.c.status.label("status"),
        *(expression.label(name) for name, expression in flags.items()),
        func.count().label("n"),
        func.count(CONTRACTS.c.annual_value).label("valued"),
        func.sum(CONTRACTS.c.annual_value).label("value"),
    ).group_by(CONTRACTS.c.status, *flags.values())
    return await ctx.rows(query)


async def _pipeline(ctx: Ctx) -> tuple[list[Row], Row]:
    by_day = (
        select(
            CONTRACTS.c.act_by.label("act_by"),
            func.count().label("n"),
            func.sum(CONTRACTS.c.annual_value).label("value"),
        )
        .where(ACTIVE, CONTRACTS.c.act_by >= ctx.today, CONTRACTS.c.act_by < ctx.window_end)
        .group_by(CONTRACTS.c.act_by)
    )
    overdue = select(func.count().label("n"), func.sum(CONTRACTS.c.annual_value).label("value")).where(
        ACTIVE, CONTRACTS.c.act_by < ctx.today, not_(ended_by_decision(ctx.dialect))
    )
    days = await ctx.rows(by_day)
    (late,) = await ctx.rows(overdue)
    return days, late


async def _count(ctx: Ctx, query: Select[Any]) -> int:
    return int((await ctx.session.execute(select(func.count()).select_from(query.subquery()))).scalar_one())


async def _total(ctx: Ctx, rows: list[Row], offset: int, limit: int, query: Select[Any]) -> int:
    """How many rows the whole list (``query``) has: a first page that is not full is all of it."""
    if offset == 0 and len(rows) < limit:
        return len(rows)
    return await _count(ctx, query)


async def _council_names(ctx: Ctx) -> dict[str, str]:
    return {r["code"]: r["name"] for r in await ctx.rows(select(COUNCILS.c.code, COUNCILS.c.name))}


Sessions = Callable[[], AsyncSession]


async def _in_own_session(sessions: Sessions, today: date, part: Callable[[Ctx], Awaitable[Any]]) -> Any:
    """Run one part of the summary on a connection of its own, so the parts run side by side."""
    async with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            # The duplication and service-area aggregates hash ~200,000 rows at national scale; the
            # default 4 MB of work_mem would spill them to disk. Only for this transaction.
            await session.execute(text("SET LOCAL work_mem = '64MB'"))
        return await part(Ctx(session, today))


async def _systems_part(ctx: Ctx) -> tuple[list[Row], tuple[list[Row], int]]:
    return await _system_counts(ctx), await duplication_clusters(ctx, offset=0, limit=TOP, systems_each=20)


# The parts are balanced by their cost at national scale (bench: 50,000 systems, 100,000 contracts), so
# that the slowest, not the sum, sets the summary's time.
async def _contracts_part(ctx: Ctx) -> tuple[list[Row], tuple[list[Row], Row], int, list[Row], int]:
    suppliers = await _count(ctx, select(SUPPLIERS.c.id).where(SUPPLIERS.c.retired.is_(False)))
    return (
        await _contract_counts(ctx),
        await _pipeline(ctx),
        suppliers,
        await _top_spend(ctx, spend_by_supplier, "suppliers"),
        await _count(ctx, _expired_live_count(ctx)),
    )


async def _areas_part(ctx: Ctx) -> list[Row]:
    return await _top_spend(ctx, spend_by_service_area, "service areas")


async def _views_part(ctx: Ctx) -> tuple[list[Row], tuple[list[Row], int], int]:
    return (
        await _top_spend(ctx, spend_by_council, "councils"),
        await requests_pending(ctx, offset=0, limit=estate.REQUESTS_SHOWN),
        await _count(ctx, _escalated_count()),
    )


async def summary(sessions: Sessions, *, today: date) -> dict[str, Any]:
    """The TDA's single view on ``today`` (the council's day), JSON-ready: see services/register/README.md.

    Four parts, each on its own session (connection), run concurrently: system aggregates and
    duplication; contract aggregates, pipeline, supplier spend and expired contracts; service-area
    spend; council spend, pending requests and escalations."""
    (
        (systems, (clusters, cluster_count)),
        (contracts, (days, late), suppliers, by_supplier, expired),
        by_service_area,
        (by_council, (pending, pending_count), escalated),
    ) = await asyncio.gather(
        _in_own_session(sessions, today, _systems_part),
        _in_own_session(sessions, today, _contracts_part),
        _in_own_session(sessions, today, _areas_part),
        _in_own_session(sessions, today, _views_part),
    )
    lifecycle = dict.fromkeys(STAGE_LABELS, 0)
    disposition = dict.fromkeys(DISPOSITION_LABELS, 0)
    risk_counts = dict.fromkeys(estate.RISKS, 0)
    for row in systems:
        lifecycle[row["stage"]] = lifecycle.get(row["stage"], 0) + row["n"]
        if row["stage"] != "retired":
            key = row["disposition"] or NOT_SET
            disposition[key] = disposition.get(key, 0) + row["n"]
        risk_counts["personal-data-without-dpia-or-ropa"] += row["personal"] * row["n"]
        risk_counts["on-premises-cloud-feasible"] += row["on_premises"] * row["n"]
        risk_counts["no-owner"] += row["no_owner"] * row["n"]
    live_contracts = valued = 0
    annual = Decimal("0.00")
    for row in contracts:
        risk_counts["no-owner"] += row["no_owner"] * row["n"]
        risk_counts["notice-unknown"] += row["notice"] * row["n"]
        if row["status"] == "active":
            live_contracts += row["n"]
            valued += row["valued"]
            annual += gbp(row["value"])
    risk_counts["expired-contract-live-system"] = expired
    risk_counts["alerts-escalated"] = escalated

    counts = dict.fromkeys(estate.pipeline_months(today), 0)
    values = dict.fromkeys(counts, Decimal("0.00"))
    for row in days:
        month = f"{row['act_by']:%Y-%m}"
        counts[month] += row["n"]
        values[month] += gbp(row["value"])

    return {
        "as_of": today.isoformat(),
        "totals": {
            "systems": sum(lifecycle.values()),
            "live_systems": sum(lifecycle[s] for s in LIVE_STAGES),
            "contracts": sum(row["n"] for row in contracts),
            "live_contracts": live_contracts,
            "live_contracts_without_value": live_contracts - valued,
            "suppliers": suppliers,
            "annual_value": money(annual),
            # Renewals to act on in the next 90 days (act-by from today), beside those already overdue.
            "act_within_90_days": sum(
                row["n"] for row in days if row["act_by"] < today + timedelta(days=ACT_SOON_DAYS)
            ),
        },
        "pipeline": [
            {"month": month, "contracts": n, "annual_value": money(values[month])}
            for month, n in counts.items()
        ],
        "pipeline_overdue": {"contracts": late["n"], "annual_value": money(gbp(late["value"]))},
        "spend": {
            "by_supplier": by_supplier,
            "by_service_area": by_service_area,
            "by_council": by_council,
        },
        "lifecycle": [{"key": k, "label": STAGE_LABELS.get(k, k), "count": n} for k, n in lifecycle.items()],
        "disposition": [
            {"key": k, "label": DISPOSITION_LABELS.get(k, k), "count": n} for k, n in disposition.items()
        ],
        "requests_pending": [
            {
                k: _plain(r[k])
                for k in (
                    "request_id",
                    "request_key",
                    "title",
                    "state",
                    "requester",
                    "submitted_on",
                    "age_days",
                )
            }
            for r in pending
        ],
        "requests_pending_count": pending_count,
        "duplication_clusters": {
            "count": cluster_count,
            "top": [
                {
                    "capability": c["capability"],
                    "system_count": c["system_count"],
                    "systems": [{k: _plain(v) for k, v in s.items()} for s in c["systems"]],
                }
                for c in clusters
            ],
        },
        "risks": [
            {"list": name, "label": label, "count": risk_counts[name]} for name, label in estate.RISKS.items()
        ],
    }


# --- spend ------------------------------------------------------------------------------------------------

SpendQuery = Callable[[Ctx, int, int], Awaitable[tuple[list[Row], Row]]]


async def _top_spend(ctx: Ctx, query: SpendQuery, what: str) -> list[Row]:
    """The top groups, then one ``other`` row totalling the rest (when there is a rest)."""
    rows, totals = await query(ctx, 0, TOP)
    out = [{k: _plain(r[k]) for k in ("key", "label", "contracts", "annual_value")} for r in rows]
    rest = totals["groups"] - len(rows)
    if rest > 0:
        out.append(
            {
                "key": "other",
                "label": f"All other {what} ({rest})",
                "contracts": totals["contracts"] - sum(r["contracts"] for r in rows),
                "annual_value": money(totals["annual_value"] - sum(r["annual_value"] for r in rows)),
            }
        )
    return out


def _spend_rows(rows: list[Row], label: Callable[[Row], str]) -> tuple[list[Row], Row]:
    totals: Row = {"groups": 0, "contracts": 0, "annual_value": Decimal("0.00")}
    out = []
    for row in rows:
        totals = {
            "groups": row["groups"],
            "contracts": int(row["all_n"]),
            "annual_value": gbp(row["all_value"]),
        }
        out.append(
            {
                "key": NONE_KEY if row["key"] is None else str(row["key"]),
                "label": label(row),
                "contracts": row["n"],
                "annual_value": gbp(row["value"]),
            }
        )
    return out, totals


def _windowed(key: ColumnElement[Any], value: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    return [
        key.label("key"),
        func.count().label("n"),
        value.label("value"),
        func.count().over().label("groups"),
        func.sum(func.count()).over().label("all_n"),
        func.sum(value).over().label("all_value"),
    ]


async def spend_by_supplier(ctx: Ctx, offset: int, limit: int) -> tuple[list[Row], Row]:
    """Active contracts by supplier: how many and their annual value, largest first."""
    value = func.coalesce(func.sum(CONTRACTS.c.annual_value), 0)
    query = (
        select(*_windowed(CONTRACTS.c.supplier_id, value), SUPPLIERS.c.name.label("name"))
        .select_from(CONTRACTS.join(SUPPLIERS, SUPPLIERS.c.id == CONTRACTS.c.supplier_id))
        .where(ACTIVE)
        .group_by(CONTRACTS.c.supplier_id, SUPPLIERS.c.name)
        .order_by(value.desc(), SUPPLIERS.c.name, CONTRACTS.c.supplier_id)
        .offset(offset)
        .limit(limit)
    )
    return _spend_rows(await ctx.rows(query), lambda r: r["name"])


async def spend_by_service_area(ctx: Ctx, offset: int, limit: int) -> tuple[list[Row], Row]:
    """Active contracts by the service areas the systems they cover serve. A contract serving several
    areas counts in full in each (so the groups overlap); one serving none is "No service area"."""
    # Each active contract once per area its systems serve (NULL when they serve none): starting from the
    # active contracts keeps the pairs to deduplicate to those that count.
    served = CONTRACT_SYSTEMS.join(SYSTEM_AREAS, SYSTEM_AREAS.c.system_id == CONTRACT_SYSTEMS.c.system_id)
    pairs = (
        select(CONTRACTS.c.id, CONTRACTS.c.annual_value, SYSTEM_AREAS.c.service_area_id)
        .select_from(CONTRACTS.outerjoin(served, CONTRACT_SYSTEMS.c.contract_id == CONTRACTS.c.id))
        .where(ACTIVE)
        .distinct()
        .subquery("pairs")
    )
    value = func.coalesce(func.sum(pairs.c.annual_value), 0)
    query = (
        select(*_windowed(pairs.c.service_area_id, value), AREAS.c.name.label("name"), AREAS.c.council_code)
        .select_from(pairs.outerjoin(AREAS, AREAS.c.id == pairs.c.service_area_id))
        .group_by(pairs.c.service_area_id, AREAS.c.name, AREAS.c.council_code)
        .order_by(value.desc(), AREAS.c.name, pairs.c.service_area_id)
        .offset(offset)
        .limit(limit)
    )
    many_councils = len(await _council_names(ctx)) > 1

    def label(row: Row) -> str:
        if row["key"] is None:
            return "No service area recorded"
        return f"{row['name']} ({row['council_code']})" if many_councils else str(row["name"])

    return _spend_rows(await ctx.rows(query), label)


# Each contract's councils, once each (a list naming a council twice counts it once). PostgreSQL takes the
# distinct values per contract in a lateral subquery, so the outer GROUP BY stays a small hash; SQLite has
# no lateral subqueries and deduplicates the pairs instead.
_COUNCIL_PAIRS = {
    "postgresql": """
        SELECT c.id AS contract_id, cc.value AS code, c.annual_value AS annual_value
        FROM contracts AS c
        LEFT JOIN LATERAL (SELECT DISTINCT value FROM json_array_elements_text(c.councils)) AS cc ON true
        WHERE c.status = 'active'
    """,
    "sqlite": """
        SELECT DISTINCT c.id AS contract_id, cc.value AS code, c.annual_value AS annual_value
        FROM contracts AS c LEFT JOIN json_each(c.councils) AS cc
        WHERE c.status = 'active'
    """,
}


async def spend_by_council(ctx: Ctx, offset: int, limit: int) -> tuple[list[Row], Row]:
    """Active contracts by the councils they name (partner councils share a contract, which counts in
    full for each); a contract naming none is "No council recorded"."""
    sql = text(
        f"""
        WITH pairs AS ({_COUNCIL_PAIRS[ctx.dialect]})
        SELECT code AS key, count(*) AS n, coalesce(sum(annual_value), 0) AS value,
               count(*) OVER () AS groups, sum(count(*)) OVER () AS all_n,
               sum(coalesce(sum(annual_value), 0)) OVER () AS all_value
        FROM pairs
        GROUP BY code
        ORDER BY coalesce(sum(annual_value), 0) DESC, code
        LIMIT :limit OFFSET :offset
        """
    )
    names = await _council_names(ctx)

    def label(row: Row) -> str:
        return "No council recorded" if row["key"] is None else names.get(row["key"], str(row["key"]))

    return _spend_rows(await ctx.rows(sql, limit=limit, offset=offset), label)


# --- duplication ----------------------------------------------------------------------------------------------

_CAPABILITIES = {
    "postgresql": "systems AS s CROSS JOIN LATERAL json_array_elements_text(s.capabilities) AS cap(value)",
    "sqlite": "systems AS s, json_each(s.capabilities) AS cap",
}
# A cluster is named by the first of its spellings in code-point order ("Case Management" before "case
# management"), the same on both databases whatever PostgreSQL's collation.
_BINARY = {"postgresql": ' COLLATE "C"', "sqlite": ""}


async def duplication_clusters(
    ctx: Ctx, *, offset: int, limit: int, systems_each: int = EVERYTHING
) -> tuple[list[Row], int]:
    """Capabilities (case ignored) that two or more live systems provide, most systems first, with the
    systems (at most ``systems_each`` of each, by name); and how many such capabilities there are.

    One pass over the live systems' capabilities (materialised), grouped; the page's clusters are then
    joined back to their systems."""
    sql = (
        text(
            f"""
            WITH caps AS MATERIALIZED (
                SELECT lower(cap.value) AS key, cap.value AS capability, s.id AS id,
                       s.reference AS reference, s.name AS name, s.name_key AS name_key
                FROM {_CAPABILITIES[ctx.dialect]}
                WHERE s.lifecycle_stage IN :stages
            ),
            clusters AS (
                SELECT key, min(capability{_BINARY[ctx.dialect]}) AS capability, count(*) AS n,
                       count(*) OVER () AS total
                FROM caps
                GROUP BY key
                HAVING count(*) >= 2
                ORDER BY count(*) DESC, key
                LIMIT :limit OFFSET :offset
            ),
            members AS (
                SELECT caps.key AS key, caps.id AS id, caps.reference AS reference, caps.name AS name,
                       row_number() OVER (PARTITION BY caps.key ORDER BY caps.name_key, caps.id) AS position
                FROM caps JOIN clusters ON clusters.key = caps.key
            )
            SELECT clusters.key AS key, clusters.capability AS capability, clusters.n AS n,
                   clusters.total AS total, members.id AS id, members.reference AS reference,
                   members.name AS name
            FROM clusters JOIN members ON members.key = clusters.key
            WHERE members.position <= :each
            ORDER BY clusters.n DESC, clusters.key, members.position
            """
        )
        .bindparams(bindparam("stages", value=list(LIVE_STAGES), expanding=True))
        .columns(
            column("key", String),
            column("capability", String),
            column("n", Integer),
            column("total", Integer),
            column("id", Uuid),
            column("reference", String),
            column("name", String),
        )
    )
    clusters: dict[str, Row] = {}
    total = 0
    for row in await ctx.rows(sql, limit=limit, offset=offset, each=systems_each):
        total = row["total"]
        cluster = clusters.setdefault(
            row["key"], {"capability": row["capability"], "system_count": row["n"], "systems": []}
        )
        cluster["systems"].append({"id": row["id"], "reference": row["reference"], "name": row["name"]})
    if not clusters and offset > 0:
        total = (await duplication_clusters(ctx, offset=0, limit=1, systems_each=1))[1]
    return list(clusters.values()), total


# --- requests -----------------------------------------------------------------------------------------------


async def requests_pending(ctx: Ctx, *, offset: int, limit: int) -> tuple[list[Row], int]:
    """Requests neither decided nor withdrawn, oldest submission first, with their age in days."""
    where = ESTATE_REQUESTS.c.pending == true()  # = true, so the index serves it
    query = (
        select(ESTATE_REQUESTS)
        .where(where)
        .order_by(ESTATE_REQUESTS.c.submitted_at, ESTATE_REQUESTS.c.request_id)
        .offset(offset)
        .limit(limit)
    )
    rows = []
    for r in await ctx.rows(query):
        submitted_on = estate.council_day(r["submitted_at"])
        rows.append(
            {
                "request_id": r["request_id"],
                "request_key": r["reference"],
                "title": r["title"] or r["reference"],
                "state": r["state"],
                "requester": r["requester_name"],
                "requester_email": r["requester_email"],
                "service_area": r["service_area"],
                "councils": r["councils"],
                "submitted_on": submitted_on,
                "age_days": (ctx.today - submitted_on).days,
            }
        )
    return rows, await _total(ctx, rows, offset, limit, select(ESTATE_REQUESTS.c.request_id).where(where))


# --- lists of records ------------------------------------------------------------------------------------------


def _system_columns() -> list[ColumnElement[Any]]:
    return [
        SYSTEMS.c.id,
        SYSTEMS.c.reference,
        SYSTEMS.c.name,
        SYSTEMS.c.lifecycle_stage,
        SYSTEMS.c.system_owner_id,
        OWNERS.c.name.label("system_owner"),
    ]


def _systems_from() -> Any:
    return SYSTEMS.outerjoin(OWNERS, OWNERS.c.id == SYSTEMS.c.system_owner_id)


def _contract_columns() -> list[ColumnElement[Any]]:
    return [
        CONTRACTS.c.id,
        CONTRACTS.c.reference,
        CONTRACTS.c.title,
        CONTRACTS.c.status,
        CONTRACTS.c.supplier_id,
        SUPPLIERS.c.name.label("supplier"),
        CONTRACTS.c.owner_id,
        OWNERS.c.name.label("owner"),
    ]


def _contracts_from() -> Any:
    return CONTRACTS.join(SUPPLIERS, SUPPLIERS.c.id == CONTRACTS.c.supplier_id).outerjoin(
        OWNERS, OWNERS.c.id == CONTRACTS.c.owner_id
    )


def _systems_query(ctx: Ctx) -> Select[Any]:
    return (
        select(
            *_system_columns(),
            SYSTEMS.c.lead_council,
            SYSTEMS.c.disposition,
            SYSTEMS.c.hosting,
            SYSTEMS.c.cloud_feasibility,
            SYSTEMS.c.holds_personal_data,
            SYSTEMS.c.dpia_status,
            SYSTEMS.c.ropa_status,
            SYSTEMS.c.supplier_id,
            SUPPLIERS.c.name.label("supplier"),
            SYSTEMS.c.capabilities,
        )
        .select_from(_systems_from().outerjoin(SUPPLIERS, SUPPLIERS.c.id == SYSTEMS.c.supplier_id))
        .order_by(SYSTEMS.c.name_key, SYSTEMS.c.id)
    )


def _contracts_query(ctx: Ctx) -> Select[Any]:
    return (
        select(
            *_contract_columns(),
            CONTRACTS.c.contract_type,
            CONTRACTS.c.start_date,
            CONTRACTS.c.current_term_end,
            CONTRACTS.c.act_by,
            CONTRACTS.c.annual_value,
            CONTRACTS.c.total_value,
            CONTRACTS.c.councils,
        )
        .select_from(_contracts_from())
        .order_by(CONTRACTS.c.reference, CONTRACTS.c.id)
    )


def _renewal_columns() -> list[ColumnElement[Any]]:
    return [
        *_contract_columns(),
        CONTRACTS.c.act_by,
        CONTRACTS.c.current_term_end,
        CONTRACTS.c.renewal_type,
        CONTRACTS.c.notice_period_days,
        CONTRACTS.c.annual_value,
        ESTATE_ALERTS.c.last_alert_at,
        ESTATE_ALERTS.c.escalated_to,
        ESTATE_ALERTS.c.acknowledged_at,
    ]


def _renewals_from() -> Any:
    return _contracts_from().outerjoin(ESTATE_ALERTS, ESTATE_ALERTS.c.contract_id == CONTRACTS.c.id)


def _pipeline_query(ctx: Ctx) -> Select[Any]:
    return (
        select(*_renewal_columns())
        .select_from(_renewals_from())
        .where(ACTIVE, CONTRACTS.c.act_by >= ctx.today, CONTRACTS.c.act_by < ctx.window_end)
        .order_by(CONTRACTS.c.act_by, CONTRACTS.c.reference, CONTRACTS.c.id)
    )


def _overdue_query(ctx: Ctx) -> Select[Any]:
    return (
        select(*_renewal_columns(), ESTATE_ALERTS.c.days_overdue.label("notified_days_overdue"))
        .select_from(_renewals_from())
        .where(ACTIVE, CONTRACTS.c.act_by < ctx.today, not_(ended_by_decision(ctx.dialect)))
        .order_by(CONTRACTS.c.act_by, CONTRACTS.c.reference, CONTRACTS.c.id)
    )


def _personal_data_query(ctx: Ctx) -> Select[Any]:
    return (
        select(
            *_system_columns(),
            SYSTEMS.c.personal_data_categories,
            SYSTEMS.c.special_category_data,
            SYSTEMS.c.dpia_status,
            SYSTEMS.c.ropa_status,
        )
        .select_from(_systems_from())
        .where(PERSONAL_DATA_GAP)
        .order_by(SYSTEMS.c.name_key, SYSTEMS.c.id)
    )


def _without_owner(kind: str, table: Table, name: str, state: str, where: ColumnElement[bool]) -> Select[Any]:
    """The records of one kind with no owner, in the no-owner list's columns."""
    return select(
        literal(kind).label("kind"),
        table.c.id.label("id"),
        table.c.reference.label("reference"),
        table.c[name].label("name"),
        table.c[state].label("state"),
        literal(f"{kind} owner").label("missing"),
    ).where(where)


def _no_owner_query(ctx: Ctx) -> Select[Any]:
    systems = _without_owner("system", SYSTEMS, "name", "lifecycle_stage", SYSTEM_WITHOUT_OWNER)
    contracts = _without_owner("contract", CONTRACTS, "title", "status", CONTRACT_WITHOUT_OWNER)
    both = union_all(systems, contracts).subquery("no_owner")
    return select(both).order_by(both.c.kind.desc(), both.c.reference, both.c.id)


def _on_premises_query(ctx: Ctx) -> Select[Any]:
    under_contract = (
        select(func.coalesce(func.sum(CONTRACTS.c.annual_value), 0))
        .select_from(CONTRACTS.join(CONTRACT_SYSTEMS, CONTRACT_SYSTEMS.c.contract_id == CONTRACTS.c.id))
        .where(CONTRACT_SYSTEMS.c.system_id == SYSTEMS.c.id, ACTIVE)
        .scalar_subquery()
    )
    return (
        select(
            *_system_columns(),
            SYSTEMS.c.cloud_alternative,
            SYSTEMS.c.business_criticality,
            under_contract.label("annual_contract_value"),
        )
        .select_from(_systems_from())
        .where(ON_PREMISES_FEASIBLE)
        .order_by(SYSTEMS.c.name_key, SYSTEMS.c.id)
    )


def _expired_live_query(ctx: Ctx) -> Select[Any]:
    return (
        select(*_contract_columns(), CONTRACTS.c.current_term_end, CONTRACTS.c.renewal_type)
        .select_from(_contracts_from())
        .where(expired_contract(ctx), covers_live_system())
        .order_by(CONTRACTS.c.current_term_end, CONTRACTS.c.reference, CONTRACTS.c.id)
    )


def _expired_live_count(ctx: Ctx) -> Select[Any]:
    return select(CONTRACTS.c.id).where(expired_contract(ctx), covers_live_system())


def _escalated_count() -> Select[Any]:
    return (
        select(CONTRACTS.c.id)
        .select_from(CONTRACTS.join(ESTATE_ALERTS, ESTATE_ALERTS.c.contract_id == CONTRACTS.c.id))
        .where(ESCALATION_OPEN)
    )


def _notice_unknown_query(ctx: Ctx) -> Select[Any]:
    return (
        select(
            *_contract_columns(),
            CONTRACTS.c.renewal_type,
            CONTRACTS.c.current_term_end,
            CONTRACTS.c.act_by,
            CONTRACTS.c.internal_lead_time_days,
        )
        .select_from(_contracts_from())
        .where(NOTICE_UNKNOWN)
        .order_by(CONTRACTS.c.act_by, CONTRACTS.c.reference, CONTRACTS.c.id)
    )


def _escalated_query(ctx: Ctx | None = None) -> Select[Any]:
    return (
        select(
            *_contract_columns(),
            CONTRACTS.c.act_by,
            ESTATE_ALERTS.c.escalated_from,
            ESTATE_ALERTS.c.escalated_to,
            ESTATE_ALERTS.c.escalated_at,
            ESTATE_ALERTS.c.escalation_reason,
            ESTATE_ALERTS.c.escalated_rung_days.label("rung_days"),
            ESTATE_ALERTS.c.last_alert_at,
            ESTATE_ALERTS.c.acknowledged_at,
        )
        .select_from(_contracts_from().join(ESTATE_ALERTS, ESTATE_ALERTS.c.contract_id == CONTRACTS.c.id))
        .where(ESCALATION_OPEN)
        .order_by(ESTATE_ALERTS.c.escalated_at, CONTRACTS.c.reference, CONTRACTS.c.id)
    )


# --- enrichment: names of linked records for a page of rows ----------------------------------------------------


# A page's links are fetched by id (in IN lists of 500); a whole list's (an export) by the list's own query
# as a subquery, in one statement.
Within = Iterable[uuid.UUID] | Select[Any]


def _batches(column: ColumnElement[Any], within: Within) -> Iterable[ColumnElement[bool]]:
    if isinstance(within, Select):
        yield column.in_(within)
        return
    for batch in estate.chunks(dict.fromkeys(within)):
        yield column.in_(batch)


async def _service_areas_of(ctx: Ctx, system_ids: Within) -> dict[uuid.UUID, list[str]]:
    query = (
        select(SYSTEM_AREAS.c.system_id, AREAS.c.name)
        .join(AREAS, AREAS.c.id == SYSTEM_AREAS.c.service_area_id)
        .order_by(SYSTEM_AREAS.c.system_id, AREAS.c.name)
    )
    found: dict[uuid.UUID, list[str]] = {}
    for where in _batches(SYSTEM_AREAS.c.system_id, system_ids):
        for system_id, name in (await ctx.session.execute(query.where(where))).all():
            found.setdefault(system_id, []).append(name)
    return found


async def _systems_of(ctx: Ctx, contract_ids: Within, *, live_only: bool) -> dict[uuid.UUID, list[Row]]:
    query = (
        select(CONTRACT_SYSTEMS.c.contract_id, SYSTEMS.c.id, SYSTEMS.c.reference, SYSTEMS.c.name)
        .join(SYSTEMS, SYSTEMS.c.id == CONTRACT_SYSTEMS.c.system_id)
        .order_by(CONTRACT_SYSTEMS.c.contract_id, SYSTEMS.c.name_key)
    )
    if live_only:
        query = query.where(SYSTEMS.c.lifecycle_stage.in_(LIVE_STAGES))
    found: dict[uuid.UUID, list[Row]] = {}
    for where in _batches(CONTRACT_SYSTEMS.c.contract_id, contract_ids):
        for contract_id, system_id, reference, name in (await ctx.session.execute(query.where(where))).all():
            found.setdefault(contract_id, []).append({"id": system_id, "reference": reference, "name": name})
    return found


async def _areas_of_contracts(ctx: Ctx, contract_ids: Select[Any]) -> dict[uuid.UUID, list[str]]:
    """The names of the service areas the systems of each contract serve, once each, by name."""
    query = (
        select(CONTRACT_SYSTEMS.c.contract_id, AREAS.c.name)
        .select_from(
            CONTRACT_SYSTEMS.join(
                SYSTEM_AREAS, SYSTEM_AREAS.c.system_id == CONTRACT_SYSTEMS.c.system_id
            ).join(AREAS, AREAS.c.id == SYSTEM_AREAS.c.service_area_id)
        )
        .where(CONTRACT_SYSTEMS.c.contract_id.in_(contract_ids))
        .distinct()
        .order_by(CONTRACT_SYSTEMS.c.contract_id, AREAS.c.name)
    )
    found: dict[uuid.UUID, list[str]] = {}
    for contract_id, name in (await ctx.session.execute(query)).all():
        found.setdefault(contract_id, []).append(name)
    return found


# Up to this many rows, their links are fetched by id; beyond, by the list's own query.
_BY_ID_UP_TO = 1000


async def _with_service_areas(ctx: Ctx, rows: list[Row]) -> list[Row]:
    within: Within = [r["id"] for r in rows] if len(rows) <= _BY_ID_UP_TO else select(SYSTEMS.c.id)
    areas = await _service_areas_of(ctx, within)
    for row in rows:
        row["service_areas"] = areas.get(row["id"], [])
    return rows


async def _with_live_systems(ctx: Ctx, rows: list[Row]) -> list[Row]:
    within: Within = [r["id"] for r in rows] if len(rows) <= _BY_ID_UP_TO else _expired_live_count(ctx)
    systems = await _systems_of(ctx, within, live_only=True)
    for row in rows:
        row["systems"] = systems.get(row["id"], [])
    return rows


async def _with_days(ctx: Ctx, rows: list[Row], name: str) -> list[Row]:
    for row in rows:
        days = (row["act_by"] - ctx.today).days
        row[name] = days if name == "days_to_act" else -days
    return rows


# --- the catalogue of lists ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListSpec:
    """One list: its columns (key, header for a spreadsheet) and how to get a page of its rows."""

    name: str
    columns: tuple[tuple[str, str], ...]
    page: Callable[[Ctx, int, int], Awaitable[tuple[list[Row], int]]]

    @property
    def title(self) -> str:
        return estate.LISTS[self.name]


def _from_query(
    build: Callable[[Ctx], Select[Any]],
    enrich: Callable[[Ctx, list[Row]], Awaitable[list[Row]]] | None = None,
) -> Callable[[Ctx, int, int], Awaitable[tuple[list[Row], int]]]:
    async def page(ctx: Ctx, offset: int, limit: int) -> tuple[list[Row], int]:
        query = build(ctx)
        rows = await ctx.rows(query.offset(offset).limit(limit))
        total = await _total(ctx, rows, offset, limit, query.order_by(None))
        if enrich is not None and rows:
            rows = await enrich(ctx, rows)
        return rows, total

    return page


def _from_spend(query: SpendQuery) -> Callable[[Ctx, int, int], Awaitable[tuple[list[Row], int]]]:
    async def page(ctx: Ctx, offset: int, limit: int) -> tuple[list[Row], int]:
        rows, totals = await query(ctx, offset, limit)
        total = totals["groups"] if rows else (await query(ctx, 0, 1))[1]["groups"]
        return rows, total

    return page


async def _requests_page(ctx: Ctx, offset: int, limit: int) -> tuple[list[Row], int]:
    return await requests_pending(ctx, offset=offset, limit=limit)


CLUSTER_SYSTEMS_LISTED = 100
"""A cluster row lists at most this many of its systems (by name); ``system_count`` has them all, and
``GET /api/v1/systems?capability=`` lists every one."""


async def _clusters_page(ctx: Ctx, offset: int, limit: int) -> tuple[list[Row], int]:
    return await duplication_clusters(ctx, offset=offset, limit=limit, systems_each=CLUSTER_SYSTEMS_LISTED)


CONTRACT_HEAD = (
    ("id", "Contract id"),
    ("reference", "Contract reference"),
    ("title", "Title"),
    ("status", "Status"),
    ("supplier_id", "Supplier id"),
    ("supplier", "Supplier"),
    ("owner_id", "Contract owner id"),
    ("owner", "Contract owner"),
)
SYSTEM_HEAD = (
    ("id", "System id"),
    ("reference", "System reference"),
    ("name", "Name"),
    ("lifecycle_stage", "Lifecycle stage"),
    ("system_owner_id", "System owner id"),
    ("system_owner", "System owner"),
)
RENEWAL_HEAD = (
    *CONTRACT_HEAD,
    ("act_by", "Act by"),
    ("current_term_end", "Current term ends"),
    ("renewal_type", "Renewal type"),
    ("notice_period_days", "Notice period (days)"),
    ("annual_value", "Annual value (GBP)"),
    ("last_alert_at", "Last alert sent"),
    ("escalated_to", "Escalated to"),
    ("acknowledged_at", "Acknowledged"),
)
SPEND_HEAD = (
    ("key", "Key"),
    ("label", "Name"),
    ("contracts", "Active contracts"),
    ("annual_value", "Annual value (GBP)"),
)

LIST_SPECS: dict[str, ListSpec] = {
    spec.name: spec
    for spec in (
        ListSpec(
            "systems",
            (
                *SYSTEM_HEAD,
                ("lead_council", "Lead council"),
                ("service_areas", "Service areas"),
                ("supplier_id", "Supplier id"),
                ("supplier", "Supplier"),
                ("disposition", "Disposition"),
                ("hosting", "Hosting"),
                ("cloud_feasibility", "Cloud feasibility"),
                ("holds_personal_data", "Holds personal data"),
                ("dpia_status", "DPIA"),
                ("ropa_status", "RoPA"),
                ("capabilities", "Capabilities"),
            ),
            _from_query(_systems_query, _with_service_areas),
        ),
        ListSpec(
            "contracts",
            (
                *CONTRACT_HEAD,
                ("contract_type", "Type"),
                ("start_date", "Start date"),
                ("current_term_end", "Current term ends"),
                ("act_by", "Act by"),
                ("annual_value", "Annual value (GBP)"),
                ("total_value", "Total value (GBP)"),
                ("councils", "Councils"),
            ),
            _from_query(_contracts_query),
        ),
        ListSpec(
            "pipeline",
            (*RENEWAL_HEAD, ("days_to_act", "Days to act")),
            _from_query(_pipeline_query, lambda ctx, rows: _with_days(ctx, rows, "days_to_act")),
        ),
        ListSpec(
            "renewals-overdue",
            (
                *RENEWAL_HEAD,
                ("days_overdue", "Days overdue"),
                ("notified_days_overdue", "Days overdue (last alert)"),
            ),
            _from_query(_overdue_query, lambda ctx, rows: _with_days(ctx, rows, "days_overdue")),
        ),
        ListSpec(
            "requests-pending",
            (
                ("request_id", "Request id"),
                ("request_key", "Request reference"),
                ("title", "Title"),
                ("state", "State"),
                ("requester", "Requester"),
                ("requester_email", "Requester e-mail"),
                ("service_area", "Service area"),
                ("councils", "Councils"),
                ("submitted_on", "Submitted on"),
                ("age_days", "Age (days)"),
            ),
            _requests_page,
        ),
        ListSpec(
            "duplication-clusters",
            (("capability", "Capability"), ("system_count", "Live systems"), ("systems", "Systems")),
            _clusters_page,
        ),
        ListSpec(
            "personal-data-without-dpia-or-ropa",
            (
                *SYSTEM_HEAD,
                ("personal_data_categories", "Personal data"),
                ("special_category_data", "Special category data"),
                ("dpia_status", "DPIA"),
                ("ropa_status", "RoPA"),
            ),
            _from_query(_personal_data_query),
        ),
        ListSpec(
            "no-owner",
            (
                ("kind", "Record"),
                ("id", "Id"),
                ("reference", "Reference"),
                ("name", "Name or title"),
                ("state", "Lifecycle stage or status"),
                ("missing", "Missing"),
            ),
            _from_query(_no_owner_query),
        ),
        ListSpec(
            "on-premises-cloud-feasible",
            (
                *SYSTEM_HEAD,
                ("cloud_alternative", "Cloud alternative"),
                ("business_criticality", "Business criticality"),
                ("annual_contract_value", "Annual value of its active contracts (GBP)"),
            ),
            _from_query(_on_premises_query),
        ),
        ListSpec(
            "expired-contract-live-system",
            (
                *CONTRACT_HEAD,
                ("current_term_end", "Term ended"),
                ("renewal_type", "Renewal type"),
                ("systems", "Live systems covered"),
            ),
            _from_query(_expired_live_query, _with_live_systems),
        ),
        ListSpec(
            "notice-unknown",
            (
                *CONTRACT_HEAD,
                ("renewal_type", "Renewal type"),
                ("current_term_end", "Current term ends"),
                ("act_by", "Act by (without notice)"),
                ("internal_lead_time_days", "Internal lead time (days)"),
            ),
            _from_query(_notice_unknown_query),
        ),
        ListSpec(
            "alerts-escalated",
            (
                *CONTRACT_HEAD,
                ("act_by", "Act by"),
                ("escalated_from", "Escalated from"),
                ("escalated_to", "Escalated to"),
                ("escalated_at", "Escalated at"),
                ("escalation_reason", "Why"),
                ("rung_days", "Alert (days before act-by)"),
                ("last_alert_at", "Last alert sent"),
                ("acknowledged_at", "Last acknowledged"),
            ),
            _from_query(_escalated_query),
        ),
        ListSpec("spend-by-supplier", SPEND_HEAD, _from_spend(spend_by_supplier)),
        ListSpec("spend-by-service-area", SPEND_HEAD, _from_spend(spend_by_service_area)),
        ListSpec("spend-by-council", SPEND_HEAD, _from_spend(spend_by_council)),
    )
}
assert set(LIST_SPECS) == set(estate.LISTS), "every named list has a query"


def list_spec(name: str) -> ListSpec:
    spec = LIST_SPECS.get(name)
    if spec is None:
        raise NotFound(f"there is no estate list {name!r}; the lists are: {estate.known_lists()}")
    return spec


async def list_page(
    session: AsyncSession, name: str, *, today: date, offset: int, limit: int | None
) -> tuple[list[Row], int]:
    """One page of a list (``limit=None``: the whole list), and how many rows the whole list has."""
    spec = list_spec(name)
    return await spec.page(Ctx(session, today), offset, EVERYTHING if limit is None else limit)


# --- exports ---------------------------------------------------------------------------------------------------

TRANSPARENCY_COLUMNS = (
    ("reference", "Reference number"),
    ("title", "Title of agreement"),
    ("description", "Description of the goods and/or services"),
    ("department", "Local authority department responsible"),
    ("supplier", "Supplier name"),
    ("supplier_registration", "Supplier company or charity registration number"),
    ("sme", "Supplier is an SME"),
    ("vcse", "Supplier is a VCSE organisation"),
    ("start_date", "Start date"),
    ("end_date", "End date"),
    ("review_date", "Review date"),
    ("total_value", "Value of the contract over its length (GBP)"),
    ("annual_value", "Estimated annual value (GBP)"),
    ("irrecoverable_vat", "VAT that cannot be recovered (GBP)"),
    ("procurement_route", "Procurement route"),
    ("councils", "Councils"),
)
"""The Local Government Transparency Code 2015 contract details, one column each. The register does not
hold a supplier's registration number, SME or VCSE status or irrecoverable VAT: those columns are blank
(the Code asks for them where known)."""


def transparency_value() -> ColumnElement[Any]:
    """The value the £5,000 threshold is judged on: the total over the contract's length when recorded,
    else the annual value."""
    return func.coalesce(CONTRACTS.c.total_value, CONTRACTS.c.annual_value)


def _published() -> ColumnElement[bool]:
    """The contracts the Code publishes: active, with a value over the threshold."""
    return and_(ACTIVE, transparency_value() > TRANSPARENCY_THRESHOLD)


async def transparency_rows(session: AsyncSession, *, today: date) -> list[Row]:
    """Active contracts whose value exceeds £5,000, by reference, in the Code's columns."""
    ctx = Ctx(session, today)
    query = (
        select(
            CONTRACTS.c.id,
            CONTRACTS.c.reference,
            CONTRACTS.c.title,
            CONTRACTS.c.contract_type,
            CONTRACTS.c.procurement_route,
            CONTRACTS.c.start_date,
            CONTRACTS.c.current_term_end,
            CONTRACTS.c.act_by,
            CONTRACTS.c.annual_value,
            CONTRACTS.c.total_value,
            CONTRACTS.c.councils,
            SUPPLIERS.c.name.label("supplier"),
        )
        .select_from(CONTRACTS.join(SUPPLIERS, SUPPLIERS.c.id == CONTRACTS.c.supplier_id))
        .where(_published())
        .order_by(CONTRACTS.c.reference, CONTRACTS.c.id)
    )
    rows = await ctx.rows(query)
    published = select(CONTRACTS.c.id).where(_published())
    systems = await _systems_of(ctx, published, live_only=False)
    areas = await _areas_of_contracts(ctx, published)
    councils = await _council_names(ctx)
    out = []
    for r in rows:
        covered = systems.get(r["id"], [])
        departments = areas.get(r["id"], [])
        kind = CONTRACT_TYPE_LABELS.get(r["contract_type"], r["contract_type"])
        names = ", ".join(s["name"] for s in covered)
        out.append(
            {
                "reference": r["reference"],
                "title": r["title"],
                "description": f"{kind}: {names}" if names else kind,
                "department": "; ".join(departments),
                "supplier": r["supplier"],
                "supplier_registration": None,
                "sme": None,
                "vcse": None,
                "start_date": r["start_date"],
                "end_date": r["current_term_end"],
                "review_date": r["act_by"],
                "total_value": r["total_value"],
                "annual_value": r["annual_value"],
                "irrecoverable_vat": None,
                "procurement_route": ROUTE_LABELS.get(r["procurement_route"] or "", r["procurement_route"]),
                "councils": "; ".join(councils.get(c, c) for c in r["councils"] or []),
            }
        )
    return out


async def ocds_contracts(session: AsyncSession) -> tuple[list[Row], dict[str, str]]:
    """Every contract with its supplier's name (by reference), and the councils' names by code."""
    ctx = Ctx(session, date.min)
    query = (
        select(
            CONTRACTS.c.id,
            CONTRACTS.c.reference,
            CONTRACTS.c.title,
            CONTRACTS.c.status,
            CONTRACTS.c.version,
            CONTRACTS.c.updated_at,
            CONTRACTS.c.start_date,
            CONTRACTS.c.current_term_end,
            CONTRACTS.c.annual_value,
            CONTRACTS.c.total_value,
            CONTRACTS.c.councils,
            CONTRACTS.c.supplier_id,
            SUPPLIERS.c.name.label("supplier"),
        )
        .select_from(CONTRACTS.join(SUPPLIERS, SUPPLIERS.c.id == CONTRACTS.c.supplier_id))
        .order_by(CONTRACTS.c.reference, CONTRACTS.c.id)
    )
    return await ctx.rows(query), await _council_names(ctx)


# --- the cache ------------------------------------------------------------------------------------------------


async def change_marker(session: AsyncSession) -> tuple[Any, ...]:
    """What moves whenever anything the summary reads changes: the newest audit entry (every change to
    every register record writes one) and the newest write to each estate projection."""
    query = select(
        select(func.max(AUDIT.c.id)).scalar_subquery(),
        select(func.max(ESTATE_REQUESTS.c.changed_at)).scalar_subquery(),
        select(func.max(ESTATE_ALERTS.c.changed_at)).scalar_subquery(),
    )
    return tuple((await session.execute(query)).one())


@dataclass
class SummaryCache:
    """The last summary computed in this process, kept while its day and change marker hold and for at
    most ``max_age_s`` seconds (0: never kept). One computation at a time: requests that find the entry
    out of date while another is computing it wait for that one instead of starting their own (a cold
    summary of a national estate is a second of database work; twenty at once would be twenty).

    With ``stale_for_s`` set, a request that finds the entry out of date but younger than that (and of
    the same day) is answered with it at once while one refresh runs in the background: the dashboard
    then never waits for the summary's SQL, and its figures lag a change by the length of one
    computation. The answer's ``refreshing`` says when it is such an entry."""

    max_age_s: float = 60.0
    stale_for_s: float = 0.0
    clock: Callable[[], float] = time.monotonic
    _entry: tuple[tuple[Any, ...], float, dict[str, Any]] | None = field(default=None, repr=False)
    _computing: asyncio.Lock | None = field(default=None, repr=False)
    _refresh: asyncio.Task[dict[str, Any]] | None = field(default=None, repr=False)

    def _fresh(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        entry = self._entry
        if entry is not None and entry[0] == key and self.clock() - entry[1] < self.max_age_s:
            return entry[2]
        return None

    def _stale(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        entry = self._entry
        if entry is not None and entry[0][0] == key[0] and self.clock() - entry[1] < self.stale_for_s:
            return entry[2]
        return None

    async def _compute(self, sessions: Sessions, key: tuple[Any, ...], today: date) -> dict[str, Any]:
        if self._computing is None:
            self._computing = asyncio.Lock()
        async with self._computing:
            if (kept := self._fresh(key)) is not None:  # computed while this request waited
                return kept
            value = await summary(sessions, today=today)
            self._entry = (key, self.clock(), value)
            return value

    async def summary(self, sessions: Sessions, *, today: date) -> dict[str, Any]:
        async with sessions() as session:
            key = (today, *(await change_marker(session)))
        if (kept := self._fresh(key)) is not None:
            return kept
        if (stale := self._stale(key)) is not None:
            if self._refresh is None or self._refresh.done():
                self._refresh = asyncio.create_task(self._compute(sessions, key, today))
                self._refresh.add_done_callback(_log_failed_refresh)
            return {**stale, "refreshing": True}
        return await self._compute(sessions, key, today)


def _log_failed_refresh(task: asyncio.Task[dict[str, Any]]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("the estate summary could not be refreshed: %s", error, exc_info=error)


# --- turning row values into JSON and cells ---------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A row value as JSON: ids and dates as text, money as "1250.00"."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def json_row(row: Row) -> Row:
    return {k: _plain(v) for k, v in row.items()}


def cell(value: Any) -> Any:
    """A row value as a spreadsheet cell: lists joined with "; ", linked records as "REF Name"."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return value.quantize(PENCE)
    if isinstance(value, list | tuple):
        return "; ".join(
            f"{v['reference']} {v['name']}" if isinstance(v, dict) else str(cell(v)) for v in value
        )
    return value


def cells(columns: Sequence[tuple[str, str]], rows: Iterable[Row]) -> Iterable[list[Any]]:
    for row in rows:
        yield [cell(row.get(key)) for key, _ in columns]


__all__ = [
    "LIST_SPECS",
    "TRANSPARENCY_COLUMNS",
    "SummaryCache",
    "cells",
    "change_marker",
    "json_row",
    "list_page",
    "list_spec",
    "ocds_contracts",
    "summary",
    "transparency_rows",
]
