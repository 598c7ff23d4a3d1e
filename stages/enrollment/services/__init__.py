"""Participants, legal measures and enrollments: the rules of the participant lifecycle.

referred → enrolled (seat held) → summoned → confirmed → attended / absent → certificate → reported;
side paths: waitlisted, excused → rescheduled to another course, withdrawn (returned to the
referrer). Every change of an enrollment is an ``EnrollmentEvent``: when, who, from, to, why.

The status sets and the allowed transitions are in ``stages.enrollment.statuses``. The package
reads in one direction: ``enrolling`` (``enroll``/``enroll_many``: a seat, else the waitlist)
← ``lifecycle`` (status changes, freed seats and the waitlist, rescheduling, withdrawal, the
courses to propose). ``participants`` (people and their legal measures: validation, duplicates,
search) stands apart.
"""
from stages.enrollment.services.enrolling import (
    EnrollResult,
    enroll,
    enroll_many,
    has_no_live_enrollment,
    has_no_seat,
    is_waitlisted,
    live_enrollment,
)
from stages.enrollment.services.lifecycle import (
    PROMOTION_KIND,
    MANUAL_STATUSES,
    change_enrollment_status,
    mark_enrollment,
    proposed_courses,
    reschedule,
    set_enrollment_status_unchecked,
    upcoming_courses_query,
    withdraw_measure,
)
from stages.enrollment.services.participants import (
    MeasureData,
    ParticipantData,
    add_measure,
    create_participant,
    find_duplicates,
    measure_search_condition,
    search_key,
    update_measure,
    update_participant,
    validate_measure,
    validate_participant,
)

__all__ = [
    "EnrollResult",
    "MeasureData",
    "PROMOTION_KIND",
    "ParticipantData",
    "add_measure",
    "MANUAL_STATUSES",
    "change_enrollment_status",
    "mark_enrollment",
    "create_participant",
    "enroll",
    "enroll_many",
    "find_duplicates",
    "has_no_live_enrollment",
    "has_no_seat",
    "is_waitlisted",
    "live_enrollment",
    "measure_search_condition",
    "proposed_courses",
    "reschedule",
    "search_key",
    "set_enrollment_status_unchecked",
    "update_measure",
    "update_participant",
    "upcoming_courses_query",
    "validate_measure",
    "validate_participant",
    "withdraw_measure",
]
