"""The bilan as a PDF: one closed course, one referring authority (ReportLab, DejaVu Sans)."""
from __future__ import annotations

import io
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stages.pdf_fonts import BOLD, FONT, TABLE_FONT, stylesheet
from stages.reports.bilans import BilanRow
from stages.scheduling.models import Course
from stages.auth.models import Organization
from stages.timeutil import fr_date, fr_datetime, fr_time

STYLES = stylesheet()
NORMAL = STYLES["Normal"]
SMALL = ParagraphStyle("bilan-small", parent=NORMAL, fontSize=8, leading=10)
CELL = ParagraphStyle("bilan-cell", parent=NORMAL, fontSize=8.5, leading=10.5)
TITLE = ParagraphStyle("bilan-title", parent=STYLES["Title"], fontSize=15, leading=18, spaceAfter=4)
CONFIDENTIAL = (
    "Document confidentiel — données relatives à une mesure judiciaire, réservées à l'autorité "
    "prescriptrice destinataire."
)


def bilan_pdf(
    course: Course,
    authority: Organization,
    rows: list[BilanRow],
    summary: dict[str, int],
    generated_at: datetime,
) -> bytes:
    """The bilan: header (course, venue, organizers, recipient), totals, one line per person."""
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
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
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
        Paragraph(f"<b>Destinataire :</b> {_escape(authority.name)}", NORMAL),
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
    head = ["Nom et prénoms", "Cadre", "N° de parquet", "Issue", "Retards et départs",
            "Incidents", "Attestation"]
    data = [head]
    for row in rows:
        data.append([
            Paragraph(_escape(row.display_name), CELL),
            Paragraph(_escape(row.frame.label), CELL),
            Paragraph(_escape(row.case_reference), CELL),
            Paragraph(_escape(row.outcome.label), CELL),
            Paragraph("<br/>".join(_escape(t) for t in row.lateness + row.departures) or "—", CELL),
            Paragraph("<br/>".join(_escape(t) for t in row.incidents) or "—", CELL),
            Paragraph(_escape(row.certificate_number or "—"), CELL),
        ])
    if not rows:
        data.append([Paragraph("Aucune personne.", CELL)] + [""] * (len(head) - 1))
    widths = [52, 42, 30, 32, 45, 50, 22]  # 273 mm: landscape A4 within the margins
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


def _footer(canvas, doc) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 7.5)
    canvas.drawString(12 * mm, 8 * mm, CONFIDENTIAL)
    canvas.drawRightString(doc.pagesize[0] - 12 * mm, 8 * mm, f"Page {doc.page}")
    canvas.restoreState()


def _escape(text: str | None) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
