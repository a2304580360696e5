"""Calendar feeds: a private URL shown once, an iCalendar of the right contracts, and revocation that
makes the URL answer 410 Gone."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from icalendar import Calendar
from notifications_api_support import (
    ADA,
    C1,
    OLIVE,
    OTTO,
    PUBLIC_URL,
    RITA,
    SAM,
    TARA,
    Notifications,
    otto_contract,
    problem,
    problem_contract,
    snapshot,
    system_snapshot,
)
from sqlalchemy import select

from estate_notifications.adapters.db.records import CalendarFeedRecord
from estate_notifications.application.links import hash_token

SYSTEM = uuid.UUID("55555555-5555-4555-8555-555555555555")


def events_of(body: bytes) -> dict[str, object]:
    """Summary -> start date of each event in a feed."""
    calendar = Calendar.from_ical(body)
    return {str(e["SUMMARY"]): e.decoded("DTSTART") for e in calendar.walk("VEVENT")}


async def subscribe(service: Notifications, person: object, **body: object) -> dict[str, object]:
    response = await service.call("POST", "/calendar-feeds", person, json=body)  # type: ignore[arg-type]
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created: dict[str, object] = response.json()
    return created


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_person_subscribes_to_the_dates_of_their_contracts(service: Notifications) -> None:
    await service.seed(snapshot(), otto_contract())

    feed = await subscribe(service, OLIVE, scope="person", label="Work calendar")

    url = str(feed["url"])
    assert url.startswith(f"{PUBLIC_URL}/calendar/") and url.endswith(".ics")
    token = url.removeprefix(f"{PUBLIC_URL}/calendar/").removesuffix(".ics")
    response = await service.client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert events_of(response.content) == {
        "Act by: CON-0001 Revenues and benefits system": date(2026, 12, 1),
        "Term ends: CON-0001 Revenues and benefits system": date(2027, 3, 31),
    }
    assert "X-WR-CALNAME:Estate renewals: Work calendar" in response.text
    async with service.container.sessions() as session:
        stored = await session.scalar(select(CalendarFeedRecord))
    assert stored is not None
    assert stored.token_hash == hash_token(token) != token
    assert stored.last_used_at == service.clock()
    listed = await service.ok("GET", "/calendar-feeds", OLIVE)
    assert [f["label"] for f in listed] == ["Work calendar"]
    assert "url" not in listed[0]
    assert token not in str(listed)


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_a_person_feed_includes_contracts_covering_systems_they_own(service: Notifications) -> None:
    await service.seed(problem_contract(systems=[{"id": SYSTEM, "name": "Route planner"}]), snapshot())
    await service.seed_system(system_snapshot(SYSTEM, SAM))

    feed = await subscribe(service, SAM, scope="person", label="Mine")
    body = (await service.client.get(str(feed["url"]))).content

    assert set(events_of(body)) == {
        "Act by: CON-0003 Waste collection routing",
        "Term ends: CON-0003 Waste collection routing",
    }


async def test_the_tda_feed_shows_every_contract_that_gets_alerts(service: Notifications) -> None:
    await service.seed(snapshot(), otto_contract(), problem_contract(status="cancelled"))

    feed = await subscribe(service, TARA, scope="tda", label="TDA")
    summaries = set(events_of((await service.client.get(str(feed["url"]))).content))

    assert {s.split(":")[1].split()[0] for s in summaries} == {"CON-0001", "CON-0002"}
    assert feed["scope"] == "tda"
    assert feed["owner_email"] == "tara@cambridge.gov.uk"


async def test_only_the_tda_contract_managers_and_administrators_get_the_tda_feed(
    service: Notifications,
) -> None:
    async with service.nothing_written():
        for person in (RITA, OLIVE):
            problem(await service.call("POST", "/calendar-feeds", person, json={"scope": "tda"}), 403)


async def test_a_revoked_feed_answers_gone(service: Notifications) -> None:
    await service.seed(snapshot())
    feed = await subscribe(service, OLIVE)

    problem(await service.call("DELETE", f"/calendar-feeds/{feed['id']}", OTTO), 403)
    service.clock.set(service.clock() + timedelta(days=1))
    revoked = await service.ok("DELETE", f"/calendar-feeds/{feed['id']}", OLIVE)
    again = await service.ok("DELETE", f"/calendar-feeds/{feed['id']}", ADA)

    assert revoked["revoked_by"] == "olive@cambridge.gov.uk"
    assert again == revoked
    gone = problem(await service.client.get(str(feed["url"])), 410)
    assert (
        gone["detail"] == "This calendar feed was revoked on 21 November 2026. Ask for a new one in Estate."
    )
    assert [e.action for e in await service.audit(str(feed["id"]))] == [
        "calendar_feed_created",
        "calendar_feed_revoked",
    ]


async def test_an_unknown_feed_is_404(service: Notifications) -> None:
    problem(await service.client.get("/calendar/not-a-feed.ics"), 404)


async def test_administrators_list_every_feed_and_others_their_own(service: Notifications) -> None:
    await subscribe(service, OLIVE, label="Olive's")
    await subscribe(service, OTTO, label="Otto's")

    assert [f["label"] for f in await service.ok("GET", "/calendar-feeds", OTTO)] == ["Otto's"]
    assert sorted(f["label"] for f in await service.ok("GET", "/calendar-feeds", ADA)) == [
        "Olive's",
        "Otto's",
    ]


async def test_a_feed_needs_a_label_that_is_not_blank(service: Notifications) -> None:
    response = await service.call("POST", "/calendar-feeds", OLIVE, json={"scope": "person", "label": "  "})

    problem(response, 422, pointer="/body/label")


async def test_the_decision_shows_in_the_feed(service: Notifications) -> None:
    await service.seed(snapshot())
    feed = await subscribe(service, OLIVE)
    await service.ok(
        "POST", f"/renewals/{C1}/decision", OLIVE, json={"outcome": "terminate", "rationale": "Done"}
    )

    calendar = Calendar.from_ical((await service.client.get(str(feed["url"]))).content)

    [act_by] = [e for e in calendar.walk("VEVENT") if str(e["SUMMARY"]).startswith("Act by")]
    assert "A renewal decision is recorded." in str(act_by["DESCRIPTION"])
    assert not act_by.walk("VALARM")
