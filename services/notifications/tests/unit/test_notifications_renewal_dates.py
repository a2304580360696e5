"""Renewal arithmetic on real dates: act-by over England-and-Wales bank holidays, the default notice when
none is recorded, tacit rollover counted from the original term end, the alert ladder and its
validation, the problems a contract's dates can have, and which renewal decisions are accepted."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from estate_notifications.domain.renewal import (
    DEFAULT_LADDER,
    MAX_RUNG_DAYS,
    MAX_RUNGS,
    AlertPolicy,
    ContractTerms,
    Ladder,
    RenewalPosition,
    Step,
    StepKind,
    WatchState,
    add_months,
    check_decision,
    plan_renewal,
    renewal_position,
    schedule,
    terms_problems,
)
from estate_runtime.calendar import EnglandAndWalesCalendar
from estate_runtime.errors import InvalidTransition, InvalidValue
from estate_runtime.workdays import WeekdayCalendar

CAL = EnglandAndWalesCalendar()
WEEKDAYS = WeekdayCalendar()
POLICY = AlertPolicy()
D = date.fromisoformat


def contract(**changes: Any) -> ContractTerms:
    values: dict[str, Any] = {
        "start_date": D("2025-01-01"),
        "current_term_end": D("2027-01-03"),
        "notice_period_days": 7,
        "internal_lead_time_days": 0,
    }
    values.update(changes)
    return ContractTerms(**values)


def position_on(
    terms: ContractTerms, today: date, *, default_notice_days: int = 90, calendar: Any = CAL
) -> RenewalPosition:
    return renewal_position(terms, today=today, default_notice_days=default_notice_days, calendar=calendar)


def position(act_by: str, term_end: str) -> RenewalPosition:
    """A position with the dates given (for schedule examples)."""
    return RenewalPosition(
        term_end=D(term_end),
        act_by=D(act_by),
        unadjusted_act_by=D(act_by),
        notice_days=0,
        notice_unknown=False,
        tacit_renewals=0,
    )


# --- act-by ------------------------------------------------------------------------------------------


def test_act_by_before_christmas_2026_skips_the_weekend_christmas_and_the_boxing_day_substitute() -> None:
    pos = position_on(contract(current_term_end=D("2027-01-03"), notice_period_days=7), D("2026-06-01"))

    assert pos.unadjusted_act_by == D("2026-12-27")  # a Sunday
    assert pos.act_by == D("2026-12-24")  # 25 Dec is a holiday, 26 a Saturday, 28 the substitute
    assert pos.notice_days == 7
    assert not pos.notice_unknown


def test_act_by_counts_notice_and_internal_lead_time_together_in_calendar_days() -> None:
    pos = position_on(
        contract(current_term_end=D("2027-01-03"), notice_period_days=3, internal_lead_time_days=4),
        D("2026-06-01"),
    )

    assert pos.unadjusted_act_by == D("2026-12-27")
    assert pos.act_by == D("2026-12-24")


@pytest.mark.parametrize(
    ("term_end", "notice", "lead", "unadjusted", "act_by"),
    [
        pytest.param("2027-06-30", 90, 30, "2027-03-02", "2027-03-02", id="working-tuesday-unchanged"),
        pytest.param("2027-06-24", 90, 0, "2027-03-26", "2027-03-25", id="good-friday-to-maundy-thursday"),
        pytest.param(
            "2027-04-27", 30, 0, "2027-03-28", "2027-03-25", id="easter-sunday-back-over-good-friday"
        ),
        pytest.param("2027-04-28", 30, 0, "2027-03-29", "2027-03-25", id="easter-monday-back-four-days"),
        pytest.param("2027-04-29", 30, 0, "2027-03-30", "2027-03-30", id="tuesday-after-easter-unchanged"),
        pytest.param("2027-09-29", 30, 0, "2027-08-30", "2027-08-27", id="summer-bank-holiday-2027"),
        pytest.param("2027-06-30", 30, 0, "2027-05-31", "2027-05-28", id="spring-bank-holiday-2027"),
        pytest.param("2028-01-04", 7, 0, "2027-12-28", "2027-12-24", id="christmas-2027-substitutes"),
        pytest.param("2028-02-02", 30, 0, "2028-01-03", "2027-12-31", id="new-year-2028-substitute"),
        pytest.param("2027-02-06", 0, 0, "2027-02-06", "2027-02-05", id="saturday-term-end-no-notice"),
    ],
)
def test_act_by_moves_back_to_the_previous_england_and_wales_working_day(
    term_end: str, notice: int, lead: int, unadjusted: str, act_by: str
) -> None:
    pos = position_on(
        contract(
            current_term_end=D(term_end), notice_period_days=notice or None, internal_lead_time_days=lead
        ),
        D("2025-06-01"),
        default_notice_days=0,
    )

    assert pos.unadjusted_act_by == D(unadjusted)
    assert pos.act_by == D(act_by)
    assert CAL.is_working_day(pos.act_by)


def test_act_by_on_a_weekday_calendar_moves_a_saturday_to_the_friday_before() -> None:
    pos = position_on(
        contract(current_term_end=D("2027-01-16"), notice_period_days=7), D("2026-01-01"), calendar=WEEKDAYS
    )

    assert pos.unadjusted_act_by == D("2027-01-09")
    assert pos.act_by == D("2027-01-08")


@pytest.mark.parametrize("notice", [0, None])
def test_unknown_notice_uses_the_policy_default_and_is_flagged(notice: int | None) -> None:
    terms = contract(current_term_end=D("2027-06-30"), notice_period_days=notice, internal_lead_time_days=30)

    pos = position_on(terms, D("2026-01-01"), default_notice_days=90)

    assert not terms.notice_known
    assert pos.notice_unknown
    assert pos.notice_days == 90
    assert pos.unadjusted_act_by == D("2027-03-02")  # 30 June - 90 - 30


def test_recorded_notice_is_used_and_not_flagged() -> None:
    terms = contract(current_term_end=D("2027-06-30"), notice_period_days=60)

    pos = position_on(terms, D("2026-01-01"), default_notice_days=90)

    assert terms.notice_known
    assert not pos.notice_unknown
    assert pos.notice_days == 60
    assert pos.unadjusted_act_by == D("2027-05-01")


def test_negative_notice_and_lead_time_count_as_zero_and_are_reported() -> None:
    terms = contract(current_term_end=D("2027-06-30"), notice_period_days=-5, internal_lead_time_days=-3)

    pos = position_on(terms, D("2026-01-01"))

    assert pos.notice_days == 0
    assert pos.unadjusted_act_by == D("2027-06-30")
    problems = terms_problems(terms)
    assert any("notice period is negative" in p for p in problems)
    assert any("internal lead time is negative" in p for p in problems)


# --- tacit rollover ----------------------------------------------------------------------------------


def tacit(term_end: str, months: int, **changes: Any) -> ContractTerms:
    return contract(
        start_date=D("2020-01-01"),
        current_term_end=D(term_end),
        renewal_type="tacit",
        renewal_period_months=months,
        **changes,
    )


@pytest.mark.parametrize(
    ("today", "term_end", "renewals"),
    [
        pytest.param("2027-01-30", "2027-01-31", 0, id="before-the-end"),
        pytest.param("2027-01-31", "2027-01-31", 0, id="on-the-last-day-not-rolled"),
        pytest.param("2027-02-01", "2027-02-28", 1, id="day-after-rolls-to-28-feb"),
        pytest.param("2027-02-28", "2027-02-28", 1, id="last-day-of-first-renewal"),
        pytest.param("2027-03-01", "2027-03-31", 2, id="counted-from-31-jan-not-28-feb"),
        pytest.param("2027-04-01", "2027-04-30", 3, id="april-clamped-to-30"),
        pytest.param("2027-05-01", "2027-05-31", 4, id="may-back-to-31"),
        pytest.param("2028-02-01", "2028-02-29", 13, id="leap-february"),
        pytest.param("2029-02-15", "2029-02-28", 25, id="non-leap-february"),
    ],
)
def test_tacit_rollover_counts_monthly_terms_from_the_original_end_with_month_end_clamping(
    today: str, term_end: str, renewals: int
) -> None:
    pos = position_on(tacit("2027-01-31", 1), D(today))

    assert pos.term_end == D(term_end)
    assert pos.tacit_renewals == renewals
    assert pos.rolls_over is (renewals > 0)


def test_tacit_rollover_skips_several_periods_when_the_service_was_down() -> None:
    # Quarterly from 31 March 2024: 30 Jun, 30 Sep, 31 Dec 2024, 31 Mar, 30 Jun, 30 Sep, 31 Dec 2025, 31 Mar 2026.
    pos = position_on(tacit("2024-03-31", 3), D("2026-01-15"))

    assert pos.term_end == D("2026-03-31")
    assert pos.tacit_renewals == 8


def test_tacit_rollover_lands_exactly_on_a_later_term_end_without_rolling_further() -> None:
    pos = position_on(tacit("2024-03-31", 3), D("2025-12-31"))

    assert pos.term_end == D("2025-12-31")
    assert pos.tacit_renewals == 7


def test_tacit_yearly_rollover_from_29_february_keeps_the_leap_day_when_it_exists() -> None:
    terms = tacit("2024-02-29", 12)

    assert position_on(terms, D("2024-03-01")).term_end == D("2025-02-28")
    assert position_on(terms, D("2025-03-01")).term_end == D("2026-02-28")
    assert position_on(terms, D("2027-03-01")).term_end == D("2028-02-29")
    assert position_on(terms, D("2027-03-01")).tacit_renewals == 4


def test_rolled_term_gets_its_own_act_by_from_the_new_term_end() -> None:
    terms = tacit("2026-01-31", 12, notice_period_days=90)

    pos = position_on(terms, D("2026-02-01"))

    assert pos.term_end == D("2027-01-31")
    assert pos.unadjusted_act_by == D("2026-11-02")
    assert pos.act_by == D("2026-11-02")


@pytest.mark.parametrize("renewal_type", ["express", "none"])
def test_express_and_no_renewal_do_not_roll_over_after_the_term_ends(renewal_type: str) -> None:
    terms = contract(current_term_end=D("2026-01-31"), renewal_type=renewal_type, renewal_period_months=12)

    pos = position_on(terms, D("2028-06-01"))

    assert pos.term_end == D("2026-01-31")
    assert pos.tacit_renewals == 0
    assert not pos.rolls_over


@pytest.mark.parametrize("months", [None, 0])
def test_tacit_without_a_renewal_period_does_not_roll_over(months: int | None) -> None:
    terms = contract(current_term_end=D("2026-01-31"), renewal_type="tacit", renewal_period_months=months)

    pos = position_on(terms, D("2027-06-01"))

    assert pos.term_end == D("2026-01-31")
    assert not pos.rolls_over


# --- add_months ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2027-01-31", 1, "2027-02-28"),
        ("2027-01-31", 2, "2027-03-31"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2027-01-31", 13, "2028-02-29"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-02-29", 48, "2028-02-29"),
        ("2027-11-30", 3, "2028-02-29"),
        ("2027-12-15", 1, "2028-01-15"),
        ("2027-05-15", 0, "2027-05-15"),
        ("2027-03-31", -1, "2027-02-28"),
        ("2028-01-15", -1, "2027-12-15"),
        ("2027-08-31", 120, "2037-08-31"),
        ("1900-01-31", 1, "1900-02-28"),
        ("2000-01-31", 1, "2000-02-29"),
        ("2100-01-31", 1, "2100-02-28"),
    ],
)
def test_add_months_adds_whole_months_and_clamps_to_the_end_of_a_shorter_month(
    day: str, months: int, expected: str
) -> None:
    assert add_months(D(day), months) == D(expected)


# --- Ladder and AlertPolicy --------------------------------------------------------------------------


def test_default_ladder_is_the_documented_one() -> None:
    assert Ladder().rungs == DEFAULT_LADDER == (180, 120, 90, 60, 30, 14, 7, 1)
    assert AlertPolicy().ladder == Ladder()


def test_ladder_rungs_are_kept_most_distant_first_whatever_order_they_are_given_in() -> None:
    assert Ladder(rungs=(1, 30, 7, 14)).rungs == (30, 14, 7, 1)
    assert Ladder(rungs=[5, 10]).rungs == (10, 5)  # type: ignore[arg-type]
    assert Ladder(rungs=(1, 30)) == Ladder(rungs=(30, 1))


def test_ladder_accepts_the_bounds_and_the_maximum_number_of_rungs() -> None:
    assert Ladder(rungs=(1, MAX_RUNG_DAYS)).rungs == (730, 1)
    assert len(Ladder(rungs=tuple(range(1, MAX_RUNGS + 1))).rungs) == 20


@pytest.mark.parametrize(
    ("rungs", "message"),
    [
        pytest.param((), "needs at least one rung", id="empty"),
        pytest.param((7, 7), "must be different", id="duplicates"),
        pytest.param((30, 0), "from 1 to 730 before act-by, not 0", id="zero"),
        pytest.param((731,), "from 1 to 730 before act-by, not 731", id="731"),
        pytest.param((-1,), "not -1", id="negative"),
        pytest.param(tuple(range(1, MAX_RUNGS + 2)), "at most 20 rungs", id="21-rungs"),
        pytest.param((True,), "not True", id="true"),
        pytest.param((7, False), "not False", id="false"),
        pytest.param((7.0,), "not 7.0", id="float"),
        pytest.param(("7",), "not '7'", id="text"),
    ],
)
def test_invalid_ladders_are_refused_with_a_message_about_the_rungs(
    rungs: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(InvalidValue, match=message) as caught:
        Ladder(rungs=rungs)

    assert caught.value.field == "rungs"


def test_a_boolean_rung_is_refused_even_next_to_the_rung_it_equals() -> None:
    with pytest.raises(InvalidValue, match="not True"):
        Ladder(rungs=(1, True))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"overdue_every_days": 0}, "overdue_every_days"),
        ({"overdue_every_days": 91}, "overdue_every_days"),
        ({"overdue_every_days": -7}, "overdue_every_days"),
        ({"default_notice_days": -1}, "default_notice_days"),
        ({"default_notice_days": 3651}, "default_notice_days"),
    ],
)
def test_alert_policy_refuses_values_out_of_bounds(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        AlertPolicy(**changes)

    assert caught.value.field == field


@pytest.mark.parametrize(
    "changes",
    [
        {"overdue_every_days": 1},
        {"overdue_every_days": 90},
        {"default_notice_days": 0},
        {"default_notice_days": 3650},
    ],
)
def test_alert_policy_accepts_its_bounds(changes: dict[str, Any]) -> None:
    policy = AlertPolicy(**changes)

    for name, value in changes.items():
        assert getattr(policy, name) == value


# --- terms_problems -------------------------------------------------------------------------------


def test_a_well_formed_contract_has_no_problems() -> None:
    assert terms_problems(contract(start_date=D("2025-01-01"), current_term_end=D("2027-12-31"))) == []


def test_dates_out_of_order_are_a_problem_naming_both_dates() -> None:
    problems = terms_problems(contract(start_date=D("2027-02-01"), current_term_end=D("2027-01-31")))

    assert len(problems) == 1
    assert "2027-01-31" in problems[0]
    assert "2027-02-01" in problems[0]
    assert "before the contract starts" in problems[0]


def test_a_one_day_term_is_not_out_of_order() -> None:
    terms = contract(start_date=D("2027-01-31"), current_term_end=D("2027-01-31"), notice_period_days=1)

    assert terms_problems(terms) == []


def test_a_notice_longer_than_the_term_is_a_problem_with_both_lengths() -> None:
    terms = contract(start_date=D("2027-01-01"), current_term_end=D("2027-01-31"), notice_period_days=32)

    problems = terms_problems(terms)

    assert problems == [
        "the notice period (32 days) is longer than the term (31 days): check the contract; alerts are "
        "sent from now on"
    ]


def test_a_notice_as_long_as_the_term_is_not_a_problem() -> None:
    terms = contract(start_date=D("2027-01-01"), current_term_end=D("2027-01-31"), notice_period_days=31)

    assert terms_problems(terms) == []


def test_an_unknown_notice_is_compared_with_the_default_notice() -> None:
    terms = contract(start_date=D("2027-01-01"), current_term_end=D("2027-01-31"), notice_period_days=None)

    assert terms_problems(terms, default_notice_days=31) == []
    assert "(60 days)" in terms_problems(terms, default_notice_days=60)[0]


@pytest.mark.parametrize("months", [None, 0])
def test_tacit_renewal_without_a_period_is_a_problem(months: int | None) -> None:
    terms = contract(current_term_end=D("2027-12-31"), renewal_type="tacit", renewal_period_months=months)

    assert terms_problems(terms) == ["tacit renewal needs a renewal period in months: add it in the register"]


@pytest.mark.parametrize("renewal_type", ["express", "none"])
def test_a_renewal_period_is_not_needed_without_tacit_renewal(renewal_type: str) -> None:
    terms = contract(current_term_end=D("2027-12-31"), renewal_type=renewal_type)

    assert terms_problems(terms) == []


def test_every_problem_of_a_contract_is_reported_together() -> None:
    terms = contract(
        start_date=D("2027-02-01"),
        current_term_end=D("2027-01-31"),
        renewal_type="tacit",
        notice_period_days=-1,
        internal_lead_time_days=-1,
    )

    assert len(terms_problems(terms)) == 4


# --- schedule --------------------------------------------------------------------------------------


def test_schedule_sends_each_rung_on_a_working_day_then_overdue_reminders_then_the_term_end() -> None:
    terms = contract(
        start_date=D("2025-07-01"),
        current_term_end=D("2027-06-30"),
        notice_period_days=90,
        internal_lead_time_days=30,
    )
    pos = position_on(terms, D("2026-01-01"))
    policy = AlertPolicy(ladder=Ladder(rungs=(30, 14, 7, 1)), overdue_every_days=7)

    steps = schedule(pos, policy=policy, calendar=CAL)

    assert pos.act_by == D("2027-03-02")
    assert steps[:6] == [
        Step(D("2027-01-29"), 30, StepKind.LADDER),  # 31 January is a Sunday
        Step(D("2027-02-16"), 14, StepKind.LADDER),
        Step(D("2027-02-23"), 7, StepKind.LADDER),
        Step(D("2027-03-01"), 1, StepKind.LADDER),
        Step(D("2027-03-03"), -1, StepKind.OVERDUE),
        Step(D("2027-03-10"), -8, StepKind.OVERDUE),
    ]
    assert steps[-1] == Step(D("2027-06-30"), -120, StepKind.TERM_END)
    assert all(s.kind is StepKind.OVERDUE for s in steps[4:-1])
    assert [s.due_on for s in steps] == sorted({s.due_on for s in steps})


def test_overdue_reminders_over_christmas_move_to_the_next_working_day_but_never_past_the_term_end() -> None:
    pos = position_on(contract(current_term_end=D("2027-01-03"), notice_period_days=7), D("2026-06-01"))
    policy = AlertPolicy(ladder=Ladder(rungs=(1,)), overdue_every_days=7)

    steps = schedule(pos, policy=policy, calendar=CAL)

    assert steps == [
        Step(D("2026-12-23"), 1, StepKind.LADDER),
        Step(D("2026-12-29"), -1, StepKind.OVERDUE),  # 25 Dec + weekend + 28 Dec substitute
        # 1 January is a bank holiday, but the next working day (4 Jan) is after the term end.
        Step(D("2027-01-01"), -8, StepKind.OVERDUE),
        Step(D("2027-01-03"), -10, StepKind.TERM_END),
    ]


def test_rungs_landing_on_the_same_day_collapse_into_the_most_urgent_one() -> None:
    # Act-by on a Monday: 1 day before is a Sunday, 2 days before a Saturday; both go out on Friday.
    steps = schedule(
        position("2027-03-01", "2027-03-01"),
        policy=AlertPolicy(ladder=Ladder(rungs=(3, 2, 1))),
        calendar=WEEKDAYS,
    )

    assert steps == [
        Step(D("2027-02-26"), 1, StepKind.LADDER),
        Step(D("2027-03-01"), 0, StepKind.TERM_END),
    ]


def test_act_by_on_the_term_end_gives_no_overdue_reminders() -> None:
    steps = schedule(position("2027-03-03", "2027-03-03"), policy=AlertPolicy(), calendar=WEEKDAYS)

    assert [s.kind for s in steps].count(StepKind.OVERDUE) == 0
    assert steps[-1] == Step(D("2027-03-03"), 0, StepKind.TERM_END)


def test_a_decided_term_keeps_only_its_end_of_term_alert() -> None:
    steps = schedule(
        position("2027-03-02", "2027-06-30"), policy=AlertPolicy(), calendar=WEEKDAYS, decided=True
    )

    assert steps == [Step(D("2027-06-30"), -120, StepKind.TERM_END)]


def test_steps_order_by_the_day_they_are_due() -> None:
    early = Step(D("2027-01-01"), 1, StepKind.TERM_END)
    late = Step(D("2027-01-02"), 30, StepKind.LADDER)

    assert sorted([late, early]) == [early, late]


# --- plan_renewal ----------------------------------------------------------------------------------


def plan(terms: ContractTerms, today: str, state: WatchState | None = None, **kwargs: Any) -> Any:
    kwargs.setdefault("policy", POLICY)
    kwargs.setdefault("calendar", CAL)
    return plan_renewal(terms, state or WatchState(), today=D(today), **kwargs)


SUPPORT = contract(
    start_date=D("2025-07-01"),
    current_term_end=D("2027-06-30"),
    notice_period_days=90,
    internal_lead_time_days=30,
)


def test_a_contract_recorded_late_hears_only_the_latest_rung_that_came_due() -> None:
    # act-by 2 March 2027; 180/120/90/60/30 days before have passed on 10 February.
    result = plan(SUPPORT, "2027-02-10")

    assert result.raise_now == Step(D("2027-01-29"), 30, StepKind.LADDER)
    assert result.opens_window
    assert result.state == WatchState(term_end=D("2027-06-30"), last_raised_on=D("2027-01-29"))
    assert result.next_due_on == D("2027-02-16")


def test_nothing_is_raised_again_the_same_day_or_before_the_next_rung() -> None:
    first = plan(SUPPORT, "2027-02-10")

    again = plan(SUPPORT, "2027-02-10", first.state)
    later = plan(SUPPORT, "2027-02-15", first.state)

    assert again.raise_now is None
    assert later.raise_now is None
    assert later.next_due_on == D("2027-02-16")
    assert later.state == first.state


def test_the_next_rung_is_raised_on_its_day_without_reopening_the_window() -> None:
    first = plan(SUPPORT, "2027-02-10")

    second = plan(SUPPORT, "2027-02-16", first.state)

    assert second.raise_now == Step(D("2027-02-16"), 14, StepKind.LADDER)
    assert not second.opens_window


def test_before_the_first_rung_nothing_is_raised_and_the_first_rung_is_next() -> None:
    result = plan(SUPPORT, "2026-01-01")

    assert result.raise_now is None
    assert not result.opens_window
    assert result.state == WatchState(term_end=D("2027-06-30"))
    assert result.next_due_on == D("2026-09-03")  # 180 days before 2 March 2027
    assert result.position.act_by == D("2027-03-02")


@pytest.mark.parametrize("status", ["pending", "cancelled", "terminated"])
def test_contracts_that_have_not_started_or_are_over_get_no_alerts(status: str) -> None:
    state = WatchState(term_end=D("2027-06-30"), last_raised_on=D("2027-01-29"))

    result = plan(contract(status=status), "2026-12-24", state)

    assert result.position is None
    assert result.steps == ()
    assert result.raise_now is None
    assert result.next_due_on is None
    assert result.state == state


def test_an_expired_contract_still_gets_its_alerts() -> None:
    result = plan(contract(status="expired"), "2027-01-03")

    assert result.raise_now == Step(D("2027-01-03"), -10, StepKind.TERM_END)


def test_a_contract_whose_term_ends_before_it_starts_gets_no_alerts_but_reports_the_problem() -> None:
    result = plan(contract(start_date=D("2027-02-01"), current_term_end=D("2027-01-31")), "2027-01-01")

    assert result.position is None
    assert result.next_due_on is None
    assert len(result.problems) == 1


def test_a_decision_stops_the_ladder_but_the_term_end_alert_still_goes_out() -> None:
    decided = [D("2027-06-30")]

    before = plan(SUPPORT, "2027-03-10", decided_term_ends=decided)
    on_the_day = plan(SUPPORT, "2027-06-30", before.state, decided_term_ends=decided)

    assert before.raise_now is None
    assert before.next_due_on == D("2027-06-30")
    assert on_the_day.raise_now == Step(D("2027-06-30"), -120, StepKind.TERM_END)
    assert on_the_day.next_due_on is None


def test_an_express_contract_needs_no_more_looking_at_after_its_term_end_alert() -> None:
    result = plan(SUPPORT, "2027-06-30")

    assert result.raise_now is not None
    assert result.raise_now.kind is StepKind.TERM_END
    assert result.next_due_on is None


def test_a_tacit_contract_is_looked_at_again_the_day_after_its_term_ends_and_starts_a_new_ladder() -> None:
    terms = tacit("2027-01-31", 12, notice_period_days=30)  # act-by 31 December: 1 January is a holiday
    end = plan(terms, "2027-01-31")

    rolled = plan(terms, "2027-02-01", end.state)

    assert end.raise_now == Step(D("2027-01-31"), -31, StepKind.TERM_END)
    assert end.next_due_on == D("2027-02-01")
    assert rolled.position.term_end == D("2028-01-31")
    assert rolled.state.term_end == D("2028-01-31")
    # act-by 31 Dec 2027 (1 Jan is a holiday): 180 days before is 4 July, a Sunday.
    assert rolled.raise_now is None
    assert rolled.next_due_on == D("2027-07-02")


def test_a_tacit_term_decided_to_end_does_not_roll_into_a_new_term() -> None:
    terms = tacit("2027-01-31", 12, notice_period_days=30)
    decided = [D("2027-01-31")]
    end = plan(terms, "2027-01-31", decided_term_ends=decided)

    after = plan(terms, "2027-09-01", end.state, decided_term_ends=decided)

    assert end.raise_now == Step(D("2027-01-31"), -31, StepKind.TERM_END)
    assert end.next_due_on is None
    assert after.position.term_end == D("2027-01-31")
    assert after.raise_now is None
    assert after.next_due_on is None


def test_a_decision_for_a_later_rolled_term_lets_the_earlier_terms_roll() -> None:
    terms = tacit("2025-01-31", 12, notice_period_days=30)

    result = plan(terms, "2026-03-01", decided_term_ends=[D("2027-01-31")])

    assert result.position.term_end == D("2027-01-31")
    assert result.steps == (Step(D("2027-01-31"), -31, StepKind.TERM_END),)


def test_a_stale_decided_date_that_is_not_a_term_end_does_not_stop_a_tacit_contract_rolling() -> None:
    # Decided when the register said the term ended 31 Jan 2027; it has since corrected it to 15 Dec 2026.
    terms = tacit("2026-12-15", 12, notice_period_days=30)

    result = plan(terms, "2028-01-10", decided_term_ends=[D("2027-01-31")])

    assert result.position.term_end == D("2028-12-15")
    assert result.next_due_on is not None
    assert result.next_due_on > D("2028-01-10")


def test_a_tacit_contract_with_a_negative_period_is_reported_and_not_looked_at_every_day() -> None:
    terms = tacit("2026-01-30", -12, notice_period_days=30)

    end = plan(terms, "2026-01-30")
    later = plan(terms, "2026-06-01", end.state)

    assert "the renewal period is negative: correct it in the register" in end.problems
    assert end.raise_now is not None
    assert end.raise_now.kind is StepKind.TERM_END
    assert end.next_due_on is None
    assert later.raise_now is None
    assert later.next_due_on is None


def test_plan_renewal_is_deterministic() -> None:
    state = WatchState(term_end=D("2027-06-30"), last_raised_on=D("2027-01-29"))

    assert plan(SUPPORT, "2027-03-20", state) == plan(SUPPORT, "2027-03-20", state)


# --- check_decision --------------------------------------------------------------------------------

RUNNING = position_on(SUPPORT, D("2026-01-01"))


@pytest.mark.parametrize("outcome", ["renew", "extend"])
def test_renew_and_extend_are_accepted_with_a_later_term_end(outcome: str) -> None:
    terms = contract(current_term_end=D("2027-06-30"), extension_options_left=1)

    check_decision(terms, RUNNING, outcome=outcome, new_term_end=D("2027-07-01"))


@pytest.mark.parametrize("outcome", ["renew", "extend"])
@pytest.mark.parametrize("new_term_end", [None, "2027-06-30", "2027-01-01"])
def test_renew_and_extend_need_a_new_term_end_after_the_running_term(
    outcome: str, new_term_end: str | None
) -> None:
    terms = contract(current_term_end=D("2027-06-30"), extension_options_left=1)

    with pytest.raises(InvalidValue, match=r"after the current term end \(2027-06-30\)") as caught:
        check_decision(
            terms, RUNNING, outcome=outcome, new_term_end=D(new_term_end) if new_term_end else None
        )

    assert caught.value.field == "new_term_end"


def test_renewing_a_rolled_tacit_contract_needs_an_end_after_the_rolled_term() -> None:
    terms = tacit("2026-01-31", 12)
    rolled = position_on(terms, D("2026-06-01"))

    with pytest.raises(InvalidValue, match="2027-01-31"):
        check_decision(terms, rolled, outcome="renew", new_term_end=D("2026-12-31"))
    check_decision(terms, rolled, outcome="renew", new_term_end=D("2027-02-01"))


def test_extend_needs_an_extension_option_left() -> None:
    terms = contract(current_term_end=D("2027-06-30"), extension_options_left=0)

    with pytest.raises(InvalidTransition, match="no extension options are left") as caught:
        check_decision(terms, RUNNING, outcome="extend", new_term_end=D("2028-06-30"))

    assert caught.value.field == "outcome"
    check_decision(terms, RUNNING, outcome="renew", new_term_end=D("2028-06-30"))


@pytest.mark.parametrize("outcome", ["reprocure", "terminate"])
def test_reprocure_and_terminate_refuse_a_new_term_end(outcome: str) -> None:
    with pytest.raises(InvalidValue, match=f"only for renew or extend, not {outcome}") as caught:
        check_decision(SUPPORT, RUNNING, outcome=outcome, new_term_end=D("2028-06-30"))

    assert caught.value.field == "new_term_end"
    check_decision(SUPPORT, RUNNING, outcome=outcome, new_term_end=None)


@pytest.mark.parametrize("status", ["pending", "terminated", "cancelled"])
def test_decisions_are_refused_for_contracts_that_are_not_active_or_expired(status: str) -> None:
    terms = contract(current_term_end=D("2027-06-30"), status=status, extension_options_left=1)

    with pytest.raises(InvalidTransition, match=f"not a {status} one") as caught:
        check_decision(terms, RUNNING, outcome="renew", new_term_end=D("2028-06-30"))

    assert caught.value.field == "status"


def test_a_decision_is_accepted_for_an_expired_contract() -> None:
    check_decision(contract(status="expired"), RUNNING, outcome="terminate", new_term_end=None)


def test_an_unknown_outcome_is_refused() -> None:
    with pytest.raises(InvalidValue, match="outcome is one of") as caught:
        check_decision(SUPPORT, RUNNING, outcome="cancel", new_term_end=None)

    assert caught.value.field == "outcome"
