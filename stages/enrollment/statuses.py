"""Which statuses mean what: each set defined once, named for what it means, and the moves
allowed between enrollment statuses.

The two sets the database's own constraints need (``SEAT_HOLDING_STATUSES``, ``LIVE_STATUSES``)
live beside the model, in ``stages.enrollment.models``; every other area reads them from here.
"""
from __future__ import annotations

from stages.enrollment.models import (
    LIVE_STATUSES,
    SEAT_HOLDING_STATUSES,
    EnrollmentStatus,
    MeasureStatus,
)

__all__ = [
    "AWAITING_COURSE", "CLOSED_MEASURE_STATUSES",
    "ENROLLABLE_MEASURE_STATUSES", "LIVE_STATUSES", "MEASURE_STATUS_FOR", "NO_COURSE_NEEDED",
    "RESCHEDULABLE_OUTCOMES", "SEAT_HOLDING_STATUSES", "SUMMONED_STATUSES", "TO_ATTEND_STATUSES",
    "TRANSITIONS",
]

# Enrollments expected at a course still to come: they are summoned, their letters printed.
TO_ATTEND_STATUSES = (EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED)
# Enrollments whose person has received the summons (reminders go to them).
SUMMONED_STATUSES = (EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED)
# Measures where nothing more is expected of the association.
CLOSED_MEASURE_STATUSES = (MeasureStatus.REPORTED, MeasureStatus.WITHDRAWN)
# Measures still waiting for their course: their deadline is watched (lists, dashboard, digest).
AWAITING_COURSE = (
    MeasureStatus.REFERRED,
    MeasureStatus.ENROLLED,
    MeasureStatus.SUMMONED,
    MeasureStatus.CONFIRMED,
    MeasureStatus.ABSENT_EXCUSED,
)
# Measures a new enrollment starts from (when they have no live one): never enrolled, or back
# from an absence or a partial attendance.
ENROLLABLE_MEASURE_STATUSES = (
    MeasureStatus.REFERRED,
    MeasureStatus.ABSENT_EXCUSED,
    MeasureStatus.ABSENT_UNEXCUSED,
    MeasureStatus.PARTLY_ATTENDED,
)
# Measures that need no course any more: done, reported or returned to the authority.
NO_COURSE_NEEDED = (
    MeasureStatus.ATTENDED,
    MeasureStatus.CERTIFICATE_ISSUED,
    *CLOSED_MEASURE_STATUSES,
)
# Enrollments another course may replace (« Reporter sur un autre stage ») once they are over.
RESCHEDULABLE_OUTCOMES = (
    EnrollmentStatus.ABSENT_EXCUSED,
    EnrollmentStatus.ABSENT_UNEXCUSED,
    EnrollmentStatus.PARTLY_ATTENDED,
)

# What an enrollment may become by hand (attendance outcomes come from the attendance area).
TRANSITIONS = {
    EnrollmentStatus.WAITLISTED: {EnrollmentStatus.ENROLLED, EnrollmentStatus.WITHDRAWN},
    EnrollmentStatus.ENROLLED: {
        EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED, EnrollmentStatus.ABSENT_EXCUSED,
        EnrollmentStatus.RESCHEDULED, EnrollmentStatus.WITHDRAWN,
    },
    EnrollmentStatus.SUMMONED: {
        EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED, EnrollmentStatus.ABSENT_EXCUSED,
        EnrollmentStatus.RESCHEDULED, EnrollmentStatus.WITHDRAWN,
    },
    EnrollmentStatus.CONFIRMED: {
        EnrollmentStatus.SUMMONED, EnrollmentStatus.ABSENT_EXCUSED, EnrollmentStatus.RESCHEDULED,
        EnrollmentStatus.WITHDRAWN,
    },
    EnrollmentStatus.ATTENDED: set(),
    EnrollmentStatus.PARTLY_ATTENDED: {EnrollmentStatus.RESCHEDULED},
    EnrollmentStatus.ABSENT_EXCUSED: {EnrollmentStatus.RESCHEDULED, EnrollmentStatus.WITHDRAWN},
    EnrollmentStatus.ABSENT_UNEXCUSED: {EnrollmentStatus.RESCHEDULED, EnrollmentStatus.WITHDRAWN},
    EnrollmentStatus.RESCHEDULED: set(),
    EnrollmentStatus.WITHDRAWN: set(),
}

# The measure's status mirrors its live enrollment.
MEASURE_STATUS_FOR = {
    EnrollmentStatus.WAITLISTED: MeasureStatus.REFERRED,
    EnrollmentStatus.ENROLLED: MeasureStatus.ENROLLED,
    EnrollmentStatus.SUMMONED: MeasureStatus.SUMMONED,
    EnrollmentStatus.CONFIRMED: MeasureStatus.CONFIRMED,
    EnrollmentStatus.ATTENDED: MeasureStatus.ATTENDED,
    EnrollmentStatus.PARTLY_ATTENDED: MeasureStatus.PARTLY_ATTENDED,
    EnrollmentStatus.ABSENT_EXCUSED: MeasureStatus.ABSENT_EXCUSED,
    EnrollmentStatus.ABSENT_UNEXCUSED: MeasureStatus.ABSENT_UNEXCUSED,
    EnrollmentStatus.RESCHEDULED: MeasureStatus.REFERRED,
    EnrollmentStatus.WITHDRAWN: MeasureStatus.REFERRED,
}
