"""Read model of the calendar feeds: a feed's courses with exactly what the builder reads.

Plain rows, not ORM objects: the busiest feed holds about 500 courses and 1,200 half-days, and
loading them as ``Course`` objects with their collections cost ten times the writing of the
whole feed. Four statements whatever the size: the courses with their venue, then their
half-days, co-organizers and facilitators, each selected by the feed's own statement.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Row

from stages.auth.models import Organization, User
from stages.extensions import db
from stages.scheduling.models import (
    Course,
    CoursePart,
    CourseStatus,
    Venue,
    course_facilitators,
    course_organizations,
)


@dataclass(slots=True)
class FeedVenue:
    """Where a feed's course is held: what its LOCATION and time zone are made of."""

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
    """A course as the feed shows it; ``parts`` hold ``id``, ``starts_at``, ``ends_at``,
    ``organizations`` a ``name``, ``facilitators`` a ``full_name`` (ordered as on the course)."""

    id: int
    title: str
    status: CourseStatus
    seats_taken: int
    ical_sequence: int
    created_at: datetime | None
    updated_at: datetime | None
    venue: FeedVenue
    parts: list[Row] = field(default_factory=list)
    organizations: list[Row] = field(default_factory=list)
    facilitators: list[Row] = field(default_factory=list)


def feed_courses(query: sa.Select) -> list[FeedCourse]:
    """The courses ``query`` (a feed's SELECT of ``Course``) selects, in date order, each with its
    venue, half-days, co-organizers and facilitators: four statements, whatever the number."""
    ids = query.with_only_columns(Course.id)
    rows = db.session.execute(
        query.with_only_columns(
            Course.id, Course.title, Course.status, Course.seats_taken, Course.ical_sequence,
            Course.created_at, Course.updated_at, Venue.name, Venue.room, Venue.address,
            Venue.postal_code, Venue.city, Venue.timezone,
        )
        .join(Venue, Venue.id == Course.venue_id)
        .order_by(Course.starts_at, Course.id)
    ).all()
    courses = {
        row[0]: FeedCourse(*row[:7], venue=FeedVenue(*row[7:]))
        for row in rows
    }
    parts = sa.select(CoursePart.course_id, CoursePart.id, CoursePart.starts_at,
                      CoursePart.ends_at).where(CoursePart.course_id.in_(ids))
    for row in db.session.execute(parts.order_by(CoursePart.starts_at, CoursePart.id)):
        courses[row[0]].parts.append(row)
    organizations = (
        sa.select(course_organizations.c.session_id, Organization.name)
        .join(Organization, Organization.id == course_organizations.c.organization_id)
        .where(course_organizations.c.session_id.in_(ids))
        .order_by(Organization.name)
    )
    for row in db.session.execute(organizations):
        courses[row[0]].organizations.append(row)
    facilitators = (
        sa.select(course_facilitators.c.session_id, User.full_name)
        .join(User, User.id == course_facilitators.c.user_id)
        .where(course_facilitators.c.session_id.in_(ids))
        .order_by(User.full_name)
    )
    for row in db.session.execute(facilitators):
        courses[row[0]].facilitators.append(row)
    return list(courses.values())
