"""Text cut into lines that fit a width, for PDFs drawn straight on a ReportLab canvas.

ReportLab's ``simpleSplit`` only breaks between words: a word longer than the line (a compound
surname typed without spaces, « FERNANDEZ-GARCIA-… », or a long case reference) comes back as one
line wider than its column, and is drawn across the next cells or off the page. Platypus
paragraphs cut such words themselves; the documents drawn on the canvas (the sign-in sheet, the
attestation) cut them here.
"""
from __future__ import annotations

from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth


def split_lines(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` in lines no wider than ``width``, cut between words; a word longer than a line
    is cut too, after its last hyphen that fits, else after the last character that fits. An
    empty text is one empty line."""
    lines = []
    for line in simpleSplit(text, font, size, width) or [""]:
        while stringWidth(line, font, size) > width:
            fits = _fitting(line, font, size, width)
            hyphen = line.rfind("-", 0, fits)
            cut = hyphen + 1 if hyphen > 0 else fits
            lines.append(line[:cut])
            line = line[cut:]
        lines.append(line)
    return lines


def _fitting(text: str, font: str, size: float, width: float) -> int:
    """How many characters of ``text`` fit in ``width``: at least one, so that a cut moves on."""
    count = 1
    while count < len(text) and stringWidth(text[:count + 1], font, size) <= width:
        count += 1
    return count
