"""Which enrollment and measure statuses mean what, and the moves allowed between them.

Both halves of the enrollment services read these: ``enrolling`` (a seat or a waitlist place)
and ``lifecycle`` (what an enrollment may become afterwards).
"""
from __future__ import annotations

from stages.enrollment.models import SEAT_HOLDING_STATUSES, EnrollmentStatus, MeasureStatus
from stages.scheduling.models import SessionStatus

# Enrollments that are still "live" for their measure: at most one per measure at a time.
ACTIVE_STATUSES = (EnrollmentStatus.WAITLISTED, *SEAT_HOLDING_STATUSES)
# Measure statuses where nothing more is expected of the association.
CLOSED_MEASURE_STATUSES = (MeasureStatus.REPORTED, MeasureStatus.WITHDRAWN)
ENROLLABLE_SESSION_STATUSES = (SessionStatus.DRAFT, SessionStatus.SCHEDULED)

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
