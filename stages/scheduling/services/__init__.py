"""Scheduling rules: courses and their parts, conflicts, status changes, series, venues.

None of them commits: the view, job or CLI command calling them does.

Modules, read in one direction (``validation`` and ``conflicts`` ← ``courses`` ← ``series``;
``venues`` stands alone):

- ``validation``: what a course form carries (``CourseData``, ``PartSpec``) and the rules it
  must follow (at most six hours of training a day, one or two days, four half-days);
- ``conflicts``: the active courses already holding a venue or a facilitator, and
  ``flush_guarded``, which turns the database's own overlap guard into the same French message;
- ``courses``: creating and editing a course (a half-day keeps its row when it moves), its
  status changes and its history, the hooks the enrollment area follows
  (``course_cancelled``, ``course_moving``, ``course_changed``), and the job marking finished
  courses as held;
- ``acceptance``: what a course accepts by its state and start (enrollments, status changes):
  the one rule every form, action and list of courses asks;
- ``series``: several courses planned at once by a rule, public holidays and conflicts flagged;
- ``venues``: a venue's details checked and kept, its archiving, its capacity against the
  courses planned there.
"""
from stages.scheduling.services.series import (
    WEEKDAYS_FR,
    SeriesRule,
    check_series_day,
    create_series,
    preview_series,
    series_dates,
)
from stages.scheduling.services.acceptance import (
    ALLOWED_TRANSITIONS,
    ENROLLABLE_STATUSES,
    accepts_enrollment,
    enrollment_refusal,
    enrollment_refusal_for,
    possible_transitions,
    transition_refusal,
)
from stages.scheduling.services.courses import (
    CourseMove,
    WithdrawnPart,
    change_status,
    course_cancelled,
    course_changed,
    course_moving,
    create_course,
    describe_changes,
    mark_finished_courses_held,
    moves_course,
    needs_confirmation,
    update_course,
)
from stages.scheduling.services.validation import PartSpec, CourseData, validate_course_data
from stages.scheduling.services.venues import archive_venue, check_venue_capacity, save_venue

__all__ = [
    "ALLOWED_TRANSITIONS",
    "ENROLLABLE_STATUSES",
    "accepts_enrollment",
    "enrollment_refusal",
    "enrollment_refusal_for",
    "possible_transitions",
    "transition_refusal",
    "WEEKDAYS_FR",
    "PartSpec",
    "SeriesRule",
    "CourseData",
    "CourseMove",
    "WithdrawnPart",
    "change_status",
    "check_series_day",
    "course_cancelled",
    "course_changed",
    "course_moving",
    "archive_venue",
    "check_venue_capacity",
    "create_series",
    "create_course",
    "describe_changes",
    "mark_finished_courses_held",
    "moves_course",
    "needs_confirmation",
    "preview_series",
    "save_venue",
    "series_dates",
    "update_course",
    "validate_course_data",
]
