"""Convocations: the summons letter (PDF), its email with a calendar invitation, and sending them.

A convocation tells a person when and where to attend, what to bring, what the course costs, what
happens if they do not come (which depends on their legal frame) and how to ask for another date.
It goes by email (letter + ``.ics`` invitation) or, for people without an address, by post.

State follows what really happened: the enrollment becomes « convoqué·e » only after the mail
server has accepted the message, and a failure leaves it « à convoquer ». Services flush; the
caller commits — after each email, since a sent email cannot be rolled back.
"""
from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from xml.sax.saxutils import escape

import sqlalchemy as sa
from flask import current_app
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy.orm import selectinload

from stages.auth.models import User
from stages.calendar_feeds.ical import DEFAULT_ZONE, build_invitation, default_uid_domain
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.enrollment.services import change_enrollment_status
from stages.errors import DomainError
from stages.extensions import db
from stages.mail import MailError, build_message, send_email, sender_address
from stages.scheduling.models import CourseSession, Organization, SessionStatus
from stages.timeutil import fr_date, fr_time, now_utc, to_local, today_local

COURSE = "stage de sensibilisation à la lutte contre l'achat d'actes sexuels"
# Calendar apps copy events to third-party servers: a neutral title, nothing about the person.
EVENT_SUMMARY = "Stage de sensibilisation"

# Enrollments that may be summoned; SUMMONED again means a re-send.
SUMMONABLE_STATUSES = (EnrollmentStatus.ENROLLED, EnrollmentStatus.CONFIRMED, EnrollmentStatus.SUMMONED)
# Enrollments whose calendar invitation must be withdrawn when the session is cancelled.
CANCELLABLE_STATUSES = (
    EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED,
    EnrollmentStatus.ABSENT_EXCUSED,
)
# People still expected at the session: the ones whose letters are printed.
EXPECTED_STATUSES = (EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED)

# What not attending leads to, per frame (DOMAIN.md, « if not attended »).
CONSEQUENCES = {
    LegalFrame.ALTERNATIVE_POURSUITES: (
        "Le procureur de la République pourra alors mettre en œuvre une composition pénale ou "
        "engager des poursuites pénales à votre encontre."
    ),
    LegalFrame.COMPOSITION_PENALE: (
        "La composition pénale n'étant pas exécutée, le procureur de la République pourra alors "
        "engager des poursuites pénales à votre encontre."
    ),
    LegalFrame.ORDONNANCE_PENALE: (
        "Le stage étant une peine prononcée par ordonnance pénale, ne pas l'accomplir vous "
        "exposera à de nouvelles poursuites pénales."
    ),
    LegalFrame.PEINE_STAGE: (
        "Le juge de l'application des peines pourra alors faire exécuter, en tout ou partie, la "
        "peine d'emprisonnement ou d'amende prévue par le tribunal."
    ),
    LegalFrame.SURSIS_PROBATOIRE: (
        "Le juge de l'application des peines pourra alors révoquer tout ou partie du sursis : "
        "vous devriez exécuter la peine d'emprisonnement prononcée."
    ),
}


# ---------------------------------------------------------------------------------------------
# What every document says


def sender_organization(enrollment: Enrollment) -> Organization | None:
    """The association that signs: the one handling the measure, else the first co-organizer."""
    handling = enrollment.measure.handling_organization
    if handling is not None:
        return handling
    organizations = enrollment.session.organizations
    return organizations[0] if organizations else None


def letter_date(day: date, fmt: str = "long") -> str:
    """``fr_date`` as a letter writes it: « dimanche 1er mars 2026 », not « 1 mars »."""
    text = fr_date(day, fmt)
    if day.day == 1:
        text = re.sub(r"(^|\s)1 ", r"\g<1>1er ", text, count=1)
    return text


def schedule_lines(session: CourseSession) -> list[str]:
    """One French line per day: « jeudi 12 mars 2026, de 09 h 30 à 12 h 30 et de 13 h 30 à 16 h 30 »."""
    zone = session.venue.timezone
    return [
        f"{letter_date(day)}, "
        + " et ".join(f"de {fr_time(p.starts_at, zone)} à {fr_time(p.ends_at, zone)}" for p in parts)
        for day, parts in session.days
    ]


def _first_day(session: CourseSession) -> str:
    if session.starts_at is None:
        return ""
    return letter_date(to_local(session.starts_at, session.venue.timezone).date())


def _venue_line(session: CourseSession) -> str:
    venue = session.venue
    return ", ".join(item for item in (venue.name, venue.room, venue.full_address) if item)


def _euros(cents: int) -> str:
    # A no-break space that the PDF's standard fonts hold (the narrow one is not in WinAnsi).
    return f"{cents / 100:,.2f}".replace(",", "\u00a0").replace(".", ",") + "\u00a0€"


def fee_text(measure: LegalMeasure, organization: Organization | None) -> str | None:
    """What the person owes and how to pay, or None when the course is free."""
    if measure.fee_cents <= 0:
        return None
    amount = _euros(measure.fee_cents)
    if measure.payer == Payer.WAIVED or measure.payment_status == PaymentStatus.WAIVED:
        return "Vous êtes dispensé·e des frais de stage : vous n'avez rien à régler."
    if measure.payer == Payer.AUTHORITY:
        return (
            f"Les frais de stage ({amount}) sont pris en charge par l'autorité prescriptrice : "
            "vous n'avez rien à régler."
        )
    if measure.payment_status == PaymentStatus.PAID:
        return f"Les frais de stage ({amount}) sont réglés : vous n'avez plus rien à payer."
    payee = organization.name if organization else "l'association organisatrice"
    return (
        f"Les frais de stage, à votre charge, s'élèvent à {amount}. Ils sont à régler à {payee} "
        "au plus tard le premier jour du stage ; contactez l'association (coordonnées en tête "
        "de ce courrier) pour connaître les moyens de paiement acceptés."
    )


def _contact(organization: Organization | None) -> str:
    """« par courriel (…) ou par téléphone (…) », from what the association has on file."""
    ways = []
    if organization and organization.email:
        ways.append(f"par courriel ({organization.email})")
    if organization and organization.phone:
        ways.append(f"par téléphone ({organization.phone})")
    return " ou ".join(ways) if ways else "par courrier"


def new_date_text(enrollment: Enrollment, organization: Organization | None) -> str:
    """How to ask for another date: before the session, with a serious reason and a proof."""
    name = organization.name if organization else "l'association organisatrice"
    return (
        "Si un motif sérieux vous empêche d'être présent·e à ces dates (raison médicale, "
        f"obligation professionnelle impérieuse…), contactez {name} avant le stage, "
        f"{_contact(organization)}, en joignant un justificatif. Une nouvelle date pourra vous "
        "être proposée ; elle ne repousse pas la date limite fixée par l'autorité prescriptrice "
        f"({letter_date(enrollment.measure.deadline)})."
    )


def _check_identity(participant: Participant) -> None:
    if participant.anonymized_at is not None:
        raise DomainError("Les données de cette personne ont été anonymisées.")


# ---------------------------------------------------------------------------------------------
# The letter (PDF)


_BASE = ParagraphStyle("base", fontName="Helvetica", fontSize=9.5, leading=12.5, spaceAfter=3)
_SMALL = ParagraphStyle("small", parent=_BASE, fontSize=9, leading=11.5, spaceAfter=0)
_RIGHT = ParagraphStyle("right", parent=_BASE, alignment=TA_RIGHT)
_HEADING = ParagraphStyle(
    "heading", parent=_BASE, fontName="Helvetica-Bold", spaceBefore=4, spaceAfter=1
)
_SIGNATURE = ParagraphStyle("signature", parent=_BASE, leftIndent=9 * cm)
_FOOTER = "Document personnel — à présenter, avec une pièce d'identité, le premier jour du stage."
_NO_PADDING = [
    ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
]
# French puts a (no-break) space before these marks: never let a line start with one.
_FRENCH_SPACING = re.compile(r" ([;:!?»])|(«) ")


def _text(value: str | None) -> str:
    """Paragraph markup for user data: escaped, line breaks kept, WinAnsi-safe."""
    return escape(_winansi(value or "")).replace("\n", "<br/>")


def _para(markup: str, style: ParagraphStyle = _BASE) -> Paragraph:
    """A paragraph whose French spaces before « ; : ! ? » and inside guillemets never break."""
    return Paragraph(_FRENCH_SPACING.sub(_no_break, markup), style)


def _no_break(match: re.Match) -> str:
    return f"\u00a0{match[1]}" if match[1] else f"{match[2]}\u00a0"


def _nowrap(text: str) -> str:
    """Keep « jeudi 12 mars 2026 » or « 09 h 30 » on one line."""
    return text.replace(" ", "\u00a0")


def _winansi(text: str) -> str:
    """Letters the standard PDF fonts lack lose their accent (« Ş » → « S ») rather than print ■.

    Helvetica is limited to WinAnsi (cp1252), which covers French; a name such as « Łukasz »
    would otherwise show a black square on an official letter.
    """
    out = []
    for char in text:
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            char = _WINANSI_FALLBACK.get(char, base)
            try:
                char.encode("cp1252")
            except UnicodeEncodeError:
                char = "?"
        out.append(char)
    return "".join(out)


_WINANSI_FALLBACK = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "ı": "i", "\u202f": "\u00a0"}


def convocation_pdf(enrollment: Enrollment, *, issued_on: date | None = None) -> bytes:
    """The convocation letter of one enrollment, as PDF bytes (same data, same bytes)."""
    return _render(_letter(enrollment, issued_on))


def session_convocations_pdf(enrollments: Iterable[Enrollment]) -> bytes:
    """Several letters in one PDF to print, each starting on a new page."""
    story = []
    for enrollment in enrollments:
        if story:
            story.append(PageBreak())
        story.extend(_letter(enrollment, None))
    if not story:
        raise DomainError("Aucune convocation à imprimer pour ce stage.")
    return _render(story)


def _render(story: list) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.8 * cm,
        # Metadata is readable by anyone holding the file: no name, no case reference.
        title="Convocation",
        subject=COURSE[0].upper() + COURSE[1:],
        author="Stages",
        creator="Stages",
        lang="fr-FR",
        # Fixed creation date and document id: the same data always gives the same bytes.
        invariant=True,
    )
    document.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def _footer(canvas, document) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 7.5)
    canvas.setFillColor(colors.grey)
    canvas.drawString(document.leftMargin, 1.1 * cm, _FOOTER)
    canvas.restoreState()


def _letter(enrollment: Enrollment, issued_on: date | None) -> list:
    """The flowables of one letter."""
    measure, session = enrollment.measure, enrollment.session
    participant, venue = measure.participant, session.venue
    _check_identity(participant)
    if enrollment.status not in SEAT_HOLDING_STATUSES:
        raise DomainError("Seule une personne qui a une place dans le stage peut être convoquée.")
    if not session.parts:
        raise DomainError("Ce stage n'a encore aucune demi-journée.")
    organization = sender_organization(enrollment)
    signed_by = _text(organization.name) if organization else "l'association organisatrice"
    if issued_on is None:
        # A re-download carries the date it was sent, so the copy matches what the person holds.
        sent = enrollment.convocation_sent_at
        issued_on = to_local(sent, venue.timezone).date() if sent else today_local(venue.timezone)

    sender = [f"<b>{signed_by}</b>"]
    if organization:
        sender += [_text(line) for line in (organization.address, organization.email) if line]
        if organization.phone:
            sender.append("Tél. : " + _text(organization.phone))
    recipient = [f"<b>{_text(participant.surname.upper())}</b> {_text(participant.first_names)}"]
    if participant.address:
        recipient.append(_text(participant.address))
    if participant.postal_code or participant.city:
        recipient.append(_text(" ".join(x for x in (participant.postal_code, participant.city) if x)))
    birth = ""
    if participant.birth_date:
        birth = letter_date(participant.birth_date, "medium")
        if participant.birth_place:
            birth += " à " + participant.birth_place
    identity = [
        ("Personne convoquée", f"{participant.surname.upper()} {participant.first_names}"),
        ("Date et lieu de naissance", birth or "—"),
        ("Cadre", measure.frame.label),
        ("Autorité prescriptrice", measure.authority.name),
        ("N° de parquet", measure.case_reference),
        ("Stage à accomplir avant le", letter_date(measure.deadline)),
    ]
    days = [
        f"<b>{_nowrap(letter_date(day))}</b>, "
        + " et ".join(
            f"de {_nowrap(fr_time(p.starts_at, venue.timezone))} à "
            f"{_nowrap(fr_time(p.ends_at, venue.timezone))}"
            for p in parts
        )
        for day, parts in session.days
    ]
    place = [f"<b>{_text(venue.name)}</b>" + (f", {_text(venue.room)}" if venue.room else "")]
    place.append(_text(venue.full_address))
    if venue.access_instructions:
        place.append("Accès : " + _text(venue.access_instructions))

    story = [
        Table(
            [[_para("<br/>".join(sender), _SMALL), [Spacer(0, 1.2 * cm), _para("<br/>".join(recipient))]]],
            colWidths=[9 * cm, None],
            style=TableStyle(_NO_PADDING),
        ),
        Spacer(0, 0.5 * cm),
        _para(f"{_text(venue.city)}, le {letter_date(issued_on, 'medium')}", _RIGHT),
        Spacer(0, 0.3 * cm),
        _para(f"<b>Objet : convocation à un {COURSE}</b><br/>"
              f"Réf. : n° de parquet {_text(measure.case_reference)}"),
        Spacer(0, 0.2 * cm),
        _para("Madame, Monsieur,"),
        _para(
            f"Dans le cadre de la mesure rappelée ci-dessous, vous devez suivre un {COURSE}. "
            f"Vous êtes convoqué·e au stage organisé par {signed_by}, aux dates et lieu suivants."
        ),
        Table(
            [[_para(label, _SMALL), _para(_text(value), _SMALL)] for label, value in identity],
            colWidths=[4.6 * cm, None],
            style=TableStyle(
                [
                    ("LINEBEFORE", (0, 0), (0, -1), 0.75, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
                ]
            ),
            hAlign="LEFT",
        ),
        _section(
            "Dates et horaires",
            ["<br/>".join(days),
             "Votre présence à chaque demi-journée est obligatoire : l'attestation de stage n'est "
             "délivrée que pour un stage suivi en entier. Présentez-vous un quart d'heure avant "
             "le début."],
        ),
        _section("Lieu", ["<br/>".join(place)]),
        _section(
            "À apporter",
            ["Une pièce d'identité en cours de validité (carte d'identité, passeport ou titre de "
             "séjour) et la présente convocation."],
        ),
    ]
    fee = fee_text(measure, organization)
    if fee:
        story.append(_section("Frais de stage", [_text(fee)]))
    story += [
        _section(
            "Si vous ne vous présentez pas",
            ["Si vous ne vous présentez pas au stage, ou ne le suivez pas en entier, sans motif "
             "reconnu, l'autorité prescriptrice en sera informée. "
             + _text(CONSEQUENCES[measure.frame])],
        ),
        _section("Demander une autre date", [_text(new_date_text(enrollment, organization))]),
        KeepTogether(
            [
                _para("Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos "
                      "salutations distinguées."),
                Spacer(0, 0.2 * cm),
                _para(f"Pour {signed_by},<br/>le service des stages", _SIGNATURE),
            ]
        ),
    ]
    return story


def _section(title: str, paragraphs: list[str]) -> KeepTogether:
    """A bold heading kept on the same page as its text."""
    return KeepTogether([_para(title, _HEADING)] + [_para(p) for p in paragraphs])


# ---------------------------------------------------------------------------------------------
# The emails


def _uid_domain() -> str:
    return default_uid_domain(current_app.config.get("ICAL_UID_DOMAIN"), current_app.config["BASE_URL"])


def _invitation(enrollment: Enrollment, method: str, sequence: int) -> bytes:
    organization = sender_organization(enrollment)
    session = enrollment.session
    description = [f"Convocation à un {COURSE}.", "Présence obligatoire à chaque demi-journée."]
    if session.venue.access_instructions:
        description.append(f"Accès : {session.venue.access_instructions}")
    if organization:
        description.append(f"Contact : {organization.name}, {_contact(organization)}.")
    if method == "CANCEL":
        description.insert(0, "Convocation annulée.")
    return build_invitation(
        session,
        method=method,
        uid_prefix=f"convocation-{enrollment.id}",
        uid_domain=_uid_domain(),
        organizer=sender_address(),
        organizer_name=organization.name if organization else None,
        attendee=enrollment.measure.participant.email,
        sequence=sequence,
        summary=EVENT_SUMMARY,
        description="\n".join(description),
        default_zone=current_app.config.get("TIMEZONE", DEFAULT_ZONE),
    )


def _greeting(participant: Participant) -> str:
    return f"Bonjour {participant.first_names} {participant.surname.upper()},"


def _signature(organization: Organization | None) -> str:
    if organization is None:
        return "Le service des stages de sensibilisation"
    lines = [organization.name, organization.address, organization.email, organization.phone]
    return "\n".join(line for line in lines if line)


def _with_reply_to(message: EmailMessage, organization: Organization | None) -> EmailMessage:
    # Replies reach the association, not the application's (often unattended) sender address.
    if organization and organization.email:
        message["Reply-To"] = organization.email
    return message


def convocation_email(enrollment: Enrollment, pdf: bytes) -> EmailMessage:
    """The convocation email: letter and calendar invitation attached, no name in the subject."""
    session, participant = enrollment.session, enrollment.measure.participant
    organization = sender_organization(enrollment)
    lines = [
        _greeting(participant),
        "",
        f"Vous trouverez ci-joint votre convocation à un {COURSE}. Il se déroulera :",
        *_when_and_where(session),
        "",
        "Votre présence à chaque demi-journée est obligatoire. Munissez-vous d'une pièce "
        "d'identité et de la convocation jointe (imprimée ou sur votre téléphone).",
        "Les conséquences d'une absence et les frais éventuels sont précisés dans la convocation.",
        "",
        "L'invitation jointe (invitation.ics) ajoute ces dates à votre agenda.",
        "",
        new_date_text(enrollment, organization),
        "",
        "Cordialement,",
        "",
        _signature(organization),
    ]
    message = build_message(
        participant.email,
        f"Convocation à un stage de sensibilisation — {_first_day(session)}",
        "\n".join(lines) + "\n",
        [("convocation.pdf", pdf, "application/pdf"), _invitation_attachment(enrollment)],
    )
    return _with_reply_to(message, organization)


def _when_and_where(session: CourseSession) -> list[str]:
    """The half-days, the venue and how to get in, as lines of an email."""
    lines = [*(f"- {line}" for line in schedule_lines(session)), "", f"Lieu : {_venue_line(session)}"]
    if session.venue.access_instructions:
        lines.append(f"Accès : {session.venue.access_instructions}")
    return lines


def _invitation_attachment(enrollment: Enrollment) -> tuple[str, bytes, str]:
    """The calendar invitation (METHOD:REQUEST), the same in convocations and reminders."""
    return (
        "invitation.ics",
        _invitation(enrollment, "REQUEST", enrollment.session.ical_sequence),
        "text/calendar; method=REQUEST; charset=UTF-8",
    )


def reminder_email(enrollment: Enrollment, days: int) -> EmailMessage:
    """A short reminder with the same calendar invitation as the convocation."""
    session, participant = enrollment.session, enrollment.measure.participant
    organization = sender_organization(enrollment)
    when = "demain" if days == 1 else f"dans {days} jours"
    lines = [
        _greeting(participant),
        "",
        f"Nous vous rappelons que votre stage de sensibilisation a lieu {when} :",
        *_when_and_where(session),
        "",
        "Votre présence à chaque demi-journée est obligatoire. Munissez-vous d'une pièce d'identité.",
        "",
        new_date_text(enrollment, organization),
        "",
        "Cordialement,",
        "",
        _signature(organization),
    ]
    message = build_message(
        participant.email,
        f"Rappel : stage de sensibilisation — {_first_day(session)}",
        "\n".join(lines) + "\n",
        [_invitation_attachment(enrollment)],
    )
    return _with_reply_to(message, organization)


def cancellation_email(enrollment: Enrollment) -> EmailMessage:
    """The email withdrawing a convocation: a METHOD:CANCEL invitation with the same UIDs."""
    session, participant = enrollment.session, enrollment.measure.participant
    organization = sender_organization(enrollment)
    contact_name = organization.name if organization else "l'association organisatrice"
    reason = (
        "Ce stage est annulé."
        if session.status == SessionStatus.CANCELLED
        else "Votre inscription à ce stage a pris fin."
    )
    lines = [
        _greeting(participant),
        "",
        f"La convocation qui vous a été adressée pour le {COURSE} du {_first_day(session)} "
        f"({session.venue.name}) est annulée. {reason} Vous n'avez pas à vous présenter à cette "
        "date.",
        "",
        "Si vous devez toujours accomplir ce stage, une nouvelle convocation vous sera adressée.",
        "L'invitation jointe (invitation.ics) retire ces dates de votre agenda.",
        "",
        f"Pour toute question, contactez {contact_name}, {_contact(organization)}.",
        "",
        "Cordialement,",
        "",
        _signature(organization),
    ]
    message = build_message(
        participant.email,
        f"Annulation de convocation — stage du {_first_day(session)}",
        "\n".join(lines) + "\n",
        [
            (
                "invitation.ics",
                # Above any SEQUENCE already sent for these UIDs, so calendars apply it.
                _invitation(enrollment, "CANCEL", session.ical_sequence + 1),
                "text/calendar; method=CANCEL; charset=UTF-8",
            )
        ],
    )
    return _with_reply_to(message, organization)


# ---------------------------------------------------------------------------------------------
# Services


def _check_summonable(enrollment: Enrollment) -> None:
    _check_identity(enrollment.measure.participant)
    if enrollment.status not in SUMMONABLE_STATUSES:
        raise DomainError(
            f"Une inscription « {enrollment.status.label.lower()} » ne reçoit pas de convocation."
        )
    _check_session(enrollment.session)


def _check_session(session: CourseSession) -> None:
    # A draft may still move or vanish, and a past session needs no summons.
    if session.status != SessionStatus.SCHEDULED:
        raise DomainError("Seul un stage programmé peut faire l'objet de convocations.")
    if session.ends_at is None or session.ends_at <= now_utc():
        raise DomainError("Ce stage est terminé : il n'y a plus lieu de convoquer.")


def _mark_summoned(enrollment: Enrollment, *, by: User | None, first: str, again: str) -> None:
    note = again if enrollment.status == EnrollmentStatus.SUMMONED else first
    enrollment.convocation_sent_at = now_utc()
    # SUMMONED → SUMMONED is an allowed transition: a re-send keeps the status, logs the event.
    change_enrollment_status(enrollment, EnrollmentStatus.SUMMONED, by=by, note=note)


def send_convocation(enrollment: Enrollment, *, by: User | None) -> None:
    """Email the convocation, then mark the enrollment « convoqué·e » (MailError: nothing marked)."""
    _check_summonable(enrollment)
    participant = enrollment.measure.participant
    if not participant.email:
        raise DomainError(
            "Cette personne n'a pas d'adresse électronique : imprimez la convocation (PDF), "
            "envoyez-la par courrier puis indiquez « convoqué·e par courrier »."
        )
    session = enrollment.session
    issued_on = today_local(session.venue.timezone)
    message = convocation_email(enrollment, convocation_pdf(enrollment, issued_on=issued_on))
    send_email(message)  # a MailError propagates before anything is recorded
    _mark_summoned(
        enrollment, by=by,
        first="Convocation envoyée par courriel", again="Convocation renvoyée par courriel",
    )


def mark_summoned_by_post(enrollment: Enrollment, *, by: User | None) -> None:
    """Record that the printed convocation was posted (for people without an email address)."""
    _check_summonable(enrollment)
    _mark_summoned(
        enrollment, by=by,
        first="Convocation envoyée par courrier", again="Convocation renvoyée par courrier",
    )


@dataclass
class ConvocationSummary:
    """What « send all » did: sent, left to print (no address), failed (still to send)."""

    sent: list[Enrollment] = field(default_factory=list)
    without_email: list[Enrollment] = field(default_factory=list)
    failed: list[Enrollment] = field(default_factory=list)

    def message(self) -> str:
        """« 9 convocations envoyées, 2 personnes sans adresse électronique (…), 0 échec »."""
        sent, missing, failed = len(self.sent), len(self.without_email), len(self.failed)
        # French puts 0 and 1 in the singular.
        parts = [
            f"{sent} convocation envoyée" if sent <= 1 else f"{sent} convocations envoyées",
            (f"{missing} personne" if missing <= 1 else f"{missing} personnes")
            + " sans adresse électronique (convocation à imprimer)",
            f"{failed} échec" if failed <= 1 else f"{failed} échecs",
        ]
        return ", ".join(parts) + "."


def due_convocations(session: CourseSession) -> list[Enrollment]:
    """Seated people not summoned yet (« inscrit·e »), by name."""
    return _enrollments(session, (EnrollmentStatus.ENROLLED,))


def expected_enrollments(session: CourseSession) -> list[Enrollment]:
    """People still expected at the session (enrolled, summoned, confirmed), by name."""
    return _enrollments(session, EXPECTED_STATUSES)


def _enrollments(session: CourseSession, statuses) -> list[Enrollment]:
    return list(
        db.session.scalars(
            sa.select(Enrollment)
            .join(Enrollment.measure)
            .join(LegalMeasure.participant)
            .where(Enrollment.session_id == session.id, Enrollment.status.in_(statuses))
            .options(
                selectinload(Enrollment.measure).selectinload(LegalMeasure.participant),
                selectinload(Enrollment.measure).selectinload(LegalMeasure.authority),
                selectinload(Enrollment.measure).selectinload(LegalMeasure.handling_organization),
            )
            .order_by(Participant.search_key, Enrollment.id)
        )
    )


def send_session_convocations(
    session: CourseSession,
    *,
    by: User | None,
    after_send: Callable[[Enrollment], None] | None = None,
) -> ConvocationSummary:
    """Email every due convocation of ``session``; one failure does not stop the others.

    ``after_send(enrollment)`` runs after each accepted email: the view commits there, so the
    database holds every email really sent even if a later one crashes the request.
    """
    _check_session(session)
    summary = ConvocationSummary()
    for enrollment in due_convocations(session):
        if not enrollment.measure.participant.email:
            summary.without_email.append(enrollment)
            continue
        try:
            send_convocation(enrollment, by=by)
        except (MailError, DomainError):
            summary.failed.append(enrollment)
            continue
        summary.sent.append(enrollment)
        if after_send is not None:
            after_send(enrollment)
    return summary


def send_cancellation(enrollment: Enrollment, *, by: User | None = None) -> bool:
    """Withdraw an emailed convocation (METHOD:CANCEL); False when there is nothing to withdraw.

    Call it once the change that ends the convocation (withdrawal, report to another session,
    cancelled session) is committed. Raises ``MailError`` when the server refuses; the caller
    warns the user and goes on, the change itself stands.
    """
    participant = enrollment.measure.participant
    if (
        enrollment.convocation_sent_at is None
        or not participant.email
        or participant.anonymized_at is not None
    ):
        return False
    send_email(cancellation_email(enrollment))
    db.session.add(
        EnrollmentEvent(
            enrollment=enrollment,
            user_id=by.id if by else None,
            from_status=enrollment.status.value,
            to_status=enrollment.status.value,
            note="Annulation de la convocation envoyée par courriel",
        )
    )
    db.session.flush()
    return True


@dataclass
class CancellationSummary:
    """How many cancellations went out, and how many the mail server refused."""

    sent: int = 0
    failed: int = 0


def send_cancellations_for_session(
    session: CourseSession, *, by: User | None = None
) -> CancellationSummary:
    """Withdraw the convocations of everyone still expected at a session (it was cancelled)."""
    summary = CancellationSummary()
    for enrollment in _enrollments(session, CANCELLABLE_STATUSES):
        try:
            if send_cancellation(enrollment, by=by):
                summary.sent += 1
        except MailError:
            summary.failed += 1
    return summary
