"""Right-to-left text in the PDFs: Arabic letters joined, lines in the order a reader reads them.

ReportLab draws characters one by one, left to right, in the order given (``pdf_fonts``): Arabic
would come out unjoined and reversed. So a right-to-left paragraph is prepared before it reaches
ReportLab: ``arabic_reshaper`` replaces each letter with the form it takes at its place in the
word (initial, medial, final, isolated, and the lam-alef ligatures: the glyphs of Unicode's
« Arabic Presentation Forms-B », which DejaVu Sans has), the text is cut into lines that fit, in
reading order, and each line is then put in display order by the Unicode bidirectional algorithm
(``python-bidi``) with a right-to-left base direction, so that a name, a date or a case number in
Latin letters inside an Arabic sentence stays readable left to right. Cutting the lines before
reordering keeps the first words of a paragraph on its first line.

A PDF reader extracting the text gets the letters in presentation forms; Unicode's compatibility
normalization (NFKC) gives the ordinary letters back (the tests compare that way).
"""
from __future__ import annotations

import re
from xml.sax.saxutils import escape

import arabic_reshaper
from bidi import get_display  # python-bidi's Rust implementation: it knows isolates
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph

import stages.pdf_fonts  # noqa: F401  (the fonts measured here are registered there)


# A run of Latin-script text (a name, a case number, an address, an email, a date's digits):
# isolated (LRI … PDI) before reordering, so that it reads left to right as a whole, its own
# brackets kept with it, whatever Arabic surrounds it.
_LATIN = "A-Za-z\u00c0-\u024f\u0300-\u036f0-9"
_LATIN_RUN = re.compile(rf"[{_LATIN}][{_LATIN} .,:;'’()/@+\-–—°#&]*")
_ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")
_ISOLATED = re.compile("(\u2066[^\u2069]*\u2069)")
# Brackets are drawn mirrored in right-to-left text (Unicode's rule L4), which the reordering
# leaves to the renderer: ReportLab does not, so it is done here, outside the Latin runs (every
# bracket left outside them is set in Arabic).
_MIRRORED = str.maketrans("()[]{}«»‹›<>", ")(][}{»«›‹><")


def _isolate(match: re.Match) -> str:
    run, tail = match[0], ""
    depth = 0
    for index, char in enumerate(run):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:  # a bracket opened before the run closes here: the run stops before it
            rest = run[index + 1:]
            return _isolate(re.match(".*", run[:index])) + char + _LATIN_RUN.sub(_isolate, rest)
    # Sentence punctuation and a bracket opened before the run belong to the Arabic around it.
    while run and (run[-1] in " .,:;" or (run[-1] == ")" and run.count(")") > run.count("("))):
        run, tail = run[:-1], run[-1] + tail
    return f"\u2066{run}\u2069{tail}" if run else tail


def visual_lines(text: str, font: str, size: float, width: float) -> list[str]:
    """``text`` (logical order) shaped and cut into lines of at most ``width`` points, each in
    display order, the first line first."""
    lines: list[str] = []
    for source_line in text.splitlines() or [""]:
        current = ""
        for word in arabic_reshaper.reshape(source_line).split():
            trial = f"{current} {word}" if current else word
            if current and stringWidth(trial, font, size) > width:
                lines.append(current)
                current = word
            else:
                current = trial
        lines.append(current)
    return [get_display(_mirror(_LATIN_RUN.sub(_isolate, line)), base_dir="R").translate(_ISOLATES)
            for line in lines]


def _mirror(line: str) -> str:
    """``line`` with its brackets outside the isolated Latin runs mirrored."""
    parts = _ISOLATED.split(line)
    return "".join(part if part.startswith("\u2066") else part.translate(_MIRRORED) for part in parts)


def rtl_paragraph(text: str, style: ParagraphStyle, width: float) -> Paragraph:
    """A right-aligned paragraph of right-to-left ``text`` (plain text, not markup), ``width``
    points wide at most."""
    right = ParagraphStyle(f"{style.name}-rtl", parent=style, alignment=TA_RIGHT)
    # A point of slack: ReportLab measures the same glyphs, it must never wrap a line again.
    lines = visual_lines(text, style.fontName, style.fontSize, width - 1)
    return Paragraph("<br/>".join(escape(line) for line in lines), right)
