"""What other services hear: every transition becomes the matching v1 contract event in the outbox (in
the same commit as the change), drafts and ratings are audited only, and each event is valid against the
published pydantic models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from procurement_fakes import ALEX, CHAIR, CHECKLISTS, NOW, TARA, a_request, complete_fields, uow

from estate_contracts import procurement_events as ev
from estate_contracts.topics import PROCUREMENT_REQUESTS
from estate_eventing.correlation import correlation_scope
from estate_procurement.application import services
from estate_procurement.domain.errors import InvalidValue

OWNER = {"id": "u-olu", "name": "Olu Owner", "email": "olu@cambridge.gov.uk"}
PAYLOADS = {
    cls.event_type: cls
    for cls in (
        ev.RequestSubmitted,
        ev.RequestReviewStarted,
        ev.RequestInformationRequested,
        ev.RequestResubmitted,
        ev.RequestDecided,
        ev.RequestWithdrawn,
        ev.RequestReopened,
        ev.RequestConditionMet,
    )
}


def payloads(store, kind):
    return [
        kind.model_validate(entry.envelope.data)
        for entry in store.outbox
        if entry.envelope.type == kind.event_type
    ]


async def test_drafts_and_their_edits_are_audited_but_not_published(store):
    request_id = await a_request(store, fields={"title": "Parking"})
    async with uow(store) as u:
        await services.update_draft(
            u, request_id=request_id, actor=ALEX, changes={"title": "Permits"}, expected_version=1
        )

    assert store.outbox == []
    assert store.audited_actions() == ["created", "content_changed"]
    edit = store.audit[1].fact
    assert (edit.before["title"], edit.after["title"], edit.detail["changed"]) == (
        "Parking",
        "Permits",
        ["title"],
    )
    assert edit.actor.name == "Alex Requester"
    assert edit.after["version"] == 2


async def test_a_submission_publishes_request_submitted_with_the_requests_summary(store):
    with correlation_scope("corr-123"):
        request_id = await a_request(store, "submitted")

    [entry] = store.outbox
    envelope = entry.envelope
    assert (envelope.source, envelope.subject, entry.topic) == (
        "/estate/procurement",
        str(request_id),
        PROCUREMENT_REQUESTS,
    )
    assert envelope.correlationid == "corr-123"
    event = ev.RequestSubmitted.model_validate(envelope.data)
    assert event.reference == "TR-2026-0001"
    assert event.requester.email == "alex@cambridge.gov.uk"
    assert (event.service_area, event.category, event.councils_in_scope) == ("housing-repairs", "it", ["CCC"])
    assert event.problem_summary.startswith("Repairs are booked by phone")
    assert "User need: Tenants need" in event.problem_summary
    assert (event.estimated_initial_cost, event.estimated_annual_cost) == (
        Decimal("25000.00"),
        Decimal("18000.00"),
    )
    assert event.capabilities_needed == ["repairs-scheduling"]
    assert event.submitted_at == NOW


async def test_every_transition_is_published_in_order_and_ratings_are_not(store):
    request_id = await a_request(store, "decided")
    async with uow(store) as u:
        await services.reopen(u, request_id=request_id, actor=CHAIR, reason="New evidence on hosting")
    async with uow(store) as u:
        await services.withdraw(u, request_id=request_id, actor=ALEX, reason="Project cancelled")

    assert store.event_types() == [
        "estate.procurement.request.submitted",
        "estate.procurement.request.review_started",
        "estate.procurement.request.information_requested",
        "estate.procurement.request.resubmitted",
        "estate.procurement.request.review_started",
        "estate.procurement.request.decided",
        "estate.procurement.request.reopened",
        "estate.procurement.request.withdrawn",
    ]
    for entry in store.outbox:
        PAYLOADS[entry.envelope.type].model_validate(entry.envelope.data)  # valid against the contract
        assert entry.envelope.subject == str(request_id)
    assert "item_rated" in store.audited_actions()
    assert len([a for a in store.audited_actions() if a == "item_rated"]) == len(
        list(CHECKLISTS.current.items())
    )

    [info] = payloads(store, ev.RequestInformationRequested)
    assert (info.questions, info.asked_by.name, info.requester.name) == (
        ["Who hosts it?"],
        "Tara Member",
        "Alex Requester",
    )
    assert [e.checklist_version for e in payloads(store, ev.RequestReviewStarted)] == [
        "tda-review@1",
        "tda-review@1",
    ]
    [resubmitted] = payloads(store, ev.RequestResubmitted)
    assert resubmitted.answers == "Hosted in UK data centres"
    [reopened] = payloads(store, ev.RequestReopened)
    assert (reopened.reason, reopened.reopened_by.name) == ("New evidence on hosting", "Chris Chair")
    [withdrawn] = payloads(store, ev.RequestWithdrawn)
    assert (withdrawn.reason, withdrawn.withdrawn_by.id) == ("Project cancelled", ALEX.id)


async def test_withdrawing_a_draft_is_audited_but_not_published(store):
    request_id = await a_request(store, "draft")
    async with uow(store) as u:
        await services.withdraw(u, request_id=request_id, actor=ALEX, reason="Started by mistake")

    assert store.outbox == []
    assert store.audited_actions() == ["created", "withdrawn"]
    assert store.audit[-1].fact.from_state.value == "draft"


async def test_withdrawing_a_submitted_request_is_published(store):
    request_id = await a_request(store, "submitted")
    async with uow(store) as u:
        await services.withdraw(u, request_id=request_id, actor=ALEX, reason="Budget withdrawn")

    assert store.event_types()[-1] == "estate.procurement.request.withdrawn"
    [withdrawn] = payloads(store, ev.RequestWithdrawn)
    assert withdrawn.reason == "Budget withdrawn"


async def test_an_approval_publishes_the_proposed_system_built_from_the_request(store):
    request_id = await a_request(
        store,
        "decided",
        fields=complete_fields(renews_or_replaces_contract_id="6f1c1b52-8f1e-4a4e-9a55-0e0f5a0c1d2e"),
    )

    [decided] = payloads(store, ev.RequestDecided)
    assert decided.outcome == "approved"
    assert decided.rationale == "Meets every rule."
    assert decided.decided_by.name == "Chris Chair"
    assert decided.requester.name == "Alex Requester"
    system = decided.proposed_system
    assert system is not None
    assert system.model_dump(mode="json") == {
        "name": "RepairsHub",
        "description": store.requests[request_id].problem_summary,
        "service_areas": ["housing-repairs"],
        "capabilities": ["repairs-scheduling"],
        "supplier_name": "Hub Software Ltd",
        "supplier_id": None,
        "product_family": "RepairsHub",
        "hosting": "saas",
        "holds_personal_data": True,
        "councils_in_scope": ["CCC"],
        "estimated_annual_value": "18000.00",
        "estimated_initial_cost": "25000.00",
        "expected_start_date": "2026-06-01",
        "term_months": 36,
        "linked_contract_id": "6f1c1b52-8f1e-4a4e-9a55-0e0f5a0c1d2e",
        "system_owner": {"id": "oid-owner", "name": "Priya Shah", "email": "priya.shah@cambridge.gov.uk"},
        "contract_owner": {
            "id": "oid-contracts",
            "name": "Dan Okafor",
            "email": "dan.okafor@cambridge.gov.uk",
        },
        "budget_holder": {"id": "oid-budget", "name": "Helen Marsh", "email": "helen.marsh@cambridge.gov.uk"},
        "signatory": {"id": "oid-sign", "name": "Jo Reeves", "email": "jo.reeves@cambridge.gov.uk"},
    }


async def test_the_published_owner_roles_follow_the_chairs_corrections_and_may_be_left_out(store):
    request_id = await a_request(store, "under_review", fields=complete_fields(signatory=None))
    async with uow(store) as u:
        for item_id in ("R1.1", "DE1.2", "DPIA1"):
            await services.rate_item(u, request_id=request_id, actor=TARA, item_id=item_id, rating="met")
    new_owner = {"id": "oid-new", "name": "Nina Cole", "email": "nina.cole@cambridge.gov.uk"}
    async with uow(store) as u:
        await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved",
            rationale="Meets every rule.",
            proposed_system={"system_owner": new_owner},
        )

    [decided] = payloads(store, ev.RequestDecided)
    system = decided.proposed_system
    assert system is not None
    assert system.system_owner is not None
    assert system.system_owner.model_dump() == new_owner
    assert system.budget_holder is not None
    assert system.budget_holder.email == "helen.marsh@cambridge.gov.uk"
    assert system.signatory is None


async def test_a_conditional_approval_publishes_its_conditions_and_each_met_condition(store):
    request_id = await a_request(store, "under_review")
    async with uow(store) as u:
        for item_id in ("R1.1", "DE1.2", "DPIA1"):  # an approval needs every red line rated
            await services.rate_item(u, request_id=request_id, actor=TARA, item_id=item_id, rating="met")
    async with uow(store) as u:
        decision = await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved_with_conditions",
            rationale="Approved once the DPIA is signed off.",
            conditions=[{"text": "DPIA signed off", "owner": OWNER, "due_date": date(2026, 3, 20)}],
        )
    condition = decision.conditions[0]
    async with uow(store) as u:
        await services.meet_condition(
            u,
            request_id=request_id,
            actor=TARA,
            condition_id=condition.id,
            evidence="https://sp.example/dpia.pdf",
        )

    [decided] = payloads(store, ev.RequestDecided)
    assert [(c.condition_id, c.text, c.owner.name, c.due_date) for c in decided.conditions] == [
        (condition.id, "DPIA signed off", "Olu Owner", date(2026, 3, 20))
    ]
    [met] = payloads(store, ev.RequestConditionMet)
    assert (met.condition_id, met.met_by.name, met.evidence) == (
        condition.id,
        "Tara Member",
        "https://sp.example/dpia.pdf",
    )


async def test_a_non_approval_publishes_no_proposed_system(store):
    request_id = await a_request(store, "under_review")
    async with uow(store) as u:
        await services.decide(
            u, request_id=request_id, actor=CHAIR, outcome="not_approved", rationale="Re-use Alloy."
        )

    [decided] = payloads(store, ev.RequestDecided)
    assert (decided.outcome, decided.proposed_system, decided.conditions) == ("not_approved", None, [])


async def test_a_refused_command_writes_no_audit_and_no_event(store):
    request_id = await a_request(store, "under_review")
    before = (len(store.audit), len(store.outbox))

    async with uow(store) as u:
        with pytest.raises(InvalidValue):
            await services.decide(u, request_id=request_id, actor=CHAIR, outcome="approved", rationale="")

    assert (len(store.audit), len(store.outbox)) == before
