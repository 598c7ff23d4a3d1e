"""The bilan as a PDF: one closed course, one referring authority (ReportLab, DejaVu Sans)."""
from __future__ import annotations

import io
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stages.certificates.pdf import for_organization
from stages.pdf_fonts import BOLD, FONT, TABLE_FONT, stylesheet
from stages.pdf_pages import numbered_canvas
from stages.reports.bilans import DOCUMENT_OUTCOMES, BilanRow, Signatory
from stages.scheduling.models import Course
from stages.auth.models import Organization
from stages.timeutil import fr_date, fr_datetime, fr_time
from stages.wording import PARTNERS_LINE

STYLES = stylesheet()
NORMAL = STYLES["Normal"]
SMALL = ParagraphStyle("bilan-small", parent=NORMAL, fontSize=8, leading=10)
CELL = ParagraphStyle("bilan-cell", parent=NORMAL, fontSize=8.5, leading=10.5)
TITLE = ParagraphStyle("bilan-title", parent=STYLES["Title"], fontSize=15, leading=18, spaceAfter=4)
CONFIDENTIAL = (
    "Document confidentiel — données relatives à une mesure judiciaire, réservées au mandant "
    "destinataire.\n" + PARTNERS_LINE
)


def bilan_pdf(
    course: Course,
    authority: Organization,
    rows: list[BilanRow],
    summary: dict[str, int],
    generated_at: datetime,
    signatory: Signatory | None = None,
) -> bytes:
    """The bilan: header (course, venue, organizers, recipient), totals, one line per person
    (with the half-days missed and the measure's deadline), and who signs it."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
        topMargin=12 * mm, bottomMargin=16 * mm, title="Bilan de stage", author="Stages",
        invariant=1, initialFontName=FONT,
    )
    story = _header(course, authority, generated_at)
    story.append(_summary_table(summary))
    story.append(Spacer(1, 5 * mm))
    story.append(_people_table(rows))
    story += _summons_proofs(rows)
    story.append(Spacer(1, 6 * mm))
    story.append(_signature(course, signatory, generated_at))
    doc.build(story, canvasmaker=numbered_canvas(CONFIDENTIAL))
    return buffer.getvalue()


def _header(course: Course, authority: Organization, generated_at: datetime) -> list:
    zone = course.venue.timezone
    days = "; ".join(
        f"{fr_date(day)} ({', '.join(f'{fr_time(p.starts_at, zone)} – {fr_time(p.ends_at, zone)}' for p in parts)})"
        for day, parts in course.days
    )
    venue = course.venue
    organizers = ", ".join(o.name for o in course.organizations) or "—"
    return [
        Paragraph("Bilan du stage de sensibilisation à la lutte contre l'achat d'actes sexuels", TITLE),
        Paragraph(f"<b>Destinataire (mandant) :</b> {_escape(authority.name)}", NORMAL),
        Paragraph(f"<b>Stage :</b> {_escape(course.title)} — {_escape(days)}", NORMAL),
        Paragraph(
            f"<b>Lieu :</b> {_escape(venue.name)}"
            + (f", {_escape(venue.room)}" if venue.room else "")
            + f" — {_escape(venue.full_address)}",
            NORMAL,
        ),
        Paragraph(f"<b>Organisation :</b> {_escape(organizers)}", NORMAL),
        Paragraph(f"Édité le {fr_datetime(generated_at, zone)}.", SMALL),
        Spacer(1, 4 * mm),
    ]


def _summary_table(summary: dict[str, int]) -> Table:
    table = Table([list(summary.keys()), [str(v) for v in summary.values()]], hAlign="LEFT")
    table.setStyle(TableStyle([
        TABLE_FONT,
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
        ("FONTNAME", (0, 0), (-1, 0), BOLD),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("ALIGN", (0, 1), (-1, 1), "CENTER"),
    ]))
    return table


def _people_table(rows: list[BilanRow]) -> Table:
    head = ["Nom et prénoms", "Cadre", "N° de parquet", "Issue", "Échéance",
            "Demi-journées manquées", "Retards et départs", "Incidents", "Attestation"]
    data = [head]
    for row in rows:
        data.append([
            Paragraph(_escape(row.display_name), CELL),
            Paragraph(_escape(row.frame.label), CELL),
            Paragraph(_escape(row.case_reference), CELL),
            Paragraph(_escape(DOCUMENT_OUTCOMES[row.outcome]), CELL),
            Paragraph(fr_date(row.deadline, "short") or "—", CELL),
            Paragraph("<br/>".join(_escape(t) for t in row.missed) or "—", CELL),
            Paragraph("<br/>".join(_escape(t) for t in row.lateness + row.departures) or "—", CELL),
            Paragraph("<br/>".join(_escape(t) for t in row.incidents) or "—", CELL),
            Paragraph(_escape(row.certificate_number or "—"), CELL),
        ])
    if not rows:
        data.append([Paragraph("Aucune personne.", CELL)] + [""] * (len(head) - 1))
    widths = [38, 28, 28, 24, 22, 38, 33, 36, 26]  # 273 mm: landscape A4 within the margins
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(TableStyle([
        TABLE_FONT,
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
        ("FONTNAME", (0, 0), (-1, 0), BOLD),
        ("FONTSIZE", (0, 0), (-1, 0), 8.5),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _summons_proofs(rows: list[BilanRow]) -> list:
    """Per person, how the convocation was sent and what became of it: the mail server's
    acceptance (time, Message-ID) or refusal, a bounce, a registered letter and its avis de
    réception — what a no-show's prosecution rests on."""
    if not rows:
        return []
    story = [Spacer(1, 3 * mm), Paragraph("<b>Convocations : preuves d'envoi</b>", SMALL)]
    for row in rows:
        story.append(Paragraph(
            f"<b>{_escape(row.display_name)}</b> — " + " ; ".join(_escape(line) for line in row.summons), SMALL
        ))
    return story


def _signature(course: Course, signatory: Signatory | None, generated_at: datetime) -> KeepTogether:
    """« Fait à Paris, le 12 mars 2027 », then the signatory, their role and association."""
    zone = course.venue.timezone
    lines = [Paragraph(f"Fait à {_escape(course.venue.city)}, le {fr_date(generated_at, 'medium', zone)}.", NORMAL)]
    if signatory is None:
        lines.append(Paragraph("<b>Signataire :</b> —", NORMAL))
    else:
        on_behalf = for_organization(signatory.organization) + ", " if signatory.organization else ""
        on_behalf = on_behalf[:1].upper() + on_behalf[1:]
        lines += [
            Paragraph(f"<b>Signataire :</b> {_escape(on_behalf)}{_escape(signatory.name)}", NORMAL),
            Paragraph(_escape(signatory.role.capitalize()), NORMAL),
        ]
    lines.append(Paragraph("Signature :", SMALL))
    lines.append(Spacer(1, 18 * mm))  # room for a handwritten signature and a stamp
    return KeepTogether(lines)


def _escape(text: str | None) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
