"""The rules a contract keeps: its dates, money and day counts, the act-by date and renewal decisions."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fakes import NOW, FakeCalendar, a_contract, a_system

from estate_register.domain.errors import InvalidTransition, InvalidValue
from estate_register.domain.model import RenewalDecision
from estate_register.domain.values import (
    ContractStatus,
    LifecycleStage,
    RenewalOutcome,
    RenewalType,
)

CALENDAR = FakeCalendar()
LATER = NOW + timedelta(days=1)


def decision(
    outcome: RenewalOutcome, new_term_end: date | None = None, rationale: str = "Value for money"
) -> RenewalDecision:
    return RenewalDecision(
        id=uuid.uuid4(),
        outcome=outcome,
        rationale=rationale,
        decided_by="owner@council.gov.uk",
        decided_at=LATER,
        new_term_end=new_term_end,
    )


# --- dates, money, day counts ---------------------------------------------------------------------------


def test_a_contract_cannot_end_before_it_starts():
    with pytest.raises(InvalidValue) as refused:
        a_contract(start_date=date(2025, 4, 1), initial_term_end=date(2025, 3, 31)).validate()

    assert refused.value.field == "initial_term_end"


def test_the_current_term_cannot_end_before_the_initial_term():
    with pytest.raises(InvalidValue) as refused:
        a_contract(current_term_end=date(2028, 3, 30)).validate()

    assert refused.value.field == "current_term_end"


def test_a_contract_may_start_and_end_on_the_same_day():
    a_contract(
        start_date=date(2025, 4, 1), initial_term_end=date(2025, 4, 1), current_term_end=date(2025, 4, 1)
    ).validate()


@pytest.mark.parametrize("field", ["annual_value", "total_value"])
def test_money_cannot_be_negative(field):
    with pytest.raises(InvalidValue) as refused:
        a_contract(**{field: Decimal("-0.01")}).validate()

    assert refused.value.field == field


@pytest.mark.parametrize("field", ["annual_value", "total_value"])
def test_money_is_refused_beyond_whole_pence(field):
    with pytest.raises(InvalidValue) as refused:
        a_contract(**{field: Decimal("100.005")}).validate()

    assert refused.value.field == field


def test_money_in_pounds_and_pence_is_accepted():
    a_contract(annual_value=Decimal("184500.25"), total_value=Decimal("553500.75")).validate()


@pytest.mark.parametrize("field", ["notice_period_days", "internal_lead_time_days", "extension_options_left"])
def test_day_counts_and_extension_options_cannot_be_negative(field):
    with pytest.raises(InvalidValue) as refused:
        a_contract(**{field: -1}).validate()

    assert refused.value.field == field


def test_a_tacit_renewal_needs_a_renewal_period():
    with pytest.raises(InvalidValue) as refused:
        a_contract(renewal_type=RenewalType.TACIT, renewal_period_months=None).validate()

    assert refused.value.field == "renewal_period_months"


def test_a_tacit_renewal_with_a_period_is_accepted_and_a_zero_period_is_not():
    a_contract(renewal_type=RenewalType.TACIT, renewal_period_months=12).validate()
    with pytest.raises(InvalidValue) as refused:
        a_contract(renewal_type=RenewalType.EXPRESS, renewal_period_months=0).validate()
    assert refused.value.field == "renewal_period_months"


def test_a_total_value_below_one_years_value_is_refused_for_a_term_of_a_year_or_more():
    with pytest.raises(InvalidValue) as refused:
        a_contract(annual_value=Decimal("1000.00"), total_value=Decimal("999.99")).validate()

    assert refused.value.field == "total_value"


# --- act-by ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term_end", "notice", "lead", "act_by"),
    [
        pytest.param(date(2025, 3, 31), 28, 0, date(2025, 3, 3), id="a working day stays"),
        pytest.param(date(2025, 3, 31), 20, 10, date(2025, 2, 28), id="saturday moves back to friday"),
        pytest.param(date(2025, 6, 30), 30, 5, date(2025, 5, 23), id="spring bank holiday monday"),
        pytest.param(date(2025, 5, 21), 30, 0, date(2025, 4, 17), id="easter monday, weekend, good friday"),
        pytest.param(date(2026, 1, 31), 30, 6, date(2025, 12, 24), id="boxing day and christmas day"),
        pytest.param(date(2025, 3, 3), 0, 0, date(2025, 3, 3), id="no notice: the term end itself"),
    ],
)
def test_act_by_is_term_end_less_notice_and_lead_time_moved_back_to_a_working_day(
    term_end, notice, lead, act_by
):
    contract = a_contract(
        start_date=date(2024, 4, 1),
        initial_term_end=term_end,
        current_term_end=term_end,
        notice_period_days=notice,
        internal_lead_time_days=lead,
    )

    contract.compute_act_by(CALENDAR)

    assert contract.act_by == act_by
    assert CALENDAR.is_working_day(contract.act_by)


# --- systems under a contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [ContractStatus.ACTIVE, ContractStatus.PENDING])
def test_a_retired_system_cannot_be_covered_by_a_new_active_or_pending_contract(status):
    retired = a_system(name="govmetric", lifecycle_stage=LifecycleStage.RETIRED)
    contract = a_contract(status=status, system_ids=(retired.id,))

    with pytest.raises(InvalidTransition) as refused:
        contract.check_systems_accept([retired])

    assert refused.value.field == "system_ids"
    assert "govmetric" in refused.value.detail


@pytest.mark.parametrize(
    "status", [ContractStatus.TERMINATED, ContractStatus.EXPIRED, ContractStatus.CANCELLED]
)
def test_an_ended_contract_may_still_record_the_retired_system_it_covered(status):
    retired = a_system(lifecycle_stage=LifecycleStage.RETIRED)

    a_contract(status=status, system_ids=(retired.id,)).check_systems_accept([retired])


def test_a_live_system_may_be_covered_by_an_active_contract():
    live = a_system(lifecycle_stage=LifecycleStage.LIVE)

    a_contract(system_ids=(live.id,)).check_systems_accept([live])


# --- status -----------------------------------------------------------------------------------------------


def test_a_terminated_contract_cannot_be_made_active_again():
    contract = a_contract(status=ContractStatus.TERMINATED)

    with pytest.raises(InvalidTransition, match="terminated is final") as refused:
        contract.apply_changes({"status": ContractStatus.ACTIVE}, actor="a@b.gov.uk", at=LATER)

    assert refused.value.field == "status"
    assert contract.status is ContractStatus.TERMINATED


def test_a_status_change_with_other_changes_records_both():
    contract = a_contract(status=ContractStatus.PENDING)

    changed = contract.apply_changes(
        {"status": ContractStatus.ACTIVE, "title": "Signed"}, actor="a@b.gov.uk", at=LATER
    )

    assert changed == ["status", "title"]
    assert [f.action for f in contract.events] == ["changed", "lifecycle_changed"]
    assert contract.events[-1].detail == {"from_status": "pending", "to_status": "active"}


# --- renewal decisions ------------------------------------------------------------------------------------


def test_renewing_moves_the_term_end_and_the_act_by_date_and_keeps_the_decision():
    contract = a_contract(notice_period_days=90)
    contract.compute_act_by(CALENDAR)

    contract.record_renewal_decision(
        decision(RenewalOutcome.RENEW, date(2031, 3, 31), "Still the best fit"), calendar=CALENDAR
    )

    assert contract.current_term_end == date(2031, 3, 31)
    assert contract.initial_term_end == date(2028, 3, 31)
    assert contract.act_by == date(2030, 12, 31)
    assert [(d.outcome, d.rationale) for d in contract.renewal_decisions] == [
        (RenewalOutcome.RENEW, "Still the best fit")
    ]
    fact = contract.events[-1]
    assert fact.action == "renewal_decision_recorded"
    assert fact.detail["decision"]["outcome"] == "renew"
    assert fact.actor == "owner@council.gov.uk"


def test_extending_uses_up_one_extension_option():
    contract = a_contract(extension_options_left=2)

    contract.record_renewal_decision(decision(RenewalOutcome.EXTEND, date(2029, 3, 31)), calendar=CALENDAR)

    assert contract.extension_options_left == 1
    assert contract.current_term_end == date(2029, 3, 31)


def test_extending_with_no_option_left_is_refused_and_changes_nothing():
    contract = a_contract(extension_options_left=0)
    before = contract.snapshot()

    with pytest.raises(InvalidTransition) as refused:
        contract.record_renewal_decision(
            decision(RenewalOutcome.EXTEND, date(2029, 3, 31)), calendar=CALENDAR
        )

    assert refused.value.field == "extension_options_left"
    assert contract.snapshot() == before
    assert contract.events == []


@pytest.mark.parametrize("outcome", [RenewalOutcome.TERMINATE, RenewalOutcome.REPROCURE])
def test_terminating_or_reprocuring_keeps_the_term_as_it_is(outcome):
    contract = a_contract(extension_options_left=1)

    contract.record_renewal_decision(decision(outcome), calendar=CALENDAR)

    assert contract.current_term_end == date(2028, 3, 31)
    assert contract.extension_options_left == 1
    assert contract.renewal_decisions[-1].outcome is outcome


def test_a_new_term_end_is_refused_for_a_termination():
    contract = a_contract()

    with pytest.raises(InvalidValue) as refused:
        contract.record_renewal_decision(
            decision(RenewalOutcome.TERMINATE, date(2029, 3, 31)), calendar=CALENDAR
        )

    assert refused.value.field == "new_term_end"
    assert contract.renewal_decisions == ()


@pytest.mark.parametrize("new_end", [None, date(2028, 3, 31), date(2027, 1, 1)])
def test_renewing_needs_a_term_end_after_the_current_one(new_end):
    contract = a_contract()

    with pytest.raises(InvalidValue) as refused:
        contract.record_renewal_decision(decision(RenewalOutcome.RENEW, new_end), calendar=CALENDAR)

    assert refused.value.field == "new_term_end"
    assert contract.current_term_end == date(2028, 3, 31)


@pytest.mark.parametrize("rationale", ["", "   "])
def test_a_renewal_decision_needs_a_rationale(rationale):
    contract = a_contract()

    with pytest.raises(InvalidValue) as refused:
        contract.record_renewal_decision(
            decision(RenewalOutcome.TERMINATE, rationale=rationale), calendar=CALENDAR
        )

    assert refused.value.field == "rationale"
    assert contract.renewal_decisions == ()


def test_renewing_an_expired_contract_makes_it_active_again():
    contract = a_contract(status=ContractStatus.EXPIRED)

    contract.record_renewal_decision(decision(RenewalOutcome.RENEW, date(2029, 3, 31)), calendar=CALENDAR)

    assert contract.status is ContractStatus.ACTIVE


@pytest.mark.parametrize(
    "status", [ContractStatus.PENDING, ContractStatus.TERMINATED, ContractStatus.CANCELLED]
)
def test_a_renewal_decision_needs_an_active_or_expired_contract(status):
    contract = a_contract(status=status)

    with pytest.raises(InvalidTransition) as refused:
        contract.record_renewal_decision(decision(RenewalOutcome.TERMINATE), calendar=CALENDAR)

    assert refused.value.field == "status"
