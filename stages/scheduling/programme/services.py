"""Changing an association's catalogue and speakers, the programme of a course's half-days and
its speakers' bookings. None commits: the view, job or CLI command does."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.auth.audit import audit
from stages.auth.models import Organization, OrganizationKind, User
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart, CourseStatus
from stages.scheduling.programme import defaults  # noqa: F401  (new associations get the catalogue)
from stages.scheduling.programme.models import (
    BookingStatus,
    ProgrammeItem,
    ProgrammeModule,
    ProgrammeModuleTopic,
    ProgrammeTopic,
    Speaker,
    SpeakerBooking,
    SpeakerKind,
    sync_speaker_booking,
)
from stages.timeutil import fr_date, fr_time, now_utc, to_local

LOCKED = (CourseStatus.CLOSED, CourseStatus.CANCELLED)


# ---------------------------------------------------------------------------------------------
# Catalogue


@dataclass
class ModuleData:
    """What the module form carries."""

    title: str
    duration_minutes: int
    description: str | None = None
    topics: list[ProgrammeTopic] = field(default_factory=list)
    default_position: int | None = None


def save_module(organization: Organization, data: ModuleData, *, by: User,
                module: ProgrammeModule | None = None) -> ProgrammeModule:
    """Create or change a module of ``organization``'s catalogue (titles unique per association)."""
    title = data.title.strip()
    if not title:
        raise DomainError("Indiquez l'intitulé du module.")
    clash = db.session.scalar(sa.select(ProgrammeModule.id).where(
        ProgrammeModule.organization_id == organization.id, ProgrammeModule.title == title,
        ProgrammeModule.id != (module.id if module else 0)))
    if clash:
        raise DomainError("Un module de ce catalogue porte déjà cet intitulé.")
    if module is None:
        module = ProgrammeModule(organization=organization)
        db.session.add(module)
    module.title, module.duration_minutes = title, data.duration_minutes
    module.description, module.default_position = data.description or None, data.default_position
    wanted = list(dict.fromkeys(ProgrammeTopic(t) for t in data.topics))
    module.topic_links = [link for link in module.topic_links if link.topic in wanted] + [
        ProgrammeModuleTopic(topic=t) for t in wanted if t not in {link.topic for link in module.topic_links}
    ]
    db.session.flush()
    audit("programme.module_saved", module, user=by)
    return module


def retire_module(module: ProgrammeModule, *, by: User) -> str:
    """Delete a module no course used; archive one that was (programmes keep naming it)."""
    used = db.session.scalar(sa.select(sa.exists().where(ProgrammeItem.module_id == module.id)))
    audit("programme.module_archived", module, user=by, details="archivé" if used else "supprimé")
    if used:
        module.archived_at = module.archived_at or now_utc()
        db.session.flush()
        return "archived"
    db.session.delete(module)
    db.session.flush()
    return "deleted"


def restore(obj: ProgrammeModule | Speaker, *, by: User) -> None:
    """Put an archived module or speaker back in the lists offered."""
    obj.archived_at = None
    audit("programme.module_saved" if isinstance(obj, ProgrammeModule) else "speaker.saved", obj, user=by,
          details="rétabli")
    db.session.flush()


def catalogue_owner(organizations, by: User | None) -> Organization | None:
    """The association whose catalogue a new course's programme comes from: the user's own
    among the co-organizers, else the first."""
    associations = [o for o in organizations if o.kind == OrganizationKind.ASSOCIATION]
    mine = [o for o in associations if by is not None and o.id in by.organization_ids]
    return (mine or associations or [None])[0]


def default_modules(organization: Organization) -> list[ProgrammeModule]:
    """The modules of ``organization``'s default programme, in order."""
    return list(db.session.scalars(
        sa.select(ProgrammeModule)
        .where(ProgrammeModule.organization_id == organization.id, ProgrammeModule.archived_at.is_(None),
               ProgrammeModule.default_position.is_not(None))
        .order_by(ProgrammeModule.default_position, ProgrammeModule.id)
    ))


def apply_default_programme(course: Course, modules: list[ProgrammeModule]) -> None:
    """Spread ``modules`` over the course's half-days in order (the first ones in the morning)."""
    parts = list(course.parts)
    if not parts:
        return
    for index, module in enumerate(modules):
        part = parts[min(index * len(parts) // len(modules), len(parts) - 1)]
        part.programme.append(ProgrammeItem(module=module, position=len(part.programme)))


# ---------------------------------------------------------------------------------------------
# Programme of the half-days


def _check_open(course: Course) -> None:
    if course.status in LOCKED:
        raise DomainError("Le programme d'un stage clôturé ou annulé ne peut plus être modifié.")


def _check_times(part: CoursePart, start: time | None, end: time | None) -> None:
    if (start is None) != (end is None):
        raise DomainError("Indiquez l'heure de début et l'heure de fin, ou aucune des deux.")
    if start is None:
        return
    zone = part.course.venue.timezone
    first, last = to_local(part.starts_at, zone).time(), to_local(part.ends_at, zone).time()
    if not (end > start and first <= start and end <= last):
        raise DomainError(
            f"Les horaires du module doivent tenir dans la demi-journée "
            f"({fr_time(part.starts_at, zone)} – {fr_time(part.ends_at, zone)}), la fin après le début."
        )


def add_item(part: CoursePart, module: ProgrammeModule, *, by: User, start: time | None = None,
             end: time | None = None) -> ProgrammeItem:
    """Add a module at the end of a half-day's programme."""
    course = part.course
    _check_open(course)
    if module.organization_id not in {o.id for o in course.organizations} or module.archived_at:
        raise DomainError("Choisissez un module du catalogue d'une association co-organisatrice.")
    _check_times(part, start, end)
    item = ProgrammeItem(module=module, start_time=start, end_time=end,
                         position=max((i.position for i in part.programme), default=-1) + 1)
    part.programme.append(item)
    _flush_guarded()
    audit("programme.changed", course, details=f"module ajouté : {module.title}", user=by)
    return item


def remove_item(item: ProgrammeItem, *, by: User) -> None:
    """Take a module (and its speaker's booking) out of a half-day's programme."""
    course = item.part.course
    _check_open(course)
    title = item.module.title
    item.part.programme.remove(item)
    db.session.flush()
    audit("programme.changed", course, details=f"module retiré : {title}", user=by)


def move_item(item: ProgrammeItem, step: int, *, by: User) -> None:
    """Move a module one place earlier (``step`` -1) or later (+1) in its half-day."""
    _check_open(item.part.course)
    items = list(item.part.programme)
    index = items.index(item)
    other = index + step
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
        for position, each in enumerate(items):
            each.position = position
        db.session.flush()
        audit("programme.changed", item.part.course, details=f"ordre modifié : {item.module.title}", user=by)


# ---------------------------------------------------------------------------------------------
# Speakers


@dataclass
class SpeakerData:
    """What the speaker form carries (contact already checked: email, E.164 phone)."""

    full_name: str
    kind: SpeakerKind
    email: str | None = None
    phone: str | None = None
    fee_cents: int | None = None
    notes: str | None = None


def save_speaker(organization: Organization, data: SpeakerData, *, by: User,
                 speaker: Speaker | None = None) -> Speaker:
    """Create or change one of the association's outside speakers."""
    if not data.full_name.strip():
        raise DomainError("Indiquez le nom de la personne.")
    if speaker is None:
        speaker = Speaker(organization=organization)
        db.session.add(speaker)
    speaker.full_name, speaker.kind = data.full_name.strip(), SpeakerKind(data.kind)
    speaker.email, speaker.phone = data.email or None, data.phone or None
    speaker.fee_cents, speaker.notes = data.fee_cents, data.notes or None
    db.session.flush()
    audit("speaker.saved", speaker, user=by)
    return speaker


def archive_speaker(speaker: Speaker, *, by: User) -> None:
    """Take a speaker out of the lists offered (their past bookings stay)."""
    speaker.archived_at = speaker.archived_at or now_utc()
    db.session.flush()
    audit("speaker.archived", speaker, user=by)


def speaker_conflicts(speaker: Speaker, item: ProgrammeItem) -> list[SpeakerBooking]:
    """The speaker's other active bookings overlapping ``item``."""
    start, end = item.span()
    return list(db.session.scalars(
        sa.select(SpeakerBooking)
        .where(SpeakerBooking.speaker_id == speaker.id, SpeakerBooking.is_active,
               SpeakerBooking.starts_at < end, SpeakerBooking.ends_at > start,
               SpeakerBooking.item_id != (item.id or 0))
        .options(selectinload(SpeakerBooking.item).selectinload(ProgrammeItem.part).selectinload(CoursePart.course))
    ))


def _raise_on_conflict(speaker: Speaker, item: ProgrammeItem) -> None:
    for other in speaker_conflicts(speaker, item):
        course = other.item.part.course
        raise DomainError(
            f"{speaker.full_name} intervient déjà le {fr_date(other.starts_at)} de {fr_time(other.starts_at)} "
            f"à {fr_time(other.ends_at)} (stage n° {course.id}, « {other.item.module.title} »)."
        )


def _flush_guarded() -> None:
    """Flush; the database's own guard (another organizer booked the speaker in between) becomes
    a French message, and the whole action is undone."""
    try:
        db.session.flush()
    except sa.exc.IntegrityError as error:
        if "overlap" not in str(error.orig):
            raise
        db.session.rollback()
        raise DomainError(
            "Cette personne vient d'être réservée sur le même créneau par quelqu'un d'autre. "
            "Rechargez la page pour voir ses réservations."
        ) from None


def book_speaker(item: ProgrammeItem, speaker: Speaker, *, by: User) -> SpeakerBooking:
    """Ask ``speaker`` to give a module (state « demandée »); one speaker per module, never two
    modules at once."""
    course = item.part.course
    _check_open(course)
    if speaker.organization_id not in {o.id for o in course.organizations} or speaker.archived_at:
        raise DomainError("Choisissez une personne de l'annuaire d'une association co-organisatrice.")
    _raise_on_conflict(speaker, item)
    if item.booking is not None:
        item.booking = None
        db.session.flush()
    booking = SpeakerBooking(speaker=speaker, status=BookingStatus.REQUESTED)
    item.booking = booking
    db.session.add(booking)
    sync_speaker_booking(booking)
    _flush_guarded()
    audit("speaker.booked", course, details=f"module « {item.module.title} »", user=by)
    return booking


def set_booking_status(booking: SpeakerBooking, status: BookingStatus, *, by: User) -> None:
    """Record the speaker's answer (confirmée, déclinée) or ask again (demandée)."""
    course = booking.item.part.course
    _check_open(course)
    if status != BookingStatus.DECLINED and not booking.is_active:
        _raise_on_conflict(booking.speaker, booking.item)
    booking.status = BookingStatus(status)
    sync_speaker_booking(booking)
    _flush_guarded()
    audit("speaker.booking_status", course, details=f"{booking.item.module.title} : {booking.status.label}", user=by)


def release_speaker(item: ProgrammeItem, *, by: User) -> None:
    """Remove the speaker of a module."""
    _check_open(item.part.course)
    if item.booking is not None:
        item.booking = None
        db.session.flush()
        audit("speaker.booking_status", item.part.course, details=f"{item.module.title} : retiré", user=by)
