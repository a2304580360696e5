"""England-and-Wales working days from the GOV.UK bank-holiday data that govuk-bank-holidays ships."""

from __future__ import annotations

import logging
from datetime import date
from functools import cached_property

from govuk_bank_holidays.bank_holidays import BankHolidays

log = logging.getLogger(__name__)


class EnglandAndWalesCalendar:
    """Weekends and England-and-Wales bank holidays are not working days.

    Uses the data cached inside the package (no network at run time); the package is updated with each
    year's announcements. A day in a year after the last one the data covers can only be judged by its
    weekday: the answer is still given (weekends are not working days, every weekday is), and a warning
    is logged once, naming the last covered year, so that someone upgrades govuk-bank-holidays.
    """

    def __init__(self) -> None:
        self._warned = False

    @cached_property
    def _holidays(self) -> frozenset[date]:
        data = BankHolidays(use_cached_holidays=True)
        return frozenset(h["date"] for h in data.get_holidays(division=BankHolidays.ENGLAND_AND_WALES))

    @cached_property
    def last_covered_year(self) -> int:
        """The last year the bundled bank-holiday data covers."""
        return max(day.year for day in self._holidays)

    def is_working_day(self, day: date) -> bool:
        if day.year > self.last_covered_year and not self._warned:
            self._warned = True
            log.warning(
                "England-and-Wales bank holidays are known only up to %d, so %s is judged by its weekday "
                "alone; upgrade govuk-bank-holidays to get later years' bank holidays",
                self.last_covered_year,
                day.isoformat(),
            )
        return day.weekday() < 5 and day not in self._holidays
