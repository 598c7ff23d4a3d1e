"""The attestation de stage as a one-page A4 PDF, drawn identically every time.

A pure function of a ``CertificateDocument`` (plain, already formatted French texts): it reads no
database and no clock, so the services can regenerate the exact bytes of an attestation from
stored data instead of keeping the file. What makes the output byte-stable:

- ReportLab's ``invariant`` mode (no random document ID, no "now" timestamp); the creation and
  modification dates written in the metadata are the certificate's ``issued_at``;
- the QR code is drawn as vector rectangles from segno's module matrix, with a fixed error level,
  so no image encoder or compression settings of a raster library enter the file;
- DejaVu Sans, embedded as subsets whose names and content follow the text drawn (see
  ``stages.pdf_fonts``): names in any Latin alphabet print as typed (« WAŁĘSA », « Ștefan »),
  and the same text always gives the same subset.
"""
from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from datetime import datetime, timezone

import segno
from reportlab.lib.colors import HexColor, black
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from stages.pdf_fonts import BOLD, FONT
from stages.pdf_lines import split_lines
from stages.wording import PARTNERS_LINE

COURSE_NAME = "Stage de sensibilisation à la lutte contre l'achat d'actes sexuels"
PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 20 * mm
TEXT_WIDTH = PAGE_WIDTH - 2 * MARGIN
LABEL_WIDTH = 52 * mm
QR_SIZE = 30 * mm
QR_BOTTOM = MARGIN + 20 * mm
# The body must end above the verification block (QR code and its explanation).
BODY_FLOOR = QR_BOTTOM + QR_SIZE + 4 * mm
BODY_SCALES = (1.0, 0.92, 0.84, 0.76, 0.68)
RULE_GREY = HexColor("#8a8f98")
MUTED = HexColor("#444a52")
# The wording of the attestation, as issued: 1 until migration 0020 (« Je soussigné·e »,
# « Autorité prescriptrice », no statement of the course's contents); 2 since. An attestation
# issued before its bytes were kept is redrawn in the wording it was issued in. 3 since issue 19:
# the modules of the programme under the décret's contents (every attestation of wording 3 has
# its bytes kept: it is never redrawn).
WORDING = 3
# What the course covered, as décret n° 2016-1709 of 12 December 2016 requires of it.
REQUIRED_CONTENTS = (
    "Conformément au décret n° 2016-1709 du 12 décembre 2016, le stage a rappelé ce que sont "
    "les réalités de la prostitution et les conséquences de la marchandisation du corps, et a "
    "fait prendre conscience à la personne de sa responsabilité pénale et civile pour les faits "
    "commis."
)


# Line breaking is pure Python and the measuring pass then the drawing pass split the same
# texts: remember the splits while one document is drawn (cleared after it: names and case
# references are not kept in memory between documents).
@functools.lru_cache(maxsize=4096)
def _split(text: str, font: str, size: float, width: float, cut: bool) -> tuple[str, ...]:
    """``cut`` (see ``_cuts_words``): a word longer than the line is cut inside it."""
    if cut:
        return tuple(split_lines(text, font, size, width)) if text else ()
    return tuple(simpleSplit(text, font, size, width))


@dataclass(frozen=True)
class CertificateDocument:
    """Everything printed on one attestation, already formatted in French."""

    number: str
    verification_code: str  # grouped for reading: ABCD-EFGH-JKLM-NPQR
    verification_url: str
    verification_page: str  # where to type the code by hand
    organizations: tuple[str, ...]
    surname: str
    first_names: str
    birth: str  # « 17 mai 1980 à Lyon », or « — »
    legal_frame: str
    authority: str
    case_reference: str
    course_title: str
    half_days: tuple[str, ...]  # « lundi 16 mars 2026, de 09 h 30 à 12 h 30 »
    hours_attended: str  # « 6 h 00 »
    venue: str
    signatory: str
    signatory_organization: str
    recipient: str
    issued_place: str
    issued_on: str  # « 16 mars 2026 »
    issued_at: datetime  # aware; becomes the PDF's creation date
    replaces: str | None = None  # number of the revoked attestation this one replaces
    wording: int = WORDING
    programme: tuple[str, ...] = ()  # « Matin du 12 mars 2026 : module ; module » (wording 3)


def render_certificate(doc: CertificateDocument) -> bytes:
    """The attestation as PDF bytes: the same ``doc`` always gives the same bytes."""
    try:
        return _render(doc)
    finally:
        _split.cache_clear()


def _render(doc: CertificateDocument) -> bytes:
    # Long names, addresses or a two-day course can push the text into the verification block:
    # measure without drawing first, and tighten the body until it fits (same input, same
    # choice, so the output stays deterministic).
    scale = next(
        (s for s in BODY_SCALES if _draw_body(_MeasuringCanvas(), doc, s) >= BODY_FLOOR),
        BODY_SCALES[-1],
    )
    buffer = io.BytesIO()
    c = canvas.Canvas(
        buffer, pagesize=A4, invariant=1, pageCompression=1, lang="fr-FR", initialFontName=FONT
    )
    # Metadata carries the number only: a PDF's properties travel further than its page.
    c.setTitle(f"Attestation de stage n° {doc.number}")
    c.setAuthor(", ".join(doc.organizations))
    c.setSubject(COURSE_NAME)
    c.setCreator("Stages")
    c.setKeywords("")
    c.setDateFormatter(_pdf_date(doc.issued_at))
    _draw_body(c, doc, scale)
    _verification(c, doc)
    _footer(c, doc)
    c.showPage()
    c.save()
    return buffer.getvalue()


def _draw_body(c: canvas.Canvas, doc: CertificateDocument, scale: float) -> float:
    """Everything above the verification block; returns the lowest y used."""
    y = _header(c, doc)
    y = _title(c, y, scale)
    legacy, cut = doc.wording == 1, _cuts_words(doc)
    # Official French: « Je soussigné(e) » (no inclusive-writing dot), until the signatory's own
    # form is known.
    y = _paragraph(
        c,
        f"Je soussigné{'·e' if legacy else '(e)'}, {doc.signatory}, "
        f"{for_organization(doc.signatory_organization)}, "
        f"atteste que la personne désignée ci-dessous a suivi le stage de sensibilisation à la "
        f"lutte contre l'achat d'actes sexuels organisé par {_and_join(doc.organizations)}.",
        y, scale, cut,
    )
    y = _section(c, "Personne concernée", [
        ("Nom", doc.surname),
        ("Prénoms", doc.first_names),
        ("Née ou né le", doc.birth),
    ], y, scale, cut)
    y = _section(c, "Mesure judiciaire", [
        ("Cadre légal", doc.legal_frame),
        ("Autorité prescriptrice" if legacy else "Mandant", doc.authority),
        ("Référence de la procédure", doc.case_reference),
    ], y, scale, cut)
    y = _section(c, "Stage suivi", [
        ("Intitulé", doc.course_title),
        ("Lieu", doc.venue),
        ("Demi-journées", "\n".join(doc.half_days)),
        ("Durée de présence", doc.hours_attended),
    ], y, scale, cut)
    if not legacy:
        contents = [("Programme", REQUIRED_CONTENTS)]
        if doc.wording >= 3 and doc.programme:
            contents.append(("Modules suivis", "\n".join(doc.programme)))
        y = _section(c, "Contenu du stage", contents, y, scale, cut)
    transmission = [("Destinataire", doc.recipient)]
    if doc.replaces:
        transmission.append(("Annule et remplace", f"l'attestation n° {doc.replaces}, révoquée"))
    y = _section(c, "Transmission", transmission, y, scale, cut)
    return _signature(c, doc, y - 4 * mm * scale, scale)


def _cuts_words(doc: CertificateDocument) -> bool:
    """Whether a word longer than its line is cut: from wording 3 on. Before, such a word (a
    120-letter compound surname, a long case reference) ran past the margin, and attestations of
    wordings 1 and 2 are redrawn exactly as they were issued."""
    return doc.wording >= 3


class _MeasuringCanvas:
    """Stands in for a canvas while measuring: text widths are real, drawing does nothing."""

    @staticmethod
    def stringWidth(text: str, font: str, size: float) -> float:  # noqa: N802 (ReportLab's name)
        return pdfmetrics.stringWidth(text, font, size)

    def __getattr__(self, _name):
        return _ignore


def _ignore(*_args, **_kwargs) -> None:
    return None


def for_organization(name: str) -> str:
    """« pour l'association APCARS », without doubling a name that already says what it is."""
    first = name.split(" ", 1)[0].lower()
    if first == "association":
        return f"pour l'{name}"
    if first == "fondation":
        return f"pour la {name}"
    return f"pour l'association {name}"


def _pdf_date(moment: datetime):
    """A ReportLab date formatter that writes ``moment`` (in UTC) instead of the invariant date."""
    stamp = moment.astimezone(timezone.utc).strftime("D:%Y%m%d%H%M%S+00'00'")
    return lambda *_ignored: stamp


def _and_join(names: tuple[str, ...]) -> str:
    names = tuple(names) or ("l'association",)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " et " + names[-1]


def _header(c: canvas.Canvas, doc: CertificateDocument) -> float:
    top = PAGE_HEIGHT - MARGIN
    c.setFillColor(black)
    c.setFont(BOLD, 10)
    number = f"N° {doc.number}"
    c.drawRightString(PAGE_WIDTH - MARGIN, top - 10, number)
    width = TEXT_WIDTH - c.stringWidth(number, BOLD, 10) - 10 * mm
    lines = _split(" — ".join(doc.organizations), BOLD, 10, width, _cuts_words(doc))
    y = top - 10
    for line in lines:
        c.drawString(MARGIN, y, line)
        y -= 13
    c.setStrokeColor(RULE_GREY)
    c.setLineWidth(0.6)
    c.line(MARGIN, y - 2, PAGE_WIDTH - MARGIN, y - 2)
    return y - 2


def _title(c: canvas.Canvas, y: float, scale: float) -> float:
    y -= 16 * mm * scale
    c.setFont(BOLD, 22)
    c.drawCentredString(PAGE_WIDTH / 2, y, "Attestation de stage")
    y -= 8 * mm
    c.setFont(FONT, 12)
    c.drawCentredString(PAGE_WIDTH / 2, y, COURSE_NAME)
    return y - 11 * mm * scale


def _paragraph(c: canvas.Canvas, text: str, y: float, scale: float, cut: bool) -> float:
    size = 10.5 * scale
    c.setFont(FONT, size)
    for line in _split(text, FONT, size, TEXT_WIDTH, cut):
        c.drawString(MARGIN, y, line)
        y -= size * 1.35
    return y - 3 * mm * scale


def _section(
    c: canvas.Canvas, heading: str, rows: list[tuple[str, str]], y: float, scale: float, cut: bool
) -> float:
    """A heading over label/value rows; long values wrap, ``\\n`` starts a new line."""
    c.setFont(BOLD, 11 * scale)
    c.drawString(MARGIN, y, heading)
    c.setStrokeColor(RULE_GREY)
    c.setLineWidth(0.4)
    c.line(MARGIN, y - 3, PAGE_WIDTH - MARGIN, y - 3)
    y -= 16 * scale
    size = 10.5 * scale
    for label, value in rows:
        c.setFont(FONT, 9.5 * scale)
        c.setFillColor(MUTED)
        c.drawString(MARGIN, y, label)
        c.setFillColor(black)
        c.setFont(FONT, size)
        lines = []
        for piece in (value or "—").split("\n"):
            lines += _split(piece, FONT, size, TEXT_WIDTH - LABEL_WIDTH, cut) or [""]
        for line in lines:
            c.drawString(MARGIN + LABEL_WIDTH, y, line)
            y -= size * 1.33
    return y - 5 * mm * scale


def _signature(c: canvas.Canvas, doc: CertificateDocument, y: float, scale: float) -> float:
    size, cut = 10.5 * scale, _cuts_words(doc)
    c.setFont(FONT, size)
    place = f"Fait à {doc.issued_place}, le {doc.issued_on}."
    places = _split(place, FONT, size, TEXT_WIDTH, cut) if cut else (place,)
    for index, line in enumerate(places):
        c.drawString(MARGIN, y - index * size * 1.33, line)
    x = PAGE_WIDTH / 2 + 10 * mm
    width = PAGE_WIDTH - MARGIN - x
    y -= 8 * mm * scale + (len(places) - 1) * size * 1.33
    for line in _split(
        _upper_first(for_organization(doc.signatory_organization)) + ",", FONT, size, width, cut
    ):
        c.drawString(x, y, line)
        y -= size * 1.33
    c.setFont(BOLD, size)
    for line in _split(doc.signatory, BOLD, size, width, cut):
        c.drawString(x, y, line)
        y -= size * 1.33
    c.setFont(FONT, 8.5 * scale)
    c.setFillColor(MUTED)
    c.drawString(x, y, "Signature et cachet")
    c.setFillColor(black)
    # Room left under the name for a handwritten signature and a stamp.
    return y - 14 * mm * scale


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _verification(c: canvas.Canvas, doc: CertificateDocument) -> None:
    """The QR code in the bottom-left corner, the URL and the code under it."""
    bottom = QR_BOTTOM
    draw_qr(c, doc.verification_url, MARGIN, bottom, QR_SIZE)
    # Text starts four modules below the symbol: the quiet zone scanners need.
    c.setFont(FONT, 7.5)
    c.drawString(MARGIN, bottom - 16, doc.verification_url)
    c.setFont(BOLD, 9)
    c.drawString(MARGIN, bottom - 28, f"Code de vérification : {doc.verification_code}")
    x = MARGIN + QR_SIZE + 6 * mm
    c.setFont(FONT, 8.5)
    c.setFillColor(MUTED)
    text = (
        "Authenticité : scannez le code QR, ou saisissez le code de vérification sur "
        f"{doc.verification_page}. Sans compte ni identifiant, la page indique si "
        "l'attestation est valide ou révoquée et n'affiche que son numéro, les dates du "
        "stage, les initiales et l'année de naissance de la personne."
    )
    y = bottom + QR_SIZE - 9
    for line in _split(text, FONT, 8.5, PAGE_WIDTH - MARGIN - x, _cuts_words(doc)):
        c.drawString(x, y, line)
        y -= 11
    c.setFillColor(black)


def draw_qr(c: canvas.Canvas, data: str, x: float, y: float, size: float) -> None:
    """Draw a QR code for ``data`` as one vector path of dark modules (deterministic)."""
    qr = segno.make(data, error="m", micro=False, boost_error=False)
    matrix = qr.matrix  # rows of 0/1, without the quiet zone
    module = size / len(matrix)
    path = c.beginPath()
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + 1) * module
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            # One rectangle per run of dark modules keeps the page small and fast to draw.
            path.rect(x + start * module, top, (col - start) * module, module)
    c.setFillColor(black)
    c.drawPath(path, stroke=0, fill=1)


def _footer(c: canvas.Canvas, doc: CertificateDocument) -> None:
    c.setStrokeColor(RULE_GREY)
    c.setLineWidth(0.4)
    c.line(MARGIN, MARGIN + 4 * mm, PAGE_WIDTH - MARGIN, MARGIN + 4 * mm)
    c.setFont(FONT, 7.5)
    c.setFillColor(MUTED)
    notice = (
        f"Attestation n° {doc.number} — document confidentiel : il contient des données "
        "relatives à une procédure pénale. Toute modification le rend invalide."
    )
    if doc.wording == 1:
        c.drawString(MARGIN, MARGIN, notice)  # as issued: one line, running past the margin
    else:
        cut = _cuts_words(doc)
        lines = [*_split(notice, FONT, 7.5, TEXT_WIDTH, cut),
                 *_split(PARTNERS_LINE, FONT, 7.5, TEXT_WIDTH, cut)]
        for index, line in enumerate(lines):
            c.drawString(MARGIN, MARGIN - 9 * index, line)
    c.setFillColor(black)
