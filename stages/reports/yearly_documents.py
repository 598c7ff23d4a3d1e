"""The yearly activity report as a PDF (ReportLab, charts drawn server-side from the statistics
page's bar geometry) and as a CSV (formula-safe, French Excel)."""
from __future__ import annotations

import io

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stages.pdf_fonts import BOLD, FONT, TABLE_FONT, stylesheet
from stages.pdf_pages import numbered_canvas
from stages.reports.bilans import OUTCOME_STATUSES
from stages.reports.charts import Chart, bar_chart, percent
from stages.reports.yearly import FrameFigures, YearlyReport
from stages.spreadsheets import csv_bytes
from stages.timeutil import fr_date, fr_datetime
from stages.wording import PARTNERS_LINE

STYLES = stylesheet()
NORMAL = STYLES["Normal"]
SMALL = ParagraphStyle("yearly-small", parent=NORMAL, fontSize=8, leading=10)
TITLE = ParagraphStyle("yearly-title", parent=STYLES["Title"], fontSize=15, leading=18, spaceAfter=4)
HEADING = ParagraphStyle("yearly-heading", parent=STYLES["Heading2"], fontSize=12, leading=15)
BAR_COLOUR = colors.HexColor("#2f5d8a")

# The table's rows: (label, how to read the figure off a frame's figures).
FIGURES = (
    ("Mesures reçues", lambda f: f.referred),
    ("Personnes convoquées", lambda f: f.summoned),
    *[(f"Issue : {status.label}", lambda f, s=status: f.outcomes[s]) for status in OUTCOME_STATUSES],
    ("Stages effectués (attestation)", lambda f: f.completed),
    ("Mesures non exécutées (renvoyées)", lambda f: f.withdrawn),
    ("En cours au 31 décembre", lambda f: f.pending),
    ("Taux de présence", lambda f: percent(f.attendance_rate)),
    ("Taux de réalisation", lambda f: percent(f.completion_rate)),
)
FRAME_SHORT = {
    "alternative_poursuites": "Alternative",
    "composition_penale": "Composition",
    "stage_contravention": "Contravention",
    "peine_stage": "Peine de stage",
    "sursis_probatoire": "Sursis prob.",
}
DEFINITIONS = (
    "Stages tenus : stages commencés dans l'année où au moins une personne a été présente. "
    "Mesures reçues : mesures enregistrées dans l'année. Personnes convoquées : convocation "
    "envoyée dans l'année. Issues, attestations et taux : stages de l'année, état connu au "
    "1er février suivant. Mesures non exécutées : mesures renvoyées à l'autorité dans l'année. "
    "En cours : mesures ni closes ni accomplies au 31 décembre. Taux de présence : personnes "
    "présentes à tout le stage sur personnes ayant une issue ; taux de réalisation : attestations "
    "sur personnes ayant une issue."
)


def report_title(report: YearlyReport) -> str:
    return f"Rapport d'activité {report.year} — {report.organization.name}"


def _frame_label(figures: FrameFigures) -> str:
    return FRAME_SHORT[figures.frame.value] if figures.frame else "Ensemble"


def yearly_pdf(report: YearlyReport) -> bytes:
    """The report: who and when, the key figures, the table per legal frame, two charts."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
        bottomMargin=18 * mm, title=report_title(report), author="Stages", invariant=1,
        initialFontName=FONT,
    )
    kind = "autorité prescriptrice" if report.is_authority else "association"
    story = [
        Paragraph(_escape(report_title(report)), TITLE),
        Paragraph(f"Stages de sensibilisation à la lutte contre l'achat d'actes sexuels — {kind}.", NORMAL),
        Paragraph(
            f"Année civile {report.year}. Édité le {fr_datetime(report.generated_at)} ; issues "
            f"et attestations arrêtées au {fr_date(report.known_at)}."
            + (" <b>Rapport provisoire</b> : l'année n'est pas encore arrêtée." if report.provisional else ""),
            SMALL,
        ),
        Spacer(1, 4 * mm),
        _key_figures(report),
        Spacer(1, 4 * mm),
        Paragraph("Activité par cadre légal", HEADING),
        _frames_table(report),
        Spacer(1, 2 * mm),
        Paragraph(_escape(DEFINITIONS), SMALL),
        Spacer(1, 4 * mm),
        KeepTogether([
            Paragraph("Stages tenus par mois", HEADING),
            _drawing(bar_chart("mois", "Stages tenus par mois", report.courses_per_month)),
        ]),
        *[KeepTogether([Paragraph(_escape(section.title), HEADING), _section_table(section)])
          for section in report.sections],
        KeepTogether([
            Paragraph("Issues des stages de l'année", HEADING),
            _drawing(bar_chart("issues", "Issues", [
                (status.label, report.total.outcomes[status]) for status in OUTCOME_STATUSES
            ])),
        ]),
    ]
    doc.build(story, canvasmaker=numbered_canvas(PARTNERS_LINE))
    return buffer.getvalue()


def _key_figures(report: YearlyReport) -> Table:
    total = report.total
    head = ["Stages tenus", "Mesures reçues", "Convoquées", "Stages effectués", "Taux de présence",
            "Taux de réalisation"]
    values = [report.courses_held, total.referred, total.summoned, total.completed,
              percent(total.attendance_rate), percent(total.completion_rate)]
    return _styled(Table([head, [str(v) for v in values]], hAlign="LEFT"))


def _frames_table(report: YearlyReport) -> Table:
    columns = [*report.frames, report.total]
    data = [[""] + [_frame_label(f) for f in columns]]
    for label, read in FIGURES:
        data.append([label] + [str(read(f)) for f in columns])
    return _styled(Table(data, hAlign="LEFT", repeatRows=1), first_column=True)


def _section_table(section) -> Table:
    """A section added by another module: its lines, label and value."""
    table = Table([[label, str(value)] for label, value in section.lines], hAlign="LEFT")
    table.setStyle(TableStyle([
        TABLE_FONT,
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
    ]))
    return table


def _styled(table: Table, first_column: bool = False) -> Table:
    style = [
        TABLE_FONT,
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
        ("FONTNAME", (0, 0), (-1, 0), BOLD),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("ALIGN", (1 if first_column else 0, 1), (-1, -1), "RIGHT"),
    ]
    if first_column:
        style.append(("FONTNAME", (0, 1), (0, -1), BOLD))
    table.setStyle(TableStyle(style))
    return table


def _drawing(chart: Chart, scale: float = 0.75) -> Drawing:
    """The statistics page's bar chart (same geometry) as a ReportLab drawing."""
    width, height = chart.width * scale, chart.height * scale
    drawing = Drawing(width, height)
    for bar in chart.bars:
        y = height - (bar.y + Chart.BAR) * scale
        drawing.add(String(0, y + 3, bar.label[:48], fontName=FONT, fontSize=7.5))
        x = chart.label_width * scale
        if bar.width:
            drawing.add(Rect(x, y, bar.width * scale, Chart.BAR * scale, fillColor=BAR_COLOUR,
                             strokeColor=None))
        drawing.add(String(x + bar.width * scale + 4, y + 3, bar.text, fontName=FONT, fontSize=7.5))
    return drawing


def yearly_csv(report: YearlyReport) -> bytes:
    """One line per figure, one column per legal frame and the total (formula-safe)."""
    columns = [*report.frames, report.total]
    header = ["Indicateur", *[f.label for f in columns]]
    rows = [["Stages tenus", *[""] * len(report.frames), report.courses_held]]
    for label, read in FIGURES:
        rows.append([label, *[read(f) for f in columns]])
    for month, count in report.courses_per_month:
        rows.append([f"Stages tenus en {month}", *[""] * len(report.frames), count])
    for section in report.sections:
        for label, value in section.lines:
            rows.append([f"{section.title} : {label}", *[""] * len(report.frames), value])
    return csv_bytes(header, rows)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
