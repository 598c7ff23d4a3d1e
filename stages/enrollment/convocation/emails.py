"""The convocation, reminder, update and cancellation emails, with their ``.ics`` invitation.

Each invitation built takes the next SEQUENCE of its enrollment's UIDs (``take_sequence``), so
calendar applications apply every one of them in the order sent.
"""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from flask import current_app

from stages.calendar_feeds.ical import DEFAULT_ZONE, build_invitation, default_uid_domain
from stages.enrollment.convocation.translation import email_lines
from stages.enrollment.convocation.wording import (
    EMAIL_COURSE,
    Contact,
    _first_day,
    contact_text,
    course_contact,
    how_to_reach,
    new_date_text,
    schedule_lines,
    sender_organization,
    venue_line,
)
from stages.enrollment.confirmation.links import summons_url
from stages.enrollment.models import Enrollment, InvitationUpdate
from stages.extensions import db
from stages.mail import build_message, sender_address
from stages.scheduling.models import Course, CourseStatus
from stages.auth.models import Organization

# Calendar apps copy events to third-party servers: a neutral title, nothing about the person.
EVENT_SUMMARY = "Stage de sensibilisation"


# ---------------------------------------------------------------------------------------------
# The emails


def _uid_domain() -> str:
    return default_uid_domain(current_app.config.get("ICAL_UID_DOMAIN"), current_app.config.get("BASE_URL") or "")


def take_sequence(enrollment: Enrollment) -> int:
    """The SEQUENCE for the next invitation of ``enrollment``, recorded on it (the caller's
    commit keeps it): above every one sent before for its UIDs, even when the enrollment row
    was reused, and never below the course's own. A send that fails leaves a gap, never a
    repeat."""
    sequence = enrollment.course.ical_sequence
    if enrollment.invitation_sequence is not None:
        sequence = max(sequence, enrollment.invitation_sequence + 1)
    enrollment.invitation_sequence = sequence
    return sequence


def _invitation(enrollment: Enrollment, method: str) -> bytes:
    organization = sender_organization(enrollment)
    course = enrollment.course
    description = [f"Convocation à un {EMAIL_COURSE}.", "Présence obligatoire à chaque demi-journée."]
    if course.venue.access_instructions:
        description.append(f"Accès : {course.venue.access_instructions}")
    if organization:
        description.append(f"Contact : {organization.name}, {how_to_reach(enrollment, organization)}.")
    if method == "CANCEL":
        description.insert(0, "Convocation annulée.")
    # Half-days removed by a move the person has not been told of yet: cancelled in their
    # calendar by whatever invitation reaches them first.
    update = db.session.get(InvitationUpdate, enrollment.id)
    withdrawn = [
        (part_id, datetime.fromisoformat(start), datetime.fromisoformat(end))
        for part_id, start, end in (update.withdrawn_parts if update else [])
    ]
    return build_invitation(
        course,
        method=method,
        uid_prefix=f"convocation-{enrollment.id}",
        uid_domain=_uid_domain(),
        organizer=sender_address(),
        organizer_name=organization.name if organization else None,
        attendee=enrollment.measure.participant.email,
        sequence=take_sequence(enrollment),
        summary=EVENT_SUMMARY,
        description="\n".join(description),
        withdrawn=withdrawn,
        default_zone=current_app.config.get("TIMEZONE", DEFAULT_ZONE),
    )


def _email(
    enrollment: Enrollment,
    organization: Organization | None,
    subject: str,
    body: list[str],
    attachments: list[tuple[str, bytes, str]],
    translation: list[str] | None = None,
) -> EmailMessage:
    """A letter to the participant: greeting, ``body``, the association's signature, and after
    it the ``translation`` of the body into the person's language, if any."""
    participant = enrollment.measure.participant
    contact = course_contact(enrollment, organization)
    lines = [
        f"Bonjour {participant.first_names} {participant.surname.upper()},",
        "",
        *body,
        "",
        "Cordialement,",
        "",
        _signature(organization, contact),
        *(translation or []),
    ]
    message = build_message(participant.email, subject, "\n".join(lines) + "\n", attachments)
    # Replies reach the association (or whoever answers for it), not the application's (often
    # unattended) sender address.
    if contact is not None and contact.email:
        message["Reply-To"] = contact.email
    return message


def _signature(organization: Organization | None, contact: Contact | None) -> str:
    lines = [organization.name, organization.address] if organization else ["Le service des stages de sensibilisation"]
    if contact is not None and contact.through:
        lines.append(f"Contact : {contact_text(contact)}")
    elif contact is not None:
        lines += [contact.email, contact.phone]
    return "\n".join(line for line in lines if line)


def convocation_email(enrollment: Enrollment, pdf: bytes, *, seat_freed: bool = False) -> EmailMessage:
    """The convocation email: letter and calendar invitation attached, no name in the subject.

    ``seat_freed``: the person was on the waitlist and a seat just freed up; the email says so.
    """
    course = enrollment.course
    organization = sender_organization(enrollment)
    opening = [
        "Une place s'est libérée dans le stage pour lequel vous étiez sur liste d'attente : "
        "vous y avez désormais une place.",
        "",
    ] if seat_freed else []
    body = [
        *opening,
        f"Vous trouverez ci-joint votre convocation à un {EMAIL_COURSE}. Il se déroulera :",
        *_when_and_where(course),
        "",
        "Votre présence à chaque demi-journée est obligatoire. Munissez-vous d'une pièce "
        "d'identité et de la convocation jointe (imprimée ou sur votre téléphone).",
        "Les conséquences d'une absence et les frais éventuels sont précisés dans la convocation.",
        "",
        "L'invitation jointe (invitation.ics) ajoute ces dates à votre agenda.",
        "",
        *_confirmation_lines(enrollment),
        new_date_text(enrollment, organization),
    ]
    subject = (
        f"Place libérée : convocation au stage de sensibilisation — {_first_day(course)}"
        if seat_freed else f"Convocation à un stage de sensibilisation — {_first_day(course)}"
    )
    return _email(
        enrollment, organization, subject, body,
        [("convocation.pdf", pdf, "application/pdf"), _invitation_attachment(enrollment)],
        translation=email_lines(enrollment, seat_freed=seat_freed),
    )


def _confirmation_lines(enrollment: Enrollment) -> list[str]:
    """The short link of the person's confirmation page (the same as on their letter)."""
    return [
        "Confirmez votre présence, ou demandez une autre date, sur la page de votre convocation "
        f"(sans compte ni mot de passe) : {summons_url(enrollment)}",
        "",
    ]


def _when_and_where(course: Course) -> list[str]:
    """The half-days, the venue and how to get in, as lines of an email."""
    lines = [*(f"- {line}" for line in schedule_lines(course)), "", f"Lieu : {venue_line(course.venue)}"]
    if course.venue.access_instructions:
        lines.append(f"Accès : {course.venue.access_instructions}")
    return lines


def _invitation_attachment(enrollment: Enrollment) -> tuple[str, bytes, str]:
    """The calendar invitation (METHOD:REQUEST), the same in convocations and reminders."""
    return (
        "invitation.ics",
        _invitation(enrollment, "REQUEST"),
        "text/calendar; method=REQUEST; charset=UTF-8",
    )


def reminder_email(enrollment: Enrollment, days: int) -> EmailMessage:
    """A short reminder, the course being ``days`` days away, with the convocation's invitation."""
    course = enrollment.course
    organization = sender_organization(enrollment)
    when = {0: "aujourd'hui", 1: "demain"}.get(days, f"dans {days} jours")
    body = [
        f"Nous vous rappelons que votre stage de sensibilisation a lieu {when} :",
        *_when_and_where(course),
        "",
        "Votre présence à chaque demi-journée est obligatoire. Munissez-vous d'une pièce d'identité.",
        "",
        *_confirmation_lines(enrollment),
        new_date_text(enrollment, organization),
    ]
    return _email(
        enrollment, organization,
        f"Rappel : stage de sensibilisation — {_first_day(course)}",
        body,
        [_invitation_attachment(enrollment)],
    )


def update_email(enrollment: Enrollment, update: InvitationUpdate, pdf: bytes) -> EmailMessage:
    """The email telling a person summoned that their course moved: before and now, the
    updated letter, and the invitation that moves the events already in their calendar."""
    course = enrollment.course
    organization = sender_organization(enrollment)
    now = schedule_lines(course)
    before = update.previous_days.splitlines()
    venue = venue_line(course.venue)
    body = [
        f"Le {EMAIL_COURSE} pour lequel vous avez reçu une convocation change de date, d'horaire ou de lieu.",
        "",
        *_before_and_now("Avant", before),
        *_before_and_now("Désormais", now),
        "",
        f"Lieu : {venue}"
        + ("" if venue == update.previous_venue else f" (auparavant : {update.previous_venue})"),
    ]
    if course.venue.access_instructions:
        body.append(f"Accès : {course.venue.access_instructions}")
    body += [
        "",
        "Votre présence à chaque demi-journée reste obligatoire. La convocation mise à jour est "
        "jointe (convocation.pdf) ; l'invitation jointe (invitation.ics) met à jour votre agenda.",
        "",
        *_confirmation_lines(enrollment),
        new_date_text(enrollment, organization),
    ]
    return _email(
        enrollment, organization,
        f"Modification de votre stage de sensibilisation — {_first_day(course)}",
        body,
        [("convocation.pdf", pdf, "application/pdf"), _invitation_attachment(enrollment)],
    )


def _before_and_now(label: str, lines: list[str]) -> list[str]:
    """« Avant : jeudi 12 mars 2026, de … » on one line, or a list when there are two days."""
    if len(lines) == 1:
        return [f"{label} : {lines[0]}"]
    return [f"{label} :", *(f"- {line}" for line in lines)]


def cancellation_email(enrollment: Enrollment) -> EmailMessage:
    """The email withdrawing a convocation: a METHOD:CANCEL invitation with the same UIDs."""
    course = enrollment.course
    organization = sender_organization(enrollment)
    contact_name = organization.name if organization else "l'association organisatrice"
    reason = (
        "Ce stage est annulé."
        if course.status == CourseStatus.CANCELLED
        else "Votre inscription à ce stage a pris fin."
    )
    body = [
        f"La convocation qui vous a été adressée pour le {EMAIL_COURSE} du {_first_day(course)} "
        f"({course.venue.name}) est annulée. {reason} Vous n'avez pas à vous présenter à cette "
        "date.",
        "",
        "Si vous devez toujours accomplir ce stage, une nouvelle convocation vous sera adressée.",
        "L'invitation jointe (invitation.ics) retire ces dates de votre agenda.",
        "",
        f"Pour toute question, contactez {contact_name}, {how_to_reach(enrollment, organization)}.",
    ]
    return _email(
        enrollment, organization,
        f"Annulation de convocation — stage du {_first_day(course)}",
        body,
        [
            (
                "invitation.ics",
                _invitation(enrollment, "CANCEL"),
                "text/calendar; method=CANCEL; charset=UTF-8",
            )
        ],
    )
