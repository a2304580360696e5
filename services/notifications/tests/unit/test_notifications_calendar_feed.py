"""The renewal-dates calendar feed: parsed back with icalendar it shows the right all-day events, with
UIDs that hold across rebuilds and change with the date, text that survives any characters, and the
wire format Outlook needs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from icalendar import Calendar, Component

from estate_notifications.application.calendar_feed import (
    FeedEntry,
    act_by_uid,
    build_feed,
    term_end_uid,
)

GENERATED = datetime(2027, 1, 15, 8, 30, tzinfo=UTC)
CONTRACT = uuid.UUID("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
OTHER = uuid.UUID("9a8b7c6d-5e4f-4321-8765-4321fedcba98")


def entry(**changes: Any) -> FeedEntry:
    values: dict[str, Any] = {
        "contract_id": CONTRACT,
        "contract_reference": "C-0042",
        "title": "Revenues and benefits system",
        "supplier": "Acme Software Ltd",
        "act_by": date(2027, 3, 3),
        "term_end": date(2027, 9, 30),
        "notice_unknown": False,
        "decided": False,
        "url": "https://estate.example.gov.uk/contracts/3f2504e0",
        "owner_name": "Jane Smith",
    }
    values.update(changes)
    return FeedEntry(**values)


def parse(feed: bytes) -> Calendar:
    return Calendar.from_ical(feed)


def events(feed: bytes) -> dict[str, Component]:
    """The feed's events by summary prefix and reference, e.g. ``"Act by: C-0042"``."""
    found: dict[str, Component] = {}
    for event in parse(feed).walk("VEVENT"):
        kind, rest = str(event["SUMMARY"]).split(": ", 1)
        found[f"{kind}: {rest.split(' ', 1)[0]}"] = event
    return found


def build(*entries: FeedEntry, name: str = "Estate renewals") -> bytes:
    return build_feed(entries, name=name, generated_at=GENERATED)


def text(event: Component, prop: str) -> str:
    return str(event[prop])


# --- the calendar ------------------------------------------------------------------------------------


def test_the_calendar_says_who_made_it_and_how_often_to_refresh() -> None:
    feed = build(entry())
    calendar = parse(feed)

    assert calendar.name == "VCALENDAR"
    assert str(calendar["PRODID"]) == "-//Estate//Renewals//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["METHOD"]) == "PUBLISH"
    lines = feed.split(b"\r\n")
    assert b"X-WR-CALNAME:Estate renewals" in lines
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert b"X-PUBLISHED-TTL:PT1H" in lines


def test_an_empty_feed_is_a_valid_calendar() -> None:
    feed = build_feed([], name="Nothing due", generated_at=GENERATED)
    calendar = parse(feed)

    assert feed.startswith(b"BEGIN:VCALENDAR\r\n")
    assert feed.endswith(b"END:VCALENDAR\r\n")
    assert calendar.walk("VEVENT") == []
    assert str(calendar["PRODID"]) == "-//Estate//Renewals//EN"
    assert str(calendar["VERSION"]) == "2.0"


def test_the_calendar_name_is_escaped_by_icalendar() -> None:
    feed = build(entry(), name="Renewals; Müller, Co\nLine 2")

    assert "X-WR-CALNAME:Renewals\\; Müller\\, Co\\nLine 2\r\n".encode() in feed


# --- the events --------------------------------------------------------------------------------------


def test_each_contract_gives_an_act_by_and_a_term_end_all_day_event() -> None:
    found = events(build(entry()))

    assert set(found) == {"Act by: C-0042", "Term ends: C-0042"}
    act_by, term_end = found["Act by: C-0042"], found["Term ends: C-0042"]
    assert text(act_by, "SUMMARY") == "Act by: C-0042 Revenues and benefits system"
    assert text(term_end, "SUMMARY") == "Term ends: C-0042 Revenues and benefits system"
    for event, day in ((act_by, date(2027, 3, 3)), (term_end, date(2027, 9, 30))):
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        assert type(start) is date
        assert type(end) is date
        assert start == day
        assert end == day + timedelta(days=1)
        assert event["DTSTART"].params["VALUE"] == "DATE"
        assert text(event, "TRANSP") == "TRANSPARENT"
        assert event.decoded("DTSTAMP") == GENERATED
        assert text(event, "URL") == "https://estate.example.gov.uk/contracts/3f2504e0"


def test_the_wire_format_marks_the_dates_as_all_day() -> None:
    lines = build(entry()).split(b"\r\n")

    assert b"DTSTART;VALUE=DATE:20270303" in lines
    assert b"DTEND;VALUE=DATE:20270304" in lines
    assert b"DTSTART;VALUE=DATE:20270930" in lines
    assert b"DTEND;VALUE=DATE:20271001" in lines
    assert b"DTSTAMP:20270115T083000Z" in lines


def test_the_stamp_is_written_in_utc_whatever_zone_it_is_given_in() -> None:
    summer = timezone(timedelta(hours=1))
    feed = build_feed([entry()], name="x", generated_at=datetime(2027, 7, 1, 10, 0, tzinfo=summer))

    assert b"DTSTAMP:20270701T090000Z" in feed.split(b"\r\n")


def test_uids_name_the_contract_the_kind_and_the_date() -> None:
    found = events(build(entry()))

    assert text(found["Act by: C-0042"], "UID") == f"{CONTRACT}-act-by-20270303@estate"
    assert text(found["Term ends: C-0042"], "UID") == f"{CONTRACT}-term-end-20270930@estate"
    assert act_by_uid(CONTRACT, date(2027, 3, 3)) == f"{CONTRACT}-act-by-20270303@estate"
    assert term_end_uid(CONTRACT, date(2027, 9, 30)) == f"{CONTRACT}-term-end-20270930@estate"


def test_uids_are_stable_across_builds() -> None:
    first = build_feed([entry()], name="x", generated_at=GENERATED)
    second = build_feed([entry()], name="x", generated_at=GENERATED + timedelta(hours=5))

    uids = [{text(e, "UID") for e in parse(feed).walk("VEVENT")} for feed in (first, second)]
    assert uids[0] == uids[1]
    assert len(uids[0]) == 2


def test_a_moved_date_gives_a_new_uid_and_the_old_event_is_gone() -> None:
    before = {text(e, "UID") for e in parse(build(entry())).walk("VEVENT")}
    moved = entry(act_by=date(2028, 3, 3), term_end=date(2028, 9, 30))
    after = {text(e, "UID") for e in parse(build(moved)).walk("VEVENT")}

    assert before.isdisjoint(after)
    assert after == {f"{CONTRACT}-act-by-20280303@estate", f"{CONTRACT}-term-end-20280930@estate"}


def test_act_by_and_term_end_on_the_same_day_have_distinct_uids() -> None:
    same_day = date(2027, 9, 30)
    uids = [text(e, "UID") for e in parse(build(entry(act_by=same_day, term_end=same_day))).walk("VEVENT")]

    assert len(uids) == len(set(uids)) == 2


def test_no_act_by_event_without_an_act_by_date() -> None:
    found = events(build(entry(act_by=None)))

    assert set(found) == {"Term ends: C-0042"}


def test_events_come_in_date_order_whatever_the_order_of_the_entries() -> None:
    later = entry(contract_id=OTHER, contract_reference="C-0099", act_by=date(2027, 2, 1))
    forwards = build(entry(), later)
    backwards = build(later, entry())

    assert forwards == backwards
    days = [e.decoded("DTSTART") for e in parse(forwards).walk("VEVENT")]
    assert days == sorted(days)
    assert len(days) == 4


def test_a_contract_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="more than once"):
        build(entry(), entry(term_end=date(2028, 1, 1)))


def test_generated_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_feed([entry()], name="x", generated_at=datetime(2027, 1, 15, 8, 30))


def test_entries_refuse_datetimes_and_urls_that_would_break_the_line() -> None:
    with pytest.raises(TypeError):
        entry(act_by=datetime(2027, 3, 3, 9, 0, tzinfo=UTC))
    with pytest.raises(TypeError):
        entry(term_end=datetime(2027, 9, 30, tzinfo=UTC))
    for url in ("", "https://x.example/a b", "https://x.example/a\r\nX-EVIL:1", "https://x.example/\x7f"):
        with pytest.raises(ValueError, match="url"):
            entry(url=url)


# --- what the events say -----------------------------------------------------------------------------


def test_the_act_by_description_says_what_to_decide_and_when_to_give_notice() -> None:
    description = text(events(build(entry()))["Act by: C-0042"], "DESCRIPTION")

    assert description.startswith(
        "Decide by this date whether to renew, extend, re-procure or terminate "
        "Revenues and benefits system (Acme Software Ltd). The supplier must be given notice after "
        "this date and at least the contract's notice period before the term ends on 30 September 2027."
    )
    assert "Record the renewal decision in Estate." in description
    assert "Contract owner: Jane Smith." in description
    assert "Open the contract in Estate: https://estate.example.gov.uk/contracts/3f2504e0" in description
    assert "Notice period unknown" not in description
    assert "A renewal decision is recorded." not in description


def test_an_unknown_notice_period_is_called_out() -> None:
    found = events(build(entry(notice_unknown=True)))

    assert "Notice period unknown: the date assumes the default notice period; check the contract." in text(
        found["Act by: C-0042"], "DESCRIPTION"
    )


def test_a_recorded_decision_is_said_on_both_events() -> None:
    found = events(build(entry(decided=True)))

    for event in found.values():
        assert "A renewal decision is recorded." in text(event, "DESCRIPTION")
    assert "Record the renewal decision" not in text(found["Act by: C-0042"], "DESCRIPTION")


def test_the_term_end_description_names_the_term_and_whether_a_decision_is_recorded() -> None:
    description = text(events(build(entry()))["Term ends: C-0042"], "DESCRIPTION")

    assert description.startswith(
        "The current term of Revenues and benefits system (Acme Software Ltd) ends on this date."
    )
    assert "No renewal decision is recorded yet." in description


def test_missing_supplier_owner_and_url_are_left_out() -> None:
    found = events(build(entry(supplier=None, owner_name=None, url=None)))

    for event in found.values():
        description = text(event, "DESCRIPTION")
        assert "()" not in description
        assert "Contract owner" not in description
        assert "Open the contract" not in description
        assert "URL" not in event
    assert "terminate Revenues and benefits system. The supplier" in text(
        found["Act by: C-0042"], "DESCRIPTION"
    )


# --- alarms ------------------------------------------------------------------------------------------


def test_an_undecided_act_by_event_alarms_a_week_before() -> None:
    found = events(build(entry()))

    alarms = found["Act by: C-0042"].walk("VALARM")
    assert len(alarms) == 1
    assert str(alarms[0]["ACTION"]) == "DISPLAY"
    assert alarms[0].decoded("TRIGGER") == timedelta(days=-7)
    assert str(alarms[0]["DESCRIPTION"])  # DISPLAY alarms must have one
    assert b"TRIGGER:-P7D" in build(entry()).split(b"\r\n")
    assert found["Term ends: C-0042"].walk("VALARM") == []


def test_a_decided_act_by_event_has_no_alarm() -> None:
    feed = build(entry(decided=True))

    assert parse(feed).walk("VALARM") == []
    assert b"BEGIN:VALARM" not in feed


# --- text and wire format ----------------------------------------------------------------------------


def test_awkward_text_round_trips() -> None:
    awkward = "Müller; Co, Ltd\nLine 2 \\ back"
    feed = build(
        entry(
            title=awkward,
            supplier=awkward,
            owner_name="Zoë O'Brien, Head of ICT; Ops",
            contract_reference="C/7;8,9",
        )
    )
    found = events(feed)

    act_by = found["Act by: C/7;8,9"]
    assert text(act_by, "SUMMARY") == f"Act by: C/7;8,9 {awkward}"
    assert text(found["Term ends: C/7;8,9"], "SUMMARY") == f"Term ends: C/7;8,9 {awkward}"
    assert f"terminate {awkward} ({awkward})." in text(act_by, "DESCRIPTION")
    assert "Contract owner: Zoë O'Brien, Head of ICT; Ops." in text(act_by, "DESCRIPTION")
    # Escaped on the wire, not by us.
    assert "Müller\\; Co\\, Ltd\\nLine 2".encode() in feed.replace(b"\r\n ", b"")


def test_lines_end_in_crlf_and_fold_at_75_octets_without_splitting_characters() -> None:
    long_title = "Schöne Grüße, Äpfel; " * 20
    feed = build(
        entry(title=long_title, url="https://estate.example.gov.uk/contracts/" + "a" * 200),
        entry(contract_id=OTHER, contract_reference="C-0099", act_by=None),
    )

    assert feed.endswith(b"\r\n")
    assert b"\n" not in feed.replace(b"\r\n", b"")
    assert b"\r" not in feed.replace(b"\r\n", b"")
    lines = feed.split(b"\r\n")[:-1]
    assert max(len(line) for line in lines) <= 75
    assert any(line.startswith(b" ") for line in lines)  # something was long enough to fold
    for line in lines:
        line.decode("utf-8")  # no multi-byte character is cut at a fold
    # Unfolded, the long values are whole again.
    assert text(events(feed)["Act by: C-0042"], "SUMMARY") == f"Act by: C-0042 {long_title}"
    assert text(events(feed)["Act by: C-0042"], "URL").endswith("a" * 200)


def test_the_same_entries_and_stamp_give_the_same_bytes() -> None:
    assert build(entry(), entry(contract_id=OTHER)) == build(entry(), entry(contract_id=OTHER))
