"""The feuille d'émargement (sign-in sheet) as a PDF: one page per course day, more when the
people do not fit, and every page says which course, day and half-days it is for.

Drawn straight on the canvas, row by row: a sheet is a grid of fixed rows, and ReportLab's
flowing layout (Platypus tables and paragraphs) cost two thirds of the download's time for
nothing a grid needs (bench/README.md, « La feuille d'émargement »). ``_Sheet`` holds the one
piece of layout there is: a row that does not fit goes to a new page, under the day's running
header and the table's heading rows drawn again.
"""
from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from stages.attendance.models import SignatureKind
from stages.attendance.signatures import SignedDay
from stages.attendance.services import PRESENT_STATUSES
from stages.enrollment.models import Enrollment
from stages.pdf_fonts import BOLD, FONT
from stages.pdf_lines import split_lines
from stages.pdf_pages import numbered_canvas
from stages.scheduling.models import Course
from stages.scheduling.programme.queries import printed_programme
from stages.timeutil import fr_date, fr_half_day, fr_time

PAGE = landscape(A4)
MARGIN = 12 * mm
# Room above the content for the running header drawn on every page.
HEADER = 16 * mm
TOP = PAGE[1] - MARGIN - HEADER
BOTTOM = MARGIN + 6 * mm  # above the page number
WIDTH = PAGE[0] - 2 * MARGIN
PAD = 6  # points of space inside a cell, left and right (as a ReportLab table has)
SHADE = colors.HexColor("#e8edf5")
HEAD_ROW = 16  # points: a heading row of the tables (8-point bold and its padding)
PERSON_ROW = 11 * mm
NUMBER_WIDTH, NAME_WIDTH = 10 * mm, 70 * mm


def half_days_line(parts, zone: str) -> str:
    """« matin, 9 h 30 – 12 h 30 ; après-midi, 13 h 30 – 16 h 30 »: the half-days of one day."""
    return " ; ".join(_half_day(p, zone) for p in parts)


def _half_day(part, zone: str) -> str:
    """« matin, 9 h 30 – 12 h 30 »."""
    return f"{fr_half_day(part.starts_at, zone)}, {fr_time(part.starts_at, zone)} – {fr_time(part.ends_at, zone)}"


def roster_pdf(
    course: Course,
    enrollments: list[Enrollment],
    signed: SignedDay | None = None,
    notes: dict[int, str] | None = None,
) -> bytes:
    """A sign-in sheet: per day, one row per person, arrival/departure/signature per half-day.

    Only what a facilitator needs: names, no legal details. Every page of a day carries its
    running header, naming the course, the day and its half-days, so that a page reached by a
    long list still says what it is for. With ``signed`` (the émargement électronique), each
    cell shows the signature drawn on the tablet (or « Refus de signer », or the absence), the
    times recorded, and each half-day its countersignature and the SHA-256 of its record;
    without, the blank sheet to print and sign on paper. ``notes``: under a name, the person's
    language, interpreter and needs (``enrollment.needs.roster_notes``).
    """
    buffer = io.BytesIO()
    canvas = numbered_canvas("Feuille d'émargement")(
        buffer, pagesize=PAGE, invariant=1, initialFontName=FONT, initialFontSize=10
    )
    canvas.setTitle("Feuille d'émargement")
    canvas.setAuthor("Stages")
    zone = course.venue.timezone
    programme = {part.id: rows for part, rows in printed_programme(course)}
    sheet = _Sheet(canvas, course.title)
    days = course.days
    for index, (day, parts) in enumerate(days):
        if index:
            canvas.showPage()
        sheet.start_day(f"{fr_date(day).capitalize()} — {half_days_line(parts, zone)}")
        _heading(sheet, course)
        _people(sheet, parts, enrollments, zone, signed, notes or {})
        sheet.skip(6 * mm)
        sealed = signed is not None and any(signed.sheets.get(p.id) and signed.sheets[p.id].seal for p in parts)
        if sealed:
            _seals(sheet, parts, signed, zone)
        else:
            _facilitators(sheet, course)
        _programme(sheet, parts, programme, zone)
    if not days:
        sheet.lines(0, WIDTH, [("Ce stage n'a aucune demi-journée.", FONT, 10)])
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


Line = tuple[str, str, float]  # text, font, size


class _Sheet:
    """A cursor going down the pages: ``y`` is where the next row starts."""

    def __init__(self, canvas, title: str):
        self.canvas = canvas
        self.title = f"Feuille d'émargement — {title}"
        self.when = ""
        self.y = TOP
        self.repeat = None  # draws the table's heading rows again on a new page

    def start_day(self, when: str) -> None:
        self.when, self.repeat = when, None
        self._running_header()

    def _running_header(self) -> None:
        canvas, top = self.canvas, PAGE[1] - MARGIN
        canvas.setFillColor(colors.black)
        canvas.setFont(BOLD, 12)
        canvas.drawString(MARGIN, top - 4 * mm, _fit(self.title, BOLD, 12, WIDTH))
        canvas.setFont(FONT, 10)
        canvas.drawString(MARGIN, top - 10 * mm, _fit(self.when, FONT, 10, WIDTH))
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, top - 13 * mm, PAGE[0] - MARGIN, top - 13 * mm)
        self.y = TOP

    def room_for(self, height: float) -> None:
        """Go to a new page of the same day unless ``height`` fits under ``y``."""
        if self.y - height >= BOTTOM or self.y == TOP:
            return
        self.canvas.showPage()
        self._running_header()
        if self.repeat is not None:
            self.repeat()

    def skip(self, height: float) -> None:
        self.y -= height

    def lines(self, x: float, width: float, lines: list[Line]) -> None:
        """Paragraph-like text from the left edge of the content, wrapped to ``width``."""
        for text, font, size in lines:
            for line in split_lines(text, font, size, width):
                self.room_for(size + 2)
                self.y -= size + 2
                self.canvas.setFont(font, size)
                self.canvas.drawString(MARGIN + x, self.y + 2, line)

    def row(self, widths: list[float], cells: list, height: float, *,
            shade=False, centred=False, left=0.0) -> None:
        """One row of a grid: each cell a list of lines, an image ``(reader, width, height)``,
        or nothing; lines and pictures centred up and down, lines also across with ``centred``.
        The row is ``height`` high, or higher where a cell's wrapped lines need it."""
        cells = [_wrap(cell, width) if isinstance(cell, list) else cell for width, cell in zip(widths, cells)]
        height = max([height] + [_height(cell) for cell in cells if isinstance(cell, list)])
        self.room_for(height)
        canvas, bottom = self.canvas, self.y - height
        x = MARGIN + left
        if shade:
            canvas.setFillColor(SHADE)
            canvas.rect(x, bottom, sum(widths), height, stroke=0, fill=1)
        canvas.setFillColor(colors.black)
        canvas.setLineWidth(0.5)
        for width, cell in zip(widths, cells):
            canvas.rect(x, bottom, width, height, stroke=1, fill=0)
            if isinstance(cell, tuple):
                reader, w, h = cell
                canvas.drawImage(reader, x + PAD, bottom + (height - h) / 2, w, h, mask="auto")
            elif cell:
                _draw_lines(canvas, cell, x, width, bottom, height, centred=centred)
            x += width
        self.y = bottom


def _wrap(cell: list[Line], width: float) -> list[Line]:
    """The lines of a cell cut to fit inside its padding."""
    return [(line, font, size) for text, font, size in cell
            for line in split_lines(text, font, size, width - 2 * PAD)]


def _height(wrapped: list[Line]) -> float:
    """The height wrapped lines take in a cell, with its padding."""
    return 6 + _block(wrapped)


def _block(wrapped: list[Line]) -> float:
    """The height of the lines themselves."""
    return sum(size + 2 for _, _, size in wrapped)


def _draw_lines(canvas, wrapped: list[Line], x: float, width: float, bottom: float, height: float,
                *, centred: bool) -> None:
    y = bottom + (height + _block(wrapped)) / 2
    for line, font, size in wrapped:
        y -= size + 2
        canvas.setFont(font, size)
        if centred:
            canvas.drawCentredString(x + width / 2, y + 2.5, line)
        else:
            canvas.drawString(x + PAD, y + 2.5, line)


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut with « … » where it would run off the page (a very long course title)."""
    if stringWidth(text, font, size) <= width:
        return text
    while text and stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _heading(sheet: _Sheet, course: Course) -> None:
    """The venue, the organizations and the facilitators, under the running header."""
    venue = course.venue
    organizers = ", ".join(o.name for o in course.organizations)
    facilitators = ", ".join(u.full_name for u in course.facilitators) or "—"
    place = venue.name + (f", {venue.room}" if venue.room else "") + f" — {venue.full_address}"
    sheet.lines(PAD, WIDTH - 2 * PAD, [
        (place, FONT, 10),
        (f"Organisation : {organizers} — Intervenants : {facilitators}", FONT, 8),
    ])
    sheet.skip(4 * mm)


def _people(sheet: _Sheet, parts, enrollments, zone, signed: SignedDay | None, notes: dict[int, str]) -> None:
    """The grid: two heading rows (repeated on each page of the day), one row per person, two
    spare rows for a late addition written by hand."""
    per_part = (WIDTH - NUMBER_WIDTH - NAME_WIDTH) / max(len(parts), 1)
    times, signature = per_part * 0.22, per_part * 0.56
    widths = [NUMBER_WIDTH, NAME_WIDTH] + [times, times, signature] * len(parts)
    box = signature - 2 * PAD, 9.5 * mm

    def heading_rows() -> None:
        bold = [("N°", BOLD, 8)], [("Nom et prénom", BOLD, 8)]
        spans = [NUMBER_WIDTH, NAME_WIDTH] + [per_part] * len(parts)
        top = sheet.y
        sheet.row(spans, ["", ""] + [[(_half_day(p, zone).capitalize(), BOLD, 8)] for p in parts],
                  HEAD_ROW, shade=True, centred=True)
        sheet.row(widths, ["", ""] + [[(t, BOLD, 8)] for t in ("Arrivée", "Départ", "Signature")] * len(parts),
                  HEAD_ROW, shade=True, centred=True)
        # « N° » and « Nom et prénom » span both heading rows.
        canvas, x = sheet.canvas, MARGIN
        for width, label in zip((NUMBER_WIDTH, NAME_WIDTH), bold):
            canvas.setFillColor(SHADE)
            canvas.rect(x, sheet.y, width, top - sheet.y, stroke=1, fill=1)
            canvas.setFillColor(colors.black)
            _draw_lines(canvas, _wrap(label, width), x, width, sheet.y, top - sheet.y, centred=True)
            x += width

    sheet.room_for(2 * HEAD_ROW + PERSON_ROW)
    heading_rows()
    sheet.repeat = heading_rows
    live = {p.id: signed.sheets[p.id].live for p in parts if signed.sheets.get(p.id)} if signed else {}
    for number, enrollment in enumerate(enrollments, start=1):
        name = [(enrollment.measure.participant.display_name, FONT, 10)]
        if enrollment.id in notes:
            name.append((notes[enrollment.id], FONT, 7))
        cells = [[(str(number), FONT, 10)], name]
        for part in parts:
            cells += _signed_cells(enrollment, part, zone, signed, live.get(part.id, {}), box) if signed else ["", "", ""]
        sheet.row(widths, cells, PERSON_ROW)
    for _ in range(2):
        sheet.row(widths, [""] * len(widths), PERSON_ROW)
    sheet.repeat = None


def _signed_cells(enrollment, part, zone, signed: SignedDay, live: dict, box) -> list:
    """Arrival, departure and signature of one person for one half-day, as recorded."""
    mark = signed.marks.get((enrollment.id, part.id))
    entry = live.get(enrollment.id)
    arrived = [(fr_time(mark.arrived_at, zone), FONT, 10)] if mark and mark.arrived_at else ""
    left = [(fr_time(mark.left_at, zone), FONT, 10)] if mark and mark.left_at else ""
    if entry is not None and entry.kind == SignatureKind.SIGNATURE and entry.id in signed.images:
        signature = _drawing(signed.images[entry.id], *box)
    elif entry is not None and entry.kind == SignatureKind.REFUSAL:
        signature = [("Refus de signer", FONT, 8)]
    elif mark is not None and mark.status not in PRESENT_STATUSES:
        signature = [(mark.status.label, FONT, 8)]
    else:
        signature = ""
    return [arrived, left, signature]


def _drawing(png: bytes, width: float, height: float) -> tuple:
    """A signature's PNG scaled to fit its box, keeping its proportions."""
    reader = ImageReader(io.BytesIO(png))
    w, h = reader.getSize()
    scale = min(width / w, height / h)
    return reader, w * scale, h * scale


def _seals(sheet: _Sheet, parts, signed: SignedDay, zone) -> None:
    """Each half-day's countersignature, and the SHA-256 that stands for its whole record."""
    widths = [45 * mm, 50 * mm, 60 * mm, 110 * mm]
    sheet.room_for(HEAD_ROW + 13 * mm * len(parts))
    heading = ("Demi-journée", "Contresignée par", "Signature", "Empreinte SHA-256 de la demi-journée")
    sheet.row(widths, [[(text, BOLD, 10)] for text in heading], HEAD_ROW + 3, shade=True)
    for part in parts:
        sheet_ = signed.sheets.get(part.id)
        seal = sheet_.seal if sheet_ else None
        check = signed.checks.get(part.id)
        label = [(f"{fr_half_day(part.starts_at, zone).capitalize()}, {fr_time(part.starts_at, zone)}", FONT, 10)]
        if seal is None:
            sheet.row(widths, [label, [("Non contresignée", FONT, 10)], "", ""], 13 * mm)
            continue
        verdict = (
            "Chaîne d'intégrité vérifiée à l'impression."
            if check and check.ok else "ALERTE : la chaîne d'intégrité ne se vérifie plus."
        )
        by = [(seal.recorded_by.full_name, FONT, 8),
              (f"{fr_date(seal.signed_at, 'short', zone)} à {fr_time(seal.signed_at, zone)}", FONT, 8)]
        drawing = _drawing(signed.images[seal.id], 55 * mm, 10 * mm) if seal.id in signed.images else ""
        digest = [(check.head if check and check.ok else seal.chain_hash, FONT, 7), (verdict, FONT, 8)]
        sheet.row(widths, [label, by, drawing, digest], 13 * mm)


def _facilitators(sheet: _Sheet, course: Course) -> None:
    """A line for each facilitator to sign (two blank lines when none is named), centred."""
    names = [u.full_name for u in course.facilitators] or ["", ""]
    widths = [80 * mm, 80 * mm]
    left = (WIDTH - sum(widths)) / 2
    sheet.room_for(HEAD_ROW + 3 + 12 * mm * len(names))
    sheet.row(widths, [[("Intervenant", BOLD, 10)], [("Signature", BOLD, 10)]], HEAD_ROW + 3, shade=True, left=left)
    for name in names:
        sheet.row(widths, [[(name, FONT, 10)] if name else "", ""], 12 * mm, left=left)


def _programme(sheet: _Sheet, parts, programme: dict[int, list[str]], zone) -> None:
    """The modules of the day's half-days, in order (issue 19): a bold label, then the list."""
    rows = [(part, programme.get(part.id)) for part in parts if programme.get(part.id)]
    if rows:
        sheet.skip(4 * mm)
    for part, items in rows:
        label = f"Programme, {fr_half_day(part.starts_at, zone)} : "
        # Single spaces, so that the first line is the start of the text and the rest follows it.
        text = " ".join(" ; ".join(items).split())
        indent = stringWidth(label, BOLD, 8)
        first = split_lines(text, FONT, 8, WIDTH - 2 * PAD - indent)[0]
        sheet.room_for(10)
        sheet.skip(10)
        canvas = sheet.canvas
        canvas.setFont(BOLD, 8)
        canvas.drawString(MARGIN + PAD, sheet.y + 2, label)
        canvas.setFont(FONT, 8)
        canvas.drawString(MARGIN + PAD + indent, sheet.y + 2, first)
        remaining = text[len(first):].lstrip()
        if remaining:
            sheet.lines(PAD, WIDTH - 2 * PAD, [(remaining, FONT, 8)])
