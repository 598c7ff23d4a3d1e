"""The rapport de non-exécution and the monthly summary as PDFs (ReportLab, DejaVu Sans), in
plain official French: nouns, no inclusive-writing dot."""
from __future__ import annotations

import io
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stages.auth.models import Organization
from stages.pdf_fonts import BOLD, FONT, TABLE_FONT, stylesheet
from stages.pdf_pages import numbered_canvas
from stages.reports.models import MonthlySummary
from stages.reports.monthly_summary import FIGURE_LABELS, FIGURES, PersonToActOn, month_label
from stages.reports.non_execution import ReportContent
from stages.reports.pdf import CONFIDENTIAL
from stages.timeutil import fr_date, fr_datetime

STYLES = stylesheet()
NORMAL = STYLES["Normal"]
SMALL = ParagraphStyle("nonexec-small", parent=NORMAL, fontSize=8.5, leading=11)
CELL = ParagraphStyle("nonexec-cell", parent=NORMAL, fontSize=8.5, leading=10.5)
TITLE = ParagraphStyle("nonexec-title", parent=STYLES["Title"], fontSize=15, leading=18, spaceAfter=4)
HEADING = ParagraphStyle("nonexec-heading", parent=NORMAL, fontName=BOLD, spaceBefore=6, spaceAfter=2)
GRID = [
    TABLE_FONT,
    ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
    ("FONTNAME", (0, 0), (-1, 0), BOLD),
    ("FONTSIZE", (0, 0), (-1, -1), 8.5),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
]


def _document(buffer: io.BytesIO, title: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm, topMargin=14 * mm,
        bottomMargin=18 * mm, title=title, author="Stages", invariant=1, initialFontName=FONT,
    )


def report_pdf(content: ReportContent, generated_at: datetime) -> bytes:
    """The report: the authority, the person, the measure, the reason, then each course with
    the proofs of its summons and each half-day missed."""
    measure, person = content.measure, content.participant
    buffer = io.BytesIO()
    doc = _document(buffer, "Rapport de non-exécution")
    anonymous = person.anonymized_at is not None
    identity = [
        ("Nom et prénoms", person.display_name),
        ("Date et lieu de naissance", "" if anonymous else
         " à ".join(x for x in (fr_date(person.birth_date, "short"), person.birth_place or "") if x)),
        ("Adresse", "" if anonymous else
         " ".join(x for x in (person.address, person.postal_code, person.city) if x)),
    ]
    measure_lines = [
        ("Cadre", measure.frame.label),
        ("N° de parquet", measure.case_reference),
        ("Date de la décision", fr_date(measure.decision_date)),
        ("Date limite d'exécution", fr_date(content.report.deadline)),
    ]
    story = [
        Paragraph("Rapport de non-exécution d'un stage de sensibilisation à la lutte contre "
                  "l'achat d'actes sexuels", TITLE),
        Paragraph(f"<b>Destinataire (mandant) :</b> {_escape(content.authority.name)}", NORMAL),
        Paragraph(f"Rapport n° {content.report.id}, édité le {fr_datetime(generated_at)}.", SMALL),
        Paragraph("Personne", HEADING), _pairs(identity),
        Paragraph("Mesure", HEADING), _pairs(measure_lines),
        Paragraph("Motif de la non-exécution", HEADING),
        Paragraph(f"<b>{_escape(content.report.reason.label)}.</b> {_escape(content.reason_sentence)}", NORMAL),
    ]
    if measure.withdrawal_reason:
        story.append(Paragraph(f"Motif du renvoi indiqué par l'association : {_escape(measure.withdrawal_reason)}", NORMAL))
    story.append(Paragraph("Stages et convocations", HEADING))
    if not content.courses:
        story.append(Paragraph("Aucune inscription à un stage.", NORMAL))
    for line in content.courses:
        story.append(Paragraph(f"<b>{_escape(line.course)}</b> — {_escape(line.outcome)}", NORMAL))
        story.append(Paragraph("Preuves d'envoi de la convocation : "
                               + " ; ".join(_escape(p) for p in line.summons), SMALL))
        if line.absences:
            story.append(Paragraph("Demi-journées manquées : " + " ; ".join(_escape(a) for a in line.absences), SMALL))
        story.append(Spacer(1, 2 * mm))
    doc.build(story, canvasmaker=numbered_canvas(CONFIDENTIAL))
    return buffer.getvalue()


def summary_pdf(summary: MonthlySummary, authority: Organization, people: list[PersonToActOn],
                generated_at: datetime) -> bytes:
    """The monthly summary: the five figures, then the people to act on."""
    buffer = io.BytesIO()
    doc = _document(buffer, "Synthèse mensuelle")
    figures = Table([[FIGURE_LABELS[name] for name in FIGURES],
                     [str(getattr(summary, name)) for name in FIGURES]], hAlign="LEFT",
                    colWidths=[34 * mm] * len(FIGURES))
    figures.setStyle(TableStyle(GRID + [("ALIGN", (0, 1), (-1, 1), "CENTER")]))
    rows = [["Nom et prénoms", "Cadre", "N° de parquet", "Date limite"]]
    rows += [[Paragraph(_escape(p.name), CELL), Paragraph(_escape(p.frame.label), CELL),
              Paragraph(_escape(p.case_reference), CELL), fr_date(p.deadline, "short")] for p in people]
    if not people:
        rows.append([Paragraph("Aucune mesure non exécutée ce mois-ci.", CELL), "", "", ""])
    table = Table(rows, colWidths=[52 * mm, 62 * mm, 36 * mm, 26 * mm], repeatRows=1)
    table.setStyle(TableStyle(GRID))
    story = [
        Paragraph(f"Synthèse mensuelle des stages de sensibilisation — {month_label(summary.month)}", TITLE),
        Paragraph(f"<b>Destinataire (mandant) :</b> {_escape(authority.name)}", NORMAL),
        Paragraph(f"Établie le {fr_datetime(summary.created_at)} ; édition du {fr_datetime(generated_at)}.", SMALL),
        Spacer(1, 4 * mm), figures,
        Paragraph("Personnes sur lesquelles le mandant doit statuer", HEADING),
        Paragraph("Mesures dont la date limite est passée au cours du mois sans que le stage ait été effectué.", SMALL),
        Spacer(1, 2 * mm), table,
    ]
    doc.build(story, canvasmaker=numbered_canvas(CONFIDENTIAL))
    return buffer.getvalue()


def _pairs(pairs: list[tuple[str, str]]) -> Table:
    table = Table([[Paragraph(f"<b>{_escape(k)}</b>", CELL), Paragraph(_escape(v) or "—", CELL)] for k, v in pairs],
                  colWidths=[50 * mm, 128 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([TABLE_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _escape(text: str | None) -> str:
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
