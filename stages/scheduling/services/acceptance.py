"""What a course accepts, by its state and its start: one rule for every form, action and list.

Enrolling one person, enrolling in bulk, rescheduling onto a course, seating from the waitlist
and the lists of courses offered all ask here, so a course that has begun is refused everywhere
(and offered nowhere), and an action is only offered where it can succeed.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.programme.coverage import covered_topics, missing_message, missing_topics
from stages.timeutil import now_utc

# Courses that still take enrollments (a draft's people are summoned once it is scheduled).
ENROLLABLE_STATUSES = (CourseStatus.DRAFT, CourseStatus.SCHEDULED)

# Where a course may go from each state (the checks of ``transition_refusal`` come on top).
ALLOWED_TRANSITIONS = {
    CourseStatus.DRAFT: {CourseStatus.SCHEDULED, CourseStatus.CANCELLED},
    CourseStatus.SCHEDULED: {CourseStatus.HELD, CourseStatus.CANCELLED, CourseStatus.DRAFT},
    CourseStatus.HELD: {CourseStatus.CLOSED},
    CourseStatus.CLOSED: set(),
    CourseStatus.CANCELLED: set(),
}


def enrollment_refusal_for(
    status: CourseStatus, starts_at: datetime | None, now: datetime | None = None
) -> str | None:
    """Why a course in ``status`` starting at ``starts_at`` takes no enrollment, or None."""
    if status not in ENROLLABLE_STATUSES:
        return f"On ne peut pas inscrire à un stage « {status.label.lower()} »."
    if starts_at is None:
        return "Ce stage n'a pas encore de date : ajoutez ses demi-journées avant d'y inscrire."
    if starts_at <= (now or now_utc()):
        return "Ce stage a commencé : on ne peut plus y inscrire personne. Choisissez un stage à venir."
    return None


def enrollment_refusal(course: Course, now: datetime | None = None) -> str | None:
    """Why ``course`` takes no enrollment (one person, in bulk, a move, the waitlist), or None."""
    return enrollment_refusal_for(course.status, course.starts_at, now)


def accepts_enrollment(now: datetime | None = None) -> sa.ColumnElement[bool]:
    """The SQL form of ``enrollment_refusal(course) is None``: for the lists of courses offered."""
    return sa.and_(Course.status.in_(ENROLLABLE_STATUSES), Course.starts_at > (now or now_utc()))


def transition_refusal(
    course: Course, new_status: CourseStatus, now: datetime | None = None
) -> str | None:
    """Why ``course`` cannot move to ``new_status`` now, or None (a cancellation's reason is
    asked for separately)."""
    if new_status not in ALLOWED_TRANSITIONS[course.status]:
        return (
            f"Un stage « {course.status.label.lower()} » ne peut pas passer à "
            f"« {new_status.label.lower()} »."
        )
    if new_status == CourseStatus.HELD and (course.ends_at is None or course.ends_at > (now or now_utc())):
        return "Un stage ne peut être marqué comme tenu qu'après sa dernière demi-journée."
    if new_status == CourseStatus.SCHEDULED and not course.parts:
        return "Ajoutez au moins une demi-journée avant de programmer le stage."
    if new_status == CourseStatus.SCHEDULED:
        missing = missing_topics(covered_topics(course))
        if missing:
            return missing_message(missing)
    return None


def possible_transitions(course: Course, now: datetime | None = None) -> set[CourseStatus]:
    """The states ``course`` can move to now: the only status buttons its page offers."""
    now = now or now_utc()
    return {
        status for status in ALLOWED_TRANSITIONS[course.status]
        if transition_refusal(course, status, now) is None
    }
