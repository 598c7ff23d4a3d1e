"""Conflicts: another active course already holding the venue or a facilitator at that time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.auth.models import User
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, FacilitatorBooking, CoursePart, Venue
from stages.timeutil import fr_date, fr_time


# ---------------------------------------------------------------------------------------------
# Conflicts


@dataclass(frozen=True)
class Conflict:
    """Another active course already holding the venue or a facilitator at that time."""

    kind: str  # "venue" or "facilitator"
    other: Course
    part_start: datetime
    part_end: datetime
    facilitator: User | None = None

    @property
    def message(self) -> str:
        when = (
            f"le {fr_date(self.part_start)} de {fr_time(self.part_start)} "
            f"à {fr_time(self.part_end)}"
        )
        other = f"« {self.other.title} » (stage n° {self.other.id}"
        other += f", {fr_date(self.other.starts_at, 'short')})" if self.other.starts_at else ")"
        if self.kind == "venue":
            return f"Le lieu « {self.other.venue.name} » est déjà réservé {when} par {other}."
        return f"{self.facilitator.full_name} intervient déjà {when} dans {other}."


def find_conflicts(
    venue: Venue,
    facilitators: list[User],
    spans: list[tuple[datetime, datetime]],
    exclude_course_id: int | None = None,
) -> list[Conflict]:
    """Active courses that already hold ``venue`` or one of ``facilitators`` during ``spans``."""
    if not spans:
        return []
    overlaps = sa.or_(
        *(sa.and_(CoursePart.starts_at < end, CoursePart.ends_at > start) for start, end in spans)
    )
    parts = db.session.scalars(
        sa.select(CoursePart)
        .where(
            CoursePart.is_active,
            CoursePart.venue_id == venue.id,
            overlaps,
            CoursePart.course_id != (exclude_course_id or 0),
        )
        .options(selectinload(CoursePart.course).selectinload(Course.venue))
    ).all()
    conflicts = [Conflict("venue", p.course, p.starts_at, p.ends_at) for p in parts]
    facilitator_ids = [u.id for u in facilitators if u.id is not None]
    if facilitator_ids:
        booking_overlaps = sa.or_(
            *(
                sa.and_(FacilitatorBooking.starts_at < end, FacilitatorBooking.ends_at > start)
                for start, end in spans
            )
        )
        bookings = db.session.scalars(
            sa.select(FacilitatorBooking)
            .join(FacilitatorBooking.part)
            .where(
                FacilitatorBooking.is_active,
                FacilitatorBooking.user_id.in_(facilitator_ids),
                booking_overlaps,
                CoursePart.course_id != (exclude_course_id or 0),
            )
            .options(
                selectinload(FacilitatorBooking.user),
                selectinload(FacilitatorBooking.part)
                .selectinload(CoursePart.course)
                .selectinload(Course.venue),
            )
        ).all()
        conflicts += [
            Conflict("facilitator", b.part.course, b.starts_at, b.ends_at, b.user)
            for b in bookings
        ]
    return conflicts


def _raise_on_conflicts(venue, facilitators, spans, exclude_course_id=None) -> None:
    conflicts = find_conflicts(venue, facilitators, spans, exclude_course_id)
    if conflicts:
        raise DomainError(" ".join(dict.fromkeys(c.message for c in conflicts)))


def flush_guarded() -> None:
    """Flush, turning the database's own overlap guard into the same French message.

    The check before writing names the other course; the database guard catches the case
    where another organizer saved an overlapping course in between. The whole user action is
    rolled back then: nothing of it is half-saved.
    """
    try:
        db.session.flush()
    except sa.exc.IntegrityError as error:
        if "overlap" not in str(error.orig):
            raise
        db.session.rollback()
        raise DomainError(
            "Ce créneau vient d'être réservé par une autre personne (même lieu ou même "
            "intervenant·e). Rechargez la page : le conflit y sera détaillé."
        ) from None
