"""Sessions: creating, editing and duplicating them, their status changes and their history."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from stages.auth.models import User
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import CourseSession, SessionChange, SessionPart, SessionStatus
from stages.scheduling.services.conflicts import _raise_on_conflicts, flush_guarded
from stages.scheduling.services.validation import PartSpec, SessionData, validate_session_data
from stages.timeutil import fr_date, fr_time, local_to_utc, now_utc, to_local

ALLOWED_TRANSITIONS = {
    SessionStatus.DRAFT: {SessionStatus.SCHEDULED, SessionStatus.CANCELLED},
    SessionStatus.SCHEDULED: {SessionStatus.HELD, SessionStatus.CANCELLED, SessionStatus.DRAFT},
    SessionStatus.HELD: {SessionStatus.CLOSED},
    SessionStatus.CLOSED: set(),
    SessionStatus.CANCELLED: set(),
}


# ---------------------------------------------------------------------------------------------
# Sessions


def _spans(parts: list[PartSpec], zone: str) -> list[tuple[datetime, datetime]]:
    return [(local_to_utc(p.day, p.start, zone), local_to_utc(p.day, p.end, zone)) for p in parts]


def create_session(
    data: SessionData, *, by: User, status: SessionStatus = SessionStatus.DRAFT
) -> CourseSession:
    """Create a session with its parts, refusing invalid data and double bookings."""
    today = to_local(now_utc(), data.venue.timezone).date()
    errors = validate_session_data(data, is_new=True, today=today)
    if errors:
        raise DomainError(" ".join(errors))
    spans = _spans(data.parts, data.venue.timezone)
    _raise_on_conflicts(data.venue, data.facilitators, spans)
    session = CourseSession(
        title=data.title.strip(),
        venue=data.venue,
        status=status,
        capacity=data.capacity,
        min_participants=data.min_participants,
        fee_cents=data.fee_cents,
        notes=data.notes,
        organizations=list(data.organizations),
        facilitators=list(data.facilitators),
        parts=[SessionPart(starts_at=start, ends_at=end) for start, end in sorted(spans)],
        created_by_id=by.id,
    )
    db.session.add(session)
    flush_guarded()
    _record(session, by, "Stage créé" + (" et programmé." if status == SessionStatus.SCHEDULED else " (brouillon)."))
    return session


def describe_changes(session: CourseSession, data: SessionData) -> list[str]:
    """What saving ``data`` would change, in French (no personal data)."""
    changes = []
    if session.title != data.title.strip():
        changes.append(f"intitulé : « {session.title} » → « {data.title.strip()} »")
    if session.venue_id != data.venue.id:
        changes.append(f"lieu : {session.venue.name} → {data.venue.name}")
    old_spans = [(p.starts_at, p.ends_at) for p in session.parts]
    new_spans = sorted(_spans(data.parts, data.venue.timezone))
    if old_spans != new_spans:
        changes.append(
            "horaires : " + _spans_text(old_spans, session.venue.timezone)
            + " → " + _spans_text(new_spans, data.venue.timezone)
        )
    if session.capacity != data.capacity:
        changes.append(f"capacité : {session.capacity} → {data.capacity}")
    if session.min_participants != data.min_participants:
        changes.append(f"minimum : {session.min_participants} → {data.min_participants}")
    if session.fee_cents != data.fee_cents:
        changes.append(
            f"montant : {session.fee_cents / 100:.2f} € → {data.fee_cents / 100:.2f} €".replace(".", ",")
        )
    old_orgs = {o.id for o in session.organizations}
    if old_orgs != {o.id for o in data.organizations}:
        changes.append(
            "co-organisation : " + ", ".join(o.short_name for o in data.organizations)
        )
    if {u.id for u in session.facilitators} != {u.id for u in data.facilitators}:
        changes.append(
            "intervenant·es : " + (", ".join(u.full_name for u in data.facilitators) or "aucun·e")
        )
    if (session.notes or "") != (data.notes or ""):
        changes.append("notes modifiées")
    return changes


def _spans_text(spans, zone) -> str:
    return "; ".join(
        f"{fr_date(start, 'short', zone)} {fr_time(start, zone)}–{fr_time(end, zone)}"
        for start, end in spans
    )


def update_session(session: CourseSession, data: SessionData, *, by: User) -> list[str]:
    """Apply ``data`` to ``session``; returns the changes recorded in its history."""
    if session.status in (SessionStatus.CLOSED, SessionStatus.CANCELLED):
        raise DomainError("Un stage clôturé ou annulé ne peut plus être modifié.")
    today = to_local(now_utc(), data.venue.timezone).date()
    errors = validate_session_data(data, is_new=False, today=today)
    if data.capacity < session.seats_taken:
        errors.append(
            f"La capacité ne peut pas descendre sous le nombre de places occupées "
            f"({session.seats_taken})."
        )
    if errors:
        raise DomainError(" ".join(errors))
    changes = describe_changes(session, data)
    if not changes:
        return []
    spans = sorted(_spans(data.parts, data.venue.timezone))
    _raise_on_conflicts(data.venue, data.facilitators, spans, exclude_session_id=session.id)
    schedule_changed = session.venue_id != data.venue.id or [
        (p.starts_at, p.ends_at) for p in session.parts
    ] != spans
    session.title = data.title.strip()
    session.venue = data.venue
    session.capacity = data.capacity
    session.min_participants = data.min_participants
    session.fee_cents = data.fee_cents
    session.notes = data.notes
    session.organizations = list(data.organizations)
    session.facilitators = list(data.facilitators)
    if schedule_changed:
        _replace_parts(session, spans)
    session.ical_sequence += 1
    flush_guarded()
    _record(session, by, "Modifications : " + " ; ".join(changes) + ".")
    return changes


def _replace_parts(session: CourseSession, spans) -> None:
    """Keep part rows (and their attendance) where times are unchanged; replace the others."""
    existing = {(p.starts_at, p.ends_at): p for p in session.parts}
    keep = [existing.pop(span) for span in spans if span in existing]
    for part in existing.values():
        session.parts.remove(part)
    # Free the old slots before the new parts are written, so the guard sees the final state.
    flush_guarded()
    kept = {(p.starts_at, p.ends_at) for p in keep}
    for start, end in spans:
        if (start, end) not in kept:
            session.parts.append(SessionPart(starts_at=start, ends_at=end))


def change_status(
    session: CourseSession, new_status: SessionStatus, *, by: User, reason: str | None = None
) -> None:
    """Move a session along draft → scheduled → held → closed, or cancel it with a reason."""
    if new_status not in ALLOWED_TRANSITIONS[session.status]:
        raise DomainError(
            f"Un stage « {session.status.label.lower()} » ne peut pas passer à "
            f"« {new_status.label.lower()} »."
        )
    if new_status == SessionStatus.CANCELLED:
        reason = (reason or "").strip()
        if not reason:
            raise DomainError("Indiquez le motif de l'annulation.")
        session.cancel_reason = reason[:500]
    if new_status == SessionStatus.HELD and session.ends_at and session.ends_at > now_utc():
        raise DomainError("Un stage ne peut être marqué comme tenu qu'après sa dernière demi-journée.")
    if new_status == SessionStatus.SCHEDULED:
        spans = [(p.starts_at, p.ends_at) for p in session.parts]
        if not spans:
            raise DomainError("Ajoutez au moins une demi-journée avant de programmer le stage.")
    old = session.status
    session.status = new_status
    session.ical_sequence += 1
    db.session.flush()
    text = f"Statut : {old.label} → {new_status.label}"
    if reason:
        text += f" (motif : {reason})"
    _record(session, by, text + ".")


def duplicate_data(session: CourseSession) -> SessionData:
    """A copy of a session's settings, with its times kept and no date, for a new session."""
    return SessionData(
        title=session.title,
        venue=session.venue,
        capacity=session.capacity,
        min_participants=session.min_participants,
        fee_cents=session.fee_cents,
        parts=[],
        organizations=list(session.organizations),
        facilitators=list(session.facilitators),
        notes=session.notes,
    )


def _record(session: CourseSession, by: User | None, summary: str) -> None:
    db.session.add(SessionChange(session=session, user_id=by.id if by else None, summary=summary))


def mark_finished_sessions_held() -> int:
    """Scheduled sessions whose last half-day is over become « tenu »; returns how many."""
    finished = db.session.scalars(
        sa.select(CourseSession).where(
            CourseSession.status == SessionStatus.SCHEDULED, CourseSession.ends_at < now_utc()
        )
    ).all()
    for session in finished:
        change_status(session, SessionStatus.HELD, by=None)
    return len(finished)
