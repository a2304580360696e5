"""The rules a system record keeps: its lifecycle, its personal-data answers and partial updates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fakes import NOW, a_system

from estate_register.domain.errors import InvalidTransition, InvalidValue
from estate_register.domain.values import (
    LIFECYCLE_TRANSITIONS,
    ComplianceStatus,
    IntegrationCapability,
    LifecycleStage,
)

ALLOWED = sorted((src, dst) for src, targets in LIFECYCLE_TRANSITIONS.items() for dst in targets)
REFUSED = sorted(
    (src, dst)
    for src in LifecycleStage
    for dst in LifecycleStage
    if dst not in LIFECYCLE_TRANSITIONS[src] and dst != src
)
LATER = NOW + timedelta(days=10)


# --- lifecycle ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "to"), ALLOWED)
def test_a_system_moves_along_every_allowed_lifecycle_edge_and_dates_it(start, to):
    system = a_system(lifecycle_stage=start)
    system.recorded(actor="clerk@council.gov.uk", at=NOW)

    system.change_lifecycle(to, actor="owner@council.gov.uk", at=LATER, on=date(2025, 3, 10), note="moved")

    assert system.lifecycle_stage is to
    assert [(e.stage, e.on, e.by, e.note) for e in system.lifecycle_history] == [
        (start, NOW.date(), "clerk@council.gov.uk", "recorded"),
        (to, date(2025, 3, 10), "owner@council.gov.uk", "moved"),
    ]
    fact = system.events[-1]
    assert fact.action == ("retired" if to is LifecycleStage.RETIRED else "lifecycle_changed")
    assert (fact.detail["from_stage"], fact.detail["to_stage"]) == (start.value, to.value)
    assert fact.before is not None
    assert fact.before["lifecycle_stage"] == start.value
    assert fact.after["lifecycle_stage"] == to.value


@pytest.mark.parametrize(("start", "to"), REFUSED)
def test_a_lifecycle_change_off_the_allowed_edges_is_refused_and_changes_nothing(start, to):
    system = a_system(lifecycle_stage=start)
    system.recorded(actor="clerk@council.gov.uk", at=NOW)
    history = system.lifecycle_history

    with pytest.raises(InvalidTransition) as refused:
        system.change_lifecycle(to, actor="owner@council.gov.uk", at=LATER, on=LATER.date())

    assert refused.value.field == "lifecycle_stage"
    assert system.lifecycle_stage is start
    assert system.lifecycle_history == history
    assert [f.action for f in system.events] == ["recorded"]


def test_retired_is_final_and_the_refusal_says_so():
    system = a_system(lifecycle_stage=LifecycleStage.RETIRED)

    with pytest.raises(InvalidTransition, match="none: retired is final"):
        system.change_lifecycle(LifecycleStage.LIVE, actor="a@b.gov.uk", at=LATER, on=LATER.date())


def test_a_refused_lifecycle_change_names_the_stages_that_are_allowed():
    system = a_system(lifecycle_stage=LifecycleStage.LIVE)

    with pytest.raises(InvalidTransition) as refused:
        system.change_lifecycle(LifecycleStage.PLANNED, actor="a@b.gov.uk", at=LATER, on=LATER.date())

    assert "allowed: decommissioning, under_review" in refused.value.detail


def test_a_new_system_may_be_recorded_at_any_stage_with_that_stage_as_its_first_history_entry():
    system = a_system(lifecycle_stage=LifecycleStage.DECOMMISSIONING)

    system.recorded(actor="survey@council.gov.uk", at=NOW)

    assert [(e.stage, e.on) for e in system.lifecycle_history] == [
        (LifecycleStage.DECOMMISSIONING, NOW.date())
    ]
    assert system.events[-1].action == "recorded"
    assert system.events[-1].before is None


def test_a_lifecycle_change_through_a_partial_update_keeps_the_rules_and_the_history():
    system = a_system(lifecycle_stage=LifecycleStage.LIVE)
    system.recorded(actor="a@b.gov.uk", at=NOW)

    changed = system.apply_changes(
        {
            "lifecycle_stage": LifecycleStage.UNDER_REVIEW,
            "lifecycle_note": "annual review",
            "description": "x",
        },
        actor="owner@b.gov.uk",
        at=LATER,
    )

    assert changed == ["description", "lifecycle_stage"]
    assert system.lifecycle_history[-1].stage is LifecycleStage.UNDER_REVIEW
    assert system.lifecycle_history[-1].note == "annual review"
    assert system.lifecycle_history[-1].on == LATER.date()
    assert [f.action for f in system.events] == ["recorded", "changed", "lifecycle_changed"]


def test_a_refused_lifecycle_change_in_a_partial_update_leaves_every_other_field_alone():
    system = a_system(lifecycle_stage=LifecycleStage.RETIRED, description="before")

    with pytest.raises(InvalidTransition):
        system.apply_changes(
            {"lifecycle_stage": LifecycleStage.LIVE, "description": "after"}, actor="a@b.gov.uk", at=LATER
        )

    assert system.description == "before"
    assert system.lifecycle_stage is LifecycleStage.RETIRED
    assert system.events == []


# --- personal data and compliance ----------------------------------------------------------------------


def test_personal_data_categories_are_refused_when_the_system_holds_no_personal_data():
    system = a_system(holds_personal_data=False, personal_data_categories=("tenant contact details",))

    with pytest.raises(InvalidValue) as refused:
        system.validate()

    assert refused.value.field == "personal_data_categories"


def test_special_category_data_needs_the_system_to_hold_personal_data():
    system = a_system(holds_personal_data=False, special_category_data=True)

    with pytest.raises(InvalidValue) as refused:
        system.validate()

    assert refused.value.field == "special_category_data"


@pytest.mark.parametrize("holds", [True, None])
def test_categories_and_special_category_data_are_accepted_when_personal_data_is_held_or_unknown(holds):
    a_system(
        holds_personal_data=holds, personal_data_categories=("financial",), special_category_data=True
    ).validate()


@pytest.mark.parametrize("name", ["dpia", "ropa"])
@pytest.mark.parametrize(
    "status", [s for s in ComplianceStatus if s is not ComplianceStatus.COMPLETED], ids=str
)
def test_a_dpia_or_ropa_date_is_refused_unless_that_assessment_is_completed(name, status):
    system = a_system(**{f"{name}_status": status, f"{name}_date": date(2025, 1, 6)})

    with pytest.raises(InvalidValue) as refused:
        system.validate()

    assert refused.value.field == f"{name}_date"


def test_a_completed_dpia_and_ropa_carry_their_dates():
    a_system(
        dpia_status=ComplianceStatus.COMPLETED,
        dpia_date=date(2025, 1, 6),
        ropa_status=ComplianceStatus.COMPLETED,
        ropa_date=date(2025, 1, 7),
    ).validate()


def test_no_integration_cannot_be_claimed_together_with_an_integration():
    system = a_system(integration_capabilities=(IntegrationCapability.NONE, IntegrationCapability.API))

    with pytest.raises(InvalidValue) as refused:
        system.validate()

    assert refused.value.field == "integration_capabilities"


def test_capabilities_must_not_repeat_whatever_their_case():
    with pytest.raises(InvalidValue) as refused:
        a_system(capabilities=("Repairs", "repairs")).validate()

    assert refused.value.field == "capabilities"


# --- partial updates ------------------------------------------------------------------------------------


def test_a_partial_update_returns_only_the_fields_that_really_changed():
    system = a_system(description="Housing management", hosting=None)

    changed = system.apply_changes(
        {"name": "Orchard", "description": "Housing management and repairs", "risk_rag": None},
        actor="owner@b.gov.uk",
        at=LATER,
    )

    assert changed == ["description"]
    assert system.updated_at == LATER
    (fact,) = system.events
    assert fact.action == "changed"
    assert fact.detail["changed"] == ["description"]
    assert fact.before is not None
    assert fact.before["description"] == "Housing management"
    assert fact.after["description"] == "Housing management and repairs"


def test_a_partial_update_that_changes_nothing_records_nothing():
    system = a_system(description="same")

    assert system.apply_changes({"description": "same"}, actor="a@b.gov.uk", at=LATER) == []
    assert system.events == []
    assert system.updated_at == NOW


def test_a_partial_update_is_all_or_nothing_when_one_value_breaks_a_rule():
    system = a_system(name="Orchard", dpia_status=ComplianceStatus.IN_PROGRESS)

    with pytest.raises(InvalidValue) as refused:
        system.apply_changes(
            {"name": "Orchard Housing", "dpia_date": date(2025, 2, 3)}, actor="a@b.gov.uk", at=LATER
        )

    assert refused.value.field == "dpia_date"
    assert system.name == "Orchard"
    assert system.dpia_date is None
    assert system.updated_at == NOW
    assert system.events == []


@pytest.mark.parametrize(
    "field", ["reference", "version", "id", "lifecycle_history", "created_at", "nonsense"]
)
def test_a_partial_update_cannot_touch_read_only_or_unknown_fields(field):
    system = a_system()
    before = system.snapshot()

    with pytest.raises(InvalidValue) as refused:
        system.apply_changes({field: "x", "description": "changed"}, actor="a@b.gov.uk", at=LATER)

    assert refused.value.field == field
    assert system.snapshot() == before


def test_marking_a_system_validated_records_who_and_when():
    system = a_system()

    system.mark_validated(actor="owner@council.gov.uk", at=LATER)

    assert (system.last_validated_at, system.last_validated_by) == (LATER, "owner@council.gov.uk")
    assert system.events[-1].detail["changed"] == ["last_validated_at"]
