"""The chair's decision: a written rationale, the recommendation kept beside it, conditions with owners
and due dates counted in England-and-Wales working days, a proposed system for the register, and the
decision kept for re-use detection."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from procurement_fakes import ALEX, BEA, CHAIR, CHECKLISTS, TARA, FixedClock, a_request, complete_fields, uow

from estate_procurement.application import services
from estate_procurement.domain.errors import InvalidTransition, InvalidValue, NotAllowed
from estate_procurement.domain.review import ConditionInput
from estate_procurement.domain.values import ConditionStatus, Hosting, Outcome
from estate_runtime.calendar import EnglandAndWalesCalendar

OWNER = {"id": "u-olu", "name": "Olu Owner", "email": "olu@cambridge.gov.uk"}
CHRISTMAS_EVE = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)  # a Thursday


async def reviewing(store, rating="met", fields=None):
    request_id = await a_request(store, "under_review", fields=fields)
    async with uow(store) as u:
        for item in CHECKLISTS.current.items():
            await services.rate_item(
                u, request_id=request_id, actor=TARA, item_id=item.id, rating=rating, comment="see notes"
            )
    return request_id


async def test_an_approval_records_rationale_recommendation_and_the_proposed_system(store):
    request_id = await reviewing(store)

    async with uow(store) as u:
        decision = await services.decide(
            u, request_id=request_id, actor=CHAIR, outcome="approved", rationale="Meets every rule."
        )

    assert (decision.outcome, decision.recommended_outcome) == (Outcome.APPROVED, Outcome.APPROVED)
    assert not decision.differs_from_recommendation
    assert decision.decided_by.name == "Chris Chair"
    system = decision.proposed_system
    assert system is not None
    assert (system.name, system.supplier_name, system.hosting) == (
        "RepairsHub",
        "Hub Software Ltd",
        Hosting.SAAS,
    )
    assert system.service_areas == ("housing-repairs",)
    assert system.estimated_annual_value == 18000
    assert system.term_months == 36
    assert store.requests[request_id].state.value == "decided"


async def test_a_decision_needs_a_written_rationale(store):
    request_id = await reviewing(store)

    async with uow(store) as u:
        with pytest.raises(InvalidValue, match="write down why") as refused:
            await services.decide(u, request_id=request_id, actor=CHAIR, outcome="approved", rationale=" ")
    assert refused.value.field == "rationale"


async def test_the_chair_may_differ_from_the_recommendation_and_that_is_recorded(store):
    request_id = await reviewing(store, rating="not_met")

    async with uow(store) as u:
        decision = await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved",
            rationale="Statutory duty: no alternative.",
            override_red_lines=True,
        )

    assert decision.recommended_outcome is Outcome.NOT_APPROVED
    assert decision.differs_from_recommendation
    assert decision.recommendation_reasons[0].startswith("red line")
    assert decision.overrode_red_lines == ("DE1.2", "DPIA1")


async def rated_only(store, ratings):
    """A request under review with Tara's ratings ``{item_id: rating}`` and no other."""
    request_id = await a_request(store, "under_review")
    async with uow(store) as u:
        for item_id, rating in ratings.items():
            await services.rate_item(
                u, request_id=request_id, actor=TARA, item_id=item_id, rating=rating, comment="see notes"
            )
    return request_id


CONDITIONS = [{"text": "DPIA signed off", "owner": OWNER, "due_in_working_days": 5}]


@pytest.mark.parametrize(
    ("ratings", "unrated"),
    [
        ({}, "DE1.2, DPIA1"),
        ({"R1.1": "met"}, "DE1.2, DPIA1"),
        ({"R1.1": "met", "DE1.2": "met"}, "DPIA1"),
    ],
)
@pytest.mark.parametrize("outcome", ["approved", "approved_with_conditions"])
async def test_an_approval_is_refused_while_a_red_line_is_unrated_naming_them(
    store, ratings, unrated, outcome
):
    request_id = await rated_only(store, ratings)

    async with uow(store) as u:
        with pytest.raises(InvalidValue) as refused:
            await services.decide(
                u,
                request_id=request_id,
                actor=CHAIR,
                outcome=outcome,
                rationale="Looks good.",
                conditions=CONDITIONS if outcome == "approved_with_conditions" else (),
            )

    assert refused.value.field == "outcome"
    assert refused.value.detail == f"rate the red-line items {unrated} before approving"
    assert store.requests[request_id].state.value == "under_review"


async def test_a_non_approval_needs_no_ratings(store):
    request_id = await rated_only(store, {})

    async with uow(store) as u:
        decision = await services.decide(
            u, request_id=request_id, actor=CHAIR, outcome="not_approved", rationale="Re-use Orchard."
        )

    assert decision.outcome is Outcome.NOT_APPROVED
    assert decision.overrode_red_lines == ()
    assert decision.recommendation_reasons[0].startswith("not yet: 28 of 28 required items are not rated yet")


async def test_approving_against_a_red_line_rated_not_met_needs_the_override_and_records_it(store):
    request_id = await rated_only(store, {"R1.1": "met", "DE1.2": "met", "DPIA1": "not_met"})

    async with uow(store) as u:
        with pytest.raises(InvalidValue) as refused:
            await services.decide(
                u, request_id=request_id, actor=CHAIR, outcome="approved", rationale="Statutory duty."
            )
    assert refused.value.field == "outcome"
    assert "red line DPIA1 rated not met" in refused.value.detail
    assert "override_red_lines" in refused.value.detail
    assert store.requests[request_id].state.value == "under_review"

    async with uow(store) as u:
        with pytest.raises(InvalidValue, match="write down why"):
            await services.decide(
                u,
                request_id=request_id,
                actor=CHAIR,
                outcome="approved",
                rationale=" ",
                override_red_lines=True,
            )
        decision = await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved_with_conditions",
            rationale="Statutory duty: the DPIA is being completed with the DPO.",
            conditions=CONDITIONS,
            override_red_lines=True,
        )

    assert decision.overrode_red_lines == ("DPIA1",)
    assert decision.recommended_outcome is Outcome.NOT_APPROVED
    assert store.requests[request_id].latest_decision.overrode_red_lines == ("DPIA1",)


async def test_an_approval_with_every_red_line_met_overrides_nothing(store):
    request_id = await reviewing(store)

    async with uow(store) as u:
        decision = await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved",
            rationale="Meets every rule.",
            override_red_lines=True,
        )

    assert decision.overrode_red_lines == ()


async def test_approving_without_a_named_supplier_is_refused_saying_to_name_it(store):
    request_id = await reviewing(store, fields=complete_fields(proposed_supplier=None))

    async with uow(store) as u:
        with pytest.raises(InvalidValue, match="name the supplier") as refused:
            await services.decide(
                u, request_id=request_id, actor=CHAIR, outcome="approved", rationale="Good."
            )
        decision = await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved",
            rationale="Good.",
            proposed_system={"supplier_name": "Hub Software Ltd", "name": "Repairs Hub"},
        )

    assert refused.value.field == "proposed_supplier"
    assert decision.proposed_system.supplier_name == "Hub Software Ltd"
    assert decision.proposed_system.name == "Repairs Hub"


async def test_a_non_approval_proposes_no_system_and_needs_no_supplier(store):
    request_id = await reviewing(store, fields=complete_fields(proposed_supplier=None))

    async with uow(store) as u:
        decision = await services.decide(
            u, request_id=request_id, actor=CHAIR, outcome="not_approved", rationale="Re-use Orchard instead."
        )

    assert decision.proposed_system is None
    assert decision.conditions == ()


@pytest.mark.parametrize(
    ("outcome", "conditions", "words"),
    [
        ("approved_with_conditions", [], "needs at least one condition"),
        (
            "approved",
            [{"text": "Do X", "owner": OWNER, "due_in_working_days": 5}],
            "only a conditional approval",
        ),
        (
            "approved_with_conditions",
            [{"text": "Do X", "owner": None, "due_in_working_days": 5}],
            "needs an owner",
        ),
        (
            "approved_with_conditions",
            [{"text": "Do X", "owner": OWNER}],
            "either a due_date or due_in_working_days",
        ),
        (
            "approved_with_conditions",
            [{"text": "Do X", "owner": OWNER, "due_date": date(2026, 3, 6), "due_in_working_days": 2}],
            "either a due_date or due_in_working_days",
        ),
        (
            "approved_with_conditions",
            [{"text": "Do X", "owner": OWNER, "due_date": date(2026, 2, 1)}],
            "before the decision",
        ),
        (
            "approved_with_conditions",
            [{"text": " ", "owner": OWNER, "due_in_working_days": 1}],
            "what must be done",
        ),
    ],
)
async def test_conditions_are_checked_before_anything_is_recorded(store, outcome, conditions, words):
    request_id = await reviewing(store)

    async with uow(store) as u:
        with pytest.raises(InvalidValue, match=words):
            await services.decide(
                u, request_id=request_id, actor=CHAIR, outcome=outcome, rationale="Why", conditions=conditions
            )

    assert store.requests[request_id].state.value == "under_review"
    assert store.requests[request_id].decisions == []


async def test_a_due_date_in_working_days_skips_christmas_and_the_boxing_day_substitute(store):
    request_id = await reviewing(store)
    clock = FixedClock(CHRISTMAS_EVE)

    async with uow(store, clock=clock) as u:
        decision = await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved_with_conditions",
            rationale="Approved once the DPIA is signed off.",
            conditions=[ConditionInput(text="DPIA signed off", owner=ALEX.person, due_in_working_days=2)],
        )

    # Thu 24 Dec; Fri 25 (Christmas), Sat 26, Sun 27, Mon 28 (Boxing Day substitute) are not working days.
    assert decision.conditions[0].due_date == date(2026, 12, 30)


async def test_the_real_england_and_wales_calendar_gives_the_same_christmas_due_date(store):
    request_id = await reviewing(store)

    async with uow(store, clock=FixedClock(CHRISTMAS_EVE), calendar=EnglandAndWalesCalendar()) as u:
        decision = await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved_with_conditions",
            rationale="Approved with conditions.",
            conditions=[{"text": "Publish the API register", "owner": OWNER, "due_in_working_days": 3}],
        )

    assert decision.conditions[0].due_date == date(2026, 12, 31)


async def conditionally_approved(store, clock):
    request_id = await reviewing(store)
    async with uow(store, clock=clock) as u:
        await services.decide(
            u,
            request_id=request_id,
            actor=CHAIR,
            outcome="approved_with_conditions",
            rationale="Approved subject to the DPIA and the exit plan.",
            conditions=[
                {"text": "DPIA signed off by the DPO", "owner": OWNER, "due_date": date(2026, 3, 13)},
                {"text": "Exit plan agreed", "owner": ALEX.person, "due_in_working_days": 10},
            ],
        )
    return request_id


async def test_an_open_condition_is_overdue_after_its_due_date_and_a_met_one_never_is(store):
    clock = FixedClock()
    request_id = await conditionally_approved(store, clock)
    dpia, exit_plan = store.requests[request_id].latest_decision.conditions
    assert exit_plan.due_date == date(2026, 3, 16)

    clock.set(datetime(2026, 3, 13, 16, 0, tzinfo=UTC))
    async with uow(store, clock=clock) as u:
        on_due_day = await services.conditions(u, request_id=request_id)
    assert [c.overdue for c in on_due_day] == [False, False]

    clock.set(datetime(2026, 3, 17, 9, 0, tzinfo=UTC))
    async with uow(store, clock=clock) as u:
        await services.meet_condition(
            u,
            request_id=request_id,
            actor=ALEX,
            condition_id=exit_plan.id,
            evidence="Exit plan v2 agreed",
        )
    async with uow(store, clock=clock) as u:
        later = await services.conditions(u, request_id=request_id)
        overdue = await services.overdue_conditions(u)

    assert [(c.status, c.overdue) for c in later] == [
        (ConditionStatus.OPEN, True),
        (ConditionStatus.MET, False),
    ]
    assert later[1].met.evidence == "Exit plan v2 agreed"
    assert [(r.id, v.id) for r, v in overdue] == [(request_id, dpia.id)]


async def test_a_condition_is_met_once_by_its_owner_or_a_tda_member_with_evidence(store):
    clock = FixedClock()
    request_id = await conditionally_approved(store, clock)
    dpia, _ = store.requests[request_id].latest_decision.conditions

    async with uow(store) as u:
        with pytest.raises(NotAllowed, match="owner or a TDA member"):
            await services.meet_condition(
                u, request_id=request_id, actor=BEA, condition_id=dpia.id, evidence="Done"
            )
        with pytest.raises(InvalidValue, match="what shows the condition is met"):
            await services.meet_condition(
                u, request_id=request_id, actor=TARA, condition_id=dpia.id, evidence=""
            )
        with pytest.raises(InvalidValue, match="not a condition of the current decision"):
            await services.meet_condition(
                u, request_id=request_id, actor=TARA, condition_id=uuid.uuid4(), evidence="Done"
            )
    async with uow(store) as u:
        met = await services.meet_condition(
            u, request_id=request_id, actor=TARA, condition_id=dpia.id, evidence="DPO sign-off 2026-03-10"
        )
    async with uow(store) as u:
        with pytest.raises(InvalidTransition, match="already met on 2026-03-02 by Tara Member"):
            await services.meet_condition(
                u, request_id=request_id, actor=TARA, condition_id=dpia.id, evidence="Again"
            )

    assert met.met_by.name == "Tara Member"
    assert (
        store.requests[request_id].latest_decision.conditions[0] == dpia
    )  # the decision itself is untouched


async def test_every_decision_is_kept_for_reuse_detection_and_the_latest_replaces_the_earlier(store):
    request_id = await a_request(store, "decided")
    kept = store.decisions[request_id]
    assert (kept.outcome, kept.title, kept.supplier) == (
        "approved",
        "Housing repairs scheduling",
        "Hub Software Ltd",
    )
    assert kept.capabilities == ("repairs-scheduling",)

    async with uow(store) as u:
        await services.reopen(u, request_id=request_id, actor=CHAIR, reason="Cheaper option found")
    async with uow(store) as u:
        await services.decide(
            u, request_id=request_id, actor=CHAIR, outcome="not_approved", rationale="Re-use Alloy instead."
        )

    assert store.decisions[request_id].outcome == "not_approved"
    assert store.decisions[request_id].rationale == "Re-use Alloy instead."


async def test_a_refused_decision_keeps_nothing_for_reuse_detection(store):
    request_id = await reviewing(store)

    async with uow(store) as u:
        with pytest.raises(InvalidValue):
            await services.decide(u, request_id=request_id, actor=CHAIR, outcome="approved", rationale="")

    assert store.decisions == {}
