"""England-and-Wales working days from the GOV.UK bank-holiday data that govuk-bank-holidays ships."""

from __future__ import annotations

from datetime import date
from functools import cached_property

from govuk_bank_holidays.bank_holidays import BankHolidays


class EnglandAndWalesCalendar:
    """Weekends and England-and-Wales bank holidays are not working days.

    Uses the data cached inside the package (no network at run time); the package is updated with each
    year's announcements.
    """

    @cached_property
    def _holidays(self) -> frozenset[date]:
        data = BankHolidays(use_cached_holidays=True)
        return frozenset(h["date"] for h in data.get_holidays(division=BankHolidays.ENGLAND_AND_WALES))

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays
