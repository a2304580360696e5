"""A requester can save an incomplete draft, is told by name which value is wrong, and on submission is
told everything that is still missing, in words they can act on."""

from __future__ import annotations

from decimal import Decimal

import pytest
from procurement_fakes import ALEX, AUDITOR, BEA, NOW, TARA, a_request, complete_fields, uow

from estate_procurement.application import services
from estate_procurement.domain.errors import (
    IncompleteRequest,
    InvalidTransition,
    InvalidValue,
    NotAllowed,
    StaleVersion,
)
from estate_procurement.domain.values import OptionKind, RequestState


async def test_a_draft_can_be_saved_with_only_a_title_and_gets_a_yearly_reference(store):
    async with uow(store) as u:
        first = await services.create_draft(u, actor=ALEX, fields={"title": "Parking permits"})
    async with uow(store) as u:
        second = await services.create_draft(u, actor=BEA, fields={})

    assert first.state is RequestState.DRAFT
    assert first.reference == "TR-2026-0001"
    assert second.reference == "TR-2026-0002"
    assert first.requester.name == "Alex Requester"
    assert store.requests[first.id].title == "Parking permits"


async def test_a_draft_accepts_value_objects_given_as_plain_mappings(store):
    async with uow(store) as u:
        draft = await services.create_draft(
            u,
            actor=ALEX,
            fields={
                "options_considered": [{"kind": "reuse", "description": "Use Alloy"}],
                "initial_cost": "10.50",
            },
        )

    assert draft.options_considered[0].kind is OptionKind.REUSE
    assert draft.initial_cost == Decimal("10.50")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"initial_cost": Decimal("-1")}, "initial_cost", "must not be negative"),
        ({"annual_cost": "12.345"}, "annual_cost", "two decimal places"),
        ({"hosting": "mainframe"}, "hosting", "on_premises, saas, cloud, hybrid"),
        ({"category": "stationery"}, "category", "it, iot_protech"),
        ({"councils_in_scope": ["cambridge"]}, "councils_in_scope", "not a valid code"),
        ({"term_months": 0}, "term_months", "from 1 to 600"),
        (
            {"user_stories": [{"text": "As a tenant", "priority": "urgent"}]},
            "user_stories[0].priority",
            "must",
        ),
        ({"risks": [{"risk": " "}]}, "risks[0].risk", "must not be blank"),
        ({"title": "x" * 301}, "title", "at most 300"),
        ({"colour": "blue"}, "colour", "not a field"),
        ({"renews_or_replaces_contract_id": "not-an-id"}, "renews_or_replaces_contract_id", "UUID"),
        (
            {
                "annual_cost": Decimal("100"),
                "annual_licence_cost": Decimal("90"),
                "annual_maintenance_cost": Decimal("20"),
            },
            "annual_cost",
            "at least the licence and maintenance",
        ),
        (
            {"holds_personal_data": False, "personal_data_categories": ["health"]},
            "personal_data_categories",
            "no personal data",
        ),
    ],
)
async def test_a_draft_with_a_wrong_value_is_refused_naming_the_field(store, fields, field, words):
    async with uow(store) as u:
        with pytest.raises(InvalidValue) as refused:
            await services.create_draft(u, actor=ALEX, fields=fields)

    assert refused.value.field == field
    assert words in refused.value.detail
    assert store.requests == {}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2.5E+4", "25000.00"),
        ("18000.1", "18000.10"),
        ("18000", "18000.00"),
        (Decimal("12.5"), "12.50"),
        (7, "7.00"),
        ("-0", "0.00"),
    ],
)
async def test_money_is_stored_in_pounds_and_pence_as_the_events_say_it(store, given, stored):
    async with uow(store) as u:
        draft = await services.create_draft(u, actor=ALEX, fields={"initial_cost": given})

    assert str(draft.initial_cost) == stored
    assert str(store.requests[draft.id].initial_cost) == stored


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ("18000.505", "at most two decimal places (pence)"),
        ("1E-3", "at most two decimal places (pence)"),
        ("NaN", "must be a finite amount"),
        ("Infinity", "must be a finite amount"),
        ("-Infinity", "must be a finite amount"),
        ("a lot", "must be an amount in pounds"),
    ],
)
async def test_money_with_fractions_of_a_penny_or_not_finite_is_refused_saying_what_to_write(
    store, given, words
):
    async with uow(store) as u:
        with pytest.raises(InvalidValue) as refused:
            await services.create_draft(u, actor=ALEX, fields={"annual_cost": given})

    assert refused.value.field == "annual_cost"
    assert words in refused.value.detail
    assert "e.g. '18000.50'" in refused.value.detail


async def test_two_chosen_options_are_refused_even_in_a_draft(store):
    options = [
        {"kind": "buy", "description": "A", "chosen": True},
        {"kind": "build", "description": "B", "chosen": True},
    ]
    async with uow(store) as u:
        with pytest.raises(InvalidValue, match="only the one option"):
            await services.create_draft(u, actor=ALEX, fields={"options_considered": options})


async def test_only_the_requester_may_edit_their_draft(store):
    request_id = await a_request(store, fields={"title": "Parking permits"})

    for someone in (BEA, TARA):
        async with uow(store) as u:
            with pytest.raises(NotAllowed, match="only the person who raised TR-"):
                await services.update_draft(
                    u, request_id=request_id, actor=someone, changes={"title": "Mine now"}, expected_version=1
                )
    async with uow(store) as u:
        updated = await services.update_draft(
            u,
            request_id=request_id,
            actor=ALEX,
            changes={"title": "Parking permits online"},
            expected_version=1,
        )

    assert updated.title == "Parking permits online"
    assert store.requests[request_id].version == 2


async def test_an_auditor_cannot_raise_a_request(store):
    async with uow(store) as u:
        with pytest.raises(NotAllowed):
            await services.create_draft(u, actor=AUDITOR, fields={})


async def test_editing_an_older_version_of_a_draft_is_refused_as_stale(store):
    request_id = await a_request(store, fields={"title": "Parking permits"})
    async with uow(store) as u:
        await services.update_draft(
            u, request_id=request_id, actor=ALEX, changes={"title": "A"}, expected_version=1
        )

    async with uow(store) as u:
        with pytest.raises(StaleVersion, match="version 1, it is now version 2"):
            await services.update_draft(
                u, request_id=request_id, actor=ALEX, changes={"title": "B"}, expected_version=1
            )
    assert store.requests[request_id].title == "A"


async def test_a_failed_edit_changes_nothing(store):
    request_id = await a_request(store, fields={"title": "Parking permits", "initial_cost": Decimal(5)})

    async with uow(store) as u:
        with pytest.raises(InvalidValue):
            await services.update_draft(
                u,
                request_id=request_id,
                actor=ALEX,
                changes={"title": "New", "initial_cost": Decimal(-5)},
                expected_version=1,
            )

    stored = store.requests[request_id]
    assert (stored.title, stored.initial_cost, stored.version) == ("Parking permits", Decimal(5), 1)


async def test_submitting_an_empty_draft_lists_every_missing_part_at_once(store):
    request_id = await a_request(store, fields={})

    async with uow(store) as u:
        with pytest.raises(IncompleteRequest) as refused:
            await services.submit(u, request_id=request_id, actor=ALEX)

    missing = dict(refused.value.missing)
    assert {
        "title",
        "service_area",
        "problem_statement",
        "user_need",
        "business_requirements",
        "user_stories",
        "technical_specification",
        "options_considered",
        "capabilities",
        "initial_cost",
        "annual_cost",
        "holds_personal_data",
        "hosting",
        "integration_approach",
        "accessibility_assessment",
        "risks",
        "stakeholders_engaged",
        "success_criteria",
        "councils_in_scope",
        "category",
        "data_extraction_clauses",
        "api_clauses",
    } <= set(missing)
    assert missing["options_considered"] == (
        "give at least two options (build, buy, re-use), or say why only one was considered"
    )
    assert isinstance(refused.value, InvalidValue)  # the API answers 422 and lists each field
    assert store.requests[request_id].state is RequestState.DRAFT


async def test_a_single_option_needs_a_justification(store):
    one = [{"kind": "buy", "description": "RepairsHub", "reason": "only product", "chosen": True}]
    request_id = await a_request(store, fields=complete_fields(options_considered=one))

    async with uow(store) as u:
        with pytest.raises(IncompleteRequest) as refused:
            await services.submit(u, request_id=request_id, actor=ALEX)
    assert [name for name, _ in refused.value.missing] == ["options_considered"]

    async with uow(store) as u:
        await services.update_draft(
            u,
            request_id=request_id,
            actor=ALEX,
            changes={"single_option_justification": "Only one supplier serves this market"},
            expected_version=None,
        )
    async with uow(store) as u:
        submitted = await services.submit(u, request_id=request_id, actor=ALEX)
    assert submitted.state is RequestState.SUBMITTED


async def test_a_single_option_justification_does_not_stand_in_for_the_option_itself(store):
    fields = complete_fields(options_considered=[], single_option_justification="Only one supplier")
    request_id = await a_request(store, fields=fields)

    async with uow(store) as u:
        with pytest.raises(IncompleteRequest) as refused:
            await services.submit(u, request_id=request_id, actor=ALEX)

    assert refused.value.missing == [
        (
            "options_considered",
            "give the option you propose (build, buy or re-use): the single-option justification "
            "explains why there is only one, but the option itself is still needed",
        )
    ]
    assert store.requests[request_id].state is RequestState.DRAFT


async def test_the_one_justified_option_must_be_marked_chosen(store):
    one = [{"kind": "buy", "description": "RepairsHub", "reason": "only product"}]
    fields = complete_fields(options_considered=one, single_option_justification="Only one supplier")
    request_id = await a_request(store, fields=fields)

    async with uow(store) as u:
        with pytest.raises(IncompleteRequest) as refused:
            await services.submit(u, request_id=request_id, actor=ALEX)

    assert refused.value.missing == [("options_considered", "mark the option you propose as chosen")]


async def test_an_integration_other_than_a_restful_api_needs_a_justification(store):
    fields = complete_fields(integration_approach="bulk_file")
    request_id = await a_request(store, fields=fields)

    async with uow(store) as u:
        with pytest.raises(IncompleteRequest) as refused:
            await services.submit(u, request_id=request_id, actor=ALEX)

    assert refused.value.missing == [
        (
            "integration_justification",
            "new systems are expected to integrate through RESTful APIs; say why bulk_file is proposed instead",
        )
    ]


async def test_personal_data_needs_categories_and_a_dpia_answer(store):
    fields = complete_fields(personal_data_categories=[], dpia_needed=None)
    request_id = await a_request(store, fields=fields)

    async with uow(store) as u:
        with pytest.raises(IncompleteRequest) as refused:
            await services.submit(u, request_id=request_id, actor=ALEX)

    assert [name for name, _ in refused.value.missing] == ["personal_data_categories", "dpia_needed"]


async def test_each_risk_needs_a_mitigation_and_each_option_a_reason(store):
    fields = complete_fields(
        risks=[{"risk": "Data loss", "rag": "red"}],
        options_considered=[
            {"kind": "buy", "description": "RepairsHub", "chosen": True},
            {"kind": "build", "description": "In-house app", "reason": "no team"},
        ],
    )
    request_id = await a_request(store, fields=fields)

    async with uow(store) as u:
        with pytest.raises(IncompleteRequest) as refused:
            await services.submit(u, request_id=request_id, actor=ALEX)

    assert refused.value.missing == [
        ("options_considered[0].reason", "say why 'RepairsHub' was chosen"),
        ("risks[0].mitigation", "say how the risk 'Data loss' will be mitigated"),
    ]


async def test_a_complete_request_is_submitted_and_can_no_longer_be_edited(store):
    request_id = await a_request(store, "submitted")

    async with uow(store) as u:
        with pytest.raises(InvalidTransition) as refused:
            await services.update_draft(
                u, request_id=request_id, actor=ALEX, changes={"title": "Late edit"}, expected_version=None
            )

    assert "cannot edit a request that is submitted" in refused.value.detail
    assert "start the review of" in refused.value.detail
    stored = store.requests[request_id]
    assert stored.state is RequestState.SUBMITTED
    assert stored.submitted_at == NOW


async def test_only_the_requester_may_submit(store):
    request_id = await a_request(store)

    async with uow(store) as u:
        with pytest.raises(NotAllowed):
            await services.submit(u, request_id=request_id, actor=TARA)


async def test_reuse_query_describes_what_the_request_needs(store):
    request_id = await a_request(store)
    query = store.requests[request_id].reuse_query()

    assert query.title == "Housing repairs scheduling"
    assert "booked by phone" in query.text
    assert "book a repair slot online" in query.text
    assert query.capabilities == ("repairs-scheduling",)
    assert (query.product, query.supplier, query.service_area) == (
        "RepairsHub",
        "Hub Software Ltd",
        "housing-repairs",
    )
    assert query.exclude_request_id == request_id


# --- R22: the owner roles ---------------------------------------------------------------------------


async def test_the_owner_roles_are_kept_on_a_draft_as_people(store):
    owner = {"id": "oid-owner", "name": "Priya Shah", "email": "priya.shah@cambridge.gov.uk"}
    async with uow(store) as u:
        draft = await services.create_draft(u, actor=ALEX, fields={"system_owner": owner})
    async with uow(store) as u:
        changed = await services.update_draft(
            u,
            request_id=draft.id,
            actor=ALEX,
            changes={
                "signatory": {"id": "oid-sign", "name": "Jo Reeves", "email": "jo.reeves@cambridge.gov.uk"}
            },
            expected_version=1,
        )

    stored = store.requests[draft.id]
    assert stored.system_owner is not None
    assert (stored.system_owner.name, stored.system_owner.email) == (
        "Priya Shah",
        "priya.shah@cambridge.gov.uk",
    )
    assert stored.signatory is not None and stored.signatory.id == "oid-sign"
    assert stored.contract_owner is None and stored.budget_holder is None
    assert changed.signatory == stored.signatory


@pytest.mark.parametrize(
    ("person", "words"),
    [
        ({"id": "oid-x", "name": "Priya Shah"}, "needs email"),
        ({"id": "oid-x", "email": "priya.shah@cambridge.gov.uk"}, "needs name"),
        ({"id": "oid-x", "name": "Priya Shah", "email": "not-an-address"}, "not an e-mail address"),
        ({"id": "oid-x", "name": " ", "email": "priya.shah@cambridge.gov.uk"}, "needs a name"),
        ("Priya Shah", "must name a person"),
    ],
)
@pytest.mark.parametrize("role", ["system_owner", "contract_owner", "budget_holder", "signatory"])
async def test_an_owner_role_needs_a_name_and_an_e_mail_address(store, role, person, words):
    async with uow(store) as u:
        with pytest.raises(InvalidValue) as refused:
            await services.create_draft(u, actor=ALEX, fields={role: person})

    assert refused.value.field == role
    assert words in refused.value.detail


async def test_submission_needs_a_system_owner_and_a_budget_holder_but_not_the_other_roles(store):
    fields = complete_fields(system_owner=None, budget_holder=None, contract_owner=None, signatory=None)
    request_id = await a_request(store, fields=fields)

    async with uow(store) as u:
        with pytest.raises(IncompleteRequest) as refused:
            await services.submit(u, request_id=request_id, actor=ALEX)

    missing = dict(refused.value.missing)
    assert list(missing) == ["system_owner", "budget_holder"]
    assert "name the system owner" in missing["system_owner"]
    assert "name the budget holder" in missing["budget_holder"]

    async with uow(store) as u:
        await services.update_draft(
            u,
            request_id=request_id,
            actor=ALEX,
            changes={
                "system_owner": complete_fields()["system_owner"],
                "budget_holder": complete_fields()["budget_holder"],
            },
            expected_version=1,
        )
    async with uow(store) as u:
        submitted = await services.submit(u, request_id=request_id, actor=ALEX)
    assert submitted.state is RequestState.SUBMITTED
    assert submitted.contract_owner is None and submitted.signatory is None


async def test_an_owner_role_can_be_changed_when_resubmitting(store):
    request_id = await a_request(store, "information_requested")
    new_holder = {"id": "oid-nb", "name": "Nina Cole", "email": "nina.cole@cambridge.gov.uk"}

    async with uow(store) as u:
        answered = await services.resubmit(
            u,
            request_id=request_id,
            actor=ALEX,
            answers="The budget moved to the housing revenue account",
            changes={"budget_holder": new_holder, "signatory": None},
        )

    assert answered.budget_holder is not None
    assert (answered.budget_holder.id, answered.budget_holder.email) == (
        "oid-nb",
        "nina.cole@cambridge.gov.uk",
    )
    assert answered.signatory is None
