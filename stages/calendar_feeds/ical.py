"""The one iCalendar builder: courses and their half-days in, RFC 5545 bytes out.

Pure: no request, no database query. The caller loads the courses with their parts, venue,
organizations and facilitators. A feed carries no participant's data, only the course's title,
times, venue, co-organizers, facilitators' names and the number of people enrolled.
``build_invitation`` is the one exception: an invitation mailed to a single participant, which
names their own address as ATTENDEE and nothing else about them.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import (
    STATUS,
    TRANSP,
    Calendar,
    Event,
    Timezone,
    vCalAddress,
    vDDDTypes,
    vDuration,
)

from stages.scheduling.models import Course, CourseStatus, Venue
from stages.timeutil import now_utc

PRODID = "-//Stages//Stages de sensibilisation//FR"
DEFAULT_ZONE = "Europe/Paris"
# How often calendar apps should poll (RFC 7986 REFRESH-INTERVAL, and Outlook's X-PUBLISHED-TTL).
REFRESH_INTERVAL = timedelta(hours=1)


@dataclass(slots=True)
class FeedVenue:
    """Where a feed's course is held, as ``build_calendar`` reads it."""

    name: str
    room: str | None
    address: str
    postal_code: str
    city: str
    timezone: str | None

    # The venue's own definition of its address, not a copy of it.
    full_address = property(Venue.full_address.fget)


@dataclass(slots=True)
class FeedCourse:
    """A course as ``build_calendar`` reads it: half-days as ``(id, start, end)`` and names as
    plain strings. Plain tuples and strings are dropped from the garbage collector's watch the
    first time it sees them, so a feed of a thousand half-days leaves few objects for it to
    promote (and then walk, in a full collection, while a request waits)."""

    id: int
    title: str
    status: CourseStatus
    seats_taken: int
    ical_sequence: int
    created_at: datetime | None
    updated_at: datetime | None
    venue: FeedVenue | Venue
    parts: list[tuple[int, datetime, datetime]] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    facilitators: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, course: Course) -> FeedCourse:
        """The feed's view of a loaded ``Course`` (one course's .ics, tests)."""
        return cls(
            course.id, course.title, course.status, course.seats_taken, course.ical_sequence,
            course.created_at, course.updated_at, course.venue,
            [(part.id, part.starts_at, part.ends_at) for part in course.parts],
            [organization.name for organization in course.organizations],
            [user.full_name for user in course.facilitators],
        )


def build_calendar(
    courses: Iterable[FeedCourse | Course],
    *,
    name: str,
    uid_domain: str,
    base_url: str,
    default_zone: str = DEFAULT_ZONE,
    stamp: datetime | None = None,
) -> bytes:
    """An RFC 5545 calendar with one VEVENT per half-day part of each non-draft session.

    Written line by line rather than through ``icalendar``'s object model (~0.45 ms per event,
    where a feed holds over a thousand): the events have one fixed shape, so each content line
    is escaped and folded here, and only the VTIMEZONE comes from ``icalendar`` (once per zone
    and span of years). The output is byte for byte what ``icalendar`` writes for the same
    events (``tests/calendar_feeds/test_ical_writer.py`` keeps it so), except where that was
    wrong: a backslash before an ``N`` stays a backslash (``icalendar`` turns ``\\N`` into a
    line break), and the calendar's name is escaped as the TEXT it is (``icalendar`` writes it
    raw, and fails on a line break).
    """
    stamp = stamp or now_utc()
    base_url = base_url.rstrip("/")
    fixed = _EventConstants(f"DTSTAMP:{_utc(stamp)}\r\n", _text("@" + uid_domain), base_url)
    events: list[str] = []
    spans: dict[str, tuple[date, date]] = {}  # zone -> first and last local dates used
    for course in courses:
        if not isinstance(course, FeedCourse):
            course = FeedCourse.of(course)
        # Drafts may still move or vanish: never announce them (the queries filter them too).
        if course.status == CourseStatus.DRAFT:
            continue
        zone_name = _zone_name(course.venue.timezone, default_zone)
        dates = _course_events(course, _zone(zone_name), fixed, events)
        if dates is None:  # a course without half-days has no event, and needs no zone
            continue
        first, last = dates
        if zone_name in spans:
            first, last = min(first, spans[zone_name][0]), max(last, spans[zone_name][1])
        spans[zone_name] = (first, last)

    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{_text(PRODID)}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(name)}",
        f"REFRESH-INTERVAL;VALUE=DURATION:{_REFRESH}",
        f"X-PUBLISHED-TTL:{_REFRESH}",
        f"X-WR-TIMEZONE:{_text(next(iter(spans)) if len(spans) == 1 else default_zone)}",
    ]
    if not spans:
        # RFC 5545 wants at least one component: an empty feed still describes its zone.
        today = stamp.astimezone(ZoneInfo(default_zone)).date()
        spans[_zone_name(default_zone, DEFAULT_ZONE)] = (today, today)
    head = "".join(_fold(line) for line in lines).encode()
    zones = b"".join(
        _vtimezone(zone_name, spans[zone_name][0].year, spans[zone_name][1].year)
        for zone_name in sorted(spans)
    )
    return head + zones + "".join(events).encode() + b"END:VCALENDAR\r\n"


_REFRESH = vDuration(REFRESH_INTERVAL).to_ical().decode()
_FOLD_AT = 74  # octets of content per line: with the CRLF (or the leading space), 75 or 76


@dataclass(frozen=True)
class _EventConstants:
    stamp_line: str
    uid_suffix: str
    base_url: str


@dataclass(frozen=True)
class _Zone:
    info: ZoneInfo
    # What DTSTART and DTEND carry: ``;TZID=...`` and no suffix, or nothing and ``Z`` for UTC.
    parameter: str
    suffix: str


def _course_events(
    course: FeedCourse, zone: _Zone, fixed: _EventConstants, events: list[str]
) -> tuple[date, date] | None:
    """Append the course's VEVENTs to ``events``; returns the first and last local dates."""
    cancelled = course.status == CourseStatus.CANCELLED
    url = f"{fixed.base_url}/stages/{course.id}"
    count = len(course.parts)
    # Everything but the UID, times and half-day number is the same for each part.
    summary = _fold(f"SUMMARY:{_text(f'{course.title} (annulé)' if cancelled else course.title)}")
    details = _details(course, url)
    created = f"CREATED:{_utc(course.created_at)}\r\n" if course.created_at else ""
    tail = (
        (f"LAST-MODIFIED:{_utc(course.updated_at)}\r\n" if course.updated_at else "")
        + (_fold(f"LOCATION:{_text(location)}") if (location := _location(course)) else "")
        + ("STATUS:CANCELLED\r\nTRANSP:TRANSPARENT\r\n" if cancelled
           else "STATUS:CONFIRMED\r\nTRANSP:OPAQUE\r\n")
        + _fold(f"URL:{url}")
        + "END:VEVENT\r\n"
    )
    # Each event is these pieces around its times, UID and description.
    opening = f"BEGIN:VEVENT\r\n{summary}DTSTART{zone.parameter}:"
    between = f"{zone.suffix}\r\nDTEND{zone.parameter}:"
    before_uid = f"{zone.suffix}\r\n{fixed.stamp_line}"
    after_uid = f"SEQUENCE:{course.ical_sequence}\r\n{created}"
    first = last = None
    described = ""  # the first half-day's DESCRIPTION line, folded
    for index, (part_id, starts_at, ends_at) in enumerate(course.parts, start=1):
        start, end = starts_at.astimezone(zone.info), ends_at.astimezone(zone.info)
        if 1 < index < 10:
            # Only the digit of « Demi-journée N sur » differs, on the first line: the folds fall
            # where they fell for the first half-day.
            description = described.replace(_HALF_DAY.format(1), _HALF_DAY.format(index), 1)
        else:
            description = _fold("DESCRIPTION:" + _description(cancelled, index, count, details))
            described = described or description
        events.append(
            f"{opening}{_local(start)}{between}{_local(end)}{before_uid}"
            f"{_fold(f'UID:session-part-{part_id}{fixed.uid_suffix}')}{after_uid}"
            f"{description}{tail}"
        )
        if first is None or start < first:
            first = start
        if last is None or end > last:
            last = end
    return None if first is None else (first.date(), last.date())


def _text(value: str) -> str:
    """RFC 5545 TEXT escaping: backslash, semicolon, comma, and any line break as ``\\n``."""
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
        .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """One content line with its CRLF, folded (CRLF and a space) at 74 octets of content, never
    inside a UTF-8 sequence nor right after a backslash or a caret, as ``icalendar`` does."""
    if len(line) <= _FOLD_AT and line.isascii():
        return line + "\r\n"
    data = line.encode()
    if len(data) <= _FOLD_AT:
        return line + "\r\n"
    chunks, start = [], 0
    while len(data) - start > _FOLD_AT:
        end = start + _FOLD_AT
        while data[end] & 0xC0 == 0x80:  # a UTF-8 continuation byte: cut before its character
            end -= 1
        if data[end - 1] in b"\\^":
            end -= 1
        chunks.append(data[start:end])
        start = end
    chunks.append(data[start:])
    return b"\r\n ".join(chunks).decode() + "\r\n"


def _local(moment: datetime) -> str:
    return "%04d%02d%02dT%02d%02d%02d" % (  # noqa: UP031 (faster than an f-string here)
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second
    )


def _utc(moment: datetime) -> str:
    return _local(moment.astimezone(UTC)) + "Z"


@lru_cache(maxsize=64)
def _zone(zone_name: str) -> _Zone:
    """How ``icalendar`` writes a time in this zone: with its TZID, or in UTC with a ``Z``."""
    sample = vDDDTypes(datetime(2000, 1, 1, tzinfo=ZoneInfo(zone_name)))
    tzid = sample.params.get("TZID")
    suffix = "Z" if sample.to_ical().endswith(b"Z") else ""
    return _Zone(ZoneInfo(zone_name), f";TZID={tzid}" if tzid else "", suffix)


@lru_cache(maxsize=64)
def _vtimezone(zone_name: str, first_year: int, last_year: int) -> bytes:
    first, last = date(first_year, 1, 1), date(last_year, 1, 1)
    return _timezone(zone_name, first, last).to_ical()


def _zone_name(name: str | None, default: str) -> str:
    """The venue's zone if it is a real IANA zone, else the default: a bad value must not 500."""
    for candidate in (name, default):
        if not candidate:
            continue
        try:
            ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return candidate
    return DEFAULT_ZONE


def _timezone(zone_name: str, first: date, last: date) -> Timezone:
    """A VTIMEZONE covering whole years around the events, not the default 1970–2100.

    Rounding to years keeps it small and lets clients that cache zones see the same definition
    from one request to the next.
    """
    return Timezone.from_tzid(
        zone_name, first_date=date(first.year, 1, 1), last_date=date(last.year + 1, 1, 1)
    )


def _location(course: Course) -> str:
    venue = course.venue
    return ", ".join(item for item in (venue.name, venue.room, venue.full_address) if item)


def _details(course: FeedCourse, url: str) -> str:
    """The description's lines after the half-day's number, escaped: the same for each part."""
    organizations = ", ".join(course.organizations)
    facilitators = ", ".join(course.facilitators)
    return _text("\n".join((
        f"Co-organisation : {organizations or 'à préciser'}",
        f"Intervenant·es : {facilitators or 'à préciser'}",
        _enrolled(course.seats_taken),
        f"Fiche du stage : {url}",
    )))


_HALF_DAY = "Demi-journée {} sur "


def _description(cancelled: bool, index: int, count: int, details: str) -> str:
    head = ("Stage annulé.\\n" if cancelled else "") + (
        f"{_HALF_DAY.format(index)}{count}.\\n" if count > 1 else ""
    )
    return head + details


def _enrolled(count: int) -> str:
    # French puts 0 and 1 in the singular.
    return f"{count} personne inscrite" if count <= 1 else f"{count} personnes inscrites"


def default_uid_domain(configured: str | None, base_url: str) -> str:
    """The domain part of event UIDs: ``ICAL_UID_DOMAIN`` if set, else the public URL's host."""
    return configured or urlsplit(base_url).hostname or "stages"


def build_invitation(
    course: Course,
    *,
    method: str,
    uid_prefix: str,
    uid_domain: str,
    organizer: str,
    organizer_name: str | None,
    attendee: str,
    sequence: int,
    summary: str,
    description: str,
    withdrawn: Iterable[tuple[int, datetime, datetime]] = (),
    default_zone: str = DEFAULT_ZONE,
    stamp: datetime | None = None,
) -> bytes:
    """An iTIP (RFC 5546) ``REQUEST`` or ``CANCEL`` for one attendee: a VEVENT per half-day part.

    Pure, like ``build_calendar``. UIDs are ``{uid_prefix}-{part.id}@{uid_domain}``: parts keep
    their id when they move, so a request built again with a higher ``sequence`` updates the
    events in place, and a cancellation built with the same prefix removes exactly them.
    ``withdrawn`` lists half-days taken out of the course since the attendee was invited, as
    ``(part id, start, end)``: their events come with ``STATUS:CANCELLED`` (a request then
    updates some events and cancels others in one message). The caller chooses ``summary`` and
    ``description``; calendar apps copy them to third-party servers, so they must hold no
    personal or judicial data.
    """
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"unsupported iTIP method: {method}")
    stamp = stamp or now_utc()
    zone_name = _zone_name(course.venue.timezone, default_zone)
    zone = ZoneInfo(zone_name)
    organizer_address = vCalAddress(f"mailto:{organizer}")
    if organizer_name:
        organizer_address.params["CN"] = organizer_name
    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", method)
    count = len(course.parts)
    items = [
        (part.id, part.starts_at, part.ends_at, method == "CANCEL",
         summary + (f" ({index}/{count})" if count > 1 else ""))
        for index, part in enumerate(course.parts, start=1)
    ] + [(part_id, start, end, True, f"{summary} (demi-journée supprimée)")
         for part_id, start, end in withdrawn]
    events = []
    first = last = stamp.astimezone(zone).date()
    for number, (part_id, starts_at, ends_at, cancelled, event_summary) in enumerate(items):
        start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
        if number == 0:
            first = last = start.date()
        first, last = min(first, start.date()), max(last, end.date())
        # RSVP=FALSE: attendance is compulsory, a "decline" button would only mislead.
        attendee_address = vCalAddress(f"mailto:{attendee}")
        attendee_address.params.update(
            {
                "CUTYPE": "INDIVIDUAL",
                "ROLE": "REQ-PARTICIPANT",
                "PARTSTAT": "NEEDS-ACTION",
                "RSVP": "FALSE",
            }
        )
        events.append(
            Event.new(
                uid=f"{uid_prefix}-{part_id}@{uid_domain}",
                stamp=stamp,
                sequence=sequence,
                start=start,
                end=end,
                summary=event_summary,
                location=_location(course),
                description=description,
                organizer=organizer_address,
                attendees=[attendee_address],
                status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
                transparency=TRANSP.TRANSPARENT if cancelled else TRANSP.OPAQUE,
            )
        )
    calendar.add_component(_timezone(zone_name, first, last))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()
