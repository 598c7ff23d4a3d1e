"""Spreadsheet files (CSV and XLSX): French Excel friendly and formula-injection safe.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(« injection de formule », OWASP "CSV injection"): a participant's name such as
``=HYPERLINK("http://…")`` must never become a live link or command in the liaison's Excel, so
every CSV cell goes through ``safe_cell`` and every XLSX text cell through ``_xlsx_text_cell``.
CSV uses ``;`` (French Excel reads ``,`` as the decimal separator) and starts with a UTF-8 byte
order mark, without which Excel decodes accents as Windows-1252. XLSX is written with openpyxl in write-only mode (constant memory); there a risky
text is a cell typed as text, shown as written, rather than a text with a visible apostrophe.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from stages.text import looks_like_formula
from stages.timeutil import to_local

def safe_cell(value):
    """Return ``value`` made inert for a CSV file: risky text gets a leading apostrophe.

    Numbers, dates and ``None`` are returned unchanged (a numeric cell cannot be a formula); text
    that a spreadsheet could run as a formula (``stages.text.looks_like_formula``: a formula sign
    first, even after spaces or invisible characters) is prefixed with ``'``, which Excel and
    LibreOffice read as "this is text". A CSV cell has no type, hence the visible quote; XLSX
    cells have one (see ``_xlsx_cell``).
    """
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def safe_row(values: Iterable) -> list:
    """``safe_cell`` applied to each value of an exported row."""
    return [safe_cell(value) for value in values]


BOM = "\ufeff"
CSV_CHUNK_ROWS = 500
# Control characters an XLSX file cannot hold (openpyxl refuses them rather than drop them).
_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _csv_value(value):
    """Dates as French Excel reads them; everything else made inert by ``safe_cell``."""
    if isinstance(value, datetime):
        return to_local(value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if value is None:
        return ""
    return safe_cell(value)


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """The CSV text in chunks of a few hundred rows, to stream a large export."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([safe_cell(title) for title in header])
    for number, row in enumerate(rows, start=1):
        writer.writerow([_csv_value(value) for value in row])
        if number % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    """A whole (small) CSV file, UTF-8 with its byte order mark."""
    return "".join(csv_chunks(header, rows)).encode("utf-8")


def _xlsx_cell(sheet, value):
    if isinstance(value, datetime):
        # Excel has no time zones: the local wall-clock time is what the reader expects.
        cell = WriteOnlyCell(sheet, value=to_local(value).replace(tzinfo=None))
        cell.number_format = "DD/MM/YYYY HH:MM"
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "DD/MM/YYYY"
        return cell
    if isinstance(value, str):
        return _xlsx_text_cell(sheet, _ILLEGAL_XLSX.sub("", value))
    return WriteOnlyCell(sheet, value=value)


def _xlsx_text_cell(sheet, text: str):
    """A cell typed as text. openpyxl would write text that starts with « = » as a formula; typed
    as a string (an inline string in the file), it is shown as written, without the apostrophe a
    CSV needs, and the quote-prefix style keeps it text when someone edits it in Excel."""
    cell = WriteOnlyCell(sheet, value=text)
    if looks_like_formula(text):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def xlsx_bytes(
    header: Sequence[str], rows: Iterable[Sequence], *, title: str, widths: Sequence[int] = ()
) -> bytes:
    """An XLSX workbook of one sheet: a bold header row, then ``rows``."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    for index, width in enumerate(widths):
        sheet.column_dimensions[_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for title_text in header:
        cell = _xlsx_text_cell(sheet, title_text)
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)
