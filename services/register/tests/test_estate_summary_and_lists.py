"""The estate view's figures on the hand-built estate of ``register_estate_support.py``: every number a TDA
member would read on the summary, and the rows of every list, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from register_estate_support import REQUEST_IDS, TODAY

from estate_register.adapters.db import estate_queries
from estate_register.application import services
from estate_register.bootstrap import Container
from estate_register.domain.errors import NotFound

on_both_databases = pytest.mark.parametrize("estate_db", ["sqlite", "postgresql"], indirect=True)
SYSTEMS_BY_NAME = ["CaseTracker", "govmetric", "Miro whiteboard", "Orchard", "Storm", "Tascomi"]
"""Every system of the hand-built estate, in the order of the systems list (by name, case ignored)."""


async def summary_of(container: Container, today: date = TODAY) -> dict[str, Any]:
    return await estate_queries.summary(container.sessions, today=today)


async def rows_of(container: Container, name: str, **page: int) -> tuple[list[dict[str, Any]], int]:
    async with container.sessions() as session:
        rows, total = await estate_queries.list_page(
            session, name, today=TODAY, offset=page.get("offset", 0), limit=page.get("limit")
        )
    return [estate_queries.json_row(r) for r in rows], total


def months_with_contracts(summary: dict[str, Any]) -> dict[str, tuple[int, str]]:
    return {m["month"]: (m["contracts"], m["annual_value"]) for m in summary["pipeline"] if m["contracts"]}


@on_both_databases
async def test_the_summary_gives_the_totals_pipeline_and_risks_a_tda_member_would_count_by_hand(
    estate_container: Container, estate_ids: dict[str, uuid.UUID]
):
    summary = await summary_of(estate_container)

    assert summary["as_of"] == "2025-03-03"
    assert summary["totals"] == {
        "systems": 6,
        "live_systems": 4,  # Orchard, CaseTracker, Miro whiteboard (live) and Storm (under review)
        "contracts": 11,
        "live_contracts": 8,  # the active ones
        "live_contracts_without_value": 0,
        "suppliers": 4,  # Old Supplier is retired
        "annual_value": "545501.01",
        "act_within_90_days": 0,  # the soonest, C-01's act-by on 2 June 2025, is 91 days away
    }
    assert [m["month"] for m in summary["pipeline"]][:2] == ["2025-03", "2025-04"]
    assert summary["pipeline"][-1]["month"] == "2027-02"
    assert len(summary["pipeline"]) == 24
    assert months_with_contracts(summary) == {
        "2025-06": (1, "184500.00"),  # C-01
        "2026-02": (1, "5000.01"),  # C-05: 1 March 2026 is a Sunday, so Friday 27 February
        "2027-02": (1, "250000.00"),  # C-10; C-11's act-by (1 March 2027) is past the 24 months
    }
    # C-02, C-03 and the tacit C-04 passed act-by with no decision; C-09's owner decided to terminate.
    assert summary["pipeline_overdue"] == {"contracts": 3, "annual_value": "105000.00"}
    assert {r["list"]: r["count"] for r in summary["risks"]} == {
        "personal-data-without-dpia-or-ropa": 2,  # CaseTracker (no DPIA), Storm (RoPA in progress)
        "no-owner": 4,  # CaseTracker, Tascomi; C-03, C-06
        "on-premises-cloud-feasible": 1,  # Orchard (govmetric is retired)
        "expired-contract-live-system": 2,  # C-03 (term over), C-08 (expired); not the tacit C-04
        "notice-unknown": 2,  # C-03, C-06
        "alerts-escalated": 1,  # C-02 (C-01's was acknowledged, C-10's is for an old act-by)
    }
    assert all(r["label"] for r in summary["risks"])


@on_both_databases
async def test_the_summary_spend_lifecycle_requests_and_duplication(
    estate_container: Container, estate_ids: dict[str, uuid.UUID]
):
    summary = await summary_of(estate_container)

    ids = {k: str(v) for k, v in estate_ids.items()}
    assert summary["spend"]["by_supplier"] == [
        {"key": ids["Content Guru"], "label": "Content Guru", "contracts": 3, "annual_value": "346001.00"},
        {"key": ids["MRI Software"], "label": "MRI Software", "contracts": 2, "annual_value": "185500.00"},
        {"key": ids["Miro"], "label": "Miro", "contracts": 2, "annual_value": "10000.01"},
        {"key": ids["Idox"], "label": "Idox", "contracts": 1, "annual_value": "4000.00"},
    ]
    # A contract counts in full in every area its systems serve (C-04 and C-05 in two).
    assert summary["spend"]["by_service_area"] == [
        {
            "key": ids["Customer Services"],
            "label": "Customer Services (CCC)",
            "contracts": 4,
            "annual_value": "356000.01",
        },
        {"key": ids["Housing"], "label": "Housing (CCC)", "contracts": 3, "annual_value": "189500.00"},
        {"key": ids["Finance"], "label": "Finance (CCC)", "contracts": 2, "annual_value": "10000.01"},
        {"key": "none", "label": "No service area recorded", "contracts": 1, "annual_value": "1.00"},
    ]
    assert summary["spend"]["by_council"] == [
        {"key": "CCC", "label": "Cambridge City Council", "contracts": 6, "annual_value": "536501.00"},
        {
            "key": "SCDC",
            "label": "South Cambridgeshire District Council",
            "contracts": 2,
            "annual_value": "101000.01",
        },
        {"key": "none", "label": "No council recorded", "contracts": 1, "annual_value": "4000.00"},
    ]
    assert {c["key"]: c["count"] for c in summary["lifecycle"]} == {
        "proposed": 0,
        "planned": 1,
        "in_procurement": 0,
        "implementing": 0,
        "live": 3,
        "under_review": 1,
        "decommissioning": 0,
        "retired": 1,
    }
    assert [(c["key"], c["label"], c["count"]) for c in summary["disposition"]] == [
        ("tolerate", "Tolerate", 1),
        ("invest", "Invest", 0),  # govmetric is retired
        ("migrate", "Migrate", 1),
        ("eliminate", "Eliminate", 1),
        ("not_set", "Not yet decided", 2),
    ]
    assert summary["requests_pending_count"] == 3
    assert summary["requests_pending"] == [
        {
            "request_id": str(REQUEST_IDS["R5"]),
            "request_key": "TR-2025-0005",
            "title": "Housing repairs app",
            "state": "reopened",
            "requester": "Ravi Patel",
            "submitted_on": "2024-12-01",
            "age_days": 92,
        },
        {
            "request_id": str(REQUEST_IDS["R1"]),
            "request_key": "TR-2025-0001",
            "title": "Replace the complaints tracker",
            "state": "submitted",
            "requester": "Ravi Patel",
            "submitted_on": "2025-01-10",
            "age_days": 52,
        },
        {
            "request_id": str(REQUEST_IDS["R2"]),
            "request_key": "TR-2025-0002",
            "title": "Online booking for bulky waste",
            "state": "under_review",
            "requester": "Ravi Patel",
            "submitted_on": "2025-02-20",
            "age_days": 11,
        },
    ]
    clusters = summary["duplication_clusters"]
    assert clusters["count"] == 2
    assert [
        (c["capability"], c["system_count"], [s["name"] for s in c["systems"]]) for c in clusters["top"]
    ] == [
        ("Case Management", 3, ["CaseTracker", "Orchard", "Storm"]),  # not Tascomi: only planned
        ("complaints", 2, ["CaseTracker", "Miro whiteboard"]),  # not govmetric: retired
    ]
    assert clusters["top"][0]["systems"][0] == {
        "id": ids["CaseTracker"],
        "reference": "SYS-00002",
        "name": "CaseTracker",
    }


async def test_beyond_the_top_groups_the_rest_of_the_spend_is_one_other_row(
    estate_container: Container, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(estate_queries, "TOP", 2)

    by_supplier = (await summary_of(estate_container))["spend"]["by_supplier"]

    assert [(s["label"], s["contracts"], s["annual_value"]) for s in by_supplier] == [
        ("Content Guru", 3, "346001.00"),
        ("MRI Software", 2, "185500.00"),
        ("All other suppliers (2)", 3, "14000.01"),  # Miro and Idox
    ]
    assert by_supplier[-1]["key"] == "other"


@on_both_databases
async def test_each_list_holds_the_records_its_rule_picks_in_its_order(
    estate_container: Container, estate_ids: dict[str, uuid.UUID]
):
    def refs(rows: list[dict[str, Any]], key: str = "reference") -> list[Any]:
        return [r[key] for r in rows]

    systems, total = await rows_of(estate_container, "systems")
    assert total == 6
    assert refs(systems, "name") == SYSTEMS_BY_NAME
    miro = systems[2]
    assert (miro["service_areas"], miro["supplier"], miro["system_owner"]) == (
        ["Customer Services", "Finance"],
        "Miro",
        "Sam Whitfield",
    )
    contracts, total = await rows_of(estate_container, "contracts")
    assert (total, refs(contracts)) == (11, [f"C-{n:02d}" for n in range(1, 12)])

    pipeline, total = await rows_of(estate_container, "pipeline")
    assert refs(pipeline) == ["C-01", "C-05", "C-10"]
    assert [r["days_to_act"] for r in pipeline] == [
        (date(2025, 6, 2) - TODAY).days,
        (date(2026, 2, 27) - TODAY).days,
        (date(2027, 2, 26) - TODAY).days,
    ]
    assert (pipeline[0]["act_by"], pipeline[0]["escalated_to"], pipeline[0]["owner"]) == (
        "2025-06-02",
        "budget_holder",
        "Sam Whitfield",
    )
    assert pipeline[0]["acknowledged_at"] == "2025-02-21T10:00:00+00:00"

    overdue, _ = await rows_of(estate_container, "renewals-overdue")
    assert [(r["reference"], r["days_overdue"], r["notified_days_overdue"]) for r in overdue] == [
        ("C-04", 33, None),
        ("C-02", 32, 4),  # the notifications service last said 4 days, on 3 February
        ("C-03", 31, None),
    ]
    requests, total = await rows_of(estate_container, "requests-pending")
    assert (total, refs(requests, "request_key")) == (3, ["TR-2025-0005", "TR-2025-0001", "TR-2025-0002"])

    clusters, total = await rows_of(estate_container, "duplication-clusters")
    assert (total, refs(clusters, "capability")) == (2, ["Case Management", "complaints"])

    personal, _ = await rows_of(estate_container, "personal-data-without-dpia-or-ropa")
    assert [(r["name"], r["dpia_status"], r["ropa_status"]) for r in personal] == [
        ("CaseTracker", "not_started", "completed"),
        ("Storm", "completed", "in_progress"),
    ]
    no_owner, total = await rows_of(estate_container, "no-owner")
    assert [(r["kind"], r["reference"], r["missing"]) for r in no_owner] == [
        ("system", "SYS-00002", "system owner"),
        ("system", "SYS-00004", "system owner"),
        ("contract", "C-03", "contract owner"),
        ("contract", "C-06", "contract owner"),
    ]
    assert no_owner[0]["id"] == str(estate_ids["CaseTracker"])

    on_premises, _ = await rows_of(estate_container, "on-premises-cloud-feasible")
    assert [(r["name"], r["annual_contract_value"]) for r in on_premises] == [("Orchard", "185500.00")]

    expired, _ = await rows_of(estate_container, "expired-contract-live-system")
    assert [(r["reference"], [s["name"] for s in r["systems"]]) for r in expired] == [
        ("C-08", ["CaseTracker", "Orchard"]),
        ("C-03", ["CaseTracker"]),
    ]
    notice, _ = await rows_of(estate_container, "notice-unknown")
    assert [(r["reference"], r["status"]) for r in notice] == [("C-03", "active"), ("C-06", "pending")]

    escalated, _ = await rows_of(estate_container, "alerts-escalated")
    assert [(r["reference"], r["escalated_to"], r["escalated_at"], r["rung_days"]) for r in escalated] == [
        ("C-02", "tda", "2025-01-23T10:00:00+00:00", 14)
    ]
    assert escalated[0]["id"] == str(estate_ids["C-02"])

    spend, total = await rows_of(estate_container, "spend-by-supplier")
    assert (total, refs(spend, "label")) == (4, ["Content Guru", "MRI Software", "Miro", "Idox"])
    areas, total = await rows_of(estate_container, "spend-by-service-area")
    assert (total, areas[-1]["key"]) == (4, "none")
    councils, total = await rows_of(estate_container, "spend-by-council")
    assert (total, refs(councils, "key")) == (3, ["CCC", "SCDC", "none"])


async def test_a_list_is_paged_and_knows_its_length(estate_container: Container):
    first, total = await rows_of(estate_container, "systems", offset=0, limit=4)
    second, again = await rows_of(estate_container, "systems", offset=4, limit=4)
    beyond, still = await rows_of(estate_container, "systems", offset=8, limit=4)

    assert (total, again, still) == (6, 6, 6)
    assert [r["name"] for r in first + second] == SYSTEMS_BY_NAME
    assert beyond == []
    page, total = await rows_of(estate_container, "spend-by-council", offset=1, limit=1)
    assert ([r["key"] for r in page], total) == (["SCDC"], 3)
    page, total = await rows_of(estate_container, "duplication-clusters", offset=5, limit=1)
    assert (page, total) == ([], 2)


async def test_an_unknown_list_is_not_found_and_the_error_names_the_lists(estate_container: Container):
    async with estate_container.sessions() as session:
        with pytest.raises(NotFound) as raised:
            await estate_queries.list_page(session, "shadow-it", today=TODAY, offset=0, limit=10)
    assert "shadow-it" in raised.value.detail
    assert "personal-data-without-dpia-or-ropa" in raised.value.detail


async def test_the_summary_is_reused_until_something_changes_or_the_day_turns(estate_container: Container):
    ticks = [0.0]
    cache = estate_queries.SummaryCache(max_age_s=60, clock=lambda: ticks[0])

    first = await cache.summary(estate_container.sessions, today=TODAY)
    again = await cache.summary(estate_container.sessions, today=TODAY)
    assert again is first

    async with estate_container.uow() as uow:
        await services.record_supplier(uow, fields={"name": "Silktide"}, actor="tester")
    changed = await cache.summary(estate_container.sessions, today=TODAY)
    assert changed is not first
    assert changed["totals"]["suppliers"] == first["totals"]["suppliers"] + 1

    tomorrow = await cache.summary(estate_container.sessions, today=TODAY + timedelta(days=1))
    assert tomorrow is not changed and tomorrow["as_of"] == "2025-03-04"

    ticks[0] = 61.0  # older than max_age_s: recomputed even though nothing changed
    assert await cache.summary(estate_container.sessions, today=TODAY + timedelta(days=1)) is not tomorrow


async def test_a_change_to_the_estate_view_projections_also_refreshes_the_summary(
    estate_container: Container,
):
    from register_estate_support import project, submitted

    cache = estate_queries.SummaryCache(max_age_s=60)
    before = await cache.summary(estate_container.sessions, today=TODAY)
    estate_container.clock.set(estate_container.clock() + timedelta(seconds=1))  # type: ignore[attr-defined]

    await project(estate_container, [submitted("R4", "A new intranet", "2025-01-20")])  # a replay: no change
    assert await cache.summary(estate_container.sessions, today=TODAY) is before

    new = submitted("R1", "Replace the complaints tracker", "2025-01-10").model_copy(
        update={"request_id": uuid.uuid4(), "reference": "TR-2025-0099"}
    )
    await project(estate_container, [new])
    after = await cache.summary(estate_container.sessions, today=TODAY)
    assert after["requests_pending_count"] == before["requests_pending_count"] + 1


async def test_requests_arriving_while_the_summary_is_computed_wait_for_that_one_computation(
    estate_container: Container, monkeypatch: pytest.MonkeyPatch
):
    import asyncio

    computed = []
    real = estate_queries.summary

    async def counted(sessions: Any, *, today: date) -> dict[str, Any]:
        computed.append(today)
        return await real(sessions, today=today)

    monkeypatch.setattr(estate_queries, "summary", counted)
    cache = estate_queries.SummaryCache(max_age_s=60)

    results = await asyncio.gather(*(cache.summary(estate_container.sessions, today=TODAY) for _ in range(5)))

    assert computed == [TODAY]
    assert all(r is results[0] for r in results)


async def test_after_a_change_the_previous_summary_is_answered_at_once_while_one_refresh_runs(
    estate_container: Container,
):
    import asyncio

    ticks = [0.0]
    cache = estate_queries.SummaryCache(max_age_s=60, stale_for_s=300, clock=lambda: ticks[0])
    first = await cache.summary(estate_container.sessions, today=TODAY)
    assert "refreshing" not in first

    async with estate_container.uow() as uow:
        await services.record_supplier(uow, fields={"name": "Silktide"}, actor="tester")
    answered = await cache.summary(estate_container.sessions, today=TODAY)
    assert answered["refreshing"] is True
    assert answered["totals"] == first["totals"]  # the figures from before the change, without waiting

    assert cache._refresh is not None
    await asyncio.wait_for(asyncio.shield(cache._refresh), timeout=30)
    refreshed = await cache.summary(estate_container.sessions, today=TODAY)
    assert "refreshing" not in refreshed
    assert refreshed["totals"]["suppliers"] == first["totals"]["suppliers"] + 1

    # A new day's figures are never answered from yesterday's, and neither is an entry past stale_for_s.
    tomorrow = await cache.summary(estate_container.sessions, today=TODAY + timedelta(days=1))
    assert "refreshing" not in tomorrow and tomorrow["as_of"] == "2025-03-04"
    ticks[0] = 400.0
    async with estate_container.uow() as uow:
        await services.record_supplier(uow, fields={"name": "Jadu"}, actor="tester")
    late = await cache.summary(estate_container.sessions, today=TODAY + timedelta(days=1))
    assert "refreshing" not in late
    assert late["totals"]["suppliers"] == first["totals"]["suppliers"] + 2
