"""Read model of the calendar feeds: a feed's courses with exactly what the builder reads
(``ical.FeedCourse``).

Plain values, not ORM objects: the busiest feed holds about 500 courses and 1,200 half-days, and
loading them as ``Course`` objects with their collections cost ten times the writing of the
whole feed. Four statements whatever the size: the courses with their venue, then their
half-days, co-organizers and facilitators, each selected by the feed's own statement.
"""
from __future__ import annotations

import sqlalchemy as sa

from stages.auth.models import Organization, User
from stages.calendar_feeds.ical import FeedCourse, FeedVenue
from stages.extensions import db
from stages.scheduling.models import (
    Course,
    CoursePart,
    Venue,
    course_facilitators,
    course_organizations,
)


def feed_courses(query: sa.Select) -> list[FeedCourse]:
    """The courses ``query`` (a feed's SELECT of ``Course``) selects, in date order, each with its
    venue, half-days, co-organizers and facilitators: four statements, whatever the number."""
    ids = query.with_only_columns(Course.id)
    rows = db.session.execute(
        query.with_only_columns(
            Course.id, Course.title, Course.status, Course.seats_taken, Course.ical_sequence,
            Course.created_at, Course.updated_at, Venue.id, Venue.name, Venue.room,
            Venue.address, Venue.postal_code, Venue.city, Venue.timezone,
        )
        .join(Venue, Venue.id == Course.venue_id)
        .order_by(Course.starts_at, Course.id)
    ).all()
    venues: dict[int, FeedVenue] = {}
    courses = {}
    for row in rows:
        venue = venues.get(row[7]) or venues.setdefault(row[7], FeedVenue(*row[8:]))
        courses[row[0]] = FeedCourse(*row[:7], venue=venue)
    # Plain tuples and strings from here on (see FeedCourse), not the result's rows.
    parts = sa.select(CoursePart.course_id, CoursePart.id, CoursePart.starts_at,
                      CoursePart.ends_at).where(CoursePart.course_id.in_(ids))
    for course_id, part_id, starts_at, ends_at in db.session.execute(
        parts.order_by(CoursePart.starts_at, CoursePart.id)
    ):
        courses[course_id].parts.append((part_id, starts_at, ends_at))
    organizations = (
        sa.select(course_organizations.c.session_id, Organization.name)
        .join(Organization, Organization.id == course_organizations.c.organization_id)
        .where(course_organizations.c.session_id.in_(ids))
        .order_by(Organization.name)
    )
    for course_id, name in db.session.execute(organizations):
        courses[course_id].organizations.append(name)
    facilitators = (
        sa.select(course_facilitators.c.session_id, User.full_name)
        .join(User, User.id == course_facilitators.c.user_id)
        .where(course_facilitators.c.session_id.in_(ids))
        .order_by(User.full_name)
    )
    for course_id, name in db.session.execute(facilitators):
        courses[course_id].facilitators.append(name)
    return list(courses.values())
