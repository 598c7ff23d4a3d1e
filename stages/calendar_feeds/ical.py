"""The one iCalendar builder: courses and their half-days in, RFC 5545 bytes out.

Pure: no request, no database query. The caller loads the courses with their parts, venue,
organizations and facilitators. A feed carries no participant's data, only the course's title,
times, venue, co-organizers, facilitators' names and the number of people enrolled.
``build_invitation`` is the one exception: an invitation mailed to a single participant, which
names their own address as ATTENDEE and nothing else about them.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar import STATUS, TRANSP, Calendar, Event, Timezone, vCalAddress, vDuration

from stages.scheduling.models import Course, CoursePart, CourseStatus
from stages.timeutil import now_utc

PRODID = "-//Stages//Stages de sensibilisation//FR"
DEFAULT_ZONE = "Europe/Paris"
# How often calendar apps should poll (RFC 7986 REFRESH-INTERVAL, and Outlook's X-PUBLISHED-TTL).
REFRESH_INTERVAL = timedelta(hours=1)


def build_calendar(
    courses: Iterable[Course],
    *,
    name: str,
    uid_domain: str,
    base_url: str,
    default_zone: str = DEFAULT_ZONE,
    stamp: datetime | None = None,
) -> bytes:
    """An RFC 5545 calendar with one VEVENT per half-day part of each non-draft session."""
    stamp = stamp or now_utc()
    base_url = base_url.rstrip("/")
    events: list[Event] = []
    spans: dict[str, tuple[date, date]] = {}  # zone -> first and last local dates used
    for course in courses:
        # Drafts may still move or vanish: never announce them (the queries filter them too).
        if course.status == CourseStatus.DRAFT:
            continue
        zone_name = _zone_name(course.venue.timezone, default_zone)
        zone = ZoneInfo(zone_name)
        for index, part in enumerate(course.parts, start=1):
            start, end = part.starts_at.astimezone(zone), part.ends_at.astimezone(zone)
            events.append(_event(course, part, index, start, end, uid_domain, base_url, stamp))
            first, last = spans.get(zone_name, (start.date(), end.date()))
            spans[zone_name] = (min(first, start.date()), max(last, end.date()))

    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("X-WR-CALNAME", name)
    calendar.add("X-WR-TIMEZONE", next(iter(spans)) if len(spans) == 1 else default_zone)
    calendar.add("REFRESH-INTERVAL", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH_INTERVAL))
    if not spans:
        # RFC 5545 wants at least one component: an empty feed still describes its zone.
        today = stamp.astimezone(ZoneInfo(default_zone)).date()
        spans[_zone_name(default_zone, DEFAULT_ZONE)] = (today, today)
    for zone_name in sorted(spans):
        first, last = spans[zone_name]
        calendar.add_component(_timezone(zone_name, first, last))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


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


def _event(
    course: Course,
    part: CoursePart,
    index: int,
    start: datetime,
    end: datetime,
    uid_domain: str,
    base_url: str,
    stamp: datetime,
) -> Event:
    cancelled = course.status == CourseStatus.CANCELLED
    url = f"{base_url}/stages/{course.id}"
    return Event.new(
        # Stable per part, so clients update the event in place when it moves.
        uid=f"session-part-{part.id}@{uid_domain}",
        stamp=stamp,
        created=course.created_at,
        last_modified=course.updated_at,
        sequence=course.ical_sequence,
        start=start,
        end=end,
        summary=f"{course.title} (annulé)" if cancelled else course.title,
        location=_location(course),
        description=_description(course, index, url, cancelled),
        status=STATUS.CANCELLED if cancelled else STATUS.CONFIRMED,
        # A cancelled half-day no longer blocks the facilitator's time in free/busy lookups.
        transparency=TRANSP.TRANSPARENT if cancelled else TRANSP.OPAQUE,
        url=url,
    )


def _location(course: Course) -> str:
    venue = course.venue
    return ", ".join(item for item in (venue.name, venue.room, venue.full_address) if item)


def _description(course: Course, index: int, url: str, cancelled: bool) -> str:
    lines = []
    if cancelled:
        lines.append("Stage annulé.")
    if len(course.parts) > 1:
        lines.append(f"Demi-journée {index} sur {len(course.parts)}.")
    organizations = ", ".join(org.name for org in course.organizations)
    facilitators = ", ".join(user.full_name for user in course.facilitators)
    lines.append(f"Co-organisation : {organizations or 'à préciser'}")
    lines.append(f"Intervenant·es : {facilitators or 'à préciser'}")
    lines.append(_enrolled(course.seats_taken))
    lines.append(f"Fiche du stage : {url}")
    return "\n".join(lines)


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
