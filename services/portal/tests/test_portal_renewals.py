"""My renewals, one renewal's page with its acknowledge and decision forms, and the page an alert e-mail's
personal link opens in the portal (signed in or not).

No events flow in these tests, so the renewal watch is seeded through the notifications service's own
application layer: register contract snapshots applied by its projection handler, as its worker does,
then its sweep raises the alerts that are due. Dates are counted from the service's own clock (real
time), so the contracts are always as urgent as their names say.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest_asyncio
from portal_support import SignIn, Stack, csrf_of
from sqlalchemy import func, select

from estate_contracts.register_events import ContractSnapshot, PersonRef, Ref
from estate_eventing.tables import outbox_table
from estate_notifications.adapters.db.records import AlertRecord, AuditEntryRecord
from estate_notifications.application.links import LinkClaims
from estate_notifications.application.watch import PolicyBook, project_contract
from estate_notifications.domain.dates import london_today
from estate_portal.web import long_date
from estate_runtime.auth import mint_token

RAVI = PersonRef(
    id=uuid.uuid5(uuid.NAMESPACE_DNS, "ravi.patel@cambridge.gov.uk"),
    name="Ravi Patel",
    email="ravi.patel@cambridge.gov.uk",
)
NADIA = PersonRef(
    id=uuid.uuid5(uuid.NAMESPACE_DNS, "nadia.hussain@cambridge.gov.uk"),
    name="Nadia Hussain",
    email="nadia.hussain@cambridge.gov.uk",
)
SOON = uuid.UUID("5a000000-0000-4000-8000-000000000001")
"""Ravi's e-forms contract: act-by about 30 days away, so its 30-day reminder has gone out."""
LATER = uuid.UUID("5a000000-0000-4000-8000-000000000002")
"""Ravi's payments contract: act-by months away, no extension options left."""
OTHERS = uuid.UUID("5a000000-0000-4000-8000-000000000003")
"""Nadia's contact-centre contract: not Ravi's to see."""
SUBMITTED = "estate.notifications.renewal.decision_submitted"


@dataclass
class Watch:
    stack: Stack
    today: date
    alert: AlertRecord
    """The open alert of Ravi's SOON contract."""

    async def renewal(self, contract_id: uuid.UUID) -> dict[str, object]:
        """The notifications API's own view of a contract (as an administrator), behind the pages."""
        auth = self.stack.notifications.auth
        assert auth is not None
        token = mint_token(
            auth, subject="test-admin", roles=("admin",), email="estate.admin@cambridge.gov.uk"
        )
        answer = await self.stack.clients["notifications"].get(
            f"/api/v1/renewals/{contract_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        return body

    async def written(self) -> tuple[int, int]:
        """(outbox rows, audit entries) of the notifications service: what any change writes."""
        async with self.stack.notifications.sessions() as session:
            outbox = await session.scalar(select(func.count()).select_from(outbox_table))
            audit = await session.scalar(select(func.count()).select_from(AuditEntryRecord))
        return int(outbox or 0), int(audit or 0)

    async def events(self, event_type: str) -> int:
        async with self.stack.notifications.sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(outbox_table).where(outbox_table.c.event_type == event_type)
            )
        return int(count or 0)

    async def a_year_on(self, contract_id: uuid.UUID) -> dict[str, str]:
        """The decision form's new term end fields: a year after the contract's current term ends."""
        term_end = date.fromisoformat(str((await self.renewal(contract_id))["term_end"]))
        new_end = term_end + timedelta(days=365)
        return {
            "new_term_end-day": str(new_end.day),
            "new_term_end-month": str(new_end.month),
            "new_term_end-year": str(new_end.year),
        }

    def link(self, *, expires_at: datetime | None = None) -> str:
        """The token an alert e-mail to Ravi carries, signed as the service signs it."""
        container = self.stack.notifications
        return str(
            container.signer.sign(
                LinkClaims(
                    alert_id=self.alert.id,
                    contract_id=self.alert.contract_id,
                    recipient_email=RAVI.email,
                    recipient_role="contract_owner",
                    expires_at=expires_at or container.clock() + timedelta(days=60),
                )
            )
        )


def contract(contract_id: uuid.UUID, reference: str, title: str, **changes: object) -> ContractSnapshot:
    values: dict[str, object] = {
        "id": contract_id,
        "version": 1,
        "reference": reference,
        "title": title,
        "supplier": Ref(id=uuid.uuid5(uuid.NAMESPACE_DNS, f"supplier-{reference}"), name="IEG4"),
        "contract_type": "saas_subscription",
        "start_date": date(2024, 4, 1),
        "initial_term_end": date(2030, 1, 1),
        "current_term_end": date(2030, 1, 1),
        "renewal_type": "express",
        "extension_options_left": 1,
        "notice_period_days": 90,
        "internal_lead_time_days": 30,
        "annual_value": Decimal("100000.00"),
        "status": "active",
        "owner": RAVI,
        "budget_holder": None,
        "updated_at": datetime(2024, 4, 1, 9, 0).astimezone(),
    }
    values.update(changes)
    return ContractSnapshot(**values)  # type: ignore[arg-type]


@pytest_asyncio.fixture(loop_scope="session")
async def watch(stack: Stack) -> Watch:
    """Three contracts on the renewal watch, as the register's events would put them there, and the sweep
    run once: Ravi's SOON contract has an open alert."""
    container = stack.notifications
    now = container.clock()
    today = london_today(now)
    snapshots = [
        contract(
            SOON,
            "CCC-ICT-9001",
            "E-forms subscription",
            current_term_end=today + timedelta(days=150),
            initial_term_end=today + timedelta(days=150),
        ),
        contract(
            LATER,
            "CCC-ICT-9002",
            "Card payments gateway",
            supplier=Ref(id=uuid.uuid5(uuid.NAMESPACE_DNS, "civica"), name="Civica"),
            current_term_end=today + timedelta(days=420),
            initial_term_end=today + timedelta(days=420),
            notice_period_days=0,
            extension_options_left=0,
        ),
        contract(
            OTHERS,
            "CCC-ICT-9003",
            "Contact centre platform",
            current_term_end=today + timedelta(days=200),
            initial_term_end=today + timedelta(days=200),
            owner=NADIA,
        ),
    ]
    async with container.sessions.begin() as session:
        book = await PolicyBook.load(session, container.policy)
        for snapshot in snapshots:
            await project_contract(session, snapshot, now=now, book=book, calendar=container.calendar)
    await container.sweeper().run(now)
    async with container.sessions() as session:
        alert = await session.scalar(
            select(AlertRecord).where(AlertRecord.contract_id == SOON, AlertRecord.closed_at.is_(None))
        )
    assert alert is not None, "the sweep raised no alert for the SOON contract"
    return Watch(stack=stack, today=today, alert=alert)


def well_formed(html: str) -> str:
    """Every id once, every aria-describedby and in-page link pointing at an element that exists, one h1."""
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for described in re.findall(r'aria-describedby="([^"]+)"', html):
        assert set(described.split()) <= set(ids), described
    for anchor in re.findall(r'href="#([^"]+)"', html):
        assert anchor in ids, anchor
    assert html.count("<h1") == 1
    assert " style=" not in html
    return html


def error_summary_links(html: str) -> list[str]:
    summary = html.split('class="govuk-error-summary"', 1)
    assert len(summary) == 2, "the page has no error summary"
    return re.findall(r'href="#([^"]+)"', summary[1].split("</ul>", 1)[0])


# --- my renewals ------------------------------------------------------------------------------------------


async def test_an_owner_sees_their_renewals_soonest_act_by_first_with_the_date_to_act_by(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "owner")
    page = await portal.get("/renewals")
    assert page.status_code == 200, page.text
    html = well_formed(page.text)
    assert '<h1 class="govuk-heading-l">My renewals</h1>' in html
    assert html.index("CCC-ICT-9001") < html.index("CCC-ICT-9002")
    assert "CCC-ICT-9003" not in html  # Nadia's
    soon = await watch.renewal(SOON)
    assert long_date(soon["act_by"]) in html
    assert "Act within 30 days" in html
    assert "Due later" in html
    assert "Not recorded — 90 days assumed" in html  # the payments contract has no notice recorded
    assert "Reminder, 30 days before act-by" in html
    assert "Not acknowledged" in html
    assert 'name="show"' not in html  # owners have no "all renewals" filter


async def test_the_tda_sees_its_own_renewals_and_may_show_all(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "tda-chair")
    mine = await portal.get("/renewals")
    assert mine.status_code == 200
    assert 'value="all"' in mine.text
    assert "You do not own or hold the budget for any contracts" in mine.text
    everything = await portal.get("/renewals?show=all")
    assert everything.status_code == 200
    well_formed(everything.text)
    assert '<h1 class="govuk-heading-l">All renewals</h1>' in everything.text
    for reference in ("CCC-ICT-9001", "CCC-ICT-9002", "CCC-ICT-9003"):
        assert reference in everything.text


async def test_someone_who_owns_no_contracts_sees_an_empty_state_not_an_error(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "requester")
    page = await portal.get("/renewals")
    assert page.status_code == 200
    assert "You do not own any contracts on the renewal watch" in page.text


# --- one renewal ------------------------------------------------------------------------------------------


async def test_the_renewal_page_shows_the_alerts_sent_and_both_forms(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "owner")
    page = await portal.get(f"/renewals/{SOON}")
    assert page.status_code == 200, page.text
    html = well_formed(page.text)
    assert "CCC-ICT-9001 E-forms subscription" in html
    assert "Alerts sent" in html
    assert "Ravi Patel (contract owner)" in html
    assert f'action="/renewals/{SOON}/acknowledge"' in html
    assert f'action="/renewals/{SOON}/decision"' in html
    assert re.findall(r'name="outcome" type="radio" value="(\w+)"', html) == [
        "renew",
        "extend",
        "reprocure",
        "terminate",
    ]
    assert "This uses the contract&#39;s last extension option." in html
    assert 'id="rationale"' in html
    assert 'id="new_term_end-day"' in html


async def test_acknowledging_the_alert_marks_it_acknowledged(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "owner")
    page = await portal.get(f"/renewals/{SOON}")
    answer = await portal.post(
        f"/renewals/{SOON}/acknowledge",
        data={"csrf_token": csrf_of(page.text), "alert_id": str(watch.alert.id), "note": "Talking to IEG4"},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/renewals/{SOON}"
    after = await portal.get(f"/renewals/{SOON}")
    assert "Alert acknowledged for CCC-ICT-9001" in after.text
    assert "The alert was acknowledged by ravi.patel@cambridge.gov.uk" in after.text
    assert "Talking to IEG4" in after.text
    assert f'action="/renewals/{SOON}/acknowledge"' not in after.text
    listing = await portal.get("/renewals")
    assert "Acknowledged" in listing.text.split("CCC-ICT-9001", 1)[1].split("</tr>", 1)[0]


async def test_a_decision_without_a_rationale_is_redisplayed_with_the_error_summary_and_writes_nothing(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "owner")
    page = await portal.get(f"/renewals/{SOON}")
    before = await watch.written()
    answer = await portal.post(
        f"/renewals/{SOON}/decision",
        data={"csrf_token": csrf_of(page.text), "outcome": "terminate", "rationale": "  "},
    )
    assert answer.status_code == 422
    well_formed(answer.text)
    assert "<title>Error:" in answer.text
    assert error_summary_links(answer.text) == ["rationale"]
    assert "Enter the reasons for your decision" in answer.text
    assert 'value="terminate" checked' in answer.text
    assert await watch.written() == before
    assert (await watch.renewal(SOON))["decided"] is False


async def test_a_decision_with_a_rationale_is_recorded_and_pending_until_the_register_confirms(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "owner")
    page = await portal.get(f"/renewals/{SOON}")
    answer = await portal.post(
        f"/renewals/{SOON}/decision",
        data={
            "csrf_token": csrf_of(page.text),
            "outcome": "terminate",
            "rationale": "The e-forms move to the council's own platform.",
        },
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/renewals/{SOON}"
    after = await portal.get(f"/renewals/{SOON}")
    assert "Decision recorded: terminate. The register will update the contract." in after.text
    assert "Pending until the contract register confirms it" in after.text
    assert f'action="/renewals/{SOON}/decision"' not in after.text
    assert (await watch.renewal(SOON))["decided"] is True
    assert await watch.events(SUBMITTED) == 1
    listing = await portal.get("/renewals")
    assert "Decision recorded" in listing.text
    second = await portal.post(
        f"/renewals/{SOON}/decision",
        data={"csrf_token": csrf_of(page.text), "outcome": "reprocure", "rationale": "Changed my mind"},
    )
    assert second.status_code == 409
    well_formed(second.text)  # the form is gone, so the message links to no field
    assert "is already recorded" in second.text
    assert error_summary_links(second.text) == []
    assert await watch.events(SUBMITTED) == 1


async def test_a_renewal_needs_a_new_term_end_after_the_current_one(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "owner")
    page = await portal.get(f"/renewals/{SOON}")
    answer = await portal.post(
        f"/renewals/{SOON}/decision",
        data={"csrf_token": csrf_of(page.text), "outcome": "renew", "rationale": "Good value"},
    )
    assert answer.status_code == 422
    assert error_summary_links(answer.text) == ["new_term_end-day"]
    assert "Enter the date the new term ends, if you renew" in answer.text
    renewed = await portal.post(
        f"/renewals/{SOON}/decision",
        data={
            "csrf_token": csrf_of(page.text),
            "outcome": "renew",
            "rationale": "Good value",
            **await watch.a_year_on(SOON),
        },
    )
    assert renewed.status_code == 303, renewed.text
    assert "Decision recorded: renew." in (await portal.get(f"/renewals/{SOON}")).text


async def test_extending_with_no_option_left_is_refused_by_the_service_naming_the_choice(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "owner")
    page = await portal.get(f"/renewals/{LATER}")
    assert 'value="extend"' not in page.text  # not offered
    assert "no extension options left" in page.text
    new_term_end = await watch.a_year_on(LATER)
    before = await watch.written()
    answer = await portal.post(
        f"/renewals/{LATER}/decision",
        data={
            "csrf_token": csrf_of(page.text),
            "outcome": "extend",
            "rationale": "One more year while we re-procure",
            **new_term_end,
        },
    )
    assert answer.status_code == 409
    well_formed(answer.text)
    assert error_summary_links(answer.text) == ["outcome"]
    assert "No extension options are left on this contract" in answer.text
    assert await watch.written() == before


async def test_another_owners_renewal_is_refused_and_cannot_be_decided(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    token = await sign_in(portal, "owner")
    page = await portal.get(f"/renewals/{OTHERS}")
    assert page.status_code == 403
    assert "You cannot see this page" in page.text
    before = await watch.written()
    answer = await portal.post(
        f"/renewals/{OTHERS}/decision",
        data={"csrf_token": token, "outcome": "terminate", "rationale": "Not mine to decide"},
    )
    assert answer.status_code == 403
    assert await watch.written() == before


async def test_a_forged_form_token_is_refused_and_writes_nothing(
    portal: httpx.AsyncClient, sign_in: SignIn, watch: Watch
) -> None:
    await sign_in(portal, "owner")
    before = await watch.written()
    answer = await portal.post(
        f"/renewals/{SOON}/decision",
        data={"csrf_token": "forged", "outcome": "terminate", "rationale": "Forged"},
    )
    assert answer.status_code == 403
    assert "This form could not be accepted" in answer.text
    acknowledged = await portal.post(f"/renewals/{SOON}/acknowledge", data={"csrf_token": "forged"})
    assert acknowledged.status_code == 403
    assert await watch.written() == before
    assert (await watch.renewal(SOON))["decided"] is False


# --- the page an alert e-mail's link opens ----------------------------------------------------------------


def assert_private(response: httpx.Response) -> None:
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


async def test_an_alert_link_shows_the_contract_to_an_anonymous_visitor_and_records_the_decision(
    portal: httpx.AsyncClient, watch: Watch
) -> None:
    token = watch.link()
    page = await portal.get(f"/act/{token}")
    assert page.status_code == 200, page.text
    assert_private(page)
    well_formed(page.text)
    assert "CCC-ICT-9001 E-forms subscription" in page.text
    assert "sent to ravi.patel@cambridge.gov.uk, the contract owner" in page.text
    assert f'action="/act/{token}/acknowledge"' in page.text
    assert f'action="/act/{token}/decision"' in page.text
    csrf = csrf_of(page.text)

    missing = await portal.post(f"/act/{token}/decision", data={"csrf_token": csrf, "outcome": "reprocure"})
    assert missing.status_code == 422
    assert_private(missing)
    well_formed(missing.text)
    assert error_summary_links(missing.text) == ["rationale"]
    assert (await watch.renewal(SOON))["decided"] is False

    answer = await portal.post(
        f"/act/{token}/decision",
        data={"csrf_token": csrf, "outcome": "reprocure", "rationale": "Market has moved on"},
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/act/{token}/done"
    done = await portal.get(answer.headers["location"])
    assert done.status_code == 200
    assert_private(done)
    well_formed(done.text)
    assert "govuk-panel--confirmation" in done.text
    assert "Decision recorded: re-procure. The register will update the contract." in done.text
    assert (await watch.renewal(SOON))["decided"] is True
    again = await portal.get(f"/act/{token}/done")  # a reload shows the link's page, not a second "done"
    assert again.status_code == 303
    after = await portal.get(f"/act/{token}")
    assert "is already recorded" in after.text


async def test_an_alert_link_acknowledges_the_alert(portal: httpx.AsyncClient, watch: Watch) -> None:
    token = watch.link()
    page = await portal.get(f"/act/{token}")
    answer = await portal.post(f"/act/{token}/acknowledge", data={"csrf_token": csrf_of(page.text)})
    assert answer.status_code == 303, answer.text
    done = await portal.get(answer.headers["location"])
    assert "Alert acknowledged" in done.text
    assert "The alert will not be passed on to anyone else." in done.text
    after = await portal.get(f"/act/{token}")
    assert "This alert was acknowledged by ravi.patel@cambridge.gov.uk" in after.text


async def test_a_tampered_link_is_a_clear_not_valid_page(portal: httpx.AsyncClient, watch: Watch) -> None:
    body, signature = watch.link().split(".")
    flipped = "A" if body[5] != "A" else "B"
    page = await portal.get(f"/act/{body[:5]}{flipped}{body[6:]}.{signature}")
    assert page.status_code == 400
    assert_private(page)
    assert "This link is not valid" in page.text
    assert "Traceback" not in page.text
    garbled = await portal.get("/act/not-a-token")
    assert garbled.status_code == 400


async def test_an_expired_link_says_when_it_expired_and_to_sign_in(
    portal: httpx.AsyncClient, watch: Watch
) -> None:
    expired_at = watch.stack.notifications.clock() - timedelta(days=2)
    page = await portal.get(f"/act/{watch.link(expires_at=expired_at)}")
    assert page.status_code == 410
    assert_private(page)
    assert f"This link has expired on {long_date(london_today(expired_at))}" in page.text
    assert "Sign in and go to My renewals" in page.text


async def test_a_forged_form_token_on_a_link_page_is_refused_and_writes_nothing(
    portal: httpx.AsyncClient, watch: Watch
) -> None:
    token = watch.link()
    await portal.get(f"/act/{token}")
    before = await watch.written()
    answer = await portal.post(
        f"/act/{token}/decision",
        data={"csrf_token": "forged", "outcome": "terminate", "rationale": "Forged"},
    )
    assert answer.status_code == 403
    assert "This form could not be accepted" in answer.text
    assert await watch.written() == before
