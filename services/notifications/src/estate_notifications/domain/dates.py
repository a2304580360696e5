"""Dates as people read them in Estate's messages, calendars and pages: GOV.UK style, "3 March 2027".

Month names are spelled out here rather than taken from the C library's locale (``%B``), so a server
set to another locale still writes English dates.
"""

from __future__ import annotations

from datetime import date
from typing import Final

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


__all__ = ["MONTHS", "long_date"]
