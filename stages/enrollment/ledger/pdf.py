"""The receipt of a payment and the invoice of a court-paid course, as A4 PDFs (ReportLab,
DejaVu Sans), with the association's legal mentions: its name, address, letterhead, SIRET and,
when it says so, « TVA non applicable, art. 293 B du CGI ». Pure functions of the documents'
texts: no database, no clock."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from xml.sax.saxutils import escape

from stages.pdf_fonts import BOLD, FONT, TABLE_FONT, stylesheet
from stages.pdf_pages import numbered_canvas

STYLES = stylesheet()
NORMAL = STYLES["Normal"]
SMALL = ParagraphStyle("ledger-small", parent=NORMAL, fontSize=8.5, leading=11)
TITLE = ParagraphStyle("ledger-title", parent=STYLES["Title"], fontSize=16, leading=20, spaceAfter=6)
VAT_MENTION = "TVA non applicable, art. 293 B du CGI"
COURSE_NAME = "stage de sensibilisation à la lutte contre l'achat d'actes sexuels"


@dataclass(frozen=True)
class Issuer:
    """The association as its documents name it."""

    name: str
    address: str = ""
    letterhead: str = ""
    siret: str = ""
    vat_exempt: bool = False
    signatory: str = ""  # « Marie Durand, directrice »

    def mentions(self) -> list[str]:
        lines = [self.name]
        lines += [line for line in (self.address, self.letterhead) if line]
        if self.siret:
            lines.append(f"SIRET {self.siret[:3]} {self.siret[3:6]} {self.siret[6:9]} {self.siret[9:]}")
        return lines


@dataclass(frozen=True)
class ReceiptDocument:
    number: str  # « 2026-0001 »
    issuer: Issuer
    payer_name: str
    amount: str  # « 180,00 € »
    method: str
    paid_on: str  # « 12 mars 2026 »
    reference: str
    measure_label: str  # « Mesure n° 12 »
    balance_after: str
    issued_at: datetime


@dataclass(frozen=True)
class InvoiceLine:
    case_reference: str
    amount: str


@dataclass(frozen=True)
class InvoiceDocument:
    number: str
    issuer: Issuer
    authority_name: str
    authority_address: str
    course_label: str  # « Stage du 12 mars 2026 — MJD du 17e »
    issued_on: str
    lines: tuple[InvoiceLine, ...]
    total: str
    issued_at: datetime


def _p(text: str, style=NORMAL) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _document(buffer, title: str, author: str) -> SimpleDocTemplate:
    return SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
        bottomMargin=20 * mm, title=title, author=author, invariant=1, initialFontName=FONT,
    )


def _header(issuer: Issuer) -> list:
    return [_p(line, SMALL if index else STYLES["Heading3"]) for index, line in enumerate(issuer.mentions())]


def _footer(issuer: Issuer) -> str:
    return VAT_MENTION if issuer.vat_exempt else ""


def _table(rows: list[list], widths) -> Table:
    table = Table(rows, colWidths=widths)
    table.setStyle(TableStyle([
        TABLE_FONT, ("FONTSIZE", (0, 0), (-1, -1), 9.5), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#8a8f98")),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]))
    return table


def receipt_pdf(doc: ReceiptDocument) -> bytes:
    """The receipt of one payment."""
    buffer = io.BytesIO()
    story = _header(doc.issuer) + [Spacer(1, 8 * mm), _p(f"Reçu n° {doc.number}", TITLE)]
    story.append(_p(f"{doc.issuer.name} reconnaît avoir reçu de {doc.payer_name} la somme de "
                    f"{doc.amount} au titre des frais du {COURSE_NAME} ({doc.measure_label})."))
    story.append(Spacer(1, 5 * mm))
    rows = [["Montant", doc.amount], ["Moyen de paiement", doc.method], ["Date du paiement", doc.paid_on]]
    if doc.reference:
        rows.append(["Référence", doc.reference])
    rows.append(["Reste dû après ce paiement", doc.balance_after])
    story.append(_table(rows, [60 * mm, 110 * mm]))
    story.append(Spacer(1, 6 * mm))
    if doc.issuer.vat_exempt:
        story.append(_p(VAT_MENTION, SMALL))
    if doc.issuer.signatory:
        story += [Spacer(1, 8 * mm), _p(f"Pour {doc.issuer.name}, {doc.issuer.signatory}")]
    document = _document(buffer, f"Reçu n° {doc.number}", doc.issuer.name)
    document.build(story, canvasmaker=numbered_canvas(_footer(doc.issuer)))
    return buffer.getvalue()


def invoice_pdf(doc: InvoiceDocument) -> bytes:
    """The invoice of one course's fees to one referring authority: a line per person (the
    case reference only), the total."""
    buffer = io.BytesIO()
    story = _header(doc.issuer) + [Spacer(1, 6 * mm)]
    story.append(_p("\n".join(line for line in (doc.authority_name, doc.authority_address) if line)))
    story += [Spacer(1, 6 * mm), _p(f"Facture n° {doc.number}", TITLE), _p(f"Date : {doc.issued_on}")]
    story.append(_p(f"Frais du {COURSE_NAME}, pris en charge par l'autorité prescriptrice : {doc.course_label}."))
    story.append(Spacer(1, 4 * mm))
    rows = [["N° de parquet", "Montant"]] + [[line.case_reference, line.amount] for line in doc.lines]
    rows.append(["Total", doc.total])
    table = _table(rows, [120 * mm, 50 * mm])
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, 0), BOLD), ("FONTNAME", (0, -1), (-1, -1), BOLD),
                               ("ALIGN", (1, 0), (1, -1), "RIGHT")]))
    story.append(table)
    story.append(Spacer(1, 6 * mm))
    if doc.issuer.vat_exempt:
        story.append(_p(VAT_MENTION, SMALL))
    if doc.issuer.signatory:
        story += [Spacer(1, 8 * mm), _p(f"Pour {doc.issuer.name}, {doc.issuer.signatory}")]
    document = _document(buffer, f"Facture n° {doc.number}", doc.issuer.name)
    document.build(story, canvasmaker=numbered_canvas(_footer(doc.issuer)))
    return buffer.getvalue()
