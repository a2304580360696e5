"""The lists that read their page straight from the database: the decision log (``decision_log``,
append-only), the conditions across requests (``request_conditions``) and the waiting requests (a
cutoff on ``state_since``). Each pages with a keyset cursor, on SQLite and on PostgreSQL, and says the
same as the domain's own rules (``services.waiting_too_long``, the request's view of its decisions)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from procurement_api_support import ADA, ALEX, AUD, BEA, CHRIS, OWEN, TARA, Person, Procurement
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from estate_procurement.adapters.db.migrate import alembic_config, upgrade
from estate_procurement.application import services

BOTH = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def every_page(service: Procurement, path: str, person: Person, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged list (``Page`` body), following ``next_cursor``; at least two pages."""
    items: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await service.call("GET", path, person, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 50, "the cursor does not move on"


async def approvable(service: Procurement, person: Person = ALEX, **overrides: Any) -> dict[str, Any]:
    """A request under review whose red-line items (DE1.2, DPIA1) Tara rated met: it may be approved."""
    request = await service.under_review(person, **overrides)
    for item in ("DE1.2", "DPIA1"):
        await service.ok("PUT", f"/requests/{request['id']}/ratings/{item}", TARA, json={"rating": "met"})
    return request


# --- the decision log ------------------------------------------------------------------------------


@BOTH
async def test_the_decision_log_pages_newest_first_and_keeps_a_reopened_requests_earlier_decision(
    service: Procurement, clock
) -> None:
    decided: list[tuple[str, int]] = []
    requests = []
    for day in (2, 3, 4, 5):
        clock.set(at(2026, 11, day))
        request = await service.under_review(title=f"Request of {day} November")
        await service.decided(request["id"], "not_approved", f"Not now ({day} November)")
        requests.append(request)
        decided.append((request["id"], 1))
    clock.set(at(2026, 11, 6))
    conditional = await approvable(service, title="With a condition")
    first = await service.decided(
        conditional["id"],
        "approved_with_conditions",
        "Go ahead once the DPIA is signed",
        conditions=[{"text": "DPIA signed off", "owner": OWEN.ref, "due_date": "2026-11-30"}],
    )
    (condition,) = first["conditions"]
    await service.ok(
        "POST",
        f"/requests/{conditional['id']}/conditions/{condition['id']}/met",
        OWEN,
        json={"evidence": "DPIA ref 42"},
    )
    decided.append((conditional["id"], 1))
    # The chair reopens the second request and decides it again: a new row, the first one unchanged.
    clock.set(at(2026, 11, 9))
    reopened = requests[1]
    await service.ok("POST", f"/requests/{reopened['id']}/reopen", CHRIS, json={"reason": "New price"})
    clock.set(at(2026, 11, 10))
    await service.decided(reopened["id"], "not_approved", "Still not now")
    decided.append((reopened["id"], 2))
    # A request reopened and not decided again keeps its decision (and its condition's progress).
    await service.ok("POST", f"/requests/{conditional['id']}/reopen", CHRIS, json={"reason": "Scope grew"})

    log = await every_page(service, "/decisions", BEA, limit=2)

    assert [(e["request_id"], e["round"]) for e in log] == list(reversed(decided))
    first_page = await service.ok("GET", "/decisions?limit=2&count=true", BEA)
    assert first_page["total"] == 6
    assert len(first_page["items"]) == 2
    assert first_page["next_cursor"]
    earlier, later = (e for e in reversed(log) if e["request_id"] == reopened["id"])
    assert (earlier["round"], earlier["rationale"]) == (1, "Not now (3 November)")
    assert (later["round"], later["rationale"]) == (2, "Still not now")
    # Each entry says what the request's own view says about that decision.
    for entry in log:
        view, _ = await service.read(entry["request_id"])
        decision = next(d for d in view["decisions"] if d["round"] == entry["round"])
        for field in ("outcome", "rationale", "decided_by", "recommended_outcome", "checklist_version"):
            assert entry[field] == decision[field], field
        assert entry["conditions"] == decision["conditions"]
        assert datetime.fromisoformat(entry["decided_at"]) == datetime.fromisoformat(decision["decided_at"])
        assert (entry["reference"], entry["title"]) == (view["reference"], view["title"])
    shown = next(e for e in log if e["request_id"] == conditional["id"])
    assert shown["conditions"][0]["status"] == "met"
    assert shown["conditions"][0]["met"]["met_by"] == OWEN.ref

    conditional_only = await service.ok("GET", "/decisions?outcome=approved_with_conditions&count=true", AUD)
    assert [e["request_id"] for e in conditional_only["items"]] == [conditional["id"]]
    assert conditional_only["total"] == 1
    bad = await service.call("GET", "/decisions", BEA, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422


@BOTH
async def test_the_database_refuses_to_change_or_remove_a_published_decision(
    service: Procurement, db_url: str
) -> None:
    request = await service.under_review()
    await service.decided(request["id"], "not_approved", "Re-use what we have")

    for statement in ("UPDATE decision_log SET rationale = 'edited'", "DELETE FROM decision_log"):
        with pytest.raises(DBAPIError) as refused:
            async with service.container.sessions.begin() as session:
                await session.execute(text(statement))
        assert "immutable" in str(refused.value)

    (entry,) = (await service.ok("GET", "/decisions", ADA))["items"]
    assert entry["rationale"] == "Re-use what we have"


@BOTH
async def test_the_migration_backfills_the_log_from_the_requests(service: Procurement, db_url: str) -> None:
    """Downgrading to 0002 drops the log; upgrading again rebuilds it, from the requests' bodies, as the
    repository wrote it (and who met each condition, with their e-mail)."""
    request = await approvable(service)
    decided = await service.decided(
        request["id"],
        "approved_with_conditions",
        "With an exit plan",
        conditions=[{"text": "Exit plan", "owner": TARA.ref, "due_in_working_days": 5}],
    )
    condition = decided["conditions"][0]
    await service.ok(
        "POST", f"/requests/{request['id']}/conditions/{condition['id']}/met", TARA, json={"evidence": "plan"}
    )
    await service.ok("POST", f"/requests/{request['id']}/reopen", CHRIS, json={"reason": "Again"})
    await service.decided(request["id"], "not_approved", "No after all")
    other = await service.under_review(BEA)
    await service.decided(other["id"], "not_approved", "Not this one")
    before = await service.ok("GET", "/decisions", ADA)
    await service.container.engine.dispose()

    await asyncio.to_thread(_downgrade, db_url, "0002")
    await asyncio.to_thread(upgrade, db_url)

    assert await service.ok("GET", "/decisions", ADA) == before
    assert len(before["items"]) == 3


def _downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


# --- conditions ------------------------------------------------------------------------------------


@BOTH
async def test_conditions_page_through_earliest_due_first(service: Procurement, clock) -> None:
    expected: list[tuple[str, str]] = []
    for n, owner in enumerate((OWEN, TARA, OWEN)):
        request = await approvable(service, title=f"Conditional {n}")
        decided = await service.decided(
            request["id"],
            "approved_with_conditions",
            f"Conditions {n}",
            conditions=[
                {"text": f"First of {n}", "owner": owner.ref, "due_date": f"2026-11-{23 + n}"},
                {"text": f"Second of {n}", "owner": TARA.ref, "due_date": f"2026-12-{10 - n:02d}"},
            ],
        )
        expected.extend((c["id"], c["due_date"]) for c in decided["conditions"])
    undecided = await service.under_review(title="Not decided")
    clock.set(at(2026, 11, 25, 9))

    pages: list[list[dict[str, Any]]] = []
    path = "/conditions"
    params: Any = {"limit": 4}
    while path:
        response = await service.call("GET", path.removeprefix("/api/v1"), AUD, params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("Link")
        path = link[1 : link.index(">")] if link else ""
        params = None
        assert link is None or link.endswith('; rel="next"')

    assert [len(p) for p in pages] == [4, 2]
    listed = [c for page in pages for c in page]
    assert [(c["id"], c["due_date"]) for c in listed] == sorted(expected, key=lambda pair: pair[1])
    assert all(c["request_id"] != undecided["id"] for c in listed)
    assert [c["overdue"] for c in listed[:3]] == [True, True, False]  # due 23 and 24 November
    # Owen's own, and the overdue ones, page the same way.
    owens = await service.ok("GET", "/conditions?mine=true", OWEN)
    assert [c["text"] for c in owens] == ["First of 0", "First of 2"]
    assert [c["text"] for c in await service.ok("GET", "/conditions", OWEN)] == ["First of 0", "First of 2"]
    late = await service.call("GET", "/conditions", TARA, params={"overdue": "true", "limit": 1})
    assert [c["text"] for c in late.json()] == ["First of 0"]
    following = late.headers["Link"]
    assert "overdue=true" in following
    rest = await service.client.get(following[1 : following.index(">")], headers=service.auth(TARA))
    assert [c["text"] for c in rest.json()] == ["First of 1"]
    assert "Link" not in rest.headers
    assert ALEX.subject not in {c["owner"]["id"] for c in listed}


# --- waiting -------------------------------------------------------------------------------------

SCENARIOS = {
    # British Summer Time, and the summer bank holiday (Monday 31 August 2026) after a weekend: entries
    # just after midnight in London are still the day before in UTC.
    "summer bank holiday, BST": (
        [
            at(2026, 8, 26, 8),  # Wed 26 Aug, 09:00 in London
            at(2026, 8, 26, 23, 30),  # Thu 27 Aug, 00:30 in London (still the 26th in UTC)
            at(2026, 8, 27, 22, 59),  # Thu 27 Aug, 23:59 in London
            at(2026, 8, 27, 23, 30),  # Fri 28 Aug, 00:30 in London
        ],
        [
            (at(2026, 9, 1), 0),  # Tuesday: nobody has waited more than 3 working days
            (at(2026, 9, 2), 1),
            (at(2026, 9, 3), 3),
            (at(2026, 9, 3, 23, 30), 4),  # already Friday 4 September in London
        ],
    ),
    # Christmas: Friday 25 and Monday 28 December 2026 (Boxing Day's substitute) are bank holidays.
    "christmas": (
        [at(2026, 12, 23), at(2026, 12, 24), at(2026, 12, 24, 23, 59)],
        [(at(2026, 12, 29), 0), (at(2026, 12, 30), 0), (at(2026, 12, 31), 1), (at(2027, 1, 4), 3)],
    ),
}


@BOTH
@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_the_waiting_list_agrees_with_the_ageing_rule_across_weekends_and_bank_holidays(
    service: Procurement, clock, scenario: str
) -> None:
    entered, checks = SCENARIOS[scenario]
    for n, instant in enumerate(entered):
        clock.set(instant)
        if n % 2:
            await service.under_review(title=f"Entered {instant.isoformat()}")
        else:
            await service.submitted(title=f"Entered {instant.isoformat()}")
    clock.set(entered[0])
    await service.draft(title="A draft is never flagged")
    finished = await service.under_review(title="A decided request is never flagged")
    await service.decided(finished["id"], "not_approved", "No")
    threshold = service.container.settings.waiting_flag_working_days

    for now, how_many in checks:
        clock.set(now)
        listed = await every_page(service, "/requests", TARA, waiting="true", limit=1)
        async with service.container.uow() as u:
            ruled = await services.waiting_too_long(u, threshold_working_days=threshold)

        assert len(listed) == how_many, now
        assert {r["id"] for r in listed} == {a.request_id for a in ruled}, now
        assert [r["state_since"] for r in listed] == sorted(r["state_since"] for r in listed)
        days = {a.request_id: a.working_days_in_state for a in ruled}
        assert all(r["waiting"] and r["waiting_working_days"] == days[r["id"]] for r in listed)
        counted = await service.ok("GET", "/requests?waiting=true&count=true&limit=1", TARA)
        assert counted["total"] == how_many
        mine = await service.ok("GET", "/requests?waiting=true&state=under_review", TARA)
        assert {r["id"] for r in mine["items"]} == {
            a.request_id for a in ruled if a.state.value == "under_review"
        }
