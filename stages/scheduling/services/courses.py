"""Sessions: creating, editing and duplicating them, their status changes and their history."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from stages.auth.models import User
from stages.errors import DomainError
from stages.extensions import db
from stages.page_sections import Hook
from stages.scheduling.models import Course, CourseChange, CoursePart, CourseStatus
from stages.scheduling.services.conflicts import _raise_on_conflicts, flush_guarded
from stages.scheduling.services.validation import PartSpec, CourseData, validate_course_data
from stages.timeutil import fr_date, fr_time, local_to_utc, now_utc, to_local

# Run once a cancelled course is committed: the enrollment area withdraws its convocations.
# Handlers take ``(course, by=user)`` and return a warning to show, or None.
course_cancelled = Hook()

ALLOWED_TRANSITIONS = {
    CourseStatus.DRAFT: {CourseStatus.SCHEDULED, CourseStatus.CANCELLED},
    CourseStatus.SCHEDULED: {CourseStatus.HELD, CourseStatus.CANCELLED, CourseStatus.DRAFT},
    CourseStatus.HELD: {CourseStatus.CLOSED},
    CourseStatus.CLOSED: set(),
    CourseStatus.CANCELLED: set(),
}


# ---------------------------------------------------------------------------------------------
# Courses


def _spans(parts: list[PartSpec], zone: str) -> list[tuple[datetime, datetime]]:
    return [(local_to_utc(p.day, p.start, zone), local_to_utc(p.day, p.end, zone)) for p in parts]


def create_course(
    data: CourseData, *, by: User, status: CourseStatus = CourseStatus.DRAFT
) -> Course:
    """Create a course with its parts, refusing invalid data and double bookings."""
    today = to_local(now_utc(), data.venue.timezone).date()
    errors = validate_course_data(data, is_new=True, today=today)
    if errors:
        raise DomainError(" ".join(errors))
    spans = _spans(data.parts, data.venue.timezone)
    _raise_on_conflicts(data.venue, data.facilitators, spans)
    course = Course(
        title=data.title.strip(),
        venue=data.venue,
        status=status,
        capacity=data.capacity,
        min_participants=data.min_participants,
        fee_cents=data.fee_cents,
        notes=data.notes,
        organizations=list(data.organizations),
        facilitators=list(data.facilitators),
        parts=[CoursePart(starts_at=start, ends_at=end) for start, end in sorted(spans)],
        created_by_id=by.id,
    )
    db.session.add(course)
    flush_guarded()
    _record(course, by, "Stage créé" + (" et programmé." if status == CourseStatus.SCHEDULED else " (brouillon)."))
    return course


def describe_changes(course: Course, data: CourseData) -> list[str]:
    """What saving ``data`` would change, in French (no personal data)."""
    changes = []
    if course.title != data.title.strip():
        changes.append(f"intitulé : « {course.title} » → « {data.title.strip()} »")
    if course.venue_id != data.venue.id:
        changes.append(f"lieu : {course.venue.name} → {data.venue.name}")
    old_spans = [(p.starts_at, p.ends_at) for p in course.parts]
    new_spans = sorted(_spans(data.parts, data.venue.timezone))
    if old_spans != new_spans:
        changes.append(
            "horaires : " + _spans_text(old_spans, course.venue.timezone)
            + " → " + _spans_text(new_spans, data.venue.timezone)
        )
    if course.capacity != data.capacity:
        changes.append(f"capacité : {course.capacity} → {data.capacity}")
    if course.min_participants != data.min_participants:
        changes.append(f"minimum : {course.min_participants} → {data.min_participants}")
    if course.fee_cents != data.fee_cents:
        changes.append(
            f"montant : {course.fee_cents / 100:.2f} € → {data.fee_cents / 100:.2f} €".replace(".", ",")
        )
    old_orgs = {o.id for o in course.organizations}
    if old_orgs != {o.id for o in data.organizations}:
        changes.append(
            "co-organisation : " + ", ".join(o.short_name for o in data.organizations)
        )
    if {u.id for u in course.facilitators} != {u.id for u in data.facilitators}:
        changes.append(
            "intervenant·es : " + (", ".join(u.full_name for u in data.facilitators) or "aucun·e")
        )
    if (course.notes or "") != (data.notes or ""):
        changes.append("notes modifiées")
    return changes


def _spans_text(spans, zone) -> str:
    return "; ".join(
        f"{fr_date(start, 'short', zone)} {fr_time(start, zone)}–{fr_time(end, zone)}"
        for start, end in spans
    )


def needs_confirmation(course: Course, data: CourseData) -> bool:
    """Whether saving ``data`` changes a scheduled course that people are enrolled in: the
    organizer confirms the list of changes first."""
    return (
        course.seats_taken > 0
        and course.status == CourseStatus.SCHEDULED
        and bool(describe_changes(course, data))
    )


def update_course(course: Course, data: CourseData, *, by: User) -> list[str]:
    """Apply ``data`` to ``course``; returns the changes recorded in its history."""
    if course.status in (CourseStatus.CLOSED, CourseStatus.CANCELLED):
        raise DomainError("Un stage clôturé ou annulé ne peut plus être modifié.")
    today = to_local(now_utc(), data.venue.timezone).date()
    errors = validate_course_data(data, is_new=False, today=today)
    if data.capacity < course.seats_taken:
        errors.append(
            f"La capacité ne peut pas descendre sous le nombre de places occupées "
            f"({course.seats_taken})."
        )
    if errors:
        raise DomainError(" ".join(errors))
    changes = describe_changes(course, data)
    if not changes:
        return []
    spans = sorted(_spans(data.parts, data.venue.timezone))
    _raise_on_conflicts(data.venue, data.facilitators, spans, exclude_course_id=course.id)
    schedule_changed = course.venue_id != data.venue.id or [
        (p.starts_at, p.ends_at) for p in course.parts
    ] != spans
    course.title = data.title.strip()
    course.venue = data.venue
    course.capacity = data.capacity
    course.min_participants = data.min_participants
    course.fee_cents = data.fee_cents
    course.notes = data.notes
    course.organizations = list(data.organizations)
    course.facilitators = list(data.facilitators)
    if schedule_changed:
        _replace_parts(course, spans)
    course.ical_sequence += 1
    flush_guarded()
    _record(course, by, "Modifications : " + " ; ".join(changes) + ".")
    return changes


def _replace_parts(course: Course, spans) -> None:
    """Keep part rows (and their attendance) where times are unchanged; replace the others."""
    existing = {(p.starts_at, p.ends_at): p for p in course.parts}
    keep = [existing.pop(span) for span in spans if span in existing]
    for part in existing.values():
        course.parts.remove(part)
    # Free the old slots before the new parts are written, so the guard sees the final state.
    flush_guarded()
    kept = {(p.starts_at, p.ends_at) for p in keep}
    for start, end in spans:
        if (start, end) not in kept:
            course.parts.append(CoursePart(starts_at=start, ends_at=end))


def change_status(
    course: Course, new_status: CourseStatus, *, by: User, reason: str | None = None
) -> None:
    """Move a course along draft → scheduled → held → closed, or cancel it with a reason."""
    if new_status not in ALLOWED_TRANSITIONS[course.status]:
        raise DomainError(
            f"Un stage « {course.status.label.lower()} » ne peut pas passer à "
            f"« {new_status.label.lower()} »."
        )
    if new_status == CourseStatus.CANCELLED:
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("Indiquez le motif de l'annulation.")
        course.cancel_reason = reason[:500]
    if new_status == CourseStatus.HELD and course.ends_at and course.ends_at > now_utc():
        raise DomainError("Un stage ne peut être marqué comme tenu qu'après sa dernière demi-journée.")
    if new_status == CourseStatus.SCHEDULED:
        spans = [(p.starts_at, p.ends_at) for p in course.parts]
        if not spans:
            raise DomainError("Ajoutez au moins une demi-journée avant de programmer le stage.")
    old = course.status
    course.status = new_status
    course.ical_sequence += 1
    db.session.flush()
    text = f"Statut : {old.label} → {new_status.label}"
    if reason:
        text += f" (motif : {reason})"
    _record(course, by, text + ".")


def duplicate_data(course: Course) -> CourseData:
    """A copy of a course's settings, with its times kept and no date, for a new course."""
    return CourseData(
        title=course.title,
        venue=course.venue,
        capacity=course.capacity,
        min_participants=course.min_participants,
        fee_cents=course.fee_cents,
        parts=[],
        organizations=list(course.organizations),
        facilitators=list(course.facilitators),
        notes=course.notes,
    )


def _record(course: Course, by: User | None, summary: str) -> None:
    db.session.add(CourseChange(course=course, user_id=by.id if by else None, summary=summary))


def mark_finished_courses_held() -> int:
    """Scheduled courses whose last half-day is over become « tenu »; returns how many."""
    finished = db.session.scalars(
        sa.select(Course).where(
            Course.status == CourseStatus.SCHEDULED, Course.ends_at < now_utc()
        )
    ).all()
    for course in finished:
        change_status(course, CourseStatus.HELD, by=None)
    return len(finished)
