"""The iCalendar (RFC 5545) feed of renewal dates that contract owners subscribe to in Outlook.

Each contract gives up to two all-day events, free time (``TRANSP:TRANSPARENT``) so they never block a
diary:

- *Act by* on the act-by date, the last day to decide the contract's future with time left to give
  notice; none when the contract has no act-by date. Until a decision is recorded it carries a display
  alarm a week before.
- *Term ends* on the last day of the current term.

A subscribed calendar is replaced wholesale on every refresh, so the feed is rebuilt from scratch each
time and each event's UID is a function of the contract, the kind of event and its date only. The same
dates give the same UIDs (the client updates an event rather than duplicating it); a moved date gives a
new UID, so the event at the old date disappears and one at the new date appears.

All text goes through icalendar, which escapes commas, semicolons, backslashes and newlines, encodes
UTF-8, ends lines with CRLF and folds them at 75 octets, as Outlook requires.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from icalendar import Alarm, Calendar, Event, vDuration, vText

from estate_notifications.domain.dates import long_date

PRODID: Final = "-//Estate//Renewals//EN"
# How often subscribers should fetch the feed again; Outlook reads X-PUBLISHED-TTL, RFC 7986 clients
# REFRESH-INTERVAL.
REFRESH: Final = timedelta(hours=1)
ALARM_BEFORE: Final = timedelta(days=7)


@dataclass(frozen=True)
class FeedEntry:
    """One contract's renewal dates as the feed shows them. The dates are calendar days, not moments;
    ``url`` (the contract in Estate) must be a URI, without spaces or control characters."""

    contract_id: uuid.UUID
    contract_reference: str
    title: str
    supplier: str | None
    act_by: date | None
    term_end: date
    notice_unknown: bool
    decided: bool
    url: str | None
    owner_name: str | None

    def __post_init__(self) -> None:
        # A datetime is a date to Python, but would make a timed event instead of an all-day one.
        for day in (self.act_by, self.term_end):
            if isinstance(day, datetime):
                raise TypeError("act_by and term_end must be dates, not datetimes")
        # URL is a URI property, which iCalendar does not escape: a newline in it would end the line.
        if self.url is not None and (not self.url or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in self.url)):
            raise ValueError("url must be a non-empty URI without spaces or control characters")


def act_by_uid(contract_id: uuid.UUID, act_by: date) -> str:
    """The UID of a contract's act-by event on ``act_by``."""
    return f"{contract_id}-act-by-{act_by:%Y%m%d}@estate"


def term_end_uid(contract_id: uuid.UUID, term_end: date) -> str:
    """The UID of a contract's term-end event on ``term_end``."""
    return f"{contract_id}-term-end-{term_end:%Y%m%d}@estate"


def build_feed(entries: Iterable[FeedEntry], *, name: str, generated_at: datetime) -> bytes:
    """The serialized VCALENDAR for ``entries``, named ``name`` in the subscriber's calendar list.

    ``generated_at`` (timezone-aware) becomes every event's DTSTAMP, in UTC. Events come in date order
    (then UID), so the same entries in any order give the same bytes. Each contract may appear once:
    a second entry for it would give two events with one UID.
    """
    if generated_at.tzinfo is None or generated_at.utcoffset() is None:
        raise ValueError("generated_at must be timezone-aware")
    stamp = generated_at.astimezone(UTC)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    # icalendar does not know X- properties are text, so it is told; it then escapes the name.
    calendar.add("x-wr-calname", vText(name))
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH))

    events: list[tuple[date, str, Event]] = []
    seen: set[uuid.UUID] = set()
    for entry in entries:
        if entry.contract_id in seen:
            raise ValueError(f"contract {entry.contract_id} appears more than once in the feed")
        seen.add(entry.contract_id)
        if entry.act_by is not None:
            uid = act_by_uid(entry.contract_id, entry.act_by)
            events.append((entry.act_by, uid, _act_by_event(entry, uid, entry.act_by, stamp)))
        uid = term_end_uid(entry.contract_id, entry.term_end)
        events.append((entry.term_end, uid, _term_end_event(entry, uid, stamp)))
    for _, _, event in sorted(events, key=lambda item: (item[0], item[1])):
        calendar.add_component(event)
    # icalendar leaves to_ical unannotated; it returns bytes.
    serialized: bytes = calendar.to_ical()
    return serialized


def _act_by_event(entry: FeedEntry, uid: str, act_by: date, stamp: datetime) -> Event:
    summary = f"Act by: {entry.contract_reference} {entry.title}"
    lines = [
        f"Decide by this date whether to renew, extend, re-procure or terminate {entry.title}"
        f"{_supplier(entry)}. The supplier must be given notice after this date and at least the "
        f"contract's notice period before the term ends on {long_date(entry.term_end)}."
    ]
    if entry.notice_unknown:
        lines.append("Notice period unknown: the date assumes the default notice period; check the contract.")
    lines.append(
        "A renewal decision is recorded." if entry.decided else "Record the renewal decision in Estate."
    )
    event = _all_day_event(entry, uid, act_by, summary, lines, stamp)
    # A reminder is noise once the decision is made.
    if not entry.decided:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"In a week: {summary}")
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
    return event


def _term_end_event(entry: FeedEntry, uid: str, stamp: datetime) -> Event:
    summary = f"Term ends: {entry.contract_reference} {entry.title}"
    lines = [
        f"The current term of {entry.title}{_supplier(entry)} ends on this date.",
        "A renewal decision is recorded." if entry.decided else "No renewal decision is recorded yet.",
    ]
    return _all_day_event(entry, uid, entry.term_end, summary, lines, stamp)


def _all_day_event(
    entry: FeedEntry, uid: str, day: date, summary: str, lines: list[str], stamp: datetime
) -> Event:
    if entry.owner_name:
        lines = [*lines, f"Contract owner: {entry.owner_name}."]
    if entry.url:
        # Outlook does not show the URL property, so the link is in the text as well.
        lines = [*lines, f"Open the contract in Estate: {entry.url}"]
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", "\n".join(lines))
    event.add("transp", "TRANSPARENT")
    if entry.url:
        event.add("url", entry.url)
    return event


def _supplier(entry: FeedEntry) -> str:
    return f" ({entry.supplier})" if entry.supplier else ""
