"""Scheduling rules: sessions and their parts, conflicts, status changes, series, venues."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import holidays
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.auth.models import User
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import (
    MAX_FEE_CENTS,
    CourseSession,
    FacilitatorBooking,
    Organization,
    SessionChange,
    SessionPart,
    SessionStatus,
    Venue,
)
from stages.timeutil import fr_date, fr_time, local_to_utc, now_utc, to_local

# Code de procédure pénale, R. 131-35: a course day holds at most six hours of training.
MAX_TRAINING_MINUTES_PER_DAY = 6 * 60
MAX_DAYS = 2
MAX_PARTS = 4

ALLOWED_TRANSITIONS = {
    SessionStatus.DRAFT: {SessionStatus.SCHEDULED, SessionStatus.CANCELLED},
    SessionStatus.SCHEDULED: {SessionStatus.HELD, SessionStatus.CANCELLED, SessionStatus.DRAFT},
    SessionStatus.HELD: {SessionStatus.CLOSED},
    SessionStatus.CLOSED: set(),
    SessionStatus.CANCELLED: set(),
}


@dataclass(frozen=True)
class PartSpec:
    """One half-day as the organizer typed it: a local date and wall-clock times."""

    day: date
    start: time
    end: time


@dataclass
class SessionData:
    """Everything a session form carries, already parsed."""

    title: str
    venue: Venue
    capacity: int
    min_participants: int
    fee_cents: int
    parts: list[PartSpec]
    organizations: list[Organization] = field(default_factory=list)
    facilitators: list[User] = field(default_factory=list)
    notes: str | None = None


@dataclass(frozen=True)
class Conflict:
    """Another active session already holding the venue or a facilitator at that time."""

    kind: str  # "venue" or "facilitator"
    other: CourseSession
    part_start: datetime
    part_end: datetime
    facilitator: User | None = None

    @property
    def message(self) -> str:
        when = (
            f"le {fr_date(self.part_start)} de {fr_time(self.part_start)} "
            f"à {fr_time(self.part_end)}"
        )
        other = f"« {self.other.title} » (stage n° {self.other.id}"
        other += f", {fr_date(self.other.starts_at, 'short')})" if self.other.starts_at else ")"
        if self.kind == "venue":
            return f"Le lieu « {self.other.venue.name} » est déjà réservé {when} par {other}."
        return f"{self.facilitator.full_name} intervient déjà {when} dans {other}."


# ---------------------------------------------------------------------------------------------
# Validation


def validate_session_data(data: SessionData, *, is_new: bool, today: date) -> list[str]:
    """French messages for every rule the data breaks (empty when it is valid)."""
    errors: list[str] = []
    if not data.title.strip():
        errors.append("Indiquez un intitulé.")
    if data.venue.archived_at is not None and is_new:
        errors.append("Ce lieu est archivé : choisissez un lieu en service.")
    if data.capacity < 1:
        errors.append("La capacité doit être d'au moins une place.")
    if data.capacity > data.venue.capacity:
        errors.append(
            f"La capacité ({data.capacity}) dépasse celle du lieu « {data.venue.name} » "
            f"({data.venue.capacity} places)."
        )
    if not 0 <= data.min_participants <= data.capacity:
        errors.append("Le minimum de participants doit être compris entre 0 et la capacité.")
    if not 0 <= data.fee_cents <= MAX_FEE_CENTS:
        errors.append("Le montant du stage doit être compris entre 0 et 450 €.")
    errors.extend(_validate_parts(data.parts, is_new=is_new, today=today))
    return errors


def _validate_parts(parts: list[PartSpec], *, is_new: bool, today: date) -> list[str]:
    errors: list[str] = []
    if not parts:
        return ["Indiquez au moins une demi-journée (date, heure de début et de fin)."]
    if len(parts) > MAX_PARTS:
        errors.append(f"Un stage compte au plus {MAX_PARTS} demi-journées.")
    for part in parts:
        if part.end <= part.start:
            errors.append(
                f"Le {fr_date(part.day)} : l'heure de fin ({fr_time(part.end)}) doit suivre "
                f"l'heure de début ({fr_time(part.start)})."
            )
    days = sorted({part.day for part in parts})
    if len(days) > MAX_DAYS:
        errors.append("Un stage se déroule sur un ou deux jours au plus.")
    if is_new and days and days[0] < today:
        errors.append("La date d'un nouveau stage ne peut pas être dans le passé.")
    for day in days:
        minutes = sum(
            _minutes(p.start, p.end) for p in parts if p.day == day and p.end > p.start
        )
        if minutes > MAX_TRAINING_MINUTES_PER_DAY:
            errors.append(
                f"Le {fr_date(day)} compte {minutes // 60} h {minutes % 60:02d} de formation : "
                "la loi limite une journée de stage à 6 heures."
            )
        same_day = sorted((p for p in parts if p.day == day), key=lambda p: p.start)
        for first, second in zip(same_day, same_day[1:]):
            if second.start < first.end:
                errors.append(f"Le {fr_date(day)} : deux demi-journées se chevauchent.")
    return errors


def _minutes(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


# ---------------------------------------------------------------------------------------------
# Conflicts


def find_conflicts(
    venue: Venue,
    facilitators: list[User],
    spans: list[tuple[datetime, datetime]],
    exclude_session_id: int | None = None,
) -> list[Conflict]:
    """Active sessions that already hold ``venue`` or one of ``facilitators`` during ``spans``."""
    if not spans:
        return []
    overlaps = sa.or_(
        *(sa.and_(SessionPart.starts_at < end, SessionPart.ends_at > start) for start, end in spans)
    )
    parts = db.session.scalars(
        sa.select(SessionPart)
        .where(
            SessionPart.is_active,
            SessionPart.venue_id == venue.id,
            overlaps,
            SessionPart.session_id != (exclude_session_id or 0),
        )
        .options(selectinload(SessionPart.session).selectinload(CourseSession.venue))
    ).all()
    conflicts = [Conflict("venue", p.session, p.starts_at, p.ends_at) for p in parts]
    facilitator_ids = [u.id for u in facilitators if u.id is not None]
    if facilitator_ids:
        booking_overlaps = sa.or_(
            *(
                sa.and_(FacilitatorBooking.starts_at < end, FacilitatorBooking.ends_at > start)
                for start, end in spans
            )
        )
        bookings = db.session.scalars(
            sa.select(FacilitatorBooking)
            .join(FacilitatorBooking.part)
            .where(
                FacilitatorBooking.is_active,
                FacilitatorBooking.user_id.in_(facilitator_ids),
                booking_overlaps,
                SessionPart.session_id != (exclude_session_id or 0),
            )
            .options(
                selectinload(FacilitatorBooking.user),
                selectinload(FacilitatorBooking.part)
                .selectinload(SessionPart.session)
                .selectinload(CourseSession.venue),
            )
        ).all()
        conflicts += [
            Conflict("facilitator", b.part.session, b.starts_at, b.ends_at, b.user)
            for b in bookings
        ]
    return conflicts


def _raise_on_conflicts(venue, facilitators, spans, exclude_session_id=None) -> None:
    conflicts = find_conflicts(venue, facilitators, spans, exclude_session_id)
    if conflicts:
        raise DomainError(" ".join(dict.fromkeys(c.message for c in conflicts)))


def flush_guarded() -> None:
    """Flush, turning the database's own overlap guard into the same French message.

    The check before writing names the other session; the database guard catches the case
    where another organizer saved an overlapping session in between. The whole user action is
    rolled back then: nothing of it is half-saved.
    """
    try:
        db.session.flush()
    except sa.exc.IntegrityError as error:
        if "overlap" not in str(error.orig):
            raise
        db.session.rollback()
        raise DomainError(
            "Ce créneau vient d'être réservé par une autre personne (même lieu ou même "
            "intervenant·e). Rechargez la page : le conflit y sera détaillé."
        ) from None


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


# ---------------------------------------------------------------------------------------------
# Series


WEEKDAYS_FR = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]


@dataclass
class SeriesRule:
    """When the sessions of a series fall: every N weeks, or the n-th weekday of each month."""

    first_day: date
    last_day: date
    weekday: int  # 0 = Monday
    every_weeks: int | None = None  # 1 = every week, 2 = every other week
    nth_of_month: int | None = None  # 1..4, or -1 for the last one


@dataclass
class SeriesCandidate:
    """One proposed date, with why it might be skipped."""

    day: date
    holiday: str | None = None
    conflicts: list[Conflict] = field(default_factory=list)

    @property
    def selected_by_default(self) -> bool:
        return self.holiday is None and not self.conflicts


def series_dates(rule: SeriesRule) -> list[date]:
    """The dates a rule gives, first to last (at most 60, a generous year of courses)."""
    if rule.last_day < rule.first_day:
        raise DomainError("La date de fin de la série doit suivre sa date de début.")
    if (rule.last_day - rule.first_day).days > 731:
        raise DomainError("Une série couvre au plus deux ans.")
    days: list[date] = []
    if rule.every_weeks:
        day = rule.first_day + timedelta(days=(rule.weekday - rule.first_day.weekday()) % 7)
        while day <= rule.last_day:
            days.append(day)
            day += timedelta(weeks=rule.every_weeks)
    elif rule.nth_of_month:
        month = date(rule.first_day.year, rule.first_day.month, 1)
        while month <= rule.last_day:
            day = _nth_weekday(month, rule.weekday, rule.nth_of_month)
            if day and rule.first_day <= day <= rule.last_day:
                days.append(day)
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    else:
        raise DomainError("Choisissez une fréquence pour la série.")
    if len(days) > 60:
        raise DomainError("Une série compte au plus 60 stages : réduisez la période.")
    return days


def _nth_weekday(month_start: date, weekday: int, nth: int) -> date | None:
    first = month_start + timedelta(days=(weekday - month_start.weekday()) % 7)
    if nth > 0:
        day = first + timedelta(weeks=nth - 1)
        return day if day.month == month_start.month else None
    last = first
    while (last + timedelta(weeks=1)).month == month_start.month:
        last += timedelta(weeks=1)
    return last


def french_holidays(years: set[int]) -> dict[date, str]:
    """French public holidays (metropolitan calendar) by date, with their French names."""
    return dict(holidays.France(years=sorted(years), language="fr"))


def preview_series(
    rule: SeriesRule, template: SessionData, day_offsets_parts: list[tuple[int, time, time]]
) -> list[SeriesCandidate]:
    """Each date of the rule, flagged when it is a public holiday or conflicts with a booking."""
    days = series_dates(rule)
    names = french_holidays({d.year for d in days} | {(d + timedelta(days=1)).year for d in days})
    candidates = []
    for day in days:
        parts = _parts_for(day, day_offsets_parts)
        holiday = next((names[p.day] for p in parts if p.day in names), None)
        spans = _spans(parts, template.venue.timezone)
        conflicts = find_conflicts(template.venue, template.facilitators, spans)
        candidates.append(SeriesCandidate(day=day, holiday=holiday, conflicts=conflicts))
    return candidates


def _parts_for(day: date, day_offsets_parts: list[tuple[int, time, time]]) -> list[PartSpec]:
    return [PartSpec(day + timedelta(days=offset), start, end) for offset, start, end in day_offsets_parts]


def create_series(
    days: list[date],
    template: SessionData,
    day_offsets_parts: list[tuple[int, time, time]],
    *,
    by: User,
    status: SessionStatus = SessionStatus.SCHEDULED,
) -> list[CourseSession]:
    """Create one session per chosen date, all or none (the caller commits once)."""
    if not days:
        raise DomainError("Cochez au moins une date.")
    created = []
    for day in sorted(days):
        data = SessionData(
            title=template.title,
            venue=template.venue,
            capacity=template.capacity,
            min_participants=template.min_participants,
            fee_cents=template.fee_cents,
            parts=_parts_for(day, day_offsets_parts),
            organizations=template.organizations,
            facilitators=template.facilitators,
            notes=template.notes,
        )
        try:
            created.append(create_session(data, by=by, status=status))
        except DomainError as error:
            raise DomainError(f"Stage du {fr_date(day)} : {error.message}") from None
    return created


# ---------------------------------------------------------------------------------------------
# Venues and organizations


def check_venue_capacity(venue: Venue, capacity: int) -> None:
    """A venue's capacity cannot drop below that of a session still to come there."""
    largest = db.session.scalar(
        sa.select(sa.func.max(CourseSession.capacity)).where(
            CourseSession.venue_id == venue.id,
            CourseSession.status.in_([SessionStatus.DRAFT, SessionStatus.SCHEDULED]),
            CourseSession.ends_at >= now_utc(),
        )
    )
    if venue.id is not None and largest and capacity < largest:
        raise DomainError(
            f"Un stage à venir dans ce lieu prévoit {largest} places : la capacité du lieu ne "
            "peut pas être inférieure."
        )


NAME_TAKEN = {
    Venue: "Un lieu porte déjà ce nom.",
    Organization: "Une organisation porte déjà ce nom.",
}


def check_name_free(model: type[Venue] | type[Organization], name: str, exclude_id: int | None) -> None:
    """Venues and organizations are told apart by their name (the database is unique too)."""
    taken = db.session.scalar(
        sa.select(model.id).where(model.name == name, model.id != (exclude_id or 0))
    )
    if taken is not None:
        raise DomainError(NAME_TAKEN[model])


def archivable_query(model: type[Venue] | type[Organization], archived: bool) -> sa.Select:
    """Venues or organizations in service, or the archived ones."""
    column = model.archived_at
    return sa.select(model).where(column.is_not(None) if archived else column.is_(None))


def set_archived(obj: Venue | Organization, archived: bool) -> None:
    """Archive (hide from new choices) or restore a venue or an organization; never delete."""
    obj.archived_at = now_utc() if archived else None


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
