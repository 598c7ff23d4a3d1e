"""Attendance per half-day, outcomes at closing, and the hours that count.

A mark is upserted (one row per enrollment and part, last write wins) and every write that
changes it is kept as a revision, so two facilitators saving at once never lose a mark.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stages.attendance.models import AttendanceMark, AttendanceRevision, AttendanceStatus
from stages.auth.audit import audit
from stages.auth.models import Organization, User
from stages.auth.permissions import Permission, can
from stages.enrollment import services as enrollment_services
from stages.enrollment.queries import course_enrollments
from stages.enrollment.models import SEAT_HOLDING_STATUSES, Enrollment, EnrollmentStatus
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart, CourseStatus
from stages.scheduling.services import change_status
from stages.timeutil import fr_date, fr_time, now_utc, to_local
from stages.wording import ngettext

PRESENT_STATUSES = (AttendanceStatus.PRESENT, AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY)
OUTCOMES = (
    EnrollmentStatus.ATTENDED,
    EnrollmentStatus.PARTLY_ATTENDED,
    EnrollmentStatus.ABSENT_EXCUSED,
    EnrollmentStatus.ABSENT_UNEXCUSED,
)
# Statuses of people expected on the day (the roster and the attendance sheet list them).


@dataclass(frozen=True)
class MarkInput:
    enrollment_id: int
    status: AttendanceStatus
    arrived_at: datetime | None = None
    left_at: datetime | None = None
    note: str | None = None


def seat_holders(course: Course) -> list[Enrollment]:
    """The people holding a seat in ``course``, by name: the sign-in sheet's rows."""
    return course_enrollments(course, SEAT_HOLDING_STATUSES)


def marks_by_key(course: Course) -> dict[tuple[int, int], AttendanceMark]:
    """Every mark of a course, keyed by (enrollment id, part id), in one query."""
    marks = db.session.scalars(
        sa.select(AttendanceMark)
        .join(AttendanceMark.part)
        .where(CoursePart.course_id == course.id)
    )
    return {(m.enrollment_id, m.part_id): m for m in marks}


def is_correction(part: CoursePart, at: datetime | None = None) -> bool:
    """After the day of the part, changes are corrections: organizers only, with a reason."""
    zone = part.course.venue.timezone
    return to_local(at or now_utc(), zone).date() > to_local(part.ends_at, zone).date()


def record_refusal(part: CoursePart, user: User, at: datetime | None = None) -> str | None:
    """Why ``user`` cannot record attendance for ``part`` now, in French; None when they can.

    THE rule of every path that writes a mark (the form, « Tout le monde présent », the tablet's
    sync): nothing before the half-day begins; the course must be scheduled or held; after the
    day of the part, only organizers correct. ``at`` is when the mark was made, if not now: a
    tablet that was offline all day sends the next morning what it recorded on the day.
    """
    course = part.course
    if course.status == CourseStatus.CLOSED:
        return "Le stage est clôturé : la présence ne peut plus être modifiée."
    if course.status == CourseStatus.CANCELLED:
        return "Ce stage est annulé : il n'y a pas de présence à saisir."
    if course.status == CourseStatus.DRAFT:
        return "Ce stage est un brouillon : la présence se saisit une fois le stage programmé."
    if (at or now_utc()) < part.starts_at:
        zone = course.venue.timezone
        return (
            "Cette demi-journée n'a pas commencé : la présence pourra être saisie à partir du "
            f"{fr_date(part.starts_at, zone=zone)} à {fr_time(part.starts_at, zone)}."
        )
    if is_correction(part, at) and not can(user, Permission.SESSION_EDIT, course):
        return (
            "Cette demi-journée est passée : seule une personne organisatrice peut corriger "
            "la présence, en indiquant le motif."
        )
    return None


def opens_later(part: CoursePart, user: User) -> bool:
    """Whether the only reason ``user`` cannot record ``part`` now is that it has not begun: the
    same rule, asked at its start (the tablet's copy of the page opens by itself then)."""
    return record_refusal(part, user) is not None and record_refusal(part, user, part.starts_at) is None


def can_record(part: CoursePart, user: User) -> bool:
    return record_refusal(part, user) is None


def record_marks(
    part: CoursePart,
    inputs: list[MarkInput],
    *,
    by: User,
    reason: str | None = None,
    expected: list[Enrollment] | None = None,
) -> int:
    """Save the marks of one part; returns how many changed. Idempotent; history kept.

    ``expected`` is the course's :func:`seat_holders`, when the caller has them already.
    Whatever the number of people, the save is a fixed number of statements: the current marks,
    one multi-row upsert, and one insert of the revisions.
    """
    course = part.course
    refusal = record_refusal(part, by)
    if refusal:
        raise DomainError(refusal)
    correction = is_correction(part)
    reason = (reason or "").strip() or None
    if correction and not reason:
        raise DomainError("Indiquez le motif de la correction de présence.")
    allowed = {e.id for e in (expected if expected is not None else seat_holders(course))}
    current = {
        mark.enrollment_id: (mark.status, mark.arrived_at, mark.left_at, mark.note)
        for mark in db.session.execute(
            sa.select(
                AttendanceMark.enrollment_id, AttendanceMark.status, AttendanceMark.arrived_at,
                AttendanceMark.left_at, AttendanceMark.note,
            ).where(AttendanceMark.part_id == part.id)
        )
    }
    changes: dict[int, MarkInput] = {}  # by enrollment: one row each in the upsert, the last wins
    for item in inputs:
        if item.enrollment_id not in allowed:
            raise DomainError("Une des personnes n'est pas inscrite à ce stage.")
        check_times(part, item)
        values = (item.status, item.arrived_at, item.left_at, item.note or None)
        if current.get(item.enrollment_id) != values:
            changes[item.enrollment_id] = item
    if not changes:
        return 0
    mark_ids = _upsert(part.id, list(changes.values()), by)
    changed_at = now_utc()
    db.session.execute(
        sa.insert(AttendanceRevision),
        [
            dict(
                mark_id=mark_ids[item.enrollment_id], status=item.status,
                arrived_at=item.arrived_at, left_at=item.left_at, note=item.note or None,
                reason=reason if correction else None, changed_at=changed_at, changed_by_id=by.id,
            )
            for item in changes.values()
        ],
    )
    audit("attendance.recorded", part, details=ngettext("%(num)d présence", "%(num)d présences", len(changes)) + (", correction" if correction else ""),
          user=by)
    return len(changes)


def check_times(part: CoursePart, item: MarkInput) -> None:
    if item.status == AttendanceStatus.LATE and item.arrived_at is None:
        raise DomainError("Indiquez l'heure d'arrivée des personnes en retard.")
    if item.status == AttendanceStatus.LEFT_EARLY and item.left_at is None:
        raise DomainError("Indiquez l'heure de départ des personnes parties plus tôt.")
    for moment in (item.arrived_at, item.left_at):
        if moment is not None and not part.starts_at <= moment <= part.ends_at:
            raise DomainError(
                "Les heures d'arrivée et de départ doivent être comprises dans la demi-journée."
            )
    if item.arrived_at and item.left_at and item.left_at <= item.arrived_at:
        raise DomainError("L'heure de départ doit suivre l'heure d'arrivée.")


_UPSERT_COLUMNS = ("status", "arrived_at", "left_at", "note", "updated_at", "updated_by_id", "recorded_at")


def _upsert(part_id: int, items: list[MarkInput], by: User) -> dict[int, int]:
    """One INSERT … ON CONFLICT UPDATE for all ``items`` (one per enrollment); mark id by enrollment.

    Concurrent saves of one mark never fail: the last one wins, and each keeps its revision.
    """
    return {
        enrollment_id: mark_id
        for (enrollment_id, _), mark_id in upsert_marks([(part_id, item, None) for item in items], by).items()
    }


def upsert_marks(
    rows: list[tuple[int, MarkInput, datetime | None]], by: User
) -> dict[tuple[int, int], int]:
    """Write (part id, mark, device time) rows in one statement; mark id by (enrollment, part)."""
    updated_at = now_utc()
    values = [
        dict(
            enrollment_id=item.enrollment_id, part_id=part_id, status=item.status.value,
            arrived_at=item.arrived_at, left_at=item.left_at, note=item.note or None,
            updated_at=updated_at, updated_by_id=by.id, recorded_at=recorded_at,
        )
        for part_id, item, recorded_at in rows
    ]
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(AttendanceMark).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["enrollment_id", "part_id"],
        set_={column: statement.excluded[column] for column in _UPSERT_COLUMNS},
    ).returning(AttendanceMark.enrollment_id, AttendanceMark.part_id, AttendanceMark.id)
    return {(e, p): i for e, p, i in db.session.execute(statement).tuples()}


# ---------------------------------------------------------------------------------------------
# Outcomes


def compute_outcome(
    parts: list[CoursePart], marks: dict[int, AttendanceMark], *, lateness_counts: bool = True
) -> EnrollmentStatus:
    """Attended when present at every part; partly when at some; absent otherwise.

    ``marks`` maps part id → mark. An absence where every missed part is excused is excused.
    ``lateness_counts``: the association's rule (``Organization.lateness_counts_as_attended``);
    when False, a half-day with a late arrival or an early departure is attended only in part.
    """
    present = [p for p in parts if p.id in marks and marks[p.id].status in PRESENT_STATUSES]
    whole = present if lateness_counts else [p for p in present if marks[p.id].status == AttendanceStatus.PRESENT]
    if len(whole) == len(parts):
        return EnrollmentStatus.ATTENDED
    if present:
        return EnrollmentStatus.PARTLY_ATTENDED
    if parts and all(p.id in marks and marks[p.id].status == AttendanceStatus.EXCUSED for p in parts):
        return EnrollmentStatus.ABSENT_EXCUSED
    return EnrollmentStatus.ABSENT_UNEXCUSED


def has_reservations(parts: list[CoursePart], marks: dict[int, AttendanceMark]) -> bool:
    """Lateness or early departure: recorded, and left to the organizer to judge."""
    return any(p.id in marks and marks[p.id].status in (AttendanceStatus.LATE, AttendanceStatus.LEFT_EARLY) for p in parts)


def attended_minutes(parts: list[CoursePart], marks: dict[int, AttendanceMark]) -> int:
    """Minutes actually attended: arrival and departure times cut the half-days."""
    total = 0
    for part in parts:
        mark = marks.get(part.id)
        if mark is None or mark.status not in PRESENT_STATUSES:
            continue
        start = max(part.starts_at, mark.arrived_at) if mark.arrived_at else part.starts_at
        end = min(part.ends_at, mark.left_at) if mark.left_at else part.ends_at
        total += max(int((end - start).total_seconds() // 60), 0)
    return total


@dataclass
class OutcomeRow:
    enrollment: Enrollment
    computed: EnrollmentStatus
    reservations: bool
    minutes: int
    marks: dict[int, AttendanceMark]
    # The rule applied: whether lateness and early departures counted as attended.
    lateness_counts: bool = True


def lateness_rule_organization(enrollment: Enrollment) -> Organization | None:
    """Whose rule on lateness applies: the association handling the measure, else the course's
    first co-organizer (the one that signs its letters)."""
    handling = enrollment.measure.handling_organization
    if handling is not None:
        return handling
    return enrollment.course.organizations[0] if enrollment.course.organizations else None


def lateness_counts(enrollment: Enrollment) -> bool:
    """The association's rule for ``enrollment``; True (the rule before it was one) without one."""
    organization = lateness_rule_organization(enrollment)
    return organization.lateness_counts_as_attended if organization is not None else True


def outcome_rows(course: Course) -> list[OutcomeRow]:
    """Each expected person with the outcome their marks give (a constant number of queries)."""
    parts = list(course.parts)
    all_marks = marks_by_key(course)
    rows = []
    # With their associations: each person's rule on lateness is read from theirs.
    for enrollment in course_enrollments(course, SEAT_HOLDING_STATUSES, with_organizations=True):
        marks = {p.id: all_marks[(enrollment.id, p.id)] for p in parts if (enrollment.id, p.id) in all_marks}
        counts = lateness_counts(enrollment)
        rows.append(
            OutcomeRow(
                enrollment, compute_outcome(parts, marks, lateness_counts=counts),
                has_reservations(parts, marks), attended_minutes(parts, marks), marks, counts,
            )
        )
    return rows


def lateness_rules(course: Course, rows: list[OutcomeRow]) -> list[tuple[str, bool]]:
    """Each association whose rule on lateness applies at this closing, with its rule: those
    of the people expected, else the course's co-organizers. Shown on the closing page."""
    organizations = {
        org.id: org for org in (lateness_rule_organization(row.enrollment) for row in rows) if org is not None
    } or {org.id: org for org in course.organizations}
    return sorted((org.name, org.lateness_counts_as_attended) for org in organizations.values())


def close_course(
    course: Course, decisions: dict[int, tuple[EnrollmentStatus, str | None]], *, by: User
) -> list[OutcomeRow]:
    """Close a held course: every expected person gets an outcome, overrides need a reason.

    ``decisions`` maps enrollment id → (outcome, reason); a person left out keeps the
    computed outcome. All or nothing: the caller commits once.
    """
    if course.status != CourseStatus.HELD:
        raise DomainError("Seul un stage tenu peut être clôturé.")
    rows = outcome_rows(course)
    for row in rows:
        outcome, reason = decisions.get(row.enrollment.id, (row.computed, None))
        if outcome not in OUTCOMES:
            raise DomainError("Issue inconnue.")
        reason = (reason or "").strip() or None
        name = row.enrollment.measure.participant.display_name
        if outcome != row.computed and not reason:
            raise DomainError(
                f"{name} : indiquez le motif pour retenir « {outcome.label} » au lieu de "
                f"« {row.computed.label} »."
            )
        row.enrollment.outcome_override_reason = reason if outcome != row.computed else None
        note = f"Clôture du stage{' — ' + reason if reason and outcome != row.computed else ''}."
        enrollment_services.set_enrollment_status_unchecked(row.enrollment, outcome, by=by, note=note)
    change_status(course, CourseStatus.CLOSED, by=by)
    return rows
