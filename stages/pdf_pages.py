"""Page numbers « Page X / N » at the foot of every page of a PDF (ReportLab).

ReportLab draws a page before it knows how many follow: the canvas keeps each page until
``save``, then draws it with its number (the recipe of ReportLab's own documentation).
"""
from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from stages.pdf_fonts import FONT

FOOTER_MARGIN = 12 * mm


class NumberedCanvas(Canvas):
    """A canvas that writes « Page X / N » on every page once it knows N, the page count."""

    footer_text = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._draw_page_number(total)
            super().showPage()
        super().save()

    def _draw_page_number(self, total: int) -> None:
        self.saveState()
        self.setFont(FONT, 8)
        width = self._pagesize[0]
        # One line per "\n", the first at the foot, the next ones above it.
        for index, line in enumerate(reversed(self.footer_text.splitlines())):
            self.drawString(FOOTER_MARGIN, 7 * mm + index * 10, line)
        self.drawRightString(width - FOOTER_MARGIN, 7 * mm, page_label(self._pageNumber, total))
        self.restoreState()


def page_label(number: int, total: int) -> str:
    """« Page 2 / 3 »."""
    return f"Page {number} / {total}"


def numbered_canvas(footer_text: str = "") -> type[NumberedCanvas]:
    """A :class:`NumberedCanvas` class that also writes ``footer_text`` at the bottom left."""
    return type("FooterCanvas", (NumberedCanvas,), {"footer_text": footer_text})
