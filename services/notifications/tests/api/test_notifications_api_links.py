"""The personal links in alert e-mails: the page they open, its forms, the JSON equivalents, and the
links that are refused (altered, expired)."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from notifications_api_support import BOB, C1, OLIVE, SAM, Notifications, problem, snapshot

from estate_notifications.application.links import INVALID_DETAIL

SUBMITTED = "estate.notifications.renewal.decision_submitted"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def alerted_link(service: Notifications, **changes: object) -> str:
    await service.seed(snapshot(**changes))
    await service.sweep()
    return service.link(await service.open_alert())


def tampered(token: str) -> str:
    body, signature = token.split(".")
    flipped = "A" if body[5] != "A" else "B"
    return f"{body[:5]}{flipped}{body[6:]}.{signature}"


def assert_html(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    # The token is in the URL: it must not leak through a Referer or a shared cache.
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    ids = re.findall(r'\sid="([^"]+)"', response.text)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for described in re.findall(r'aria-describedby="([^"]+)"', response.text):
        assert set(described.split()) <= set(ids), described
    for anchor in re.findall(r'href="#([^"]+)"', response.text):
        assert anchor in ids, anchor
    return response.text


async def test_the_link_opens_a_page_with_the_contract_and_both_forms(service: Notifications) -> None:
    token = await alerted_link(service)

    page = assert_html(await service.client.get(f"/act/{token}"), 200)

    assert '<html lang="en" class="govuk-template">' in page
    assert "CON-0001" in page
    assert "Revenues and benefits system" in page
    assert "1 December 2026 (in 11 days)" in page
    assert "31 March 2027" in page
    assert f'action="/act/{token}/acknowledge"' in page
    assert f'action="/act/{token}/decision"' in page
    assert re.findall(r'name="outcome" type="radio" value="(\w+)"', page) == [
        "renew",
        "extend",
        "reprocure",
        "terminate",
    ]
    assert 'name="rationale"' in page
    assert 'id="new_term_end-day"' in page
    assert "<script" not in page


async def test_the_page_leaves_out_extend_when_no_option_is_left(service: Notifications) -> None:
    token = await alerted_link(service, extension_options_left=0)

    page = assert_html(await service.client.get(f"/act/{token}"), 200)

    assert re.findall(r'name="outcome" type="radio" value="(\w+)"', page) == [
        "renew",
        "reprocure",
        "terminate",
    ]
    assert "no extension options left" in page


async def test_acknowledging_from_the_page_confirms_and_is_audited_as_through_the_link(
    service: Notifications,
) -> None:
    token = await alerted_link(service)

    page = assert_html(
        await service.client.post(f"/act/{token}/acknowledge", content="note=On+it", headers=FORM), 200
    )

    assert "Alert acknowledged" in page
    alert = await service.open_alert()
    assert (alert.acknowledged_by, alert.acknowledgement_note) == ("olive@cambridge.gov.uk", "On it")
    [entry] = await service.audit(str(alert.id))
    assert (entry.actor, entry.detail["via"], entry.detail["actor_id"]) == (
        "olive@cambridge.gov.uk",
        "link",
        "link:olive@cambridge.gov.uk",
    )
    again = assert_html(await service.client.get(f"/act/{token}"), 200)
    assert "This alert was acknowledged by olive@cambridge.gov.uk on 20 November 2026" in again


async def test_deciding_from_the_page_confirms_and_goes_to_the_register(service: Notifications) -> None:
    token = await alerted_link(service)
    form = (
        "outcome=renew&new_term_end-day=31&new_term_end-month=3&new_term_end-year=2029&rationale=Best+value"
    )

    page = assert_html(await service.client.post(f"/act/{token}/decision", content=form, headers=FORM), 200)

    assert "Decision recorded" in page
    assert "Alerts for the term ending 31 March 2027 have stopped." in page
    [event] = await service.events(SUBMITTED)
    data = event["data"]
    assert (data["outcome"], data["new_term_end"], data["rationale"]) == ("renew", "2029-03-31", "Best value")
    assert data["decided_by"] == {
        "id": "link:olive@cambridge.gov.uk",
        "name": "Olive Owner",
        "email": "olive@cambridge.gov.uk",
    }
    assert data["alert_id"] == str((await service.alerts())[0].id)
    again = assert_html(await service.client.get(f"/act/{token}"), 200)
    assert "A renewal decision for the term ending 31 March 2027 is already recorded." in again
    assert 'name="outcome"' not in again


async def test_a_form_with_mistakes_comes_back_with_an_error_summary_and_what_was_typed(
    service: Notifications,
) -> None:
    token = await alerted_link(service)
    form = "outcome=renew&new_term_end-day=31&new_term_end-month=2&new_term_end-year=2029&rationale="

    async with service.nothing_written():
        response = await service.client.post(f"/act/{token}/decision", content=form, headers=FORM)

    page = assert_html(response, 422)
    assert "<title>Error: " in page
    assert '<div class="govuk-error-summary"' in page
    assert '<a href="#new_term_end-day">The new term end must be a real date' in page
    assert '<a href="#rationale">Enter the reasons for your decision</a>' in page
    assert 'id="rationale-error"' in page
    assert 'value="renew" checked' in page
    assert 'value="2029"' in page


async def test_a_refusal_by_the_rules_comes_back_on_the_page(service: Notifications) -> None:
    token = await alerted_link(service)
    await service.ok(
        "POST", f"/renewals/{C1}/decision", BOB, json={"outcome": "terminate", "rationale": "No"}
    )
    form = "outcome=reprocure&rationale=Retender"

    page = assert_html(await service.client.post(f"/act/{token}/decision", content=form, headers=FORM), 409)

    assert "A renewal decision for the term ending 2027-03-31 is already recorded" in page


async def test_acknowledging_a_closed_alert_from_the_page_says_why_it_closed(service: Notifications) -> None:
    token = await alerted_link(service)
    await service.ok(
        "POST", f"/renewals/{C1}/decision", BOB, json={"outcome": "terminate", "rationale": "No"}
    )

    async with service.nothing_written():
        response = await service.client.post(f"/act/{token}/acknowledge", content="note=late", headers=FORM)

    page = assert_html(response, 409)
    assert '<a href="#acknowledge">This alert was closed (a decision was recorded)</a>' in page


@pytest.mark.parametrize("path", ["/act/{token}", "/act/{token}/acknowledge", "/act/{token}/decision"])
async def test_an_altered_link_is_refused_on_the_page(service: Notifications, path: str) -> None:
    token = await alerted_link(service)

    for bad in (tampered(token), "not-a-token", token + "x"):
        url = path.format(token=bad)
        if path == "/act/{token}":
            response = await service.client.get(url)
        else:
            response = await service.client.post(url, content="note=x", headers=FORM)
        page = assert_html(response, 400)
        assert "This link is not valid" in page
        assert INVALID_DETAIL.split(":")[0] in page
    assert (await service.open_alert()).acknowledged_at is None


async def test_an_expired_link_is_refused_with_when_it_expired(service: Notifications) -> None:
    await service.seed(snapshot())
    await service.sweep()
    token = service.link(await service.open_alert(), expires_at=service.clock() + timedelta(days=1))
    service.clock.set(service.clock() + timedelta(days=2))

    page = assert_html(await service.client.get(f"/act/{token}"), 410)
    json_problem = problem(await service.client.get(f"/api/v1/links/{token}"), 410)

    assert "This link expired on 21 November 2026 at 10:00." in page
    assert json_problem["detail"].startswith("This link expired on 21 November 2026")


async def test_the_json_link_api_reads_acknowledges_and_decides(service: Notifications) -> None:
    await service.seed(snapshot())
    await service.sweep()
    alert = await service.open_alert()
    token = service.link(alert, BOB, role="budget_holder")

    read = (await service.client.get(f"/api/v1/links/{token}")).json()

    assert read["recipient_email"] == "bob@cambridge.gov.uk"
    assert read["contract"]["act_by"] == "2026-12-01"
    assert read["contract"]["days_to_act_by"] == 11
    assert read["alert"]["id"] == str(alert.id)
    assert read["can_acknowledge"] is True
    assert read["outcomes"] == ["renew", "extend", "reprocure", "terminate"]

    acknowledged = await service.client.post(f"/api/v1/links/{token}/acknowledge", json={"note": "Seen"})
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledged_by"] == "bob@cambridge.gov.uk"

    bad = await service.client.post(
        f"/api/v1/links/{token}/decision", json={"outcome": "extend", "rationale": "x"}
    )
    problem(bad, 422, pointer="/body/new_term_end")
    decided = await service.client.post(
        f"/api/v1/links/{token}/decision",
        json={"outcome": "extend", "rationale": "One more year", "new_term_end": "2028-03-31"},
    )
    assert decided.status_code == 201, decided.text
    assert decided.json()["decided_by"]["name"] == "Bob Budget"
    after = (await service.client.get(f"/api/v1/links/{token}")).json()
    assert (after["can_decide"], after["can_acknowledge"], after["contract"]["decided"]) == (
        False,
        False,
        True,
    )


async def test_the_json_link_api_refuses_an_altered_link(service: Notifications) -> None:
    token = await alerted_link(service)

    for bad in (tampered(token), "garbage"):
        assert problem(await service.client.get(f"/api/v1/links/{bad}"), 400)["detail"] == INVALID_DETAIL
        problem(await service.client.post(f"/api/v1/links/{bad}/acknowledge", json={}), 400)


async def test_a_link_to_a_system_owner_names_them_as_the_message_did(service: Notifications) -> None:
    await service.seed(snapshot())
    await service.sweep()
    token = service.link(await service.open_alert(), SAM, role="system_owner")

    await service.client.post(f"/api/v1/links/{token}/acknowledge", json={})

    [entry] = await service.audit(str((await service.open_alert()).id))
    assert entry.actor == "sam@cambridge.gov.uk"
    assert OLIVE.email != entry.actor
