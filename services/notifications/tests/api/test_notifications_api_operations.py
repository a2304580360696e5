"""What people choose for themselves (preferences) and what the people who run the service read:
deliveries, the development SMTP sink and the audit trail."""

from __future__ import annotations

import mailbox
from email.message import EmailMessage
from pathlib import Path

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
    TARA,
    Notifications,
    Person,
    otto_contract,
    problem,
    snapshot,
)
from sqlalchemy import update

from estate_notifications.adapters.db.records import DeliveryRecord

# --- preferences ---------------------------------------------------------------------------------------


async def test_a_person_chooses_a_digest_and_reads_it_back(service: Notifications) -> None:
    assert await service.ok("GET", "/me/preferences", OLIVE) == {
        "email": "olive@cambridge.gov.uk",
        "frequency": "immediate",
        "updated_at": None,
    }

    chosen = await service.ok("PUT", "/me/preferences", OLIVE, json={"frequency": "weekly"})

    assert chosen["frequency"] == "weekly"
    assert (await service.ok("GET", "/me/preferences", OLIVE))["frequency"] == "weekly"
    assert (await service.ok("GET", "/me/preferences", BOB))["frequency"] == "immediate"
    [entry] = await service.audit("olive@cambridge.gov.uk")
    assert (entry.action, entry.detail["frequency"], entry.detail["previous"]) == (
        "preference_set",
        "weekly",
        "immediate",
    )


async def test_choosing_immediate_sends_at_once_what_was_held_for_a_digest(service: Notifications) -> None:
    await service.seed(snapshot())
    await service.sweep()
    async with service.container.sessions.begin() as session:
        await session.execute(update(DeliveryRecord).values(status="held"))
    await service.ok("PUT", "/me/preferences", OLIVE, json={"frequency": "daily"})

    await service.ok("PUT", "/me/preferences", OLIVE, json={"frequency": "immediate"})

    assert [d.status for d in await service.deliveries()] == ["pending"]


async def test_an_unknown_frequency_is_422_and_a_token_without_an_email_is_422(
    service: Notifications,
) -> None:
    async with service.nothing_written():
        unknown = await service.call("PUT", "/me/preferences", OLIVE, json={"frequency": "hourly"})
        no_email_get = await service.call("GET", "/me/preferences", NOMAIL)
        no_email_put = await service.call("PUT", "/me/preferences", NOMAIL, json={"frequency": "daily"})

    problem(unknown, 422, pointer="/body/frequency")
    assert "e-mail" in problem(no_email_get, 422)["detail"]
    problem(no_email_put, 422)


# --- deliveries --------------------------------------------------------------------------------------------


async def test_deliveries_list_newest_first_and_filter_the_failing_ones(service: Notifications) -> None:
    await service.seed(snapshot(), otto_contract(current_term_end=snapshot().current_term_end))
    await service.sweep()
    everything = await service.ok("GET", "/deliveries", CARL, params={"count": "true"})
    assert everything["total"] == 2
    assert {d["recipient_email"] for d in everything["items"]} == {
        "olive@cambridge.gov.uk",
        "otto@cambridge.gov.uk",
    }
    assert await service.ok("GET", "/deliveries", ADA, params={"failing": "true"}) == {
        "items": [],
        "next_cursor": None,
        "total": None,
    }
    async with service.container.sessions.begin() as session:
        await session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.recipient_email == "otto@cambridge.gov.uk")
            .values(attempts=2, last_error="attempt 1: 451 try later")
        )

    failing = await service.ok("GET", "/deliveries", ADA, params={"failing": "true"})
    olive = await service.ok("GET", "/deliveries", ADA, params={"recipient": "OLIVE@cambridge.gov.uk"})
    pending = await service.ok(
        "GET", "/deliveries", ADA, params={"status": "pending", "contract_id": str(C1)}
    )

    assert [(d["recipient_email"], d["attempts"], d["last_error"]) for d in failing["items"]] == [
        ("otto@cambridge.gov.uk", 2, "attempt 1: 451 try later")
    ]
    assert [d["recipient_email"] for d in olive["items"]] == ["olive@cambridge.gov.uk"]
    assert [d["recipient_email"] for d in pending["items"]] == ["olive@cambridge.gov.uk"]
    first = await service.ok("GET", "/deliveries", ADA, params={"limit": 1})
    second = await service.ok("GET", "/deliveries", ADA, params={"limit": 1, "cursor": first["next_cursor"]})
    assert {first["items"][0]["id"], second["items"][0]["id"]} == {d["id"] for d in everything["items"]}
    assert second["next_cursor"] is None
    problem(
        await service.call("GET", "/deliveries", ADA, params={"status": "lost"}), 422, pointer="/query/status"
    )
    problem(
        await service.call("GET", "/deliveries", ADA, params={"limit": 100_000}), 422, pointer="/query/limit"
    )


# --- the SMTP sink -------------------------------------------------------------------------------------


async def test_the_sink_is_404_when_none_is_configured(service: Notifications) -> None:
    response = await service.call("GET", "/sink/messages", ADA)

    assert problem(response, 404)["detail"].startswith("no SMTP sink is configured")


def deliver(directory: Path, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"] = "Estate renewals <estate-renewals@cambridge.gov.uk>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@estate.test>"
    message.set_content(f"Hello {to}")
    mailbox.Maildir(directory, create=True).add(message)


async def test_the_sink_shows_each_person_their_own_messages(service: Notifications, tmp_path: Path) -> None:
    directory = tmp_path / "maildir"
    deliver(directory, "olive@cambridge.gov.uk", "Act by 1 December 2026")
    deliver(directory, "bob@cambridge.gov.uk", "Escalated")
    service.container.settings.sink_dir = directory

    olive = await service.ok("GET", "/sink/messages", OLIVE)
    everyone = await service.ok("GET", "/sink/messages", ADA)
    bob = await service.ok("GET", "/sink/messages", ADA, params={"to": "bob@cambridge.gov.uk"})

    assert [(m["subject"], m["to"]) for m in olive] == [
        ("Act by 1 December 2026", ["olive@cambridge.gov.uk"])
    ]
    assert olive[0]["text"].strip() == "Hello olive@cambridge.gov.uk"
    assert olive[0]["message_id"] == "<Act-by-1-December-2026@estate.test>"
    assert len(everyone) == 2
    assert [m["subject"] for m in bob] == ["Escalated"]
    problem(await service.call("GET", "/sink/messages", OLIVE, params={"to": "bob@cambridge.gov.uk"}), 403)


# --- the audit trail -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reader", [ADA, AUD, TARA])
async def test_the_audit_trail_says_who_changed_what(service: Notifications, reader: Person) -> None:
    await service.seed(snapshot())
    await service.ok("PUT", f"/renewals/{C1}/ladder", CARL, json={"rungs": [30]})
    await service.ok(
        "POST", f"/renewals/{C1}/decision", OLIVE, json={"outcome": "terminate", "rationale": "Done"}
    )
    await service.ok("PUT", "/me/preferences", OTTO, json={"frequency": "daily"})

    trail = await service.ok("GET", "/audit", reader, params={"entity": "contract", "entity_id": str(C1)})
    page = await service.ok("GET", "/audit", reader, params={"limit": 2})
    rest = await service.ok("GET", "/audit", reader, params={"limit": 2, "cursor": page["next_cursor"]})

    assert [(e["actor"], e["action"]) for e in trail["items"]] == [
        ("olive@cambridge.gov.uk", "renewal_decision_submitted"),
        ("carl@cambridge.gov.uk", "contract_ladder_set"),
    ]
    assert trail["items"][0]["detail"]["rationale"] == "Done"
    assert [e["action"] for e in page["items"] + rest["items"]] == [
        "preference_set",
        "renewal_decision_submitted",
        "contract_ladder_set",
    ]
