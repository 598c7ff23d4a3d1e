"""Sessions: creating, editing and duplicating them, their status changes and their history."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from stages.auth.models import User
from stages.auth.audit import audit
from stages.errors import DomainError
from stages.extensions import db
from stages.page_sections import Hook
from stages.scheduling.models import Course, CourseChange, CoursePart, CourseStatus, Venue
from stages.scheduling.programme.coverage import missing_message, missing_topics
from stages.scheduling.programme.services import apply_default_programme, catalogue_owner, default_modules
from stages.scheduling.services.acceptance import transition_refusal
from stages.scheduling.services.conflicts import _raise_on_conflicts, flush_guarded
from stages.scheduling.services.validation import PartSpec, CourseData, validate_course_data
from stages.timeutil import fr_date, fr_time, local_to_utc, now_utc, to_local

# Run once a cancelled course is committed: the enrollment area withdraws its convocations.
# Handlers take ``(course, by=user)`` and return a warning to show, or None.
course_cancelled = Hook()
# Run by ``update_course`` when a course's half-days or venue change, before the commit: the
# enrollment area records, in the same transaction, whom it owes an updated invitation.
# Handlers take ``(course, move)`` (a ``CourseMove``) and flush; they return None.
course_moving = Hook()
# Run by the view once a change to a course is committed: the enrollment area sends the
# updated invitations owed, committing after each email. Handlers take ``(course, by=user)`` and
# return a message to show (``(text, category)``), or None.
course_changed = Hook()


@dataclass(frozen=True)
class WithdrawnPart:
    """A half-day that a change removed from its course (its row is gone)."""

    part_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class CourseMove:
    """Where and when a course was before its half-days or venue changed."""

    previous_spans: list[tuple[datetime, datetime]]
    previous_venue: Venue
    withdrawn: list[WithdrawnPart]

# The audit action of a status change (the others: « session.status_changed »).
STATUS_ACTIONS = {CourseStatus.CANCELLED: "session.cancelled", CourseStatus.CLOSED: "session.closed"}


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
    # A new course starts with its association's default programme, which must cover the
    # décret's contents for the course to be scheduled at once.
    owner = catalogue_owner(data.organizations, by)
    modules = default_modules(owner) if owner is not None else []
    if status == CourseStatus.SCHEDULED:
        missing = missing_topics(topic for module in modules for topic in module.topics)
        if missing:
            raise DomainError(missing_message(missing, when_new=True))
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
    apply_default_programme(course, modules)
    db.session.add(course)
    flush_guarded()
    _record(course, by, "Stage créé" + (" et programmé." if status == CourseStatus.SCHEDULED else " (brouillon)."),
            "session.created")
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


def moves_course(course: Course, data: CourseData) -> bool:
    """Whether saving ``data`` changes the course's half-days or its venue: what the people
    summoned were told."""
    return _moves(course, data.venue, sorted(_spans(data.parts, data.venue.timezone)))


def _moves(course: Course, venue: Venue, spans: list[tuple[datetime, datetime]]) -> bool:
    return course.venue_id != venue.id or [(p.starts_at, p.ends_at) for p in course.parts] != spans


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
    old_spans = [(p.starts_at, p.ends_at) for p in course.parts]
    errors = validate_course_data(
        data, is_new=False, today=today,
        dates_changed=sorted(_spans(data.parts, data.venue.timezone)) != old_spans,
    )
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
    move = None
    if _moves(course, data.venue, spans):
        kept, withdrawn, added = _match_parts(course, data.venue.timezone, spans)
        move = CourseMove(
            previous_spans=[_span(part) for part in course.parts],
            previous_venue=course.venue,
            withdrawn=[WithdrawnPart(part.id, *_span(part)) for part in withdrawn],
        )
        _release_slots(course, withdrawn, [part for part, span in kept if _span(part) != span])
    course.title = data.title.strip()
    course.venue = data.venue
    course.capacity = data.capacity
    course.min_participants = data.min_participants
    course.fee_cents = data.fee_cents
    course.notes = data.notes
    course.organizations = list(data.organizations)
    course.facilitators = list(data.facilitators)
    if move is not None:
        for part, (start, end) in kept:
            part.starts_at, part.ends_at = start, end
        course.parts.extend(CoursePart(starts_at=start, ends_at=end) for start, end in added)
    course.ical_sequence += 1
    # The booking listener (models.sync_bookings) puts the moved half-days back in service.
    flush_guarded()
    _record(course, by, "Modifications : " + " ; ".join(changes) + ".", "session.updated", "; ".join(changes))
    if move is not None:
        db.session.expire(course, ["parts"])  # read again in order
        course_moving.run(course, move)
    return changes


def _span(part: CoursePart) -> tuple[datetime, datetime]:
    return part.starts_at, part.ends_at


def _match_parts(course: Course, zone: str, spans: list[tuple[datetime, datetime]]):
    """Pair the course's half-days with the new ``spans`` by their place in the course — the
    same day (first, second) and the same half of it — whatever their times: a half-day keeps
    its row, hence its calendar UID and its attendance marks, when it only moves.

    Returns (kept: [(part, new span)], withdrawn: [part], added: [new span]).
    """
    old = _by_place([(part.starts_at, part) for part in course.parts], course.venue.timezone)
    new = _by_place([(span[0], span) for span in spans], zone)
    kept = [(old[place], span) for place, span in new.items() if place in old]
    withdrawn = [part for place, part in old.items() if place not in new]
    added = [span for place, span in new.items() if place not in old]
    return kept, withdrawn, added


def _by_place(items: list[tuple[datetime, object]], zone: str) -> dict[tuple[int, int], object]:
    """``{(day number, number within the day): item}``, days counted in the venue's zone."""
    days: dict[date, list] = {}
    for start, item in sorted(items, key=lambda pair: pair[0]):
        days.setdefault(to_local(start, zone).date(), []).append(item)
    return {
        (day_number, number): item
        for day_number, day_items in enumerate(days.values())
        for number, item in enumerate(day_items)
    }


def _release_slots(course: Course, withdrawn: list[CoursePart], moving: list[CoursePart]) -> None:
    """Free what the change gives up before writing where the half-days go.

    The database checks each row as it is written (exclusion constraints on PostgreSQL, triggers
    on SQLite): a morning moved onto the afternoon's old times would collide with the afternoon
    not yet moved. So half-days that go away are deleted first, and those that move are taken
    out of service (and their facilitators' bookings with them); the final write puts them back
    at their new times, each row then checked against the others' final or out-of-service state.
    """
    for part in withdrawn:
        course.parts.remove(part)
    flush_guarded()
    for part in moving:
        part.is_active = False
        for booking in part.bookings:
            booking.is_active = False
        for item in part.programme:
            if item.booking is not None:
                item.booking.is_active = False
    flush_guarded()


def change_status(
    course: Course, new_status: CourseStatus, *, by: User, reason: str | None = None
) -> None:
    """Move a course along draft → scheduled → held → closed, or cancel it with a reason."""
    refusal = transition_refusal(course, new_status)
    if refusal:
        raise DomainError(refusal)
    if new_status == CourseStatus.CANCELLED:
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("Indiquez le motif de l'annulation.")
        course.cancel_reason = reason[:500]
    old = course.status
    course.status = new_status
    course.ical_sequence += 1
    db.session.flush()
    text = f"Statut : {old.label} → {new_status.label}"
    if reason:
        text += f" (motif : {reason})"
    _record(course, by, text + ".", STATUS_ACTIONS.get(new_status, "session.status_changed"), new_status.value)


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


def _record(course: Course, by: User | None, summary: str, action: str, details: str | None = None) -> None:
    """A change of the course: in its history (shown on its page) and in the audit log."""
    db.session.add(CourseChange(course=course, user_id=by.id if by else None, summary=summary))
    audit(action, course, details=details, user=by)


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
