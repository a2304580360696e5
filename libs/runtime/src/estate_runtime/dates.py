"""Dates as people read them in Estate's messages, calendars and pages (GOV.UK style, "3 March 2027"),
and the council's calendar day of an instant: one way for every service and the portal.

Month names are spelled out here rather than taken from the C library's locale (``%B``), so a server
set to another locale still writes English dates.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

LONDON: Final = ZoneInfo("Europe/London")
"""The council's time zone: calendar dates (deadlines, act-by) are days in it."""

MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(day: date) -> str:
    """3 March 2027."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def month_year(day: date) -> str:
    """March 2027."""
    return f"{MONTHS[day.month - 1]} {day.year}"


def london_today(now: datetime) -> date:
    """The council's calendar day at instant ``now``."""
    return now.astimezone(LONDON).date()


__all__ = ["LONDON", "MONTHS", "london_today", "long_date", "month_year"]
