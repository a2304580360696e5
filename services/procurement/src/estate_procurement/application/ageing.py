"""How long a request has spent in each state, and whether it has waited too long where it is.

The MHCLG TDA issues its written actions within 2-3 working days of a meeting; by default a request that
has sat in its current state for more than 3 working days is flagged. Working days are Europe/London
calendar days that the working calendar counts (weekends and bank holidays are not); a day counts when
it is after the day the request entered the state, up to and including the day it left (or today).
Hours are elapsed wall-clock hours. Decided and withdrawn requests wait for nobody and are never flagged;
nor is a draft, which is its author's own business.

Pure functions over the request, an instant and a calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from estate_procurement.domain.request import TechnologyRequest
from estate_procurement.domain.values import LONDON, RequestState, local_date
from estate_runtime.workdays import WorkingCalendar, working_days_between

DEFAULT_THRESHOLD_WORKING_DAYS = 3

WAITING_ON: dict[RequestState, str] = {
    RequestState.SUBMITTED: "tda",
    RequestState.UNDER_REVIEW: "tda",
    RequestState.RESUBMITTED: "tda",
    RequestState.INFORMATION_REQUESTED: "requester",
}
"""Who owes the next step in each state that can be flagged."""


@dataclass(frozen=True, kw_only=True)
class TimeInState:
    """Total time a request has spent in one state, over every visit."""

    state: RequestState
    visits: int
    working_days: int
    hours: Decimal


@dataclass(frozen=True, kw_only=True)
class Ageing:
    """Where the request is, since when, and whether it has waited longer than the threshold."""

    request_id: str
    reference: str
    state: RequestState
    since: datetime
    working_days_in_state: int
    hours_in_state: Decimal
    threshold_working_days: int
    overdue: bool
    waiting_on: str | None
    time_in_states: tuple[TimeInState, ...]
    message: str


def _hours(start: datetime, end: datetime) -> Decimal:
    seconds = Decimal(str(max((end - start).total_seconds(), 0.0)))
    return (seconds / 3600).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def time_in_states(
    request: TechnologyRequest, *, now: datetime, calendar: WorkingCalendar
) -> tuple[TimeInState, ...]:
    """Time in each state the request has been in, from its dated history, in first-visit order."""
    totals: dict[RequestState, tuple[int, int, Decimal]] = {}
    history = request.history
    for index, entry in enumerate(history):
        left = history[index + 1].entered_at if index + 1 < len(history) else now
        days = working_days_between(local_date(entry.entered_at), local_date(left), calendar)
        visits, total_days, total_hours = totals.get(entry.state, (0, 0, Decimal(0)))
        totals[entry.state] = (visits + 1, total_days + days, total_hours + _hours(entry.entered_at, left))
    return tuple(
        TimeInState(state=state, visits=visits, working_days=days, hours=hours)
        for state, (visits, days, hours) in totals.items()
    )


def ageing(
    request: TechnologyRequest,
    *,
    now: datetime,
    calendar: WorkingCalendar,
    threshold_working_days: int = DEFAULT_THRESHOLD_WORKING_DAYS,
) -> Ageing:
    """The request's ageing: flagged when it has waited in a flaggable state (submitted, under_review,
    resubmitted: waiting on the TDA; information_requested: waiting on the requester) for more than
    ``threshold_working_days`` working days."""
    if threshold_working_days < 0:
        raise ValueError("threshold_working_days must be zero or more")
    current = request.history[-1]
    days = working_days_between(local_date(current.entered_at), local_date(now), calendar)
    waiting_on = WAITING_ON.get(request.state)
    overdue = waiting_on is not None and days > threshold_working_days
    state = request.state.value
    if overdue:
        message = (
            f"{request.reference} has been {state} for {days} working days "
            f"(more than {threshold_working_days}); waiting on the {waiting_on}"
        )
    else:
        message = f"{request.reference} has been {state} for {days} working days"
    return Ageing(
        request_id=str(request.id),
        reference=request.reference,
        state=request.state,
        since=current.entered_at,
        working_days_in_state=days,
        hours_in_state=_hours(current.entered_at, now),
        threshold_working_days=threshold_working_days,
        overdue=overdue,
        waiting_on=waiting_on,
        time_in_states=time_in_states(request, now=now, calendar=calendar),
        message=message,
    )


def last_waiting_day(today: date, calendar: WorkingCalendar, threshold_working_days: int) -> date:
    """The latest Europe/London day D with ``working_days_between(D, today) > threshold_working_days``:
    a request that entered its state on D or earlier has waited too long today, one that entered it
    later has not (the count only shrinks as D moves later)."""
    if threshold_working_days < 0:
        raise ValueError("threshold_working_days must be zero or more")
    counted = 0
    day = today
    # Back from today until threshold + 1 working days lie in (day - 1, today]; a calendar without a
    # working day in ten years would be a broken calendar, not a long wait.
    for _ in range(3660 + 7 * threshold_working_days):
        if calendar.is_working_day(day):
            counted += 1
            if counted > threshold_working_days:
                return day - timedelta(days=1)
        day -= timedelta(days=1)
    raise ValueError("the working calendar has no working days")


def waiting_cutoff(now: datetime, calendar: WorkingCalendar, threshold_working_days: int) -> datetime:
    """The instant (UTC) before which a request must have entered its state to be flagged at ``now``:
    the end of :func:`last_waiting_day` in Europe/London. For a request in a flaggable state,
    ``entered_at < waiting_cutoff(...)`` exactly when :func:`ageing` says it is overdue, so the waiting
    list can be one indexed range query on ``state_since``."""
    last = last_waiting_day(local_date(now), calendar, threshold_working_days)
    # Midnight always exists in Europe/London (the clocks change at 01:00 and 02:00).
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC)
