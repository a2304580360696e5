"""Working-day and calendar-month arithmetic on any calendar; pure Python, so a domain package may
import it.

Deadlines are calendar dates in Europe/London. A deadline that falls on a weekend or an England-and-Wales
bank holiday moves to the previous working day; "due in N working days" counts only working days.
"""

from __future__ import annotations

import calendar as _months
from datetime import date, timedelta
from typing import Protocol


class WorkingCalendar(Protocol):
    """Which days are working days (weekends and bank holidays are not)."""

    def is_working_day(self, day: date) -> bool: ...


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the last day of a shorter month (31 Jan + 1 = 28/29 Feb);
    ``months`` may be negative. A contract term of N months, or a tacit renewal period, is counted so."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, _months.monthrange(year, month)[1]))


def previous_working_day(day: date, calendar: WorkingCalendar) -> date:
    """The day itself if it is a working day, else the last working day before it."""
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


def add_working_days(day: date, count: int, calendar: WorkingCalendar) -> date:
    """The date ``count`` working days after ``day`` (``day`` itself is not counted); count >= 0."""
    if count < 0:
        raise ValueError("count must be zero or more working days")
    while count:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            count -= 1
    return day


def working_days_between(start: date, end: date, calendar: WorkingCalendar) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    days = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            days += 1
    return days


class HolidayCalendar:
    """Monday to Friday except the holidays given: for tests, and for deployments outside England and
    Wales that list their own holidays."""

    def __init__(self, holidays: frozenset[date] = frozenset()) -> None:
        self.holidays = holidays

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays


class WeekdayCalendar(HolidayCalendar):
    """Monday to Friday, no holidays."""

    def __init__(self) -> None:
        super().__init__(frozenset())
