"""How long a request has waited: time in each state in working days and hours, and a flag when it has
sat in its current state longer than the threshold (3 working days by default, after the MHCLG model)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from procurement_fakes import ALEX, TARA, FakeCalendar, FakeUnitOfWork, FixedClock, a_request

from estate_procurement.application import services
from estate_procurement.application.ageing import ageing, last_waiting_day, waiting_cutoff
from estate_procurement.domain.values import RequestState, local_date
from estate_runtime.workdays import HolidayCalendar, working_days_between

S = RequestState


def at(day, hour=9, month=3, year=2026):
    return datetime(year, month, day, hour, 30, tzinfo=UTC)


async def test_time_in_each_state_counts_working_days_and_hours_over_every_visit(store):
    clock = FixedClock(at(2))  # Monday 2 March 2026
    request_id = await a_request(store, "submitted", clock=clock)
    clock.set(at(4))  # Wednesday
    async with FakeUnitOfWork(store, clock=clock) as u:
        await services.start_review(u, request_id=request_id, actor=TARA)
    clock.set(at(5, hour=15))  # Thursday afternoon
    async with FakeUnitOfWork(store, clock=clock) as u:
        await services.request_information(u, request_id=request_id, actor=TARA, questions=["Cost?"])
    clock.set(at(9))  # next Monday
    async with FakeUnitOfWork(store, clock=clock) as u:
        await services.resubmit(u, request_id=request_id, actor=ALEX, answers="18k a year")
    clock.set(at(10))
    async with FakeUnitOfWork(store, clock=clock) as u:
        await services.start_review(u, request_id=request_id, actor=TARA)
    clock.set(at(11))

    report = ageing(store.requests[request_id], now=clock(), calendar=FakeCalendar())

    spent = {t.state: (t.visits, t.working_days, t.hours) for t in report.time_in_states}
    assert spent[S.SUBMITTED] == (1, 2, Decimal("48.0"))
    assert spent[S.UNDER_REVIEW] == (2, 1 + 1, Decimal("30.0") + Decimal("24.0"))
    assert spent[S.INFORMATION_REQUESTED] == (1, 2, Decimal("90.0"))
    assert spent[S.RESUBMITTED] == (1, 1, Decimal("24.0"))
    assert (report.state, report.working_days_in_state, report.overdue) == (S.UNDER_REVIEW, 1, False)


async def test_a_request_waiting_on_the_tda_more_than_three_working_days_is_flagged(store):
    clock = FixedClock(at(2))
    request_id = await a_request(store, "submitted", clock=clock)

    clock.set(at(5))  # Thursday: 3 working days
    async with FakeUnitOfWork(store, clock=clock) as u:
        three = await services.request_ageing(u, request_id=request_id)
    clock.set(at(6))  # Friday: 4 working days
    async with FakeUnitOfWork(store, clock=clock) as u:
        four = await services.request_ageing(u, request_id=request_id)
        lenient = await services.request_ageing(u, request_id=request_id, threshold_working_days=5)

    assert (three.working_days_in_state, three.overdue) == (3, False)
    assert (four.working_days_in_state, four.overdue, four.waiting_on) == (4, True, "tda")
    assert (
        four.message == "TR-2026-0001 has been submitted for 4 working days (more than 3); waiting on the tda"
    )
    assert not lenient.overdue


async def test_bank_holidays_do_not_count_as_waiting(store):
    clock = FixedClock(datetime(2026, 12, 23, 9, 0, tzinfo=UTC))  # Wednesday before Christmas
    request_id = await a_request(store, "submitted", clock=clock)
    clock.set(datetime(2026, 12, 30, 9, 0, tzinfo=UTC))

    async with FakeUnitOfWork(store, clock=clock) as u:
        report = await services.request_ageing(u, request_id=request_id)

    # 24 Dec, 29 Dec, 30 Dec are working days; 25, 26, 27 and 28 (substitute Boxing Day) are not.
    assert (report.working_days_in_state, report.overdue) == (3, False)
    assert report.hours_in_state == Decimal("168.0")


async def test_a_request_waiting_on_the_requester_is_flagged_as_such(store):
    clock = FixedClock(at(2))
    request_id = await a_request(store, "information_requested", clock=clock)
    clock.set(at(9))

    async with FakeUnitOfWork(store, clock=clock) as u:
        report = await services.request_ageing(u, request_id=request_id)

    assert (report.overdue, report.waiting_on) == (True, "requester")


@pytest.mark.parametrize("state", ["draft", "decided", "withdrawn"])
async def test_drafts_and_finished_requests_are_never_flagged(store, state):
    clock = FixedClock(at(2))
    request_id = await a_request(store, state, clock=clock)
    clock.set(at(30))

    async with FakeUnitOfWork(store, clock=clock) as u:
        report = await services.request_ageing(u, request_id=request_id)

    assert report.working_days_in_state == 20
    assert not report.overdue
    assert report.waiting_on is None


async def test_the_waiting_list_shows_only_flagged_requests_longest_first(store):
    clock = FixedClock(at(2))
    oldest = await a_request(store, "submitted", clock=clock)
    clock.set(at(3))
    newer = await a_request(store, "under_review", clock=clock)
    clock.set(at(9))
    fresh = await a_request(store, "submitted", clock=clock)
    await a_request(store, "draft", clock=clock)

    async with FakeUnitOfWork(store, clock=clock) as u:
        waiting = await services.waiting_too_long(u)

    assert [a.request_id for a in waiting] == [str(oldest), str(newer)]
    assert str(fresh) not in {a.request_id for a in waiting}


@pytest.mark.parametrize("threshold", [0, 1, 3, 10])
def test_the_waiting_cutoff_is_the_last_day_the_rule_flags(threshold):
    """``last_waiting_day`` is exactly the boundary of ``working_days_between(day, today) > threshold``,
    and ``waiting_cutoff`` is the end of that day in London, in UTC (an hour earlier in summer)."""
    calendar = HolidayCalendar(frozenset({date(2026, 8, 31), date(2026, 12, 25), date(2026, 12, 28)}))
    for offset in range(160):
        today = date(2026, 8, 1) + timedelta(days=offset)
        last = last_waiting_day(today, calendar, threshold)
        assert working_days_between(last, today, calendar) > threshold
        assert working_days_between(last + timedelta(days=1), today, calendar) <= threshold
    now = datetime(2026, 9, 3, 10, 0, tzinfo=UTC)
    cutoff = waiting_cutoff(now, calendar, threshold)
    assert local_date(cutoff) == last_waiting_day(date(2026, 9, 3), calendar, threshold) + timedelta(days=1)
    assert (cutoff.hour, cutoff.minute, cutoff.tzinfo) == (23, 0, UTC)  # midnight BST
    assert local_date(cutoff - timedelta(microseconds=1)) == local_date(cutoff) - timedelta(days=1)
