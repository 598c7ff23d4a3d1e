"""Venues: their details checked and kept, their archiving, a capacity that still fits the courses
planned there."""
from __future__ import annotations

import sqlalchemy as sa

from stages.archiving import check_name_free, set_archived
from stages.auth.audit import audit
from stages.auth.models import Organization, User
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


NAME_TAKEN = "Un lieu porte déjà ce nom."


def save_venue(venue: Venue, *, manager: Organization | None, by: User | None = None) -> None:
    """Keep a venue's details as the form filled them in, after the checks: a name of its own,
    a capacity that still fits the courses planned there; ``manager``: the association in
    charge (None: shared). Flushes and audits."""
    with db.session.no_autoflush:  # the checks read the database before the new values go in
        if venue.id is not None:
            check_venue_capacity(venue, venue.capacity)
        check_name_free(Venue, venue.name, venue.id, NAME_TAKEN)
    venue.owner = manager
    db.session.add(venue)
    db.session.flush()
    audit("venue.saved", venue, user=by)


def archive_venue(venue: Venue, archived: bool, *, by: User | None = None) -> None:
    """Archive (no longer offered for new courses) or restore a venue; audited."""
    set_archived(venue, archived)
    audit("venue.archived" if archived else "venue.restored", venue, user=by)
