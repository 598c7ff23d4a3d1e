"""The feed as the application wrote it with ``icalendar``'s object model before issue 13: the
oracle ``test_ical_writer`` compares the line-by-line writer with. Test-only, never imported by
the application (``stages.calendar_feeds.ical`` is the one builder)."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from icalendar import STATUS, TRANSP, Calendar, Event, vDuration

from stages.calendar_feeds.ical import (
    DEFAULT_ZONE,
    PRODID,
    REFRESH_INTERVAL,
    _timezone,
    _zone_name,
)
from stages.scheduling.models import Course, CoursePart, CourseStatus


def reference_calendar(
    courses: Iterable[Course],
    *,
    name: str,
    uid_domain: str,
    base_url: str,
    default_zone: str = DEFAULT_ZONE,
    stamp: datetime | None = None,
) -> bytes:
    """An RFC 5545 calendar with one VEVENT per half-day part of each non-draft session."""
    assert stamp is not None
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


