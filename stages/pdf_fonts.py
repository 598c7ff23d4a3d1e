"""The one font family of every PDF: DejaVu Sans, embedded, registered with ReportLab once.

ReportLab's standard fonts (Helvetica...) are not embedded and know only WinAnsi (cp1252): a
name such as « WAŁĘSA Łukasz » or « NGUYỄN Thị Ánh » printed black squares. DejaVu Sans draws
every Latin alphabet (Polish, Romanian, Turkish, Vietnamese...), Greek, Cyrillic, Hebrew and
Arabic letters. Its files ship in ``stages/fonts/`` with their licence: no system font, nothing
downloaded. Regular and bold only, to keep the repository small: italic text, which no document
uses, is drawn upright.

ReportLab embeds a subset of each font (the glyphs one document uses), named in the order it
creates them (« AAAAAA+DejaVuSans », « AAAAAB+DejaVuSans »...) and filled in the order the
characters first appear: the same text always gives the same bytes, as attestations need.

Arabic is printed letter by letter in isolated forms, left to right: ReportLab joins letters only
through HarfBuzz (``uharfbuzz``), turned off here, and does not reorder right-to-left text. The
letters are all there, but a reader sees « حداد كريم » unjoined and reversed (« ميرك دادح »).
"""
from __future__ import annotations

from pathlib import Path

from reportlab.lib.styles import StyleSheet1, getSampleStyleSheet
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONTS_DIR = Path(__file__).resolve().parent / "fonts"
FONT = "DejaVuSans"
BOLD = "DejaVuSans-Bold"
# ReportLab's sample styles name the standard fonts: each becomes the DejaVu face of its weight.
_REPLACEMENTS = {
    "Helvetica": FONT, "Helvetica-Oblique": FONT,
    "Helvetica-Bold": BOLD, "Helvetica-BoldOblique": BOLD,
}


# The first command of every TableStyle: a table sets its cells' font (Helvetica unless told)
# even where they hold paragraphs, which would put a standard font back in the file.
TABLE_FONT = ("FONTNAME", (0, 0), (-1, -1), FONT)


def _register() -> None:
    for name in (FONT, BOLD):
        # Never shaped, even where uharfbuzz happens to be installed: shaping would move glyphs
        # (kerning) and change an attestation's bytes from one host to another.
        pdfmetrics.registerFont(TTFont(name, str(FONTS_DIR / f"{name}.ttf"), shapable=False))
    # <b> and <i> in paragraphs pick their face from the family.
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)


# Once per process, when the first PDF module is imported (the import lock makes it once even
# with threads): replacing a registered font while another thread draws with it would mix two
# subsets' states in one document.
_register()


def stylesheet() -> StyleSheet1:
    """ReportLab's sample styles (Normal, Title, Heading1...), drawn in DejaVu Sans."""
    styles = getSampleStyleSheet()  # a new sheet at each call: changing it changes no other
    for style in styles.byName.values():
        for attribute in ("fontName", "bulletFontName"):
            font = getattr(style, attribute, None)
            if font in _REPLACEMENTS:
                setattr(style, attribute, _REPLACEMENTS[font])
    return styles
