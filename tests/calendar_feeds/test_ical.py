"""The pure iCalendar builder: times in the venue's zone, stable UIDs, status, no personal data."""
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar

from stages.auth.models import Role
from stages.calendar_feeds.ical import build_calendar
from stages.scheduling.models import CourseStatus
from stages.timeutil import today_local

PARIS = ZoneInfo("Europe/Paris")
STAMP = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
SETTINGS = {"uid_domain": "stages.test", "base_url": "http://stages.test/", "stamp": STAMP}


def _parse(body: bytes) -> Calendar:
    calendar = Calendar.from_ical(body)
    for component in calendar.walk():
        assert component.errors == [], (component.name, component.errors)
    return calendar


def _thursdays(first: date, last: date):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=7)


def test_a_series_across_the_dst_change_keeps_paris_wall_clock_time(make):
    venue = make.venue()
    courses = [
        make.course(venue=venue, day=day, parts=((time(9, 30), time(12, 30)),))
        for day in _thursdays(date(2026, 3, 5), date(2026, 4, 16))
    ]
    calendar = _parse(build_calendar(courses, name="Série", **SETTINGS))

    events = calendar.events
    assert len(events) == 7
    utc_hours = set()
    for event in events:
        for prop in ("DTSTART", "DTEND"):
            assert event[prop].params["TZID"] == "Europe/Paris"
        assert event.start.tzinfo == PARIS
        assert (event.start.time(), event.end.time()) == (time(9, 30), time(12, 30))
        winter = event.start.date() < date(2026, 3, 29)
        utc_hours.add((winter, event.start.astimezone(timezone.utc).hour))
    # Winter dates are 08:30 UTC, summer dates 07:30 UTC: the clocks changed, not the course.
    assert utc_hours == {(True, 8), (False, 7)}

    assert calendar.get_missing_tzids() == set()
    [vtimezone] = calendar.timezones
    assert vtimezone.tz_name == "Europe/Paris"
    onsets = [sub.DTSTART for sub in vtimezone.subcomponents]
    onsets += [rdate.dt for sub in vtimezone.subcomponents for rdate in _rdates(sub)]
    # Bounded to the year of the events, not 1970–2100.
    assert min(onsets) >= datetime(2026, 1, 1) and max(onsets) < datetime(2027, 1, 1)
    assert {sub.name for sub in vtimezone.subcomponents} == {"STANDARD", "DAYLIGHT"}


def _rdates(sub):
    rdates = sub.get("RDATE", [])
    rdates = rdates if isinstance(rdates, list) else [rdates]
    return [dt for rdate in rdates for dt in rdate.dts]


def test_calendar_properties(make):
    body = build_calendar([make.course()], name="Mes stages", **SETTINGS).decode()
    for line in (
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:Mes stages",
        "X-WR-TIMEZONE:Europe/Paris",
        "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
        "X-PUBLISHED-TTL:PT1H",
    ):
        assert line in body.splitlines()
    assert "PRODID:" in body


def test_one_event_per_part_with_stable_uids_and_details(make):
    org = make.organization(name="APCARS")
    alice = make.user(Role.FACILITATOR, [org], full_name="Alice Martin")
    venue = make.venue(name="MJD du 17e", room="Salle 2")
    course = make.course(
        venue=venue, organizations=[org], facilitators=[alice], title="Stage de mars",
        ical_sequence=4,
    )
    make.enrollment(make.measure(), course)
    make.enrollment(make.measure(), course)

    first = _parse(build_calendar([course], name="x", **SETTINGS))
    later = {**SETTINGS, "stamp": STAMP + timedelta(hours=5)}
    again = _parse(build_calendar([course], name="x", **later))

    uids = [str(event["UID"]) for event in first.events]
    assert uids == [f"session-part-{part.id}@stages.test" for part in course.parts]
    assert [str(event["UID"]) for event in again.events] == uids
    event = first.events[0]
    assert event["SUMMARY"] == "Stage de mars"
    assert event["STATUS"] == "CONFIRMED"
    assert event["SEQUENCE"] == 4
    assert event.DTSTAMP == STAMP
    assert event["LAST-MODIFIED"].dt == course.updated_at.replace(microsecond=0)
    assert event["URL"] == f"http://stages.test/stages/{course.id}"
    assert event["LOCATION"] == f"MJD du 17e, Salle 2, {venue.full_address}"
    description = str(event["DESCRIPTION"])
    assert "Co-organisation : APCARS" in description
    assert "Intervenant·es : Alice Martin" in description
    assert "2 personnes inscrites" in description
    assert "Demi-journée 1 sur 2." in description
    assert f"http://stages.test/stages/{course.id}" in description


def test_cancelled_courses_stay_with_status_cancelled_and_drafts_never_appear(make):
    venue = make.venue()
    cancelled = make.course(venue=venue, status=CourseStatus.CANCELLED, ical_sequence=2)
    draft = make.course(
        venue=venue, status=CourseStatus.DRAFT, day=today_local() + timedelta(days=40)
    )
    calendar = _parse(build_calendar([cancelled, draft], name="x", **SETTINGS))

    assert len(calendar.events) == len(cancelled.parts)
    for event in calendar.events:
        assert event["STATUS"] == "CANCELLED"
        assert event["SUMMARY"] == "Stage de sensibilisation (annulé)"
        assert event["SEQUENCE"] == 2
        assert event["TRANSP"] == "TRANSPARENT"
        assert "Stage annulé." in str(event["DESCRIPTION"])


def test_no_participant_data_in_the_calendar(make):
    course = make.course()
    person = make.participant(surname="ZORGLUBIANSKI", first_names="Hyacinthe")
    make.enrollment(make.measure(participant=person, case_reference="PARQUET-4242"), course)
    body = build_calendar([course], name="x", **SETTINGS).decode().lower()
    for secret in ("zorglubianski", "hyacinthe", "parquet-4242"):
        assert secret not in body
    assert "1 personne inscrite" in body


def test_the_venue_timezone_is_used_and_a_bad_one_falls_back(make):
    reunion = make.course(venue=make.venue(timezone="Indian/Reunion"))
    broken = make.course(venue=make.venue(timezone="Not/AZone"))
    calendar = _parse(build_calendar([reunion, broken], name="x", **SETTINGS))

    zones = [event["DTSTART"].params["TZID"] for event in calendar.events]
    assert zones == ["Indian/Reunion"] * 2 + ["Europe/Paris"] * 2
    assert {tz.tz_name for tz in calendar.timezones} == {"Indian/Reunion", "Europe/Paris"}
    assert calendar.get_missing_tzids() == set()
    # Same instant, read in each zone.
    assert calendar.events[0].start == reunion.parts[0].starts_at


def test_an_empty_calendar_is_still_valid():
    calendar = _parse(build_calendar([], name="Vide", **SETTINGS))
    assert calendar.events == []
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Paris"]
