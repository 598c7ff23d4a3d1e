"""The feuille d'émargement (sign-in sheet) as a PDF: one page per course day, more when the
people do not fit, and every page says which course, day and half-days it is for."""
from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    Frame,
    Image,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from stages.attendance.models import SignatureKind
from stages.attendance.signatures import SignedDay
from stages.attendance.services import PRESENT_STATUSES
from stages.enrollment.models import Enrollment
from stages.pdf_fonts import BOLD, FONT, TABLE_FONT, stylesheet
from stages.pdf_pages import numbered_canvas
from stages.scheduling.models import Course
from stages.scheduling.programme.queries import printed_programme
from stages.timeutil import fr_date, fr_half_day, fr_time

STYLES = stylesheet()
SMALL = ParagraphStyle("small", parent=STYLES["Normal"], fontSize=8, leading=10)
PAGE = landscape(A4)
MARGIN = 12 * mm
# Room above the frame for the running header drawn on every page.
HEADER = 16 * mm


def half_days_line(parts, zone: str) -> str:
    """« matin, 9 h 30 – 12 h 30 ; après-midi, 13 h 30 – 16 h 30 »: the half-days of one day."""
    return " ; ".join(
        f"{fr_half_day(p.starts_at, zone)}, {fr_time(p.starts_at, zone)} – {fr_time(p.ends_at, zone)}"
        for p in parts
    )


def roster_pdf(
    course: Course,
    enrollments: list[Enrollment],
    signed: SignedDay | None = None,
    notes: dict[int, str] | None = None,
) -> bytes:
    """A sign-in sheet: per day, one row per person, arrival/departure/signature per half-day.

    Only what a facilitator needs: names, no legal details. Each day has its own page template,
    whose running header names the course, the day and its half-days, so that a page reached by
    a long list still says what it is for. With ``signed`` (the émargement électronique), each
    cell shows the signature drawn on the tablet (or « Refus de signer », or the absence), the
    times recorded, and each half-day its countersignature and the SHA-256 of its record;
    without, the blank sheet to print and sign on paper. ``notes``: under a name, the person's
    language, interpreter and needs (``enrollment.needs.roster_notes``).
    """
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN,
        topMargin=MARGIN + HEADER, bottomMargin=MARGIN, title="Feuille d'émargement",
        author="Stages", invariant=1, initialFontName=FONT,
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="sheet")
    zone = course.venue.timezone
    days = course.days
    doc.addPageTemplates([
        PageTemplate(id=f"day-{index}", frames=[frame], onPage=_running_header(course, day, parts, zone))
        for index, (day, parts) in enumerate(days)
    ] or [PageTemplate(id="empty", frames=[frame])])
    story = []
    programme = dict((part.id, rows) for part, rows in printed_programme(course))
    for index, (day, parts) in enumerate(days):
        if index:
            story += [NextPageTemplate(f"day-{index}"), PageBreak()]
        story += _header(course)
        story.append(_table(parts, enrollments, zone, signed, notes or {}))
        story.append(Spacer(1, 6 * mm))
        sealed = signed is not None and any(signed.sheets.get(p.id) and signed.sheets[p.id].seal for p in parts)
        story.append(_seals_table(parts, signed, zone) if sealed else _facilitators_table(course))
        story += _programme(parts, programme, zone)
    if not story:
        story.append(Paragraph("Ce stage n'a aucune demi-journée.", STYLES["Normal"]))
    doc.build(story, canvasmaker=numbered_canvas("Feuille d'émargement"))
    return buffer.getvalue()


def _running_header(course, day, parts, zone):
    title = f"Feuille d'émargement — {course.title}"
    when = f"{fr_date(day).capitalize()} — {half_days_line(parts, zone)}"

    def draw(canvas, doc) -> None:
        canvas.saveState()
        top = PAGE[1] - MARGIN
        width = PAGE[0] - 2 * MARGIN
        canvas.setFont(BOLD, 12)
        canvas.drawString(MARGIN, top - 4 * mm, _fit(title, BOLD, 12, width))
        canvas.setFont(FONT, 10)
        canvas.drawString(MARGIN, top - 10 * mm, _fit(when, FONT, 10, width))
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, top - 13 * mm, PAGE[0] - MARGIN, top - 13 * mm)
        canvas.restoreState()

    return draw


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut with « … » where it would run off the page (a very long course title)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _header(course):
    venue = course.venue
    organizers = ", ".join(o.name for o in course.organizations)
    facilitators = ", ".join(u.full_name for u in course.facilitators) or "—"
    return [
        Paragraph(
            f"{_escape(venue.name)}"
            + (f", {_escape(venue.room)}" if venue.room else "")
            + f" — {_escape(venue.full_address)}",
            STYLES["Normal"],
        ),
        Paragraph(f"Organisation : {_escape(organizers)} — Intervenants : {_escape(facilitators)}", SMALL),
        Spacer(1, 4 * mm),
    ]


def _table(parts, enrollments, zone, signed: SignedDay | None, notes: dict[int, str]) -> Table:
    head_1 = ["N°", "Nom et prénom"]
    head_2 = ["", ""]
    for part in parts:
        label = (
            f"{fr_half_day(part.starts_at, zone).capitalize()}, "
            f"{fr_time(part.starts_at, zone)} – {fr_time(part.ends_at, zone)}"
        )
        head_1 += [label, "", ""]
        head_2 += ["Arrivée", "Départ", "Signature"]
    per_part = (277 - 10 - 70) / max(len(parts), 1)
    signature_box = (per_part * 0.56 - 2) * mm, 9.5 * mm
    rows = [head_1, head_2]
    for number, enrollment in enumerate(enrollments, start=1):
        person = enrollment.measure.participant
        cells = []
        for part in parts:
            cells += _signed_cells(enrollment, part, zone, signed, signature_box) if signed else ["", "", ""]
        name = _escape(person.display_name)
        if enrollment.id in notes:
            name += f'<br/><font size="7">{_escape(notes[enrollment.id])}</font>'
        rows.append([str(number), Paragraph(name, STYLES["Normal"])] + cells)
    for _ in range(2):  # spare lines for a late addition, written by hand
        rows.append([""] * (2 + 3 * len(parts)))
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


def _signed_cells(enrollment, part, zone, signed: SignedDay, box) -> list:
    """Arrival, departure and signature of one person for one half-day, as recorded."""
    mark = signed.marks.get((enrollment.id, part.id))
    sheet = signed.sheets.get(part.id)
    entry = sheet.live.get(enrollment.id) if sheet else None
    arrived = fr_time(mark.arrived_at, zone) if mark and mark.arrived_at else ""
    left = fr_time(mark.left_at, zone) if mark and mark.left_at else ""
    if entry is not None and entry.kind == SignatureKind.SIGNATURE and entry.id in signed.images:
        signature = _drawing(signed.images[entry.id], *box)
    elif entry is not None and entry.kind == SignatureKind.REFUSAL:
        signature = Paragraph("Refus de signer", SMALL)
    elif mark is not None and mark.status not in PRESENT_STATUSES:
        signature = Paragraph(_escape(mark.status.label), SMALL)
    else:
        signature = ""
    return [arrived, left, signature]


def _drawing(png: bytes, width: float, height: float) -> Image:
    """A signature's PNG scaled to fit its cell, keeping its proportions."""
    reader = ImageReader(io.BytesIO(png))
    w, h = reader.getSize()
    scale = min(width / w, height / h)
    return Image(io.BytesIO(png), width=w * scale, height=h * scale)


# The facilitators' table and the seals' table: a grid under a shaded heading row.
SIGNATURES_TABLE = TableStyle([
    TABLE_FONT,
    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
    ("FONTNAME", (0, 0), (-1, 0), BOLD),
    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
])


def _seals_table(parts, signed: SignedDay, zone) -> Table:
    """Each half-day's countersignature, and the SHA-256 that stands for its whole record."""
    rows = [["Demi-journée", "Contresignée par", "Signature", "Empreinte SHA-256 de la demi-journée"]]
    for part in parts:
        sheet = signed.sheets.get(part.id)
        seal = sheet.seal if sheet else None
        check = signed.checks.get(part.id)
        label = f"{fr_half_day(part.starts_at, zone).capitalize()}, {fr_time(part.starts_at, zone)}"
        if seal is None:
            rows.append([label, "Non contresignée", "", ""])
            continue
        verdict = (
            "Chaîne d'intégrité vérifiée à l'impression."
            if check and check.ok else "ALERTE : la chaîne d'intégrité ne se vérifie plus."
        )
        rows.append([
            label,
            Paragraph(f"{_escape(seal.recorded_by.full_name)}<br/>{fr_date(seal.signed_at, 'short', zone)} "
                      f"à {fr_time(seal.signed_at, zone)}", SMALL),
            _drawing(signed.images[seal.id], 55 * mm, 10 * mm) if seal.id in signed.images else "",
            Paragraph(f"<font size='7'>{check.head if check and check.ok else seal.chain_hash}</font>"
                      f"<br/>{verdict}", SMALL),
        ])
    table = Table(rows, colWidths=[45 * mm, 50 * mm, 60 * mm, 110 * mm], rowHeights=[None] + [13 * mm] * len(parts))
    table.setStyle(SIGNATURES_TABLE)
    return table


def _programme(parts, programme: dict[int, list[str]], zone) -> list:
    """The modules of the day's half-days, in order (issue 19)."""
    flow = []
    for part in parts:
        rows = programme.get(part.id) or []
        if rows:
            flow.append(Paragraph(
                f"<font name='{BOLD}'>Programme, {_escape(fr_half_day(part.starts_at, zone))} :</font> " + " ; ".join(_escape(r) for r in rows),
                SMALL,
            ))
    return ([Spacer(1, 4 * mm)] + flow) if flow else []


def _facilitators_table(course) -> Table:
    names = [u.full_name for u in course.facilitators] or ["", ""]
    rows = [["Intervenant", "Signature"]] + [[name, ""] for name in names]
    table = Table(rows, colWidths=[80 * mm, 80 * mm], rowHeights=[None] + [12 * mm] * len(names))
    table.setStyle(SIGNATURES_TABLE)
    return table


def _escape(text: str | None) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
