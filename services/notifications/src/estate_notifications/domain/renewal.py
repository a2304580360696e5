"""Renewal arithmetic: when must the council act on a contract, and which alert is due on a given day.

The rules (DESIGN.md, "Renewal arithmetic"):

* ``act_by = current_term_end - supplier_notice - internal_lead_time`` in calendar days, moved back to the
  previous England-and-Wales working day when it falls on a weekend or bank holiday.
* A contract with no notice period recorded (the register holds 0, and the council's records never give
  one) uses the policy's default notice and is flagged *notice unknown*, so an alert says the date is an
  assumption to check against the contract.
* **Tacit** (automatic) renewal: once a term has ended with no decision, the contract has rolled into a
  new term of ``renewal_period_months``; the next term's dates are counted from the original term end
  (31 January + 1 month is 28 February, + 2 months is 31 March), so a term never drifts.
  **Express** renewal, or none: the term simply ends; an end-of-term alert says so.
* An alert ladder gives the days before act-by on which the owner is told (default 180, 120, 90, 60, 30,
  14, 7, 1). Each rung is sent on a working day (a Saturday rung goes out on the Friday before). After
  act-by, overdue reminders follow every few days until the term ends, and an end-of-term alert on the
  last day. Rungs that land on the same day collapse into the most urgent one.
* On any day, at most one step is raised per contract: the latest step that has come due. Steps that
  were missed (the contract was recorded late, or the service was down) are not all sent at once; the
  owner hears the most urgent one.
* A renewal decision for the term stops every step but the end-of-term alert (which still tells a
  terminating or re-procuring owner that the contract ends today); a renew or extend decision moves the
  term end, which starts a new term's ladder. A tacit contract whose term was decided to end (terminate,
  re-procure) does not roll over: nothing is scheduled after that term's end.

Pure Python: dates in, dates out, the calendar injected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

from estate_runtime.errors import InvalidTransition, InvalidValue
from estate_runtime.workdays import WorkingCalendar, add_months, previous_working_day

__all__ = [
    "DEFAULT_LADDER",
    "AlertPolicy",
    "ContractTerms",
    "Ladder",
    "RenewalPlan",
    "RenewalPosition",
    "Step",
    "StepKind",
    "WatchState",
    "add_months",
    "check_decision",
    "plan_renewal",
    "renewal_position",
    "schedule",
    "terms_problems",
]

DEFAULT_LADDER = (180, 120, 90, 60, 30, 14, 7, 1)
MAX_RUNG_DAYS = 730
MAX_RUNGS = 20
ALERTING_STATUSES = frozenset({"active", "expired"})
"""Contract statuses that get alerts: a pending contract has not started; cancelled and terminated ones
are over."""
TACIT = "tacit"
DECIDED_OUTCOMES_ENDING_TERM = frozenset({"terminate", "reprocure"})


class StepKind(StrEnum):
    LADDER = "ladder"
    OVERDUE = "overdue"
    TERM_END = "term_end"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ladder:
    """Days before act-by on which an alert goes out: distinct, 1 to 730, most distant first."""

    rungs: tuple[int, ...] = DEFAULT_LADDER

    def __post_init__(self) -> None:
        rungs = tuple(self.rungs)
        if not rungs:
            raise InvalidValue("an alert ladder needs at least one rung (days before act-by)", field="rungs")
        if len(rungs) > MAX_RUNGS:
            raise InvalidValue(f"an alert ladder has at most {MAX_RUNGS} rungs", field="rungs")
        for rung in rungs:
            if isinstance(rung, bool) or not isinstance(rung, int) or not 1 <= rung <= MAX_RUNG_DAYS:
                raise InvalidValue(
                    f"each rung is a whole number of days from 1 to {MAX_RUNG_DAYS} before act-by, not {rung!r}",
                    field="rungs",
                )
        if len(set(rungs)) != len(rungs):
            raise InvalidValue("each rung of an alert ladder must be different", field="rungs")
        object.__setattr__(self, "rungs", tuple(sorted(rungs, reverse=True)))


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertPolicy:
    """How alerts are scheduled, for one contract once its ladder has been chosen."""

    ladder: Ladder = Ladder()
    overdue_every_days: int = 7
    default_notice_days: int = 90

    def __post_init__(self) -> None:
        if not 1 <= self.overdue_every_days <= 90:
            raise InvalidValue("overdue reminders repeat every 1 to 90 days", field="overdue_every_days")
        if not 0 <= self.default_notice_days <= 3650:
            raise InvalidValue("the default notice period is 0 to 3650 days", field="default_notice_days")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContractTerms:
    """What the arithmetic needs of a contract, as the register last described it."""

    start_date: date
    current_term_end: date
    renewal_type: str = "none"
    renewal_period_months: int | None = None
    extension_options_left: int = 0
    notice_period_days: int | None = None
    internal_lead_time_days: int = 0
    status: str = "active"

    @property
    def notice_known(self) -> bool:
        return bool(self.notice_period_days)


def terms_problems(terms: ContractTerms, *, default_notice_days: int = 90) -> list[str]:
    """What is wrong with a contract's dates, in words for the contract manager; empty when the
    arithmetic can be trusted. A contract with problems is still watched where a date can be worked
    out, because a wrong alert is better than a renewal that slips by in silence."""
    problems: list[str] = []
    if terms.current_term_end < terms.start_date:
        problems.append(
            f"the term ends ({terms.current_term_end.isoformat()}) before the contract starts "
            f"({terms.start_date.isoformat()}): correct the dates in the register"
        )
    if terms.renewal_type == TACIT and not terms.renewal_period_months:
        problems.append("tacit renewal needs a renewal period in months: add it in the register")
    elif terms.renewal_period_months is not None and terms.renewal_period_months < 0:
        problems.append("the renewal period is negative: correct it in the register")
    if terms.notice_period_days is not None and terms.notice_period_days < 0:
        problems.append("the notice period is negative: correct it in the register")
    if terms.internal_lead_time_days < 0:
        problems.append("the internal lead time is negative: correct it in the register")
    term_days = (terms.current_term_end - terms.start_date).days + 1
    notice = terms.notice_period_days if terms.notice_known else default_notice_days
    if term_days > 0 and notice is not None and notice > term_days:
        problems.append(
            f"the notice period ({notice} days) is longer than the term ({term_days} days): check the "
            "contract; alerts are sent from now on"
        )
    return problems


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalPosition:
    """Where a contract stands on a given day: the term running, its act-by date and how it was found."""

    term_end: date
    act_by: date
    unadjusted_act_by: date
    notice_days: int
    notice_unknown: bool
    tacit_renewals: int
    """How many tacit renewals have happened since the term end the register holds."""

    @property
    def rolls_over(self) -> bool:
        return self.tacit_renewals > 0


def renewal_position(
    terms: ContractTerms, *, today: date, default_notice_days: int, calendar: WorkingCalendar
) -> RenewalPosition:
    """The running term on ``today`` and its act-by date (see the module's rules)."""
    term_end, rolled = terms.current_term_end, 0
    period = terms.renewal_period_months or 0
    if terms.renewal_type == TACIT and period > 0 and today > term_end:
        # The smallest k with add_months(end, k * period) >= today, counted from the original end.
        months = (today.year - term_end.year) * 12 + today.month - term_end.month
        rolled = max(1, months // period)
        while add_months(terms.current_term_end, rolled * period) < today:
            rolled += 1
        while rolled > 1 and add_months(terms.current_term_end, (rolled - 1) * period) >= today:
            rolled -= 1
        term_end = add_months(terms.current_term_end, rolled * period)
    notice_unknown = not terms.notice_known
    notice = default_notice_days if notice_unknown else max(0, terms.notice_period_days or 0)
    lead = max(0, terms.internal_lead_time_days)
    raw = term_end - timedelta(days=notice + lead)
    return RenewalPosition(
        term_end=term_end,
        act_by=previous_working_day(raw, calendar),
        unadjusted_act_by=raw,
        notice_days=notice,
        notice_unknown=notice_unknown,
        tacit_renewals=rolled,
    )


@dataclass(frozen=True, slots=True, order=True)
class Step:
    """One alert a contract's term calls for: ``rung_days`` before act-by (negative once it has passed),
    sent on ``due_on``. Steps order by the day they are due."""

    due_on: date
    rung_days: int
    kind: StepKind


def schedule(
    position: RenewalPosition,
    *,
    policy: AlertPolicy,
    calendar: WorkingCalendar,
    decided: bool = False,
) -> list[Step]:
    """Every step of the running term, in the order they fall due, at most one per day."""
    return list(
        _schedule(
            position.act_by,
            position.term_end,
            policy.ladder.rungs,
            policy.overdue_every_days,
            decided,
            calendar,  # type: ignore[arg-type]  # every calendar is hashable (by identity)
        )
    )


@lru_cache(maxsize=65_536)
def _schedule(
    act_by: date,
    term_end: date,
    rungs: tuple[int, ...],
    overdue_every_days: int,
    decided: bool,
    calendar: WorkingCalendar,
) -> tuple[Step, ...]:
    # Cached: contracts that fall due on the same day share their dates, so a sweep over a national
    # estate works each schedule out once. Steps are immutable, and the result is a tuple.
    steps: list[Step] = []
    if not decided:
        for rung in rungs:
            steps.append(
                Step(previous_working_day(act_by - timedelta(days=rung), calendar), rung, StepKind.LADDER)
            )
        day = act_by + timedelta(days=1)
        while day < term_end:
            steps.append(
                Step(
                    _next_working_day(day, calendar, before=term_end), -(day - act_by).days, StepKind.OVERDUE
                )
            )
            day += timedelta(days=overdue_every_days)
    steps.append(Step(term_end, -(term_end - act_by).days, StepKind.TERM_END))
    by_day: dict[date, Step] = {}
    for step in sorted(steps, key=lambda s: (s.due_on, _urgency(s))):
        by_day[step.due_on] = step  # the most urgent of a day's steps wins
    return tuple(sorted(by_day.values()))


_URGENCY = {StepKind.LADDER: 0, StepKind.OVERDUE: 1, StepKind.TERM_END: 2}


def _urgency(step: Step) -> tuple[int, int]:
    return (_URGENCY[step.kind], -step.rung_days)


def _next_working_day(day: date, calendar: WorkingCalendar, *, before: date) -> date:
    """The first working day on or after ``day``, but never on or after ``before`` (then ``day``)."""
    candidate = day
    while not calendar.is_working_day(candidate):
        candidate += timedelta(days=1)
    return candidate if candidate < before else day


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchState:
    """What has been raised for a contract: the term it was for and the day of the last step raised."""

    term_end: date | None = None
    last_raised_on: date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RenewalPlan:
    """What to do for one contract on one day."""

    position: RenewalPosition | None
    steps: tuple[Step, ...]
    raise_now: Step | None
    """The step to raise today, if any (the latest one due and not yet raised)."""
    opens_window: bool
    """``raise_now`` is the first step raised for this term (the renewal window opens)."""
    state: WatchState
    """The state after ``raise_now`` is raised."""
    next_due_on: date | None
    """The next day this contract needs looking at; ``None`` when nothing more is scheduled."""
    problems: tuple[str, ...] = ()


def plan_renewal(
    terms: ContractTerms,
    state: WatchState,
    *,
    today: date,
    policy: AlertPolicy,
    calendar: WorkingCalendar,
    decided_term_ends: Iterable[date] = (),
) -> RenewalPlan:
    """Decide what a contract needs today. Deterministic: the same inputs give the same plan, so two
    sweepers agree, and a replayed projection reaches the same state."""
    problems = tuple(terms_problems(terms, default_notice_days=policy.default_notice_days))
    if terms.status not in ALERTING_STATUSES or terms.current_term_end < terms.start_date:
        return RenewalPlan(
            position=None,
            steps=(),
            raise_now=None,
            opens_window=False,
            state=state,
            next_due_on=None,
            problems=problems,
        )
    position = renewal_position(
        terms, today=today, default_notice_days=policy.default_notice_days, calendar=calendar
    )
    decided_ends = set(decided_term_ends)
    for end in sorted(d for d in decided_ends if terms.current_term_end <= d < position.term_end):
        # A term the owner decided to end (terminate, re-procure) does not roll over tacitly: the notice
        # was given, so the contract ends with that term and no later term's ladder starts. Only a date
        # that is one of this contract's term ends counts (a stale one, from before the register moved
        # the term end, would freeze the watch on a past term).
        ended = renewal_position(
            terms, today=end, default_notice_days=policy.default_notice_days, calendar=calendar
        )
        if ended.term_end == end:
            position = ended
            break
    decided = position.term_end in decided_ends
    steps = _schedule(
        position.act_by,
        position.term_end,
        policy.ladder.rungs,
        policy.overdue_every_days,
        decided,
        calendar,  # type: ignore[arg-type]  # every calendar is hashable (by identity)
    )
    if state.term_end != position.term_end:
        state = WatchState(term_end=position.term_end)
    pending = [s for s in steps if state.last_raised_on is None or s.due_on > state.last_raised_on]
    due = [s for s in pending if s.due_on <= today]
    raise_now = due[-1] if due else None
    opens_window = raise_now is not None and state.last_raised_on is None
    if raise_now is not None:
        state = replace(state, last_raised_on=raise_now.due_on)
    return RenewalPlan(
        position=position,
        steps=steps,
        raise_now=raise_now,
        opens_window=opens_window,
        state=state,
        next_due_on=_next_due(steps, state, today, position, terms, decided=decided),
        problems=problems,
    )


def _next_due(
    steps: Sequence[Step],
    state: WatchState,
    today: date,
    position: RenewalPosition,
    terms: ContractTerms,
    *,
    decided: bool = False,
) -> date | None:
    pending = [s for s in steps if state.last_raised_on is None or s.due_on > state.last_raised_on]
    if pending:
        past = [s for s in pending if s.due_on <= today]
        return past[-1].due_on if past else pending[0].due_on
    if terms.renewal_type == TACIT and (terms.renewal_period_months or 0) > 0 and not decided:
        return position.term_end + timedelta(days=1)  # the term rolls over: the next term's ladder
    return None


def check_decision(
    terms: ContractTerms, position: RenewalPosition, *, outcome: str, new_term_end: date | None
) -> None:
    """A renewal decision the register will accept: for an active or expired contract; renew and extend
    give a new term end after the running term's; extend needs an extension option left; re-procure and
    terminate give no new term end."""
    if terms.status not in ALERTING_STATUSES:
        raise InvalidTransition(
            f"a renewal decision needs an active or expired contract, not a {terms.status} one",
            field="status",
        )
    if outcome not in ("renew", "extend", "reprocure", "terminate"):
        raise InvalidValue("outcome is one of renew, extend, reprocure, terminate", field="outcome")
    if outcome in ("renew", "extend"):
        if new_term_end is None or new_term_end <= position.term_end:
            raise InvalidValue(
                f"give new_term_end, after the current term end ({position.term_end.isoformat()}), "
                f"to {outcome}",
                field="new_term_end",
            )
        if outcome == "extend" and terms.extension_options_left < 1:
            raise InvalidTransition(
                "no extension options are left on this contract: renew, re-procure or terminate instead",
                field="outcome",
            )
    elif new_term_end is not None:
        raise InvalidValue(f"new_term_end is only for renew or extend, not {outcome}", field="new_term_end")
