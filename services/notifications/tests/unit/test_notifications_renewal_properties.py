"""Properties of the renewal arithmetic over random contracts, ladders, calendars and days: act-by is the
nearest working day on or before the raw date, tacit terms roll from the original end, the schedule is
one step a day in order, and the day-by-day watch raises each step once, the latest due, with no burst
after an outage, whether it looks every day or only when the plan says to."""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from estate_notifications.domain.renewal import (
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
from estate_runtime.workdays import HolidayCalendar, WeekdayCalendar, WorkingCalendar, previous_working_day

ENGLAND_AND_WALES = EnglandAndWalesCalendar()
LAST_COVERED = date(ENGLAND_AND_WALES.last_covered_year, 12, 31)
ONE_DAY = timedelta(days=1)
WALK_DAYS = 800

PROPERTY = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
WALK = settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
DAILY_WALK = settings(WALK, max_examples=20)  # looking every day for 800 days is the slow part


# --- strategies --------------------------------------------------------------------------------------

ladders = st.lists(st.integers(1, MAX_RUNG_DAYS), min_size=1, max_size=MAX_RUNGS, unique=True).map(
    lambda rungs: Ladder(rungs=tuple(rungs))
)
policies = st.builds(
    AlertPolicy,
    ladder=ladders,
    overdue_every_days=st.integers(1, 90),
    default_notice_days=st.integers(0, 400),
)


@dataclass(frozen=True)
class Scenario:
    terms: ContractTerms
    policy: AlertPolicy
    calendar: WorkingCalendar
    today: date

    def position(self, today: date | None = None) -> RenewalPosition:
        return renewal_position(
            self.terms,
            today=self.today if today is None else today,
            default_notice_days=self.policy.default_notice_days,
            calendar=self.calendar,
        )


@st.composite
def contracts(
    draw: st.DrawFn,
    *,
    start_min: date = date(2020, 1, 1),
    start_max: date = date(2035, 12, 31),
    end_max: date | None = None,
    max_period: int = 60,
    renewal_types: tuple[str, ...] = ("tacit", "express", "none"),
) -> ContractTerms:
    """Start 2020-2035, a term of 1 day to 10 years, notice 0-400 (0 or None: unknown), lead 0-120."""
    start = draw(st.dates(start_min, start_max))
    longest = 3653 if end_max is None else min(3653, (end_max - start).days + 1)
    term_days = draw(st.integers(1, longest))
    renewal_type = draw(st.sampled_from(renewal_types))
    months = st.integers(1, max_period)
    return ContractTerms(
        start_date=start,
        current_term_end=start + timedelta(days=term_days - 1),
        renewal_type=renewal_type,
        renewal_period_months=draw(months if renewal_type == "tacit" else st.none() | months),
        notice_period_days=draw(st.sampled_from([None, 0]) | st.integers(1, 400)),
        internal_lead_time_days=draw(st.integers(0, 120)),
    )


@st.composite
def holiday_calendars(draw: st.DrawFn, around: date) -> WorkingCalendar:
    """Monday to Friday with random holidays, in runs of 1 to 12 days, around the dates that matter."""
    runs = draw(st.lists(st.tuples(st.integers(-1400, 900), st.integers(1, 12)), max_size=40))
    holidays = frozenset(around + timedelta(days=at + i) for at, length in runs for i in range(length))
    return HolidayCalendar(holidays)


@st.composite
def scenarios(draw: st.DrawFn, *, renewal_types: tuple[str, ...] = ("tacit", "express", "none")) -> Scenario:
    """A contract, a policy, a calendar and a day to look at it (before the term, around its act-by and
    end, or years after it); the England-and-Wales calendar only within the years its data covers."""
    policy = draw(policies)
    kind = draw(st.sampled_from(["holidays", "england-and-wales", "weekdays"]))
    if kind == "england-and-wales":
        terms = draw(
            contracts(
                start_min=date(2016, 1, 1),
                start_max=date(2026, 12, 31),
                end_max=date(2027, 12, 31),
                max_period=12,
                renewal_types=renewal_types,
            )
        )
        end = terms.current_term_end
        today = draw(
            st.dates(max(terms.start_date, end - timedelta(days=900)) - timedelta(days=60), end)
            | st.dates(end + ONE_DAY, end + timedelta(days=365))
        )
        scenario = Scenario(terms=terms, policy=policy, calendar=ENGLAND_AND_WALES, today=today)
        assume(scenario.position().term_end <= LAST_COVERED)
        return scenario
    terms = draw(contracts(renewal_types=renewal_types))
    end = terms.current_term_end
    calendar = draw(holiday_calendars(end)) if kind == "holidays" else WeekdayCalendar()
    today = draw(
        st.dates(terms.start_date - timedelta(days=800), end)
        | st.dates(end - timedelta(days=900), end)
        | st.dates(end + ONE_DAY, end + timedelta(days=10 * 366))
    )
    return Scenario(terms=terms, policy=policy, calendar=calendar, today=today)


# --- act-by and the running term ---------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_act_by_is_the_nearest_working_day_on_or_before_term_end_less_notice_and_lead(s: Scenario) -> None:
    pos = s.position()
    notice_unknown = not s.terms.notice_period_days
    notice = s.policy.default_notice_days if notice_unknown else s.terms.notice_period_days

    assert pos.notice_unknown is notice_unknown
    assert pos.notice_days == notice
    assert pos.unadjusted_act_by == pos.term_end - timedelta(days=notice + s.terms.internal_lead_time_days)
    assert s.calendar.is_working_day(pos.act_by)
    assert pos.act_by <= pos.unadjusted_act_by <= pos.term_end
    day = pos.act_by + ONE_DAY
    while day <= pos.unadjusted_act_by:  # the move back is minimal: every day skipped is not a working day
        assert not s.calendar.is_working_day(day)
        day += ONE_DAY


@PROPERTY
@given(scenarios(renewal_types=("tacit",)))
def test_a_tacit_term_runs_to_the_first_term_end_on_or_after_today_counted_from_the_original_end(
    s: Scenario,
) -> None:
    pos = s.position()
    original, period = s.terms.current_term_end, s.terms.renewal_period_months
    assert period is not None
    renewals = pos.tacit_renewals

    assert pos.term_end >= s.today
    assert pos.term_end == add_months(original, renewals * period)
    assert pos.rolls_over is (renewals > 0)
    if renewals == 0:
        assert s.today <= original
    else:  # k is the smallest: the term before it had ended by today
        assert add_months(original, (renewals - 1) * period) < s.today


@PROPERTY
@given(scenarios(renewal_types=("express", "none")))
def test_express_and_no_renewal_terms_never_roll_over(s: Scenario) -> None:
    pos = s.position()

    assert pos.term_end == s.terms.current_term_end
    assert pos.tacit_renewals == 0


@PROPERTY
@given(st.dates(date(1900, 1, 1), date(2200, 12, 31)), st.integers(-1200, 1200))
def test_add_months_keeps_the_day_or_clamps_it_to_the_end_of_the_month(day: date, months: int) -> None:
    result = add_months(day, months)

    assert result.year * 12 + result.month == day.year * 12 + day.month + months
    assert result.day == min(day.day, _calendar.monthrange(result.year, result.month)[1])


@PROPERTY
@given(st.dates(date(1900, 1, 1), date(2200, 12, 31)), st.integers(-600, 600), st.integers(1, 600))
def test_add_months_strictly_increases_with_the_months_added(day: date, months: int, more: int) -> None:
    assert add_months(day, months) < add_months(day, months + more)


# --- the ladder --------------------------------------------------------------------------------------


@PROPERTY
@given(st.lists(st.integers(1, MAX_RUNG_DAYS), min_size=1, max_size=MAX_RUNGS, unique=True))
def test_a_valid_ladder_keeps_its_rungs_most_distant_first(rungs: list[int]) -> None:
    assert Ladder(rungs=tuple(rungs)).rungs == tuple(sorted(rungs, reverse=True))


@PROPERTY
@given(
    st.lists(st.integers(1, MAX_RUNG_DAYS), max_size=MAX_RUNGS - 1, unique=True),
    st.integers(-1000, 0) | st.integers(MAX_RUNG_DAYS + 1, 5000) | st.booleans(),
)
def test_a_ladder_with_any_rung_out_of_range_is_refused(rungs: list[int], bad: int) -> None:
    with pytest.raises(InvalidValue) as refused:
        Ladder(rungs=(*rungs, bad))

    assert refused.value.field == "rungs"


# --- problems and decisions -------------------------------------------------------------------------


@PROPERTY
@given(
    st.dates(date(2020, 1, 1), date(2035, 12, 31)),
    st.integers(-400, 3653),
    st.sampled_from([None, 0]) | st.integers(1, 4000),
    st.integers(0, 3650),
)
def test_dates_out_of_order_and_a_notice_longer_than_the_term_are_reported_exactly_when_they_happen(
    start: date, term_days: int, notice: int | None, default_notice: int
) -> None:
    terms = ContractTerms(
        start_date=start, current_term_end=start + timedelta(days=term_days - 1), notice_period_days=notice
    )
    effective_notice = notice or default_notice

    problems = terms_problems(terms, default_notice_days=default_notice)

    assert any("before the contract starts" in p for p in problems) is (term_days < 1)
    assert any("longer than the term" in p for p in problems) is (1 <= term_days < effective_notice)
    assert len(problems) == (term_days < 1) + (1 <= term_days < effective_notice)


@PROPERTY
@given(
    scenarios(),
    st.sampled_from(["renew", "extend", "reprocure", "terminate"]),
    st.none() | st.integers(-400, 400),
    st.integers(0, 3),
)
def test_a_decision_is_accepted_exactly_when_its_new_term_end_and_options_fit_the_outcome(
    s: Scenario, outcome: str, days_after_term: int | None, options: int
) -> None:
    terms = replace(s.terms, extension_options_left=options)
    pos = s.position()
    new_term_end = None if days_after_term is None else pos.term_end + timedelta(days=days_after_term)
    if outcome in ("renew", "extend"):
        acceptable = new_term_end is not None and new_term_end > pos.term_end
        acceptable = acceptable and (outcome == "renew" or options >= 1)
    else:
        acceptable = new_term_end is None

    try:
        check_decision(terms, pos, outcome=outcome, new_term_end=new_term_end)
        accepted = True
    except (InvalidValue, InvalidTransition):
        accepted = False

    assert accepted is acceptable


# --- the schedule ------------------------------------------------------------------------------------


def expected_ladder(pos: RenewalPosition, policy: AlertPolicy, calendar: WorkingCalendar) -> list[Step]:
    """Rung r goes out on the working day on or before act-by - r; a day's most urgent rung wins."""
    by_day: dict[date, int] = {}
    for rung in policy.ladder.rungs:
        day = previous_working_day(pos.act_by - timedelta(days=rung), calendar)
        by_day[day] = min(rung, by_day.get(day, rung))
    return sorted(Step(day, rung, StepKind.LADDER) for day, rung in by_day.items())


def expected_overdue(pos: RenewalPosition, policy: AlertPolicy, calendar: WorkingCalendar) -> list[Step]:
    """From the day after act-by, every few days before the term end, on the next working day unless that
    would reach the term end; a day's latest reminder wins."""
    by_day: dict[date, date] = {}
    nominal = pos.act_by + ONE_DAY
    while nominal < pos.term_end:
        due = nominal
        while not calendar.is_working_day(due):
            due += ONE_DAY
        due = due if due < pos.term_end else nominal
        by_day[due] = max(nominal, by_day.get(due, nominal))
        nominal += timedelta(days=policy.overdue_every_days)
    return sorted(
        Step(day, -(nominal - pos.act_by).days, StepKind.OVERDUE) for day, nominal in by_day.items()
    )


@PROPERTY
@given(scenarios())
def test_schedule_is_in_due_order_with_at_most_one_step_a_day_ending_with_one_term_end_alert(
    s: Scenario,
) -> None:
    pos = s.position()

    steps = schedule(pos, policy=s.policy, calendar=s.calendar)

    days = [step.due_on for step in steps]
    assert days == sorted(set(days))
    assert [step.kind for step in steps].count(StepKind.TERM_END) == 1
    assert steps[-1] == Step(pos.term_end, -(pos.term_end - pos.act_by).days, StepKind.TERM_END)


@PROPERTY
@given(scenarios())
def test_each_rung_goes_out_on_the_working_day_on_or_before_it_and_before_act_by(s: Scenario) -> None:
    pos = s.position()

    ladder = [
        step for step in schedule(pos, policy=s.policy, calendar=s.calendar) if step.kind is StepKind.LADDER
    ]

    assert ladder == expected_ladder(pos, s.policy, s.calendar)
    for step in ladder:
        assert s.calendar.is_working_day(step.due_on)
        assert step.due_on < pos.act_by
        assert step.rung_days in s.policy.ladder.rungs


@PROPERTY
@given(scenarios())
def test_overdue_reminders_repeat_after_act_by_and_stop_before_the_term_end(s: Scenario) -> None:
    pos = s.position()

    overdue = [
        step for step in schedule(pos, policy=s.policy, calendar=s.calendar) if step.kind is StepKind.OVERDUE
    ]

    assert overdue == expected_overdue(pos, s.policy, s.calendar)
    for step in overdue:
        assert pos.act_by < step.due_on < pos.term_end
        assert step.rung_days < 0


@PROPERTY
@given(scenarios())
def test_a_decided_term_keeps_only_its_term_end_alert(s: Scenario) -> None:
    pos = s.position()

    steps = schedule(pos, policy=s.policy, calendar=s.calendar, decided=True)

    assert steps == [Step(pos.term_end, -(pos.term_end - pos.act_by).days, StepKind.TERM_END)]


# --- the day-by-day watch ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Raised:
    day: date
    term_end: date
    step: Step
    opens_window: bool


@dataclass(frozen=True)
class Walk:
    scenario: Scenario
    first: date
    last: date
    decided: tuple[date, ...] = ()


@st.composite
def walks(draw: st.DrawFn, *, decide: bool = False) -> Walk:
    """A scenario watched from a day up to 800 days before its term end (never before it starts) for 800
    days, so the walk passes the term end; sometimes (always with ``decide``) with a decision to end the
    first term or a rolled one, and sometimes with a stale decided date that is none of its term ends
    (left from before the register moved the term end)."""
    s = draw(scenarios())
    end = s.terms.current_term_end
    first = draw(st.dates(max(s.terms.start_date, end - timedelta(days=WALK_DAYS)), end))
    last = first + timedelta(days=WALK_DAYS)
    if s.calendar is ENGLAND_AND_WALES:
        assume(s.position(last).term_end <= LAST_COVERED)
    decided: tuple[date, ...] = ()
    term_ends = [end]
    if s.terms.renewal_type == "tacit" and s.terms.renewal_period_months:
        term_ends += [add_months(end, k * s.terms.renewal_period_months) for k in (1, 2)]
    kind = "term-end" if decide else draw(st.sampled_from(["none", "term-end", "stale"]))
    if kind == "term-end":
        decided = (draw(st.sampled_from(term_ends)),)
    elif kind == "stale":
        stale = end + timedelta(days=draw(st.integers(-30, 800)))
        assume(stale not in term_ends)
        decided = (stale,)
    return Walk(scenario=s, first=first, last=last, decided=decided)


def look(w: Walk, state: WatchState, day: date) -> tuple[WatchState, date | None, Raised | None]:
    """Plan one day, checking what must hold of every plan; the state to keep, the next day to look."""
    s = w.scenario
    plan = plan_renewal(
        s.terms, state, today=day, policy=s.policy, calendar=s.calendar, decided_term_ends=w.decided
    )
    assert plan.position is not None
    due = [step for step in plan.steps if step.due_on <= day]
    if plan.raise_now is not None:
        assert plan.raise_now == due[-1]  # the latest step due, never an older one
        assert plan.state == WatchState(term_end=plan.position.term_end, last_raised_on=plan.raise_now.due_on)
    assert plan.next_due_on is None or plan.next_due_on > day
    raised = None
    if plan.raise_now is not None:
        raised = Raised(day, plan.position.term_end, plan.raise_now, plan.opens_window)
    return plan.state, plan.next_due_on, raised


def term_running(w: Walk, day: date) -> date:
    s = w.scenario
    plan = plan_renewal(
        s.terms, WatchState(), today=day, policy=s.policy, calendar=s.calendar, decided_term_ends=w.decided
    )
    assert plan.position is not None
    return plan.position.term_end


def walk_every_day(w: Walk) -> list[Raised]:
    state, raised, day = WatchState(), [], w.first
    while day <= w.last:
        state, _, r = look(w, state, day)
        raised += [r] if r else []
        day += ONE_DAY
    return raised


def walk_when_due(w: Walk, *, down: tuple[date, date] | None = None) -> tuple[list[Raised], list[date]]:
    """Look only when the plan said to (today >= next_due_on), like the sweep; not at all while the
    service is down. Returns what was raised and the days looked."""
    state, raised, visits = WatchState(), [], []
    day: date | None = w.first
    while day is not None and day <= w.last:
        if down is not None and down[0] <= day < down[1]:
            day = down[1]  # back up: everything due since is looked at on the first day
            continue
        state, next_due, r = look(w, state, day)
        visits.append(day)
        raised += [r] if r else []
        day = next_due
    return raised, visits


def assert_each_step_once_in_order_opening_once_per_term(raised: list[Raised]) -> None:
    keys = [(r.term_end, r.step) for r in raised]
    assert len(keys) == len(set(keys)), "a step was raised twice"
    assert [r.day for r in raised] == sorted({r.day for r in raised}), "more than one raise on a day"
    for term_end in {r.term_end for r in raised}:
        term = [r for r in raised if r.term_end == term_end]
        assert [r.step.due_on for r in term] == sorted({r.step.due_on for r in term})
        assert [r.opens_window for r in term] == [True] + [False] * (len(term) - 1)


@WALK
@given(walks())
def test_the_watch_raises_each_step_once_in_order_and_opens_the_window_once_per_term(w: Walk) -> None:
    raised, _ = walk_when_due(w)

    assert_each_step_once_in_order_opening_once_per_term(raised)


@DAILY_WALK
@given(walks())
def test_looking_only_when_next_due_raises_exactly_what_looking_every_day_raises(w: Walk) -> None:
    sparse, _ = walk_when_due(w)

    daily = walk_every_day(w)

    assert sparse == daily
    assert_each_step_once_in_order_opening_once_per_term(daily)


@DAILY_WALK
@given(walks(), st.data())
def test_after_an_outage_only_the_latest_due_step_is_raised_then_the_watch_carries_on(
    w: Walk, data: st.DataObject
) -> None:
    down_from = data.draw(st.dates(w.first, w.last), label="down_from")
    back_on = down_from + timedelta(days=data.draw(st.integers(1, 400), label="days_down"))
    daily = walk_every_day(w)

    raised, visits = walk_when_due(w, down=(down_from, back_on))

    assert_each_step_once_in_order_opening_once_per_term(raised)
    assert [r for r in raised if r.day < down_from] == [r for r in daily if r.day < down_from]
    assert not [r for r in raised if down_from <= r.day < back_on]
    returned = [day for day in visits if day >= back_on]
    if returned:
        back = returned[0]
        term_end = term_running(w, back)
        at_return = [(r.term_end, r.step) for r in raised if r.day == back]
        # Of the alerts missed for the term now running (a term that rolled over meanwhile is over),
        # only the most urgent is raised: no burst.
        missed = [
            (r.term_end, r.step) for r in daily if down_from <= r.day <= back and r.term_end == term_end
        ]
        assert at_return == missed[-1:]
        assert [r for r in raised if r.day > back] == [r for r in daily if r.day > back]
    else:  # the watch had stopped, or the walk ended before anything more came due
        assert not [r for r in daily if r.day >= back_on]


@WALK
@given(walks(decide=True))
def test_a_term_decided_to_end_raises_only_its_term_end_alert_and_never_rolls_on(w: Walk) -> None:
    decided_end = w.decided[0]

    raised, _ = walk_when_due(w)

    assert_each_step_once_in_order_opening_once_per_term(raised)
    for r in raised:
        assert r.term_end <= decided_end  # no term after the decided one is ever watched
        if r.term_end == decided_end:
            assert r.step.kind is StepKind.TERM_END
            assert r.day >= decided_end


@PROPERTY
@given(scenarios(), st.data())
def test_plan_renewal_is_deterministic(s: Scenario, data: st.DataObject) -> None:
    pos = s.position()
    last = data.draw(st.none() | st.dates(s.today - timedelta(days=1000), s.today), label="last_raised_on")
    state = WatchState(term_end=data.draw(st.sampled_from([None, pos.term_end])), last_raised_on=last)
    decided = data.draw(st.sampled_from([(), (pos.term_end,)]), label="decided")

    def plan() -> object:
        return plan_renewal(
            s.terms,
            state,
            today=s.today,
            policy=s.policy,
            calendar=s.calendar,
            decided_term_ends=iter(decided),
        )

    assert plan() == plan()
