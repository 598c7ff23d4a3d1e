"""A person's language and needs: the language spoken, an interpreter (needed; booked per
enrollment), accessibility needs checked against the venue's accessibility.

The checks are one set of rules (``unmet_needs``, ``interpreter_warning``) read by enrollment,
the person's page, the course page and the sign-in sheet; the services flush and audit, the
caller commits.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.models import (
    MAX_INTERPRETER_COST_CENTS,
    Enrollment,
    InterpreterBooking,
    Participant,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.i18n import FRENCH, LANGUAGES, language_label
from stages.scheduling.models import Venue

_CODES = {language.code for language in LANGUAGES}

# Each accessibility need: its label, the venue's flag that meets it, and what to say when the
# venue does not (the venue may still be suitable: it says nothing, and someone checks).
NEEDS = (
    ("needs_reduced_mobility", "Mobilité réduite ou fauteuil roulant", "step_free_access",
     "le lieu n'est pas signalé accessible en fauteuil roulant"),
    ("needs_hearing", "Personne malentendante", "hearing_loop",
     "le lieu ne signale pas de boucle magnétique"),
    ("needs_sight", "Personne malvoyante", "visual_aids",
     "le lieu ne signale pas d'aménagement pour les personnes malvoyantes"),
)


@dataclass
class NeedsData:
    language: str = FRENCH
    interpreter_needed: bool = False
    needs_reduced_mobility: bool = False
    needs_hearing: bool = False
    needs_sight: bool = False
    needs_other: str | None = None


def save_needs(participant: Participant, data: NeedsData, *, by: User | None = None) -> None:
    """Record the person's language and needs (audited, without their content: health data)."""
    if data.language not in _CODES:
        raise DomainError("Choisissez une langue de la liste.")
    other = (data.needs_other or "").strip() or None
    if other is not None and len(other) > 300:
        raise DomainError("Autre besoin : 300 caractères au plus.")
    participant.language = data.language
    participant.interpreter_needed = data.interpreter_needed
    participant.needs_reduced_mobility = data.needs_reduced_mobility
    participant.needs_hearing = data.needs_hearing
    participant.needs_sight = data.needs_sight
    participant.needs_other = other
    db.session.flush()
    audit("participant.needs_changed", participant, participant_id=participant.id, user=by)


def needs_labels(participant: Participant) -> list[str]:
    """The person's accessibility needs, as the pages list them."""
    labels = [label for field, label, _flag, _missing in NEEDS if getattr(participant, field)]
    if participant.needs_other:
        labels.append(f"Autre : {participant.needs_other}")
    return labels


def language_line(participant: Participant) -> str | None:
    """« Arabe — interprète nécessaire », « Roumain »; None for a French speaker who needs no
    interpreter (nothing to say)."""
    if participant.language == FRENCH and not participant.interpreter_needed:
        return None
    line = language_label(participant.language)
    return f"{line} — interprète nécessaire" if participant.interpreter_needed else line


def unmet_needs(participant: Participant, venue: Venue) -> list[str]:
    """What the venue does not say it offers among the person's needs (French warnings); the
    free-text need is always to check with the venue."""
    warnings = [
        f"{label} : {missing}."
        for field, label, flag, missing in NEEDS
        if getattr(participant, field) and not getattr(venue, flag)
    ]
    if participant.needs_other:
        warnings.append(f"Autre besoin à vérifier avec le lieu : {participant.needs_other}")
    return warnings


def venue_lacks(participant: Participant, venue: Venue) -> list[str]:
    """The person's needs (labels) the venue does not say it meets: the proposals' badge."""
    return [label for field, label, flag, _missing in NEEDS
            if getattr(participant, field) and not getattr(venue, flag)]


def interpreter_warning(participant: Participant, booking: InterpreterBooking | None) -> str | None:
    """Why the interpreter the person needs is not settled for the course, or None."""
    if not participant.interpreter_needed:
        return None
    language = language_label(participant.language).lower()
    if booking is None:
        return f"Interprète en {language} nécessaire : aucun n'est réservé."
    if not booking.confirmed:
        return f"Interprète en {language} réservé ({booking.interpreter_name}), pas encore confirmé."
    return None


def needs_warnings(enrollment: Enrollment, booking: InterpreterBooking | None) -> list[str]:
    """Every warning about an enrollment: the venue against the needs, then the interpreter."""
    participant = enrollment.measure.participant
    warnings = unmet_needs(participant, enrollment.course.venue)
    interpreter = interpreter_warning(participant, booking)
    return warnings + ([interpreter] if interpreter else [])


def enrollments_with_warnings(enrollments: list[Enrollment]) -> int:
    """How many of these new enrollments (one course's) have a warning, their people read in
    one query (a bulk enrollment's message)."""
    ids = [e.measure.participant_id for e in enrollments if "participant" in sa.inspect(e.measure).unloaded]
    # Those not loaded with their measure, held while they are read: the session only keeps
    # weak references to them.
    people = db.session.scalars(sa.select(Participant).where(Participant.id.in_(ids))).all() if ids else []
    count = sum(bool(needs_warnings(e, None)) for e in enrollments)
    del people
    return count


def has_needs(participant: Participant) -> bool:
    """Whether there is anything to say about the person's language or needs."""
    return language_line(participant) is not None or bool(needs_labels(participant))


@dataclass(frozen=True)
class NeedsRow:
    """One person of a course with a language or needs: their interpreter, the warnings."""

    enrollment: Enrollment
    booking: InterpreterBooking | None
    warnings: list[str]


def course_needs(seated: list[Enrollment]) -> list[NeedsRow]:
    """The people of ``seated`` (loaded with their person and course) who have a language or
    needs to prepare for, with their bookings read in one query."""
    concerned = [e for e in seated if has_needs(e.measure.participant)]
    bookings = bookings_for(e.id for e in concerned if e.measure.participant.interpreter_needed)
    return [NeedsRow(e, bookings.get(e.id), needs_warnings(e, bookings.get(e.id))) for e in concerned]


def roster_notes(seated: list[Enrollment]) -> dict[int, str]:
    """What the facilitator should know of each person on the sign-in sheet, by enrollment id:
    « Arabe ; interprète : Samir Haddad (confirmé) ; Mobilité réduite ou fauteuil roulant »."""
    notes = {}
    for row in course_needs(seated):
        participant = row.enrollment.measure.participant
        items = [language_label(participant.language)] if participant.language != FRENCH else []
        if participant.interpreter_needed:
            if row.booking is None:
                items.append("interprète non réservé")
            else:
                state = "confirmé" if row.booking.confirmed else "non confirmé"
                items.append(f"interprète : {row.booking.interpreter_name} ({state})")
        notes[row.enrollment.id] = " ; ".join(items + needs_labels(participant))
    return notes


def bookings_for(enrollment_ids: Iterable[int]) -> dict[int, InterpreterBooking]:
    """The interpreter bookings of these enrollments, by enrollment id (one query)."""
    ids = list(enrollment_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(InterpreterBooking).where(InterpreterBooking.enrollment_id.in_(ids))
    )
    return {row.enrollment_id: row for row in rows}


def save_booking(
    enrollment: Enrollment,
    name: str | None,
    cost_cents: int | None,
    confirmed: bool,
    *,
    by: User | None = None,
) -> InterpreterBooking | None:
    """Book (or correct) the interpreter of ``enrollment``'s course; an empty name cancels the
    booking. Audited without the interpreter's name or cost."""
    booking = db.session.get(InterpreterBooking, enrollment.id)
    name = (name or "").strip()
    participant_id = enrollment.measure.participant_id
    if not name:
        if booking is not None:
            db.session.delete(booking)
            db.session.flush()
            audit("interpreter.cancelled", enrollment, participant_id=participant_id, user=by)
        return None
    if len(name) > 120:
        raise DomainError("Nom de l'interprète : 120 caractères au plus.")
    if cost_cents is not None and not 0 <= cost_cents <= MAX_INTERPRETER_COST_CENTS:
        raise DomainError(
            f"Le coût doit être compris entre 0 et {MAX_INTERPRETER_COST_CENTS // 100} €."
        )
    if booking is None:
        booking = InterpreterBooking(enrollment_id=enrollment.id)
        db.session.add(booking)
    booking.interpreter_name = name
    booking.cost_cents = cost_cents
    booking.confirmed = confirmed
    booking.updated_by_id = by.id if by is not None else None
    db.session.flush()
    audit("interpreter.booked", enrollment, participant_id=participant_id,
          details="confirmé" if confirmed else "non confirmé", user=by)
    return booking
