"""After enrollment: status changes, freed seats and the waitlist, rescheduling, withdrawal.

Every change of an enrollment is logged as an ``EnrollmentEvent``; a seat freed goes to the
first person on the waitlist. Also the courses to propose when enrolling or rescheduling.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages import outbox
from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalMeasure,
    MeasureStatus,
)
from stages.enrollment.services.enrolling import (
    EnrollResult,
    enroll,
    live_enrollment,
    may_take_a_seat,
    unfilled_reservations,
)
from stages.enrollment.deadlines import is_after_deadline
from stages.enrollment.statuses import (
    CLOSED_MEASURE_STATUSES,
    MEASURE_STATUS_FOR,
    TRANSITIONS,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.services.acceptance import accepts_enrollment, enrollment_refusal
from stages.timeutil import fr_date, now_utc

# The outbox message telling a person promoted from the waitlist, with their convocation
# (built and recorded by ``stages.enrollment.convocation.sending``).
PROMOTION_KIND = "waitlist_promotion"


# ---------------------------------------------------------------------------------------------
# Status changes and the waitlist


def _take_seat(course_id: int) -> bool:
    """Hold one seat if one is free: a conditional UPDATE, safe under concurrent requests."""
    result = db.session.execute(
        sa.update(Course)
        .where(
            Course.id == course_id,
            Course.seats_taken < Course.capacity,
            accepts_enrollment(),
        )
        .values(seats_taken=Course.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _free_seat(course_id: int) -> None:
    db.session.execute(
        sa.update(Course)
        .where(Course.id == course_id, Course.seats_taken > 0)
        .values(seats_taken=Course.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


def _log(enrollment, previous, status, by: User | None, note: str | None) -> None:
    db.session.add(
        EnrollmentEvent(
            enrollment=enrollment,
            user_id=by.id if by else None,
            from_status=previous.value if previous else None,
            to_status=status.value,
            note=(note or None) and note[:500],
        )
    )


def change_enrollment_status(
    enrollment: Enrollment, status: EnrollmentStatus, *, by: User | None, note: str | None = None
) -> None:
    """Move an enrollment along its lifecycle, freeing its seat (and promoting) when it leaves."""
    if status not in TRANSITIONS[enrollment.status]:
        raise DomainError(
            f"Une inscription « {enrollment.status.label.lower()} » ne peut pas passer à "
            f"« {status.label.lower()} »."
        )
    set_enrollment_status_unchecked(enrollment, status, by=by, note=note)


# The statuses an organizer sets by hand (attendance outcomes come from the attendance area).
MANUAL_STATUSES = (EnrollmentStatus.CONFIRMED, EnrollmentStatus.SUMMONED, EnrollmentStatus.ABSENT_EXCUSED)


def mark_enrollment(
    enrollment: Enrollment, status: EnrollmentStatus, *, by: User, note: str | None = None
) -> None:
    """An organizer confirms, marks as summoned, or excuses an enrollment; audited."""
    if status not in MANUAL_STATUSES:
        raise DomainError("Ce statut ne se choisit pas à la main.")
    change_enrollment_status(enrollment, status, by=by, note=note)
    audit("enrollment.status_changed", enrollment, participant_id=enrollment.measure.participant_id,
          details=status.value, user=by)


def set_enrollment_status_unchecked(
    enrollment: Enrollment, status: EnrollmentStatus, *, by: User | None, note: str | None = None
) -> None:
    """Record a new status (no transition check: attendance outcomes use it too)."""
    previous = enrollment.status
    was_seated = previous in SEAT_HOLDING_STATUSES
    enrollment.status = status
    enrollment.waitlist_position = (
        enrollment.waitlist_position if status == EnrollmentStatus.WAITLISTED else None
    )
    _log(enrollment, previous, status, by, note)
    measure = enrollment.measure
    measure.status = MEASURE_STATUS_FOR[status]
    measure.status_changed_at = now_utc()
    db.session.flush()
    if was_seated and status not in SEAT_HOLDING_STATUSES:
        _free_seat(enrollment.course_id)
        promote_waitlist(enrollment.course, by=by)


def promote_waitlist(course: Course, *, by: User | None) -> list[Enrollment]:
    """Seat waitlisted people, first come first served, while seats are free.

    Each person seated with an email address, in a scheduled course, is queued their
    convocation (the outbox sends it once this is committed; they become « convoqué·e » once
    it is sent). Without an address, they stay « inscrit·e »: their letter is to post.
    """
    promoted = []
    if enrollment_refusal(course):  # a course that has begun seats nobody more
        return promoted
    while True:
        candidate = _next_in_line(course)
        if candidate is None or not _take_seat(course.id):
            break
        candidate.status, candidate.waitlist_position = EnrollmentStatus.ENROLLED, None
        _log(candidate, EnrollmentStatus.WAITLISTED, EnrollmentStatus.ENROLLED, by,
             "Place libérée : sortie de la liste d'attente.")
        candidate.measure.status = MeasureStatus.ENROLLED
        candidate.measure.status_changed_at = now_utc()
        db.session.flush()
        _queue_convocation(candidate, course)
        promoted.append(candidate)
    db.session.refresh(course, ["seats_taken"])
    return promoted


def _next_in_line(course: Course) -> Enrollment | None:
    """The first waitlisted person a free seat can go to: seats reserved for an authority and
    not yet filled go to its people only, while the reservation holds."""
    unfilled = unfilled_reservations(course)
    waitlist = sa.select(Enrollment).where(
        Enrollment.course_id == course.id, Enrollment.status == EnrollmentStatus.WAITLISTED,
    ).order_by(Enrollment.waitlist_position, Enrollment.id)
    if not unfilled:
        return db.session.scalar(waitlist.limit(1))
    free = db.session.scalar(sa.select(Course.capacity - Course.seats_taken).where(Course.id == course.id))
    for candidate in db.session.scalars(waitlist.options(sa.orm.joinedload(Enrollment.measure))):
        if may_take_a_seat(candidate.measure.authority_id, free, unfilled):
            return candidate
    return None


def _queue_convocation(enrollment: Enrollment, course: Course) -> None:
    """Queue the convocation of a person just seated from the waitlist, if it can go by email
    (a draft course summons nobody yet)."""
    participant = enrollment.measure.participant
    if course.status != CourseStatus.SCHEDULED or not participant.email or participant.anonymized_at:
        return
    key = f"{PROMOTION_KIND}:{enrollment.id}"
    outbox.enqueue(PROMOTION_KIND, [(key, {"enrollment": enrollment.id})])


def reschedule(
    enrollment: Enrollment, new_course: Course, *, by: User, note: str | None = None
) -> EnrollResult:
    """Move a person to another course: same measure, same deadline, the history kept."""
    if new_course.id == enrollment.course_id:
        raise DomainError("Choisissez un autre stage que le stage actuel.")
    old_date = fr_date(enrollment.course.starts_at) if enrollment.course.starts_at else ""
    change_enrollment_status(
        enrollment, EnrollmentStatus.RESCHEDULED, by=by,
        note=note or "Report sur un autre stage.",
    )
    result = enroll(
        enrollment.measure, new_course, by=by, audited=False,
        note=f"Reporté·e depuis le stage du {old_date}." + (f" {note}" if note else ""),
    )
    audit("enrollment.rescheduled", result.enrollment, participant_id=enrollment.measure.participant_id, user=by)
    return result


def withdraw_measure(measure: LegalMeasure, reason: str, *, by: User) -> None:
    """Return a measure to the referring authority, with the reason; its seat is freed."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Indiquez le motif du renvoi à l'autorité prescriptrice.")
    if measure.status in CLOSED_MEASURE_STATUSES:
        raise DomainError("Cette mesure est déjà close.")
    current = live_enrollment(measure)
    if current is not None:
        set_enrollment_status_unchecked(current, EnrollmentStatus.WITHDRAWN, by=by, note=reason)
    measure.status = MeasureStatus.WITHDRAWN
    measure.status_changed_at = now_utc()
    measure.withdrawal_reason = reason[:500]
    measure.closed_at = now_utc()
    db.session.flush()
    audit("measure.withdrawn", measure, participant_id=measure.participant_id, user=by)


def proposed_courses(measure: LegalMeasure, candidates: list[Course]) -> list[tuple[Course, bool]]:
    """Each candidate course with whether it would end after the measure's deadline, best fit
    first: those ending in time before those ending late, then those with a free seat, then
    scheduled before drafts, then the soonest."""
    proposals = [(course, is_after_deadline(measure, course)) for course in candidates]
    return sorted(
        proposals,
        key=lambda item: (
            item[1], item[0].seats_left == 0, item[0].status == CourseStatus.DRAFT, item[0].starts_at
        ),
    )


def upcoming_courses_query(user: User) -> sa.Select:
    """Sessions still open to enrollment, visible to ``user``, soonest first."""
    from stages.auth.permissions import visible

    return (
        visible(Course, user)
        .where(accepts_enrollment())
        .options(selectinload(Course.venue))
        .order_by(Course.starts_at)
    )
