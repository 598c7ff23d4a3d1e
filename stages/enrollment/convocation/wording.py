"""What every convocation document says: the course, what absence leads to, dates, fees, contacts.

Shared by the letter (``letter``) and the emails (``emails``); no drawing and no sending here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from stages.auth.models import Role, User
from stages.enrollment.models import (
    Enrollment,
    LegalFrame,
    LegalMeasure,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.enrollment.frames import PEINE_STAGE_BASIS
from stages.enrollment.ledger.services import amount_due
from stages.enrollment.settings import letterhead
from stages.errors import DomainError
from stages.extensions import db
from stages.i18n import N_
from stages.scheduling.models import Course, Venue
from stages.auth.models import Organization
from stages.timeutil import fr_date, fr_time, to_local

COURSE = "stage de sensibilisation à la lutte contre l'achat d'actes sexuels"
# What an email calls it: a message is read over a shoulder, on a lock screen, by a mail
# provider; the subject never named it in full, the body no longer does either. The letter
# attached says it in full.
EMAIL_COURSE = "stage de sensibilisation"

# ---------------------------------------------------------------------------------------------
# What every document says


def sender_organization(enrollment: Enrollment) -> Organization | None:
    """The association that signs: the one handling the measure, else the first co-organizer."""
    handling = enrollment.measure.handling_organization
    if handling is not None:
        return handling
    organizations = enrollment.course.organizations
    return organizations[0] if organizations else None


def schedule_lines(course: Course) -> list[str]:
    """One French line per day: « jeudi 12 mars 2026, de 09 h 30 à 12 h 30 et de 13 h 30 à 16 h 30 »."""
    return day_lines([(p.starts_at, p.ends_at) for p in course.parts], course.venue.timezone)


def day_lines(spans: list[tuple[datetime, datetime]], zone: str) -> list[str]:
    """``schedule_lines`` of half-days given as (start, end): what a course was before a move."""
    days: dict[date, list[tuple[datetime, datetime]]] = {}
    for start, end in sorted(spans):
        days.setdefault(to_local(start, zone).date(), []).append((start, end))
    return [
        f"{fr_date(day)}, "
        + " et ".join(f"de {fr_time(start, zone)} à {fr_time(end, zone)}" for start, end in halves)
        for day, halves in days.items()
    ]


def _first_day(course: Course) -> str:
    if course.starts_at is None:
        return ""
    return fr_date(to_local(course.starts_at, course.venue.timezone).date())


def venue_line(venue: Venue) -> str:
    """« MJD du 17e, Salle 2, 16 rue Jacques Kellner, 75017 Paris »."""
    return ", ".join(item for item in (venue.name, venue.room, venue.full_address) if item)


def _euros(cents: int) -> str:
    # No-break spaces: an amount never wraps, in the letter as in the email.
    return f"{cents / 100:,.2f}".replace(",", "\u00a0").replace(".", ",") + "\u00a0€"


def fee_text(measure: LegalMeasure, organization: Organization | None) -> str | None:
    """What the person owes and how to pay, or None when the course is free: the amount left
    to pay is the ledger's (``ledger.services.amount_due``)."""
    if measure.fee_cents <= 0:
        return None
    amount = _euros(measure.fee_cents)
    if measure.payer == Payer.WAIVED or measure.payment_status == PaymentStatus.WAIVED:
        return "Les frais de stage ne sont pas à votre charge : vous n'avez rien à régler."
    if measure.payer == Payer.AUTHORITY:
        return (
            f"Les frais de stage ({amount}) sont pris en charge par l'autorité judiciaire qui a "
            f"ordonné le stage ({measure.authority.name}) : "
            "vous n'avez rien à régler."
        )
    due = amount_due(measure)
    if due <= 0:
        return f"Les frais de stage ({amount}) sont réglés : vous n'avez plus rien à payer."
    payee = organization.name if organization else "l'association organisatrice"
    how = letterhead(organization, with_logo=False).payment_instructions
    owed = (f"Les frais de stage, à votre charge, s'élèvent à {amount}. Ils sont à régler" if due == measure.fee_cents
            else f"Les frais de stage, à votre charge, s'élèvent à {amount}, dont {_euros(measure.fee_cents - due)} "
                 f"déjà réglés : il reste {_euros(due)} à régler")
    return (
        f"{owed} à {payee} au plus tard le premier jour du stage ; "
        + (f"modalités de paiement : {how}" if how else
           "contactez l'association (coordonnées en tête de ce courrier) pour connaître les "
           "moyens de paiement acceptés.")
    )


# Who may be named as the organizer to contact: staff who run courses, not facilitators.
_ORGANIZER_ROLES = (Role.ORGANIZER, Role.ADMIN)


@dataclass(frozen=True)
class Contact:
    """How the person summoned reaches someone about the course."""

    email: str | None
    phone: str | None
    # Who answers, when it is not the association itself, and why them.
    name: str | None = None
    capacity: str | None = None

    @property
    def through(self) -> str | None:
        """« Claire Martin, qui organise le stage », or None for the association itself."""
        return f"{self.name}, {self.capacity}" if self.name else None


def course_contact(enrollment: Enrollment, organization: Organization | None) -> Contact | None:
    """The association's email and phone; without either, those of the association that manages
    the venue; then the email of the organizer who created the course. None only when there is
    none of them (the letter then says « par courrier »)."""
    if organization is not None and (organization.email or organization.phone):
        return Contact(organization.email, organization.phone)
    course = enrollment.course
    manager = course.venue.owner
    if manager is not None and (manager.email or manager.phone):
        return Contact(manager.email, manager.phone, manager.name, N_("qui gère le lieu du stage"))
    # One course, one creator: a course's letters ask the identity map, not the database, again.
    organizer = db.session.get(User, course.created_by_id) if course.created_by_id else None
    if organizer is not None and organizer.active and organizer.role in _ORGANIZER_ROLES:
        return Contact(organizer.email, None, organizer.full_name, N_("qui organise le stage"))
    return None


def contact_text(contact: Contact | None) -> str:
    """« par courriel (…) ou par téléphone (…) », and who answers when not the association."""
    if contact is None:
        return "par courrier"
    ways = []
    if contact.email:
        ways.append(f"par courriel ({contact.email})")
    if contact.phone:
        ways.append(f"par téléphone ({contact.phone})")
    text = " ou ".join(ways)
    return f"{text}, auprès de {contact.through}" if contact.through else text


def how_to_reach(enrollment: Enrollment, organization: Organization | None) -> str:
    """:func:`contact_text` of the enrollment's :func:`course_contact`."""
    return contact_text(course_contact(enrollment, organization))


def new_date_text(enrollment: Enrollment, organization: Organization | None) -> str:
    """How to ask for another date: before the course, with a serious reason and a proof."""
    name = organization.name if organization else "l'association organisatrice"
    measure = enrollment.measure
    if measure.frame == LegalFrame.PEINE_STAGE:
        # The law sets this deadline, not the authority that referred the person.
        limit = (
            "le stage doit néanmoins être accompli dans le délai fixé par la loi, "
            f"{PEINE_STAGE_BASIS}, soit au plus tard le {fr_date(measure.deadline)}."
        )
    else:
        limit = f"elle ne repousse pas la date limite d'exécution du stage ({fr_date(measure.deadline)})."
    return (
        "Si un motif sérieux vous empêche de suivre le stage à ces dates (raison médicale, "
        f"obligation professionnelle impérieuse…), contactez {name} avant le stage, "
        f"{how_to_reach(enrollment, organization)}, en joignant un justificatif. Une nouvelle "
        f"date pourra vous être proposée ; {limit}"
    )


def _check_identity(participant: Participant) -> None:
    if participant.anonymized_at is not None:
        raise DomainError("Les données de cette personne ont été anonymisées.")

