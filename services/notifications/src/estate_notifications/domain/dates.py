"""The council's time zone and calendar day, and dates as people read them: the shared ones
(:mod:`estate_runtime.dates`), named here for the notifications domain."""

from __future__ import annotations

from estate_runtime.dates import LONDON, MONTHS, london_today, long_date

__all__ = ["LONDON", "MONTHS", "london_today", "long_date"]
