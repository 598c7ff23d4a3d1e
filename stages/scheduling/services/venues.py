"""Venues: a capacity that still fits the courses planned there."""
from __future__ import annotations

import sqlalchemy as sa

from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus, Venue
from stages.timeutil import now_utc


def check_venue_capacity(venue: Venue, capacity: int) -> None:
    """A venue's capacity cannot drop below that of a course still to come there."""
    largest = db.session.scalar(
        sa.select(sa.func.max(Course.capacity)).where(
            Course.venue_id == venue.id,
            Course.status.in_([CourseStatus.DRAFT, CourseStatus.SCHEDULED]),
            Course.ends_at >= now_utc(),
        )
    )
    if venue.id is not None and largest and capacity < largest:
        raise DomainError(
            f"Un stage à venir dans ce lieu prévoit {largest} places : la capacité du lieu ne "
            "peut pas être inférieure."
        )
