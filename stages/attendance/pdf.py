"""The feuille d'émargement (sign-in sheet) as a PDF: one page per course day."""
from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stages.enrollment.models import Enrollment
from stages.pdf_fonts import BOLD, FONT, TABLE_FONT, stylesheet
from stages.scheduling.models import Course
from stages.timeutil import fr_date, fr_time

STYLES = stylesheet()
SMALL = ParagraphStyle("small", parent=STYLES["Normal"], fontSize=8, leading=10)
TITLE = ParagraphStyle("title", parent=STYLES["Title"], fontSize=15, leading=18, spaceAfter=4)


def roster_pdf(course: Course, enrollments: list[Enrollment]) -> bytes:
    """A sign-in sheet: per day, one row per person, arrival/departure/signature per half-day.

    Only what a facilitator needs: names, no legal details.
    """
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
        topMargin=12 * mm, bottomMargin=12 * mm, title="Feuille d'émargement",
        author="Stages", invariant=1, initialFontName=FONT,
    )
    zone = course.venue.timezone
    story = []
    for index, (day, parts) in enumerate(course.days):
        if index:
            story.append(PageBreak())
        story += _header(course, day, zone)
        story.append(_table(parts, enrollments, zone))
        story.append(Spacer(1, 6 * mm))
        story.append(_facilitators_table(course))
    doc.build(story)
    return buffer.getvalue()


def _header(course, day, zone):
    venue = course.venue
    organizers = ", ".join(o.name for o in course.organizations)
    facilitators = ", ".join(u.full_name for u in course.facilitators) or "—"
    return [
        Paragraph("Feuille d'émargement", TITLE),
        Paragraph(f"<b>{_escape(course.title)}</b>", STYLES["Normal"]),
        Paragraph(
            f"{fr_date(day).capitalize()} — {_escape(venue.name)}"
            + (f", {_escape(venue.room)}" if venue.room else "")
            + f" — {_escape(venue.full_address)}",
            STYLES["Normal"],
        ),
        Paragraph(f"Organisation : {_escape(organizers)} — Intervenant·es : {_escape(facilitators)}", SMALL),
        Spacer(1, 4 * mm),
    ]


def _table(parts, enrollments, zone) -> Table:
    head_1 = ["N°", "Nom et prénom"]
    head_2 = ["", ""]
    for part in parts:
        head_1 += [f"{fr_time(part.starts_at, zone)} – {fr_time(part.ends_at, zone)}", "", ""]
        head_2 += ["Arrivée", "Départ", "Signature"]
    rows = [head_1, head_2]
    for number, enrollment in enumerate(enrollments, start=1):
        person = enrollment.measure.participant
        rows.append([str(number), Paragraph(_escape(person.display_name), STYLES["Normal"])] + ["", "", ""] * len(parts))
    for _ in range(2):  # spare lines for a late addition, written by hand
        rows.append([""] * (2 + 3 * len(parts)))
    per_part = (277 - 10 - 70) / max(len(parts), 1)
    widths = [10 * mm, 70 * mm] + [w * mm for _ in parts for w in (per_part * 0.22, per_part * 0.22, per_part * 0.56)]
    table = Table(rows, colWidths=widths, repeatRows=2, rowHeights=[None, None] + [11 * mm] * (len(rows) - 2))
    style = [
        TABLE_FONT,
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 1), colors.HexColor("#e8edf5")),
        ("FONTNAME", (0, 0), (-1, 1), BOLD),
        ("FONTSIZE", (0, 0), (-1, 1), 8),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (0, 0), (-1, 1), "CENTER"),
        ("SPAN", (0, 0), (0, 1)),
        ("SPAN", (1, 0), (1, 1)),
    ]
    for i in range(len(parts)):
        first = 2 + 3 * i
        style.append(("SPAN", (first, 0), (first + 2, 0)))
    table.setStyle(TableStyle(style))
    return table


def _facilitators_table(course) -> Table:
    names = [u.full_name for u in course.facilitators] or ["", ""]
    rows = [["Intervenant·e", "Signature"]] + [[name, ""] for name in names]
    table = Table(rows, colWidths=[80 * mm, 80 * mm], rowHeights=[None] + [12 * mm] * len(names))
    table.setStyle(TableStyle([
        TABLE_FONT,
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
        ("FONTNAME", (0, 0), (-1, 0), BOLD),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return table


def _escape(text: str | None) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
