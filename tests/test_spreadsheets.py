"""Spreadsheet exports: CSV cells neutralized with a visible quote, XLSX cells typed as text."""
from __future__ import annotations

import io
import re
import zipfile
from datetime import date

from openpyxl import load_workbook

from stages.spreadsheets import csv_bytes, safe_cell, xlsx_bytes

RISKY = ['=HYPERLINK("http://x","y")', "+33 6 12", "-2+3", "@SUM(A1)", "\u200b=1+1", "\t=1"]


def test_xlsx_keeps_risky_text_as_text_cells_without_a_visible_quote():
    content = xlsx_bytes(["Nom", "=Titre"], [[value, date(2025, 1, 2)] for value in RISKY],
                         title="Mesures")
    sheet = load_workbook(io.BytesIO(content)).active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [cell.value for cell in cells] == RISKY  # exactly as stored: no leading apostrophe
    assert all(cell.data_type == "s" for cell in cells)
    assert all(cell.quotePrefix for cell in cells)  # edited in Excel, it stays text
    assert sheet["B1"].value == "=Titre" and sheet["B1"].data_type == "s"
    assert sheet["B2"].value.date() == date(2025, 1, 2)  # other cells keep their type
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert not re.search(r"<(\w+:)?f[ >]", xml)  # no formula anywhere in the sheet


def test_csv_keeps_its_visible_quote():
    text = csv_bytes(["Nom"], [[value] for value in RISKY]).decode("utf-8-sig")
    assert text.splitlines()[1:] == [
        '"\'=HYPERLINK(""http://x"",""y"")"', "'+33 6 12", "'-2+3", "'@SUM(A1)",
        "'\u200b=1+1", "'\t=1",
    ]
    assert safe_cell("\ufeff=1") == "'\ufeff=1" and safe_cell("Dupont") == "Dupont"
