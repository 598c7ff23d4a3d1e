"""Read models of the enrollment area: what its pages, and the areas above it, load in a fixed
number of statements."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from stages.auth.models import AuditEntry, User
from stages.auth.permissions import Permission, built_per_user, can, visible

from stages.enrollment.models import (
    LIVE_STATUSES,
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    InvitationUpdate,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.enrollment import needs
from stages.enrollment.services import has_no_live_enrollment, measure_search_condition
from stages.enrollment.services.enrolling import seats_filled_by_authority
from stages.enrollment.statuses import (
    CLOSED_MEASURE_STATUSES,
    ENROLLABLE_MEASURE_STATUSES,
    RESCHEDULABLE_OUTCOMES,
    TO_ATTEND_STATUSES,
    TRANSITIONS,
)
from stages.extensions import db
from stages.page_sections import PageSections
from stages.scheduling.models import Course, CourseStatus, SeatReservation
from stages.scheduling.services.reservations import held_until, reservations
from stages.timeutil import today_local


def course_enrollments(
    course: Course, statuses, *, with_organizations: bool = False
) -> list[Enrollment]:
    """The enrollments of ``course`` in ``statuses``, by name, with their measure and person
    loaded (and the measure's authority and association when the caller prints them), in one
    statement: the joins that sort them also fill them."""
    measure = contains_eager(Enrollment.measure)
    options = [measure.contains_eager(LegalMeasure.participant)]
    if with_organizations:
        options += [
            measure.joinedload(LegalMeasure.authority),
            measure.joinedload(LegalMeasure.handling_organization),
        ]
    return list(
        db.session.scalars(
            sa.select(Enrollment)
            .join(Enrollment.measure)
            .join(LegalMeasure.participant)
            .where(Enrollment.course_id == course.id, Enrollment.status.in_(statuses))
            .options(*options)
            .order_by(Participant.search_key, Enrollment.id)
        )
    )


@dataclass(frozen=True)
class CoursePeople:
    """Everyone ever enrolled in a course, in the three groups its page shows."""

    enrollments: list[Enrollment]

    @property
    def seated(self) -> list[Enrollment]:
        return [e for e in self.enrollments if e.status in SEAT_HOLDING_STATUSES]

    @property
    def waiting(self) -> list[Enrollment]:
        waitlisted = [e for e in self.enrollments if e.status == EnrollmentStatus.WAITLISTED]
        return sorted(waitlisted, key=lambda e: e.waitlist_position or 0)

    @property
    def former(self) -> list[Enrollment]:
        return [e for e in self.enrollments if e.status not in LIVE_STATUSES]


def course_people(course: Course) -> CoursePeople:
    """Every enrollment of ``course`` with its measure and person, in enrollment order (one
    statement: both are many-to-ones, joined)."""
    return CoursePeople(list(db.session.scalars(_COURSE_PEOPLE, {"course_id": course.id})))


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_COURSE_PEOPLE = (
    sa.select(Enrollment)
    .where(Enrollment.course_id == sa.bindparam("course_id"))
    .options(joinedload(Enrollment.measure, innerjoin=True).joinedload(LegalMeasure.participant, innerjoin=True))
    .order_by(Enrollment.id)
)


# The statuses an organizer sets by hand on a person's page, as the buttons say them.
STATUS_ACTIONS = (
    (EnrollmentStatus.CONFIRMED, "Confirmer la présence"),
    (EnrollmentStatus.ABSENT_EXCUSED, "Excuser l'absence"),
)
# What higher areas add to a person's page (attendance marks, attestations, the data export).
participant_sections = PageSections()
VIEWS_SHOWN = 20


@dataclass(frozen=True)
class MeasureFile:
    """One measure on a person's page, with its current enrollment and the actions it allows."""

    measure: LegalMeasure
    live: Enrollment | None

    @property
    def can_enroll(self) -> bool:
        return self.live is None and self.measure.status in ENROLLABLE_MEASURE_STATUSES

    @property
    def reschedule_from(self) -> Enrollment | None:
        """The enrollment « Reporter » replaces: the live one, or the last one that ended in an
        absence or a partial attendance."""
        if self.live is not None:
            return self.live if EnrollmentStatus.RESCHEDULED in TRANSITIONS[self.live.status] else None
        ended = [e for e in self.measure.enrollments if e.status in RESCHEDULABLE_OUTCOMES]
        return ended[-1] if ended else None

    @property
    def is_open(self) -> bool:
        return self.measure.status not in CLOSED_MEASURE_STATUSES

    @property
    def status_actions(self) -> list[tuple[EnrollmentStatus, str]]:
        """What the live enrollment may be marked as by hand, with the button's wording."""
        if self.live is None:
            return []
        allowed = TRANSITIONS[self.live.status] - {self.live.status}
        return [(status, label) for status, label in STATUS_ACTIONS if status in allowed]

    @property
    def can_summon(self) -> bool:
        """Whether the live enrollment's convocation can be printed and sent."""
        live = self.live
        return bool(
            live and live.status in TO_ATTEND_STATUSES and live.course.status == CourseStatus.SCHEDULED
        )


def participant_file(participant: Participant, user: User) -> dict:
    """Everything a person's page shows to ``user``: legal data only to those who may read it,
    who viewed the file only to those who may edit it; the higher areas' sections included."""
    full_view = can(user, Permission.PARTICIPANT_LEGAL_VIEW, participant)
    can_edit = can(user, Permission.PARTICIPANT_EDIT, participant)
    measures = _visible_measures_of(participant, user) if full_view else []
    files = [
        MeasureFile(m, next((e for e in m.enrollments if e.status in LIVE_STATUSES), None))
        for m in measures
    ]
    live = [file.live for file in files if file.live is not None]
    bookings = needs.bookings_for(e.id for e in live) if participant.interpreter_needed else {}
    return participant_sections.build(
        participant=participant,
        user=user,
        full_view=full_view,
        can_edit=can_edit,
        files=files,
        # The interpreter booked for each live enrollment, and what its course's venue lacks.
        bookings=bookings,
        needs_warnings={e.id: needs.needs_warnings(e, bookings.get(e.id)) for e in live},
        enrollments=[e for m in measures for e in m.enrollments],
        views=_file_views(participant) if can_edit else [],
    )


def _visible_measures_of(participant: Participant, user: User) -> list[LegalMeasure]:
    return list(db.session.scalars(_measures_tree(user), {"participant_id": participant.id}))


@built_per_user
def _measures_tree(user: User) -> sa.Select:
    # One tree of options: many-to-ones joined to their parent's query, collections selected in
    # one query each (the same path repeated costs statements and cache keys).
    return (
        visible(LegalMeasure, user)
        .where(LegalMeasure.participant_id == sa.bindparam("participant_id"))
        .options(
            joinedload(LegalMeasure.authority),
            joinedload(LegalMeasure.handling_organization),
            selectinload(LegalMeasure.enrollments).options(
                joinedload(Enrollment.course).options(joinedload(Course.venue), selectinload(Course.parts)),
                selectinload(Enrollment.events).joinedload(EnrollmentEvent.user),
            ),
        )
        .order_by(LegalMeasure.decision_date)
    )


def _file_views(participant: Participant) -> list[AuditEntry]:
    """The latest reads and changes of the person's file (who, when, what)."""
    return list(db.session.scalars(_FILE_VIEWS, {"participant_id": participant.id}))


_FILE_VIEWS = (
    sa.select(AuditEntry)
    .where(AuditEntry.participant_id == sa.bindparam("participant_id"))
    .options(joinedload(AuditEntry.user))
    .order_by(AuditEntry.at.desc())
    .limit(VIEWS_SHOWN)
)


def measures_list(user: User, q: str, status: str, frame: str) -> sa.Select:
    """The measures ``user`` may see, searched and filtered, soonest deadline first."""
    query = visible(LegalMeasure, user).join(LegalMeasure.participant)
    if q:
        query = query.where(measure_search_condition(q))
    if status in {m.value for m in MeasureStatus}:
        query = query.where(LegalMeasure.status == status)
    if frame in {f.value for f in LegalFrame}:
        query = query.where(LegalMeasure.frame == frame)
    return with_people(query)


def measures_to_enroll(user: User, q: str = "") -> sa.Select:
    """The measures ``user`` may enroll, with no live enrollment, searched by ``q``."""
    query = (
        visible(LegalMeasure, user)
        .join(LegalMeasure.participant)
        .where(LegalMeasure.status.in_(ENROLLABLE_MEASURE_STATUSES), has_no_live_enrollment())
    )
    return query.where(measure_search_condition(q)) if q else query


def chosen_measures(query: sa.Select, ids: list[int]) -> list[LegalMeasure]:
    """The measures of ``query`` (which joins their person: ``measures_to_enroll``) among
    ``ids``, soonest deadline first, with their person."""
    if not ids:
        return []
    return list(db.session.scalars(
        query.where(LegalMeasure.id.in_(ids)).options(contains_eager(LegalMeasure.participant))
        .order_by(LegalMeasure.deadline)
    ))


def with_people(query: sa.Select) -> sa.Select:
    """A list of measures with their person and authority loaded, soonest deadline first."""
    return query.options(
        selectinload(LegalMeasure.participant), selectinload(LegalMeasure.authority)
    ).order_by(LegalMeasure.deadline, LegalMeasure.id)


def updates_due(course: Course) -> set[int]:
    """The enrollments of ``course`` still owed the update of a move (their ids)."""
    return set(db.session.scalars(_UPDATES_DUE, {"course_id": course.id}))


_UPDATES_DUE = (
    sa.select(InvitationUpdate.enrollment_id)
    .join(InvitationUpdate.enrollment)
    .where(InvitationUpdate.course_id == sa.bindparam("course_id"), Enrollment.status.in_(TO_ATTEND_STATUSES))
)


@dataclass(frozen=True)
class ReservationRow:
    reservation: SeatReservation
    filled: int  # seats its authority's people hold in the course
    held_until: date
    holds: bool  # still held today


def reservation_rows(course: Course) -> list[ReservationRow]:
    """Each reservation of ``course`` with how many of its seats are filled (two queries)."""
    rows = reservations(course)
    if not rows:
        return []
    filled = seats_filled_by_authority(course)
    today = today_local(course.venue.timezone)
    return [
        ReservationRow(r, filled.get(r.authority_id, 0), until, today <= until)
        for r in rows for until in [held_until(course, r.release_days)]
    ]
