"""Every transition of a request, allowed and refused, by state and by role: the TDA reviews, only the
chair decides and reopens, the requester answers and withdraws, and a refusal says what is allowed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from procurement_fakes import ADMIN, ALEX, AUDITOR, BEA, CHAIR, NOW, OMAR, TARA, a_request, uow

from estate_procurement.application import services
from estate_procurement.domain.errors import IncompleteRequest, InvalidTransition, InvalidValue, NotAllowed
from estate_procurement.domain.values import Outcome, RequestState

S = RequestState


def state_of(store, request_id):
    return store.requests[request_id].state


# --- allowed paths ---------------------------------------------------------------------------------


async def test_a_member_starts_the_review_of_a_submitted_request_on_the_current_checklist(store):
    request_id = await a_request(store, "submitted")

    async with uow(store) as u:
        request = await services.start_review(u, request_id=request_id, actor=TARA)

    assert request.state is S.UNDER_REVIEW
    assert request.current_round.number == 1
    assert request.current_round.checklist_version == "tda-review@1"


async def test_the_chair_can_start_a_review_too(store):
    request_id = await a_request(store, "submitted")

    async with uow(store) as u:
        request = await services.start_review(u, request_id=request_id, actor=CHAIR)

    assert request.state is S.UNDER_REVIEW


async def test_asking_for_information_and_resubmitting_returns_to_review_in_the_same_round(store):
    request_id = await a_request(store, "under_review")
    async with uow(store) as u:
        await services.rate_item(u, request_id=request_id, actor=TARA, item_id="R1.1", rating="met")
    async with uow(store) as u:
        asked = await services.request_information(
            u,
            request_id=request_id,
            actor=OMAR,
            questions=["Who supports it out of hours?"],
            due_date=date(2026, 3, 6),
        )
    assert asked.state is S.INFORMATION_REQUESTED

    async with uow(store) as u:
        answered = await services.resubmit(
            u,
            request_id=request_id,
            actor=ALEX,
            answers="The supplier's 24/7 desk",
            changes={"performance_reliability": "99.9% uptime SLA"},
        )
    assert answered.state is S.RESUBMITTED
    assert answered.performance_reliability == "99.9% uptime SLA"
    info = answered.information_requests[-1]
    assert (info.questions, info.answers, info.due_date) == (
        ("Who supports it out of hours?",),
        "The supplier's 24/7 desk",
        date(2026, 3, 6),
    )

    async with uow(store) as u:
        again = await services.start_review(u, request_id=request_id, actor=TARA)
    assert again.state is S.UNDER_REVIEW
    assert len(again.rounds) == 1
    assert [r.item_id for r in again.current_round.ratings] == ["R1.1"]


async def test_the_history_dates_every_state_the_request_passed_through(store):
    request_id = await a_request(store, "resubmitted")

    history = store.requests[request_id].history
    assert [h.state for h in history] == [
        S.DRAFT,
        S.SUBMITTED,
        S.UNDER_REVIEW,
        S.INFORMATION_REQUESTED,
        S.RESUBMITTED,
    ]
    assert all(h.entered_at == NOW for h in history)
    assert history[2].by.name == "Tara Member"


@pytest.mark.parametrize(
    "state", ["draft", "submitted", "under_review", "information_requested", "resubmitted"]
)
async def test_the_requester_can_withdraw_an_undecided_request_with_a_reason(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        request = await services.withdraw(u, request_id=request_id, actor=ALEX, reason="Budget withdrawn")

    assert request.state is S.WITHDRAWN
    assert request.history[-1].note == "Budget withdrawn"


async def test_the_chair_can_withdraw_on_the_requesters_behalf_but_a_member_cannot(store):
    request_id = await a_request(store, "under_review")

    async with uow(store) as u:
        with pytest.raises(NotAllowed):
            await services.withdraw(u, request_id=request_id, actor=TARA, reason="Duplicate")
    async with uow(store) as u:
        await services.withdraw(u, request_id=request_id, actor=CHAIR, reason="Duplicate of TR-2026-0007")

    assert state_of(store, request_id) is S.WITHDRAWN


async def test_withdrawing_needs_a_reason(store):
    request_id = await a_request(store, "submitted")

    async with uow(store) as u:
        with pytest.raises(InvalidValue, match="say why") as refused:
            await services.withdraw(u, request_id=request_id, actor=ALEX, reason="  ")
    assert refused.value.field == "reason"


@pytest.mark.parametrize("state", ["decided", "withdrawn"])
async def test_only_the_chair_reopens_a_decided_or_withdrawn_request_into_a_new_round(store, state):
    request_id = await a_request(store, state)

    for someone in (ALEX, TARA, ADMIN):
        async with uow(store) as u:
            with pytest.raises(NotAllowed, match="only the TDA chair"):
                await services.reopen(u, request_id=request_id, actor=someone, reason="New evidence")
    async with uow(store) as u:
        request = await services.reopen(u, request_id=request_id, actor=CHAIR, reason="New evidence")

    assert request.state is S.UNDER_REVIEW
    assert request.history[-1].note == "New evidence"
    assert request.current_round.number == len(request.rounds)
    assert request.current_round.ratings == []


async def test_a_request_withdrawn_as_a_draft_cannot_be_reopened_into_review(store):
    request_id = await a_request(store)
    async with uow(store) as u:
        await services.withdraw(u, request_id=request_id, actor=ALEX, reason="Started by mistake")

    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match="never submitted"):
            await services.reopen(u, request_id=request_id, actor=CHAIR, reason="Let us look")


# --- refused by role ---------------------------------------------------------------------------------


@pytest.mark.parametrize("someone", [ALEX, ADMIN, AUDITOR])
async def test_only_tda_members_start_reviews_ask_for_information_and_rate(store, someone):
    submitted = await a_request(store, "submitted")
    reviewing = await a_request(store, "under_review")

    async with uow(store) as u:
        with pytest.raises(NotAllowed, match="only TDA members"):
            await services.start_review(u, request_id=submitted, actor=someone)
        with pytest.raises(NotAllowed, match="only TDA members"):
            await services.request_information(u, request_id=reviewing, actor=someone, questions=["Why?"])
        with pytest.raises(NotAllowed, match="only TDA members"):
            await services.rate_item(u, request_id=reviewing, actor=someone, item_id="R1.1", rating="met")
    assert state_of(store, submitted) is S.SUBMITTED


@pytest.mark.parametrize("someone", [ALEX, TARA, ADMIN])
async def test_only_the_chair_decides(store, someone):
    request_id = await a_request(store, "under_review")

    async with uow(store) as u:
        with pytest.raises(NotAllowed, match="only the TDA chair"):
            await services.decide(
                u, request_id=request_id, actor=someone, outcome="not_approved", rationale="No."
            )
    assert state_of(store, request_id) is S.UNDER_REVIEW


async def test_a_tda_member_cannot_start_review_ask_about_or_rate_their_own_request(store):
    submitted = await a_request(store, "submitted", requester=TARA)
    reviewing = await a_request(store, "submitted", requester=TARA)
    async with uow(store) as u:
        await services.start_review(u, request_id=reviewing, actor=OMAR)

    async with uow(store) as u:
        with pytest.raises(NotAllowed) as starting:
            await services.start_review(u, request_id=submitted, actor=TARA)
        with pytest.raises(NotAllowed) as asking:
            await services.request_information(u, request_id=reviewing, actor=TARA, questions=["Why?"])
        with pytest.raises(NotAllowed) as rating:
            await services.rate_item(u, request_id=reviewing, actor=TARA, item_id="R1.1", rating="met")

    assert starting.value.detail == "you raised TR-2026-0001: another TDA member must review it"
    assert asking.value.detail == "you raised TR-2026-0002: another TDA member must review it"
    assert rating.value.detail == asking.value.detail
    assert state_of(store, submitted) is S.SUBMITTED
    assert store.requests[reviewing].current_round.ratings == []


async def test_the_chair_cannot_review_or_decide_a_request_they_raised_but_can_withdraw_it(store):
    submitted = await a_request(store, "submitted", requester=CHAIR)
    reviewed = await a_request(store, "under_review", requester=CHAIR)  # Tara started the review
    async with uow(store) as u:
        await services.rate_item(u, request_id=reviewed, actor=TARA, item_id="DPIA1", rating="met")
        await services.rate_item(u, request_id=reviewed, actor=TARA, item_id="DE1.2", rating="met")

    async with uow(store) as u:
        with pytest.raises(NotAllowed, match="another TDA member must review it"):
            await services.start_review(u, request_id=submitted, actor=CHAIR)
        with pytest.raises(NotAllowed) as deciding:
            await services.decide(
                u, request_id=reviewed, actor=CHAIR, outcome="approved", rationale="Looks fine to me."
            )
    assert deciding.value.detail == "you raised TR-2026-0002: another chair must decide it"
    assert state_of(store, reviewed) is S.UNDER_REVIEW

    async with uow(store) as u:
        withdrawn = await services.withdraw(u, request_id=reviewed, actor=CHAIR, reason="Not needed now")
    assert withdrawn.state is S.WITHDRAWN


async def test_only_the_requester_answers_information_requests(store):
    request_id = await a_request(store, "information_requested")

    for someone in (BEA, TARA, CHAIR):
        async with uow(store) as u:
            with pytest.raises(NotAllowed, match="only the person who raised TR-"):
                await services.resubmit(u, request_id=request_id, actor=someone, answers="On their behalf")


# --- refused by state ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["draft", "under_review", "information_requested", "decided", "withdrawn"])
async def test_a_review_cannot_start_outside_submitted_or_resubmitted(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        with pytest.raises(InvalidTransition) as refused:
            await services.start_review(u, request_id=request_id, actor=TARA)

    assert f"a request that is {state}" in refused.value.detail
    assert "only when resubmitted or submitted" in refused.value.detail


@pytest.mark.parametrize(
    "state", ["draft", "submitted", "information_requested", "resubmitted", "decided", "withdrawn"]
)
async def test_a_decision_is_only_taken_under_review(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match=f"cannot decide a request that is {state}"):
            await services.decide(
                u, request_id=request_id, actor=CHAIR, outcome="not_approved", rationale="No"
            )


@pytest.mark.parametrize("state", ["submitted", "information_requested", "resubmitted", "decided"])
async def test_information_is_only_requested_under_review(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match="cannot ask for information on"):
            await services.request_information(u, request_id=request_id, actor=TARA, questions=["?"])


@pytest.mark.parametrize("state", ["submitted", "under_review", "resubmitted", "decided"])
async def test_resubmitting_is_only_an_answer_to_an_information_request(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match="cannot resubmit"):
            await services.resubmit(u, request_id=request_id, actor=ALEX, answers="Here")


@pytest.mark.parametrize("state", ["submitted", "under_review"])
async def test_a_submitted_request_cannot_be_submitted_again(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match="cannot submit"):
            await services.submit(u, request_id=request_id, actor=ALEX)


@pytest.mark.parametrize("state", ["decided", "withdrawn"])
async def test_a_decided_or_withdrawn_request_cannot_be_withdrawn(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        with pytest.raises(InvalidTransition) as refused:
            await services.withdraw(u, request_id=request_id, actor=CHAIR, reason="Tidy up")
    assert "reopen" in refused.value.detail  # says what is allowed from here


@pytest.mark.parametrize(
    "state", ["draft", "submitted", "under_review", "information_requested", "resubmitted"]
)
async def test_an_undecided_request_cannot_be_reopened(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match="cannot reopen"):
            await services.reopen(u, request_id=request_id, actor=CHAIR, reason="Again")


@pytest.mark.parametrize("state", ["submitted", "information_requested", "decided"])
async def test_items_are_only_rated_under_review(store, state):
    request_id = await a_request(store, state)

    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match="cannot rate"):
            await services.rate_item(u, request_id=request_id, actor=TARA, item_id="R1.1", rating="met")


# --- details of the transitions ---------------------------------------------------------------------


async def test_an_information_request_needs_a_question_and_a_due_date_not_in_the_past(store):
    request_id = await a_request(store, "under_review")

    async with uow(store) as u:
        with pytest.raises(InvalidValue, match="at least one question"):
            await services.request_information(u, request_id=request_id, actor=TARA, questions=[])
        with pytest.raises(InvalidValue, match="in the past") as refused:
            await services.request_information(
                u, request_id=request_id, actor=TARA, questions=["?"], due_date=date(2026, 3, 1)
            )
    assert refused.value.field == "due_date"


async def test_resubmitting_needs_answers_and_keeps_the_request_complete(store):
    request_id = await a_request(store, "information_requested")

    async with uow(store) as u:
        with pytest.raises(InvalidValue, match="answers"):
            await services.resubmit(u, request_id=request_id, actor=ALEX, answers="")
        with pytest.raises(IncompleteRequest) as refused:
            await services.resubmit(
                u, request_id=request_id, actor=ALEX, answers="Yes", changes={"title": None}
            )

    assert refused.value.missing == [("title", "give the request a short title")]
    stored = store.requests[request_id]
    assert (stored.state, stored.title) == (S.INFORMATION_REQUESTED, "Housing repairs scheduling")


async def test_reopening_keeps_the_earlier_decision_unchanged_and_the_next_one_is_appended(store):
    request_id = await a_request(store, "decided")
    first = store.requests[request_id].latest_decision

    async with uow(store) as u:
        await services.reopen(
            u, request_id=request_id, actor=CHAIR, reason="Supplier went into administration"
        )
    async with uow(store) as u:
        await services.rate_item(
            u, request_id=request_id, actor=TARA, item_id="R3.1", rating="not_met", comment="Supplier risk"
        )
    async with uow(store) as u:
        await services.decide(
            u, request_id=request_id, actor=CHAIR, outcome="not_approved", rationale="Supplier failed."
        )

    request = store.requests[request_id]
    assert [d.outcome for d in request.decisions] == [Outcome.APPROVED, Outcome.NOT_APPROVED]
    assert request.decisions[0] == first
    assert [d.round for d in request.decisions] == [1, 2]
    assert request.state is S.DECIDED


async def test_a_recorded_decision_cannot_be_edited(store):
    request_id = await a_request(store, "decided")
    decision = store.requests[request_id].latest_decision

    with pytest.raises(AttributeError):
        decision.outcome = Outcome.NOT_APPROVED  # frozen: a decision is a fact

    async with uow(store) as u:
        with pytest.raises(InvalidTransition):
            await services.decide(
                u, request_id=request_id, actor=CHAIR, outcome="not_approved", rationale="Changed my mind"
            )
    assert store.requests[request_id].latest_decision == decision


async def test_listing_filters_by_state_and_requester(store):
    draft = await a_request(store)
    mine = await a_request(store, "submitted")
    theirs = await a_request(store, "submitted", requester=BEA)

    async with uow(store) as u:
        submitted = await services.list_requests(u, states=[S.SUBMITTED])
        alexs = await services.list_requests(u, requester_id=ALEX.id)
        by_reference = await services.get_request_by_reference(u, reference=store.requests[theirs].reference)

    assert {r.id for r in submitted} == {mine, theirs}
    assert {r.id for r in alexs} == {draft, mine}
    assert by_reference.id == theirs
    assert timedelta(0) == by_reference.created_at - NOW
