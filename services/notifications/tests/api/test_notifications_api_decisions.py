"""Acknowledging alerts and recording renewal decisions through the API: who may, what is refused and
why, and the events and audit entries each leaves."""

from __future__ import annotations

from datetime import date

import pytest
from notifications_api_support import (
    ADA,
    AUD,
    BOB,
    C1,
    CARL,
    NOMAIL,
    OLIVE,
    OTTO,
    RITA,
    TARA,
    Notifications,
    Person,
    problem,
    snapshot,
)

ACKNOWLEDGED = "estate.notifications.alert.acknowledged"
SUBMITTED = "estate.notifications.renewal.decision_submitted"


async def alerted(service: Notifications, **changes: object) -> str:
    """Olive's contract with its 14-day alert raised; the alert's id."""
    await service.seed(snapshot(**changes))
    await service.sweep()
    return str((await service.open_alert()).id)


# --- acknowledging -------------------------------------------------------------------------------------


async def test_the_owner_acknowledges_an_alert_which_stops_its_escalation(service: Notifications) -> None:
    alert_id = await alerted(service)
    assert (await service.open_alert()).escalate_at is not None

    body = await service.ok(
        "POST", f"/alerts/{alert_id}/acknowledge", OLIVE, json={"note": "  Talking to Acme next week  "}
    )

    assert body["acknowledged_by"] == "olive@cambridge.gov.uk"
    assert body["acknowledgement_note"] == "Talking to Acme next week"
    assert body["acknowledged_at"] == "2026-11-20T10:00:00Z"
    assert body["escalate_at"] is None
    assert body["open"] is True
    [event] = await service.events(ACKNOWLEDGED)
    assert event["subject"] == str(C1)
    assert event["data"]["alert_id"] == alert_id
    assert event["data"]["acknowledged_by"] == {
        "id": "u-olive",
        "name": "Olive Owner",
        "email": "olive@cambridge.gov.uk",
    }
    assert event["data"]["note"] == "Talking to Acme next week"
    [entry] = await service.audit(alert_id)
    assert (entry.actor, entry.action, entry.entity, entry.detail["via"]) == (
        "olive@cambridge.gov.uk",
        "alert_acknowledged",
        "alert",
        "api",
    )
    # Nobody else is told of an alert somebody has taken in hand.
    assert [d.status for d in await service.deliveries()] == ["cancelled"]


async def test_an_acknowledgement_needs_no_body(service: Notifications) -> None:
    alert_id = await alerted(service)

    response = await service.client.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", headers=service.auth(OLIVE)
    )

    assert response.status_code == 200, response.text
    assert response.json()["acknowledgement_note"] is None


async def test_acknowledging_twice_changes_nothing(service: Notifications) -> None:
    alert_id = await alerted(service)
    first = await service.ok("POST", f"/alerts/{alert_id}/acknowledge", OLIVE, json={})
    service.clock.set(service.clock().replace(hour=15))

    async with service.nothing_written():
        second = await service.ok("POST", f"/alerts/{alert_id}/acknowledge", BOB, json={"note": "me too"})

    assert second == first


@pytest.mark.parametrize("person", [BOB, TARA, CARL, ADA])
async def test_recipients_and_the_people_who_run_renewals_may_acknowledge(
    service: Notifications, person: Person
) -> None:
    alert_id = await alerted(service)

    body = await service.ok("POST", f"/alerts/{alert_id}/acknowledge", person, json={})

    assert body["acknowledged_by"] == person.email


@pytest.mark.parametrize("person", [OTTO, RITA, AUD])
async def test_others_may_not_acknowledge(service: Notifications, person: Person) -> None:
    alert_id = await alerted(service)

    async with service.nothing_written():
        response = await service.call("POST", f"/alerts/{alert_id}/acknowledge", person, json={})

    problem(response, 403)


async def test_a_closed_alert_cannot_be_acknowledged_and_the_answer_says_why(service: Notifications) -> None:
    alert_id = await alerted(service)
    await service.ok(
        "POST",
        f"/renewals/{C1}/decision",
        OLIVE,
        json={"outcome": "terminate", "rationale": "Moving to SaaS"},
    )

    async with service.nothing_written():
        response = await service.call("POST", f"/alerts/{alert_id}/acknowledge", OLIVE, json={})

    assert problem(response, 409)["detail"] == "this alert was closed (a decision was recorded)"


async def test_an_unknown_alert_is_404_and_a_long_note_is_422(service: Notifications) -> None:
    alert_id = await alerted(service)

    problem(await service.call("POST", f"/alerts/{C1}/acknowledge", ADA, json={}), 404)
    long_note = await service.call(
        "POST", f"/alerts/{alert_id}/acknowledge", OLIVE, json={"note": "x" * 4001}
    )
    problem(long_note, 422, pointer="/body/note")


# --- deciding --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
async def test_the_owner_records_a_decision_which_stops_the_ladder_and_goes_to_the_register(
    service: Notifications,
) -> None:
    alert_id = await alerted(service)

    response = await service.call(
        "POST",
        f"/renewals/{C1}/decision",
        OLIVE,
        json={
            "outcome": "renew",
            "rationale": "Good value",
            "new_term_end": "2029-03-31",
            "alert_id": alert_id,
        },
    )

    assert response.status_code == 201, response.text
    decision = response.json()
    assert decision["term_end"] == "2027-03-31"
    assert decision["outcome"] == "renew"
    assert decision["new_term_end"] == "2029-03-31"
    assert decision["alerts_closed"] == 1
    [event] = await service.events(SUBMITTED)
    assert event["subject"] == str(C1)
    data = event["data"]
    assert data["decision_id"] == decision["decision_id"]
    assert (data["term_end"], data["outcome"], data["rationale"], data["new_term_end"]) == (
        "2027-03-31",
        "renew",
        "Good value",
        "2029-03-31",
    )
    assert data["decided_by"] == {"id": "u-olive", "name": "Olive Owner", "email": "olive@cambridge.gov.uk"}
    assert data["alert_id"] == alert_id
    watch = await service.ok("GET", f"/renewals/{C1}", OLIVE)
    assert watch["decided"] is True
    assert watch["open_alert"] is None
    assert [(s["kind"], s["due_on"]) for s in watch["schedule"]] == [("term_end", "2027-03-31")]
    assert watch["next_due_on"] == "2027-03-31"
    assert watch["alerts"][0]["close_reason"] == "decided"
    [entry] = await service.audit(str(C1))
    assert (entry.action, entry.detail["outcome"], entry.detail["via"]) == (
        "renewal_decision_submitted",
        "renew",
        "api",
    )


@pytest.mark.parametrize("person", [BOB, CARL, ADA])
async def test_the_budget_holder_contract_managers_and_administrators_may_decide(
    service: Notifications, person: Person
) -> None:
    await service.seed(snapshot())

    body = await service.ok(
        "POST",
        f"/renewals/{C1}/decision",
        person,
        json={"outcome": "reprocure", "rationale": "Market has moved"},
    )

    assert body["decided_by"]["email"] == person.email


@pytest.mark.parametrize("person", [OTTO, TARA, AUD, RITA])
async def test_others_may_not_decide(service: Notifications, person: Person) -> None:
    await service.seed(snapshot())

    async with service.nothing_written():
        response = await service.call(
            "POST", f"/renewals/{C1}/decision", person, json={"outcome": "terminate", "rationale": "x"}
        )

    problem(response, 403)


@pytest.mark.parametrize(
    ("body", "status", "pointer", "says"),
    [
        ({"outcome": "renew", "rationale": "Good value"}, 422, "/body/new_term_end", "give new_term_end"),
        (
            {"outcome": "renew", "rationale": "Good value", "new_term_end": "2027-03-31"},
            422,
            "/body/new_term_end",
            "after the current term end (2027-03-31)",
        ),
        (
            {"outcome": "terminate", "rationale": "No", "new_term_end": "2028-03-31"},
            422,
            "/body/new_term_end",
            "only for renew or extend",
        ),
        ({"outcome": "terminate", "rationale": "   "}, 422, "/body/rationale", "give the reasons"),
        ({"outcome": "terminate", "rationale": "x" * 4001}, 422, "/body/rationale", "at most 4000"),
        ({"outcome": "cancel", "rationale": "No"}, 422, "/body/outcome", "renew"),
        ({"outcome": "terminate"}, 422, "/body/rationale", "required"),
        ({"outcome": "terminate", "rationale": "No", "why": "typo"}, 422, "/body/why", "unknown field"),
    ],
)
async def test_a_decision_the_register_would_not_accept_is_refused_with_what_to_fix(
    service: Notifications, body: dict[str, object], status: int, pointer: str, says: str
) -> None:
    await service.seed(snapshot())

    async with service.nothing_written():
        response = await service.call("POST", f"/renewals/{C1}/decision", OLIVE, json=body)

    found = problem(response, status, pointer=pointer)
    assert says in str(found), found
    assert (await service.ok("GET", f"/renewals/{C1}", OLIVE))["decided"] is False


async def test_extending_a_contract_with_no_options_left_is_refused(service: Notifications) -> None:
    await service.seed(snapshot(extension_options_left=0))

    async with service.nothing_written():
        response = await service.call(
            "POST",
            f"/renewals/{C1}/decision",
            OLIVE,
            json={"outcome": "extend", "rationale": "One more year", "new_term_end": "2028-03-31"},
        )

    assert "no extension options are left" in problem(response, 409)["detail"]


async def test_a_second_decision_for_the_same_term_is_refused(service: Notifications) -> None:
    await service.seed(snapshot())
    await service.ok(
        "POST",
        f"/renewals/{C1}/decision",
        OLIVE,
        json={"outcome": "terminate", "rationale": "Moving to SaaS"},
    )

    async with service.nothing_written():
        response = await service.call(
            "POST", f"/renewals/{C1}/decision", BOB, json={"outcome": "reprocure", "rationale": "Or not"}
        )

    assert (
        problem(response, 409)["detail"]
        == "a renewal decision for the term ending 2027-03-31 is already recorded"
    )


async def test_a_contract_that_has_ended_takes_no_decision(service: Notifications) -> None:
    await service.seed(snapshot(status="terminated"))

    response = await service.call(
        "POST", f"/renewals/{C1}/decision", OLIVE, json={"outcome": "terminate", "rationale": "Already"}
    )

    assert "needs an active or expired contract" in problem(response, 409)["detail"]


async def test_a_tacit_contract_decides_the_term_running_today(service: Notifications) -> None:
    # Rolled over tacitly on 1 October 2026 into a year ending 30 September 2027.
    await service.seed(
        snapshot(
            renewal_type="tacit",
            renewal_period_months=12,
            current_term_end=date(2026, 9, 30),
            initial_term_end=date(2026, 9, 30),
        )
    )

    body = await service.ok(
        "POST", f"/renewals/{C1}/decision", OLIVE, json={"outcome": "terminate", "rationale": "Replace it"}
    )

    assert body["term_end"] == "2027-09-30"


async def test_a_token_without_an_email_cannot_act(service: Notifications) -> None:
    alert_id = await alerted(service)

    async with service.nothing_written():
        acknowledge = await service.call("POST", f"/alerts/{alert_id}/acknowledge", NOMAIL, json={})
        decide = await service.call(
            "POST", f"/renewals/{C1}/decision", NOMAIL, json={"outcome": "terminate", "rationale": "x"}
        )

    assert "e-mail" in problem(acknowledge, 403)["detail"]
    assert "e-mail" in problem(decide, 403)["detail"]
