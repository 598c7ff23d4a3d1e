"""Venues and organizations: capacity, unique names, archiving instead of deleting."""
from __future__ import annotations

import sqlalchemy as sa

from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import CourseSession, Organization, SessionStatus, Venue
from stages.timeutil import now_utc


# ---------------------------------------------------------------------------------------------
# Venues and organizations


def check_venue_capacity(venue: Venue, capacity: int) -> None:
    """A venue's capacity cannot drop below that of a session still to come there."""
    largest = db.session.scalar(
        sa.select(sa.func.max(CourseSession.capacity)).where(
            CourseSession.venue_id == venue.id,
            CourseSession.status.in_([SessionStatus.DRAFT, SessionStatus.SCHEDULED]),
            CourseSession.ends_at >= now_utc(),
        )
    )
    if venue.id is not None and largest and capacity < largest:
        raise DomainError(
            f"Un stage à venir dans ce lieu prévoit {largest} places : la capacité du lieu ne "
            "peut pas être inférieure."
        )


NAME_TAKEN = {
    Venue: "Un lieu porte déjà ce nom.",
    Organization: "Une organisation porte déjà ce nom.",
}


def check_name_free(model: type[Venue] | type[Organization], name: str, exclude_id: int | None) -> None:
    """Venues and organizations are told apart by their name (the database is unique too)."""
    taken = db.session.scalar(
        sa.select(model.id).where(model.name == name, model.id != (exclude_id or 0))
    )
    if taken is not None:
        raise DomainError(NAME_TAKEN[model])


def archivable_query(model: type[Venue] | type[Organization], archived: bool) -> sa.Select:
    """Venues or organizations in service, or the archived ones."""
    column = model.archived_at
    return sa.select(model).where(column.is_not(None) if archived else column.is_(None))


def set_archived(obj: Venue | Organization, archived: bool) -> None:
    """Archive (hide from new choices) or restore a venue or an organization; never delete."""
    obj.archived_at = now_utc() if archived else None
