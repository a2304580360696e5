"""Working-day arithmetic: what a due date "in 3 working days" means across weekends and bank holidays."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import pytest

from estate_runtime.calendar import EnglandAndWalesCalendar
from estate_runtime.workdays import (
    WeekdayCalendar,
    add_working_days,
    previous_working_day,
    working_days_between,
)

ENGLAND = EnglandAndWalesCalendar()


def test_three_working_days_from_a_thursday_before_christmas_skip_the_weekend_and_both_bank_holidays() -> (
    None
):
    # Thu 24 Dec 2026 → Fri 25 (Christmas) and Mon 28 (Boxing Day substitute) are not working days.
    assert add_working_days(date(2026, 12, 24), 3, ENGLAND) == date(2026, 12, 31)


def test_a_deadline_on_a_bank_holiday_moves_to_the_working_day_before() -> None:
    assert previous_working_day(date(2026, 12, 28), ENGLAND) == date(2026, 12, 24)
    assert previous_working_day(date(2026, 12, 23), ENGLAND) == date(2026, 12, 23)


def test_working_days_between_counts_only_working_days_after_the_start() -> None:
    assert working_days_between(date(2026, 11, 20), date(2026, 11, 27), WeekdayCalendar()) == 5
    assert working_days_between(date(2026, 11, 27), date(2026, 11, 20), WeekdayCalendar()) == 0


def test_zero_working_days_is_the_same_day_and_a_negative_count_is_refused() -> None:
    assert add_working_days(date(2026, 11, 21), 0, WeekdayCalendar()) == date(2026, 11, 21)
    with pytest.raises(ValueError, match="zero or more"):
        add_working_days(date(2026, 11, 21), -1, WeekdayCalendar())


def test_a_day_after_the_bank_holiday_data_warns_once_and_still_knows_weekends(caplog) -> None:
    calendar = EnglandAndWalesCalendar()
    last = calendar.last_covered_year
    assert last >= 2026
    beyond = date(last + 1, 12, 25)
    new_year = date(last + 1, 1, 1)
    saturday = new_year + timedelta(days=(5 - new_year.weekday()) % 7)

    with caplog.at_level(logging.WARNING, logger="estate_runtime.calendar"):
        assert calendar.is_working_day(date(last, 12, 25)) is False  # covered: no warning
        assert caplog.records == []
        assert calendar.is_working_day(beyond) is (beyond.weekday() < 5)
        assert calendar.is_working_day(saturday) is False
        assert calendar.is_working_day(saturday + timedelta(days=2)) is True  # a Monday

    (warning,) = caplog.records
    assert warning.name == "estate_runtime.calendar"
    assert warning.levelno == logging.WARNING
    assert str(last) in warning.getMessage()
    assert "upgrade govuk-bank-holidays" in warning.getMessage()
