"""Seats of a course reserved for one referring authority (a parquet that sends people to every
course of an association), held until a number of days before the course.

While a reservation holds, the seats it does not yet fill are kept from every other authority's
measures: enrollment (``stages.enrollment.services.enrolling``) and the waitlist's promotion
count them with :func:`held_seats`, under the course's row lock, so concurrent enrollments from
two parquets cannot take each other's seats.
"""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import AUTHORITY_KINDS, Organization, User
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, SeatReservation
from stages.timeutil import fr_date, to_local
from stages.wording import ngettext

DEFAULT_RELEASE_DAYS = 14


def held_until(course: Course, release_days: int) -> date:
    """The last day a reservation of ``course`` holds its seats."""
    return to_local(course.starts_at, course.venue.timezone).date() - timedelta(days=release_days)


def reservations(course: Course) -> list[SeatReservation]:
    return list(db.session.scalars(_OF_COURSE, {"course_id": course.id}))


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_OF_COURSE = (
    sa.select(SeatReservation).where(SeatReservation.course_id == sa.bindparam("course_id"))
    .options(sa.orm.joinedload(SeatReservation.authority)).order_by(SeatReservation.id)
)


def held_seats(course: Course, today: date) -> dict[int, int]:
    """Authority id → seats reserved for it that still hold on ``today`` (filled or not)."""
    first_day = to_local(course.starts_at, course.venue.timezone).date()
    return {
        authority_id: seats
        for authority_id, seats, release_days in db.session.execute(
            sa.select(SeatReservation.authority_id, SeatReservation.seats, SeatReservation.release_days)
            .where(SeatReservation.course_id == course.id)
        )
        if today <= first_day - timedelta(days=release_days)
    }


def set_reservation(
    course: Course, authority: Organization, seats: int, release_days: int, *, by: User
) -> None:
    """Reserve ``seats`` of ``course`` for ``authority`` (0 removes the reservation); audited."""
    if authority is None or authority.kind not in AUTHORITY_KINDS:
        raise DomainError("Des places ne se réservent que pour une autorité prescriptrice.")
    if seats < 0 or not 0 <= release_days <= 365:
        raise DomainError("Indiquez un nombre de places positif et un délai de 0 à 365 jours.")
    current = {r.authority_id: r for r in reservations(course)}
    others = sum(r.seats for a, r in current.items() if a != authority.id)
    if others + seats > course.capacity:
        raise DomainError(
            f"Les places réservées ({others + seats}) dépasseraient la capacité du stage ({course.capacity})."
        )
    existing = current.get(authority.id)
    if seats == 0:
        if existing is not None:
            db.session.delete(existing)
        details = f"{authority.name} : réservation levée"
    else:
        if existing is None:
            existing = SeatReservation(course_id=course.id, authority_id=authority.id, seats=seats)
            db.session.add(existing)
        existing.seats, existing.release_days = seats, release_days
        details = (f"{authority.name} : {ngettext('%(num)d place', '%(num)d places', seats)} jusqu'au "
                   f"{fr_date(held_until(course, release_days))}")
    db.session.flush()
    audit("session.seats_reserved", course, details=details, user=by)
