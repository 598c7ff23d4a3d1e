"""Enrolling measures into a course: a seat while there are free ones, then the waitlist.

Seats are counted on the course's row, which the first UPDATE locks until the commit, so
concurrent requests never hand out the same seat or waitlist place.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from stages.auth.audit import audit_many
from stages.auth.models import User
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    InvitationUpdate,
    LegalMeasure,
)
from stages.enrollment.deadlines import is_after_deadline
from stages.enrollment.statuses import (
    LIVE_STATUSES,
    NO_COURSE_NEEDED,
    SEAT_HOLDING_STATUSES,
    MEASURE_STATUS_FOR,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course
from stages.scheduling.services.acceptance import enrollment_refusal, enrollment_refusal_for
from stages.scheduling.services.reservations import held_seats
from stages.timeutil import fr_date, now_utc, today_local


# ---------------------------------------------------------------------------------------------
# Enrollment, seats and the waitlist


@dataclass(frozen=True)
class EnrollResult:
    enrollment: Enrollment
    waitlisted: bool
    after_deadline: bool


def has_no_live_enrollment() -> sa.ColumnElement[bool]:
    """Measures without a seat or waitlist place: NOT EXISTS, an anti-join on the partial
    unique index (NOT IN would read every live enrollment of the country)."""
    return ~sa.exists().where(
        Enrollment.measure_id == LegalMeasure.id, Enrollment.status.in_(LIVE_STATUSES)
    )


def has_no_seat() -> sa.ColumnElement[bool]:
    """Measures holding no seat in any course: none booked, or only a place on a waitlist."""
    return ~sa.exists().where(
        Enrollment.measure_id == LegalMeasure.id, Enrollment.status.in_(SEAT_HOLDING_STATUSES)
    )


def is_waitlisted() -> sa.ColumnElement[bool]:
    """Measures waiting on a course's waitlist (a column for a SELECT of measures)."""
    return sa.exists().where(
        Enrollment.measure_id == LegalMeasure.id, Enrollment.status == EnrollmentStatus.WAITLISTED
    )


def live_enrollment(measure: LegalMeasure) -> Enrollment | None:
    """The measure's current enrollment (seat or waitlist), if any."""
    return db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.measure_id == measure.id, Enrollment.status.in_(LIVE_STATUSES)
        )
    )


def enroll(
    measure: LegalMeasure,
    course: Course,
    *,
    by: User,
    waitlist_if_full: bool = True,
    note: str | None = None,
    audited: bool = True,
) -> EnrollResult:
    """Give ``measure`` a seat in ``course``, or a waitlist place when it is full."""
    return enroll_many(
        [measure], course, by=by, waitlist_if_full=waitlist_if_full, note=note, audited=audited
    )[0]


def enroll_many(
    measures: list[LegalMeasure],
    course: Course,
    *,
    by: User,
    waitlist_if_full: bool = True,
    note: str | None = None,
    audited: bool = True,
) -> list[EnrollResult]:
    """Seat ``measures`` in ``course`` in the given order; once it is full, the waitlist.

    All or nothing: a refusal raises DomainError before anything is written (or the flush
    fails), and the caller rolls back. The statements sent do not depend on how many people
    are enrolled: the checks read them all at once, the course's row is locked and its seats
    counted in one UPDATE … RETURNING (so concurrent enrollments queue behind this one), and the
    new rows go in as one batch per table.
    """
    measures = list(dict.fromkeys(measures))  # the same measure twice is enrolled once
    if not measures:
        return []
    for measure in measures:
        if measure.status in NO_COURSE_NEEDED:
            raise DomainError(
                "Cette mesure n'attend plus de stage." if len(measures) == 1
                else f"La mesure de {measure.participant.display_name} n'attend plus de stage."
            )
    refusal = enrollment_refusal(course)
    if refusal:
        raise DomainError(refusal)
    ids = [measure.id for measure in measures]
    # The course's row is locked before anything is read: an identical request arriving at the
    # same moment (a double click) waits here, then sees this one's enrollment and is refused,
    # instead of both reading « not enrolled yet » and both taking a seat.
    taken, capacity = _lock_course(course.id)
    current = db.session.execute(
        sa.select(Enrollment.measure_id, Course.starts_at)
        .join(Enrollment.course)
        .where(Enrollment.measure_id.in_(ids), Enrollment.status.in_(LIVE_STATUSES))
        .limit(1)
    ).first()
    if current is not None:
        measure = next(m for m in measures if m.id == current.measure_id)
        who = "Cette personne" if len(measures) == 1 else measure.participant.display_name
        when = fr_date(current.starts_at) if current.starts_at else ""
        raise DomainError(
            f"{who} est déjà inscrite au stage du {when} : reportez l'inscription plutôt que "
            "d'en créer une seconde."
        )
    # Earlier enrollments of these measures in this course (cancelled, rescheduled…) come back.
    earlier = {
        enrollment.measure_id: enrollment
        for enrollment in db.session.scalars(
            sa.select(Enrollment).where(
                Enrollment.course_id == course.id, Enrollment.measure_id.in_(ids)
            )
        )
    }
    seated_ids = _seatable(course, measures, capacity - taken)
    seated_count, first_position = _take_seats(course.id, len(seated_ids), len(measures))
    if seated_count < len(measures) and not waitlist_if_full:
        raise DomainError("Ce stage est complet." if seated_count >= capacity - taken else
                          "Les places libres de ce stage sont réservées à une autre autorité prescriptrice.")
    changed_at = now_utc()
    wanted: dict[int, tuple[EnrollmentStatus, int | None]] = {}
    waiting = 0
    for measure in measures:
        if measure.id in seated_ids:
            wanted[measure.id] = (EnrollmentStatus.ENROLLED, None)
        else:
            wanted[measure.id] = (EnrollmentStatus.WAITLISTED, first_position + waiting)
            waiting += 1
        measure.status = MEASURE_STATUS_FOR[wanted[measure.id][0]]
        measure.status_changed_at = changed_at
    previous = {measure_id: e.status for measure_id, e in earlier.items()}
    try:
        # New rows in one executemany (the ORM would send one INSERT … RETURNING per row on
        # SQLite), then read back with the earlier ones; the earlier ones are updated in place.
        new_rows = [
            dict(measure_id=measure_id, course_id=course.id, status=status,
                 waitlist_position=position, created_by_id=by.id, created_at=changed_at,
                 updated_at=changed_at)
            for measure_id, (status, position) in wanted.items() if measure_id not in earlier
        ]
        if new_rows:
            # render_nulls: rows with and without a waitlist position go in one batch.
            db.session.execute(
                sa.insert(Enrollment), new_rows, execution_options={"render_nulls": True}
            )
        for measure_id, enrollment in earlier.items():
            enrollment.status, enrollment.waitlist_position = wanted[measure_id]
            # A row brought back is a new enrollment: nothing was sent for it yet. Its
            # ``invitation_sequence`` stays: the next invitation must go above the cancellation
            # its person's calendar already holds for these UIDs.
            enrollment.convocation_sent_at = None
            enrollment.reminder_7d_sent_at = enrollment.reminder_1d_sent_at = None
        if earlier:
            db.session.execute(
                sa.delete(InvitationUpdate).where(
                    InvitationUpdate.enrollment_id.in_([e.id for e in earlier.values()])
                )
            )
        db.session.flush()
    except sa.exc.IntegrityError as error:
        # Another request enrolled one of them at the same moment: the database's
        # one-live-enrollment index refused this one; nothing of it is kept.
        if "one_live_per_measure" not in str(error.orig) and "measure_id" not in str(error.orig):
            raise
        db.session.rollback()
        raise DomainError(
            "Cette personne vient d'être inscrite à un stage par ailleurs."
            if len(measures) == 1
            else "Une de ces personnes vient d'être inscrite à un stage par ailleurs : rien n'a "
            "été enregistré, recommencez."
        ) from None
    by_measure = {
        enrollment.measure_id: enrollment
        for enrollment in db.session.scalars(
            sa.select(Enrollment).where(
                Enrollment.course_id == course.id, Enrollment.measure_id.in_(ids)
            )
        )
    }
    enrollments = [by_measure[measure.id] for measure in measures]
    db.session.execute(
        sa.insert(EnrollmentEvent),
        [
            dict(enrollment_id=enrollment.id, at=changed_at, user_id=by.id,
                 from_status=previous[enrollment.measure_id].value
                 if enrollment.measure_id in previous else None,
                 to_status=enrollment.status.value, note=(note or None) and note[:500])
            for enrollment in enrollments
        ],
        execution_options={"render_nulls": True},
    )
    # The count the locked row now holds, without reading it back.
    set_committed_value(course, "seats_taken", taken + seated_count)
    if audited:  # a rescheduling audits itself
        audit_many("enrollment.created", [(e, e.measure.participant_id) for e in enrollments], user=by)
    return [
        EnrollResult(enrollment, enrollment.status == EnrollmentStatus.WAITLISTED,
                     is_after_deadline(enrollment.measure, course))
        for enrollment in enrollments
    ]


def _lock_course(course_id: int) -> tuple[int, int]:
    """Lock the course's row until the commit (the whole database on SQLite) and read its seats:
    concurrent enrollments into it queue here. Refuses a course no longer open to enrollment."""
    taken, capacity, status, starts_at = db.session.execute(
        sa.update(Course)
        .where(Course.id == course_id)
        .values(seats_taken=Course.seats_taken)
        .returning(Course.seats_taken, Course.capacity, Course.status, Course.starts_at)
        .execution_options(synchronize_session=False)
    ).one()
    refusal = enrollment_refusal_for(status, starts_at)  # it may have changed since the page was read
    if refusal:
        raise DomainError(refusal)
    return taken, capacity


def _seatable(course: Course, measures: list[LegalMeasure], free: int) -> set[int]:
    """The measures, in order, that the locked course's ``free`` seats can take: the seats
    reserved for an authority and not yet filled are kept from the others' measures."""
    unfilled = unfilled_reservations(course)
    seated: set[int] = set()
    for measure in measures:
        if not may_take_a_seat(measure.authority_id, free, unfilled):
            continue
        seated.add(measure.id)
        free -= 1
        if unfilled.get(measure.authority_id):
            unfilled[measure.authority_id] -= 1
    return seated


def may_take_a_seat(authority_id: int, free: int, unfilled: dict[int, int]) -> bool:
    """Whether one of ``free`` seats can go to a measure of ``authority_id``, the seats
    ``unfilled`` still holds for other authorities kept from it."""
    return free - sum(n for authority, n in unfilled.items() if authority != authority_id) > 0


def seats_filled_by_authority(course: Course) -> dict[int, int]:
    """Authority id → seats its measures hold in ``course`` (one query)."""
    return dict(db.session.execute(
        sa.select(LegalMeasure.authority_id, sa.func.count())
        .join(Enrollment, Enrollment.measure_id == LegalMeasure.id)
        .where(Enrollment.course_id == course.id, Enrollment.status.in_(SEAT_HOLDING_STATUSES))
        .group_by(LegalMeasure.authority_id)
    ).tuples().all())


def unfilled_reservations(course: Course) -> dict[int, int]:
    """Authority id → seats still held for it and not yet filled by its measures (call it with
    the course's row locked)."""
    held = held_seats(course, today_local(course.venue.timezone))
    if not held:
        return {}
    filled = seats_filled_by_authority(course)
    return {authority: max(seats - filled.get(authority, 0), 0) for authority, seats in held.items()}


def _take_seats(course_id: int, seated: int, wanted: int) -> tuple[int, int]:
    """Take ``seated`` seats of the locked course (free ones: ``_seatable`` counted them); returns
    how many, and the next waitlist position for the ``wanted - seated`` others."""
    if seated:
        db.session.execute(
            sa.update(Course)
            .where(Course.id == course_id)
            .values(seats_taken=Course.seats_taken + seated)
            .execution_options(synchronize_session=False)
        )
    first_position = 1
    if seated < wanted:
        last = db.session.scalar(
            sa.select(sa.func.max(Enrollment.waitlist_position)).where(
                Enrollment.course_id == course_id
            )
        )
        first_position = (last or 0) + 1
    return seated, first_position
