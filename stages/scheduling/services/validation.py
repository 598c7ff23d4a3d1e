"""What a course form carries, parsed, and the rules a course's data must follow."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from stages.auth.models import User
from stages.scheduling.models import MAX_FEE_CENTS, Venue
from stages.auth.models import Organization
from stages.timeutil import fr_date, fr_time

# Code pénal, art. R. 131-36 (partie réglementaire; the common rules of the peines de stage,
# which décret n° 2016-1709 of 12 December 2016 applies to this course): « La durée journalière
# de formation effective ne peut excéder six heures. » (Not the Code de procédure pénale, and
# not R. 131-35, which states what each stage is for.) The measures ordered by a prosecutor
# (art. 41-1 and 41-2 CPP) follow the same course, so the same limit.
MAX_TRAINING_MINUTES_PER_DAY = 6 * 60
MAX_DAYS = 2
MAX_PARTS = 4


@dataclass(frozen=True)
class PartSpec:
    """One half-day as the organizer typed it: a local date and wall-clock times."""

    day: date
    start: time
    end: time


@dataclass
class CourseData:
    """Everything a course form carries, already parsed."""

    title: str
    venue: Venue
    capacity: int
    min_participants: int
    fee_cents: int
    parts: list[PartSpec]
    organizations: list[Organization] = field(default_factory=list)
    facilitators: list[User] = field(default_factory=list)
    notes: str | None = None
    # The organizer ticked « date passée » (a course already held, entered afterwards).
    past_confirmed: bool = False


# ---------------------------------------------------------------------------------------------
# Validation


def validate_course_data(
    data: CourseData, *, is_new: bool, today: date, dates_changed: bool | None = None
) -> list[str]:
    """French messages for every rule the data breaks (empty when it is valid).

    Dates in the past are accepted only when the organizer confirmed them, for a new course or
    when an edit changes the dates (``dates_changed``, default: ``is_new``)."""
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
    errors.extend(_validate_parts(data.parts))
    days = sorted({part.day for part in data.parts})
    check_past = is_new if dates_changed is None else dates_changed
    if check_past and days and days[0] < today and not data.past_confirmed:
        errors.append(
            f"Le stage commence le {fr_date(days[0])}, une date passée : cochez « Je confirme "
            "cette date passée » pour l'enregistrer (un stage déjà tenu, saisi après coup)."
        )
    return errors


def _validate_parts(parts: list[PartSpec]) -> list[str]:
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
