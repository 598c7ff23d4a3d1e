"""The convocation letter as a PDF: one enrollment's letter, or a course's letters to print."""
from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import date
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.platypus import (
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from stages.enrollment.convocation.wording import (
    COURSE,
    _check_identity,
    course_contact,
    fee_text,
    new_date_text,
    sender_organization,
)
from stages.enrollment.confirmation.links import link_url, summons_codes
from stages.enrollment.convocation.translation import (
    FRENCH_NOTICE,
    Translation,
    convocation_translation,
)
from stages.enrollment.frames import (
    CRIMINAL_RECORD,
    PEINE_STAGE_BASIS,
    absence_consequence,
    frame_title,
)
from stages.enrollment.models import SEAT_HOLDING_STATUSES, Enrollment, LegalFrame
from stages.enrollment.letter_texts import current_texts, version_line
from stages.enrollment.settings import letterhead
from stages.errors import DomainError
from stages.i18n import language_label
from stages.pdf_bidi import rtl_paragraph
from stages.pdf_fonts import BOLD, FONT, TABLE_FONT
from stages.timeutil import fr_date, fr_time, to_local, today_local
from stages.wording import PARTNERS_LINE


# ---------------------------------------------------------------------------------------------
# The letter (PDF)


_BASE = ParagraphStyle("base", fontName=FONT, fontSize=9.5, leading=12.5, spaceAfter=3)
_SMALL = ParagraphStyle("small", parent=_BASE, fontSize=9, leading=11.5, spaceAfter=0)
_RIGHT = ParagraphStyle("right", parent=_BASE, alignment=TA_RIGHT)
_HEADING = ParagraphStyle(
    "heading", parent=_BASE, fontName=BOLD, spaceBefore=4, spaceAfter=1
)
_SIGNATURE = ParagraphStyle("signature", parent=_BASE, leftIndent=9 * cm)
_FOOTER = "Document personnel — à présenter, avec une pièce d'identité, le premier jour du stage."
_NO_PADDING = [
    TABLE_FONT,
    ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
]
# French puts a (no-break) space before these marks: never let a line start with one.
_FRENCH_SPACING = re.compile(r" ([;:!?»])|(«) ")


def _text(value: str | None) -> str:
    """Paragraph markup for user data: escaped, line breaks kept."""
    return escape(value or "").replace("\n", "<br/>")


def _para(markup: str, style: ParagraphStyle = _BASE) -> Paragraph:
    """A paragraph whose French spaces before « ; : ! ? » and inside guillemets never break."""
    return Paragraph(_FRENCH_SPACING.sub(_no_break, markup), style)


def _no_break(match: re.Match) -> str:
    return f"\u00a0{match[1]}" if match[1] else f"{match[2]}\u00a0"


def _nowrap(text: str) -> str:
    """Keep « jeudi 12 mars 2026 » or « 09 h 30 » on one line."""
    return text.replace(" ", "\u00a0")


def convocation_pdf(enrollment: Enrollment, *, issued_on: date | None = None) -> bytes:
    """The convocation letter of one enrollment, as PDF bytes (same data, same bytes)."""
    return _render(_letter(enrollment, issued_on, _check_codes([enrollment])[enrollment.id]))


def course_convocations_pdf(enrollments: Iterable[Enrollment]) -> bytes:
    """Several letters in one PDF to print, each starting on a new page."""
    story = []
    enrollments = list(enrollments)
    codes = _check_codes(enrollments)
    for enrollment in enrollments:
        if story:
            story.append(PageBreak())
        story.extend(_letter(enrollment, None, codes[enrollment.id]))
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
        initialFontName=FONT,
    )
    document.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def _footer(canvas, document) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 7.5)
    canvas.setFillColor(colors.grey)
    lines = [_FOOTER, *simpleSplit(PARTNERS_LINE, FONT, 7.5, document.width)]
    for index, line in enumerate(lines):
        canvas.drawString(document.leftMargin, (1.4 - 0.32 * index) * cm, line)
    canvas.restoreState()


def _check_codes(enrollments: list[Enrollment]) -> dict[int, str]:
    """The confirmation page's codes of letters that can be drawn (checked before any link is
    made: a refused letter leaves no link behind)."""
    for enrollment in enrollments:
        _check_letter(enrollment)
    return summons_codes(enrollments)


def _check_letter(enrollment: Enrollment) -> None:
    _check_identity(enrollment.measure.participant)
    if enrollment.status not in SEAT_HOLDING_STATUSES:
        raise DomainError("Seule une personne qui a une place dans le stage peut être convoquée.")
    if not enrollment.course.parts:
        raise DomainError("Ce stage n'a encore aucune demi-journée.")


def _letter(enrollment: Enrollment, issued_on: date | None, code: str) -> list:
    """The flowables of one letter; ``code``: its confirmation page's."""
    measure, course = enrollment.measure, enrollment.course
    participant, venue = measure.participant, course.venue
    _check_letter(enrollment)
    organization = sender_organization(enrollment)
    signed_by = _text(organization.name) if organization else "l'association organisatrice"
    if issued_on is None:
        # A re-download carries the date it was sent, so the copy matches what the person holds.
        sent = enrollment.convocation_sent_at
        issued_on = to_local(sent, venue.timezone).date() if sent else today_local(venue.timezone)

    head = letterhead(organization)  # the association's « Paramètres »
    texts = current_texts(organization)  # its own paragraphs, by version

    def _own(slot: str) -> list:
        text = texts[slot].text if slot in texts else ""
        return [_para(_text(line)) for line in text.splitlines() if line.strip()]

    sender = [f"<b>{signed_by}</b>"]
    if head.letterhead:
        sender.append(_text(head.letterhead))
    if organization and organization.address:
        sender.append(_text(organization.address))
    # The association's email and phone, or whoever answers for it when it has neither.
    contact = course_contact(enrollment, organization)
    if contact is not None:
        if contact.name:
            sender.append("Contact : " + _text(contact.name))
        if contact.email:
            sender.append(_text(contact.email))
        if contact.phone:
            sender.append("Tél. : " + _text(contact.phone))
    recipient = [f"<b>{_text(participant.surname.upper())}</b> {_text(participant.first_names)}"]
    if participant.address:
        recipient.append(_text(participant.address))
    if participant.postal_code or participant.city:
        recipient.append(_text(" ".join(x for x in (participant.postal_code, participant.city) if x)))
    birth = ""
    if participant.birth_date:
        birth = fr_date(participant.birth_date, "medium")
        if participant.birth_place:
            birth += " à " + participant.birth_place
    deadline = fr_date(measure.deadline)
    if measure.frame == LegalFrame.PEINE_STAGE:
        deadline += f" — délai légal : {PEINE_STAGE_BASIS}"
    # « Mandant »: the parquets' own word for who referred the person (the letter is copied to it).
    identity = [
        ("Personne convoquée", f"{participant.surname.upper()} {participant.first_names}"),
        ("Date et lieu de naissance", birth or "—"),
        ("Cadre", frame_title(measure)),
        ("Mandant", measure.authority.name),
        ("N° de parquet", measure.case_reference),
        ("Stage à accomplir avant le", deadline),
    ]
    days = [
        f"<b>{_nowrap(fr_date(day))}</b>, "
        + " et ".join(
            f"de {_nowrap(fr_time(p.starts_at, venue.timezone))} à "
            f"{_nowrap(fr_time(p.ends_at, venue.timezone))}"
            for p in parts
        )
        for day, parts in course.days
    ]
    place = [f"<b>{_text(venue.name)}</b>" + (f", {_text(venue.room)}" if venue.room else "")]
    place.append(_text(venue.full_address))
    if venue.access_instructions:
        place.append("Accès : " + _text(venue.access_instructions))
    if venue.accessibility:
        place.append("Accessibilité : " + _text(venue.accessibility))

    sender_cell = [_para("<br/>".join(sender), _SMALL)]
    if head.logo:
        sender_cell.insert(0, _logo(head.logo))
    story = [
        Table(
            [[sender_cell, [Spacer(0, 1.2 * cm), _para("<br/>".join(recipient))]]],
            colWidths=[9 * cm, None],
            style=TableStyle(_NO_PADDING),
        ),
        Spacer(0, 0.5 * cm),
        _para(f"{_text(venue.city)}, le {fr_date(issued_on, 'medium')}", _RIGHT),
        Spacer(0, 0.3 * cm),
        _para(f"<b>Objet : convocation à un {COURSE}</b><br/>"
              f"Réf. : n° de parquet {_text(measure.case_reference)}"),
        Spacer(0, 0.2 * cm),
        _para("Madame, Monsieur,"),
        _para(
            f"Dans le cadre de la mesure rappelée ci-dessous, vous devez suivre un {COURSE}. "
            f"Nous vous convoquons au stage organisé par {signed_by}, aux dates et lieu suivants."
        ),
        *_own("welcome"),
        Table(
            [[_para(label, _SMALL), _para(_text(value), _SMALL)] for label, value in identity],
            colWidths=[4.6 * cm, None],
            style=TableStyle(
                [
                    TABLE_FONT,
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
        *_own("practical"),
        _confirmation(link_url(code)),
    ]
    fee = fee_text(measure, organization)
    if fee:
        story.append(_section("Frais de stage", [_text(fee)]))
    story += [
        _section(
            "Si vous ne vous présentez pas",
            ["Si vous ne vous présentez pas au stage, ou ne le suivez pas en entier, sans motif "
             f"reconnu, l'autorité judiciaire qui a ordonné le stage ({_text(measure.authority.name)}) "
             "en sera informée. "
             + _text(absence_consequence(measure))],
        ),
        _section("Casier judiciaire", [_text(CRIMINAL_RECORD[measure.frame])]),
        _section("Demander une autre date", [_text(new_date_text(enrollment, organization))]),
        *_own("closing"),
        KeepTogether(
            [
                _para("Nous vous prions d'agréer, Madame, Monsieur, l'expression de nos "
                      "salutations distinguées."),
                Spacer(0, 0.2 * cm),
                _para(f"Pour {signed_by},<br/>" + (
                    "<br/>".join(_text(x) for x in (head.signatory_name, head.signatory_title) if x)
                    if head.signatory_name else "le service des stages"), _SIGNATURE),
            ]
        ),
        Spacer(0, 0.4 * cm),
        _para(_text(version_line(texts)), _SMALL),
    ]
    translation = convocation_translation(enrollment)
    if translation is not None:
        # Said in French, in the letter that has legal force, before its translation follows.
        story.insert(-2, _para(
            f"Une traduction en {language_label(translation.lang).lower()} suit cette "
            "convocation, pour information : seule la version française fait foi.", _SMALL))
        story += [PageBreak(), *_translation(translation)]
    return story


# The width of the page's text (A4 less the 2 cm margins and the frame's 6 pt paddings):
# right-to-left lines are cut to it.
_WIDTH = A4[0] - 4 * cm - 12


def _translation(translation: Translation) -> list:
    """The flowables of the letter's translation, after the French (right to left in Arabic)."""

    def para(text: str, style: ParagraphStyle = _BASE) -> Paragraph:
        if translation.rtl:
            return rtl_paragraph(text, style, _WIDTH)
        return Paragraph(_text(text), style)

    story = [
        _para(f"<b>{FRENCH_NOTICE}</b>", _SMALL),
        Spacer(0, 0.3 * cm),
        para(f"{translation.title} ({translation.language_name})", _HEADING),
        para(translation.notice, _HEADING),
        Spacer(0, 0.2 * cm),
    ]
    for heading, paragraphs in translation.sections:
        flowables = [para(heading, _HEADING)] if heading else []
        flowables += [para(p) for p in paragraphs]
        story.append(KeepTogether(flowables))
    return story


def _confirmation(url: str) -> Table:
    """The short link and QR code of the person's confirmation page."""
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False, boost_error=False).save(buffer, kind="png", scale=4, border=1)
    qr = Image(io.BytesIO(buffer.getvalue()), width=2 * cm, height=2 * cm)
    text = _para(
        "<b>Confirmez votre présence</b>, ou demandez une autre date, sans compte ni mot de passe : "
        f"scannez ce code QR ou saisissez l'adresse <b>{_text(url)}</b> (elle vous est "
        "personnelle : ne la communiquez pas)."
    )
    return Table([[qr, text]], colWidths=[2.4 * cm, None],
                 style=TableStyle(_NO_PADDING + [("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                                                 ("TOPPADDING", (0, 0), (-1, -1), 3)]))


def _logo(data: bytes) -> Image:
    """The association's logo, at most 4 × 2 cm, its proportions kept."""
    width, height = ImageReader(io.BytesIO(data)).getSize()
    scale = min(4 * cm / width, 2 * cm / height)
    return Image(io.BytesIO(data), width=width * scale, height=height * scale, hAlign="LEFT")


def _section(title: str, paragraphs: list[str]) -> KeepTogether:
    """A bold heading kept on the same page as its text."""
    return KeepTogether([_para(title, _HEADING)] + [_para(p) for p in paragraphs])
