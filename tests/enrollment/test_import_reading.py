"""Reading referral lists safely: workbooks parsed as a stream in a child process with limits on
rows, cells, time and memory, so that a hostile file costs the web worker nothing."""
from __future__ import annotations

import io
import json
import resource
import subprocess
import sys
import time
import zipfile
from datetime import datetime

import pytest

from stages.enrollment import importer
from stages.enrollment.importer import ImportFileError, parsing, reading
from tests.enrollment.test_import import to_xlsx, xlsx_row

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def _memory_kb(field: str) -> int:
    """VmRSS (resident now) or VmHWM (resident at its peak) of this process, in kB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def workbook(sheet: bytes | None = None, *, shared: str = "", styles: str = "",
             workbook_pr: str = "", write_sheet=None) -> bytes:
    """A minimal .xlsx written part by part, as a hostile or unusual producer would: the sheet's
    XML given whole (``sheet``) or written in chunks (``write_sheet(stream)``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/></Types>'))
        archive.writestr("_rels/.rels", (
            f'<Relationships xmlns="{PACKAGE_REL}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        archive.writestr("xl/workbook.xml", (
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}">{workbook_pr}<sheets>'
            '<sheet name="Liste" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        parts = [("rId1", "worksheet", "worksheets/sheet1.xml")]
        if shared:
            parts.append(("rId2", "sharedStrings", "sharedStrings.xml"))
            archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">{shared}</sst>')
        if styles:
            parts.append(("rId3", "styles", "styles.xml"))
            archive.writestr("xl/styles.xml", f'<styleSheet xmlns="{MAIN}">{styles}</styleSheet>')
        archive.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{PACKAGE_REL}">' + "".join(
            f'<Relationship Id="{rid}" Type="{REL}/{kind}" Target="{target}"/>'
            for rid, kind, target in parts) + "</Relationships>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as stream:
            if write_sheet:
                write_sheet(stream)
            else:
                stream.write(sheet)
    return buffer.getvalue()


def sheet_xml(rows: str) -> bytes:
    return f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'.encode()


# ---------------------------------------------------------------------------------------------
# The hostile workbook of the issue


def _empty_rows(stream) -> None:
    stream.write(f'<worksheet xmlns="{MAIN}"><sheetData>'.encode())
    chunk = b"<row/>" * 1_000_000
    for _ in range(24):  # 144 MB
        stream.write(chunk)
    stream.write(b"</sheetData></worksheet>")


@pytest.fixture(scope="module")
def empty_rows_workbook() -> bytes:
    """A ~210 KB .xlsx whose sheet is 144 MB of ``<row/>`` (24 million empty rows) and declares
    no ``<dimension>``. Written in chunks, so that building it costs the test process nothing."""
    return workbook(write_sheet=_empty_rows)


def test_workbook_of_empty_rows_is_refused_fast_without_growing_the_process(empty_rows_workbook):
    content = empty_rows_workbook
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.getinfo("xl/worksheets/sheet1.xml").file_size > 140_000_000
    assert len(content) < 250_000
    importer.read_table(to_xlsx([xlsx_row(0)]), "liste.xlsx")  # warm up: imports, first child
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset VmHWM, the peak resident memory, to the current VmRSS
    before = _memory_kb("VmRSS")
    started, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    with pytest.raises(ImportFileError, match="plus de 100\u202f000 lignes, vides comprises"):
        importer.read_table(content, "liste.xlsx")
    elapsed = time.perf_counter() - started
    child_cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - cpu
    peak_growth, growth = _memory_kb("VmHWM") - before, _memory_kb("VmRSS") - before
    print(f"\nclasseur de 144 Mo de lignes vides : refusé en {elapsed:.2f} s ({child_cpu:.2f} s "
          f"de processeur dans le processus fils) ; ce processus : +{peak_growth / 1024:.1f} Mo "
          f"au plus fort, +{growth / 1024:.1f} Mo après")
    assert elapsed < 2
    assert peak_growth < 100 * 1024 and growth < 100 * 1024


def test_the_streaming_reader_itself_stays_small_on_that_workbook(empty_rows_workbook):
    """The same file read in this process (as the child does): refused after 100,000 rows,
    holding one row at a time."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    before, cpu = _memory_kb("VmRSS"), time.process_time()
    with pytest.raises(parsing.FileRefused, match="vides comprises"):
        parsing.read_rows(empty_rows_workbook, ".xlsx")
    assert time.process_time() - cpu < 1
    assert _memory_kb("VmHWM") - before < 20 * 1024


def test_a_row_number_far_down_the_sheet_is_refused_at_once():
    content = workbook(sheet_xml('<row r="1"><c r="A1" t="inlineStr"><is><t>Nom</t></is></c></row>'
                                 '<row r="1048576"><c r="A1048576"><v>1</v></c></row>'))
    with pytest.raises(parsing.FileRefused, match="vides comprises"):
        parsing.read_rows(content, ".xlsx")


def test_limits_on_cells_time_and_cell_size(monkeypatch):
    rows = "".join(f'<row r="{i}"><c><v>{i}</v></c><c><v>2</v></c></row>' for i in range(1, 51))
    content = workbook(sheet_xml(rows))
    assert len(parsing.read_rows(content, ".xlsx")["rows"]) == 50
    monkeypatch.setattr(parsing, "MAX_CELLS", 99)
    with pytest.raises(parsing.FileRefused, match="trop de mémoire ou de temps"):
        parsing.read_rows(content, ".xlsx")
    monkeypatch.setattr(parsing, "MAX_CELLS", 1_000_000)
    monkeypatch.setattr(parsing, "MAX_CPU_SECONDS", -1)
    with pytest.raises(parsing.FileRefused, match="trop de mémoire ou de temps"):
        parsing.read_rows(content, ".xlsx")
    monkeypatch.setattr(parsing, "MAX_CPU_SECONDS", 10)
    huge = workbook(sheet_xml(f'<row><c t="inlineStr"><is><t>{"x" * 40_000}</t></is></c></row>'))
    with pytest.raises(parsing.FileRefused, match="32 767 caractères"):
        parsing.read_rows(huge, ".xlsx")


def test_entities_are_refused():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
              + sheet_xml('<row><c t="inlineStr"><is><t>&lol2;</t></is></c></row>'))
    with pytest.raises(ImportFileError, match="n'a pas pu être lu"):
        importer.read_table(workbook(laughs), "liste.xlsx")


# ---------------------------------------------------------------------------------------------
# What the streaming reader understands


def test_cell_types_dates_and_formulas():
    shared = ('<si><t>Nom</t></si><si><r><t xml:space="preserve">Le </t></r><r><t>Brun</t></r>'
              '<rPh><t>ルブラン</t></rPh></si><si><t>Date</t></si>')
    styles = ('<numFmts><numFmt numFmtId="164" formatCode="dd/mm/yyyy"/>'
              '<numFmt numFmtId="165" formatCode="0.00&quot; €&quot;"/></numFmts>'
              '<cellXfs><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="14"/>'
              '<xf numFmtId="165"/></cellXfs>')
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" t="s"><v>2</v></c></row>'
        '<row r="3"><c r="A3" t="s"><v>1</v></c><c r="B3" s="1"><v>45366</v></c>'
        '<c r="C3" s="2"><v>45366.5</v></c><c r="D3" s="3"><v>180</v></c>'
        '<c r="E3" t="b"><v>1</v></c><c r="F3" t="e"><v>#N/A</v></c>'
        '<c r="G3" t="d"><v>2025-03-15T00:00:00</v></c><c r="H3"><f>B3+180</f></c>'
        '<c r="I3" t="str"><f>A3</f><v>Le Brun</v></c><c r="J3"><v>NaN</v></c>'
        '<c r="XFD3"><v>far away</v></c></row>'
        '<row r="4"><c r="A4" t="inlineStr"><is><t>  </t></is></c></row>'
    )
    result = parsing.read_rows(workbook(sheet_xml(rows), shared=shared, styles=styles), ".xlsx")
    assert result["notes"] == ["Classeur XLSX, feuille « Liste »."]
    (header_line, header, _), (line, cells, formulas) = result["rows"]  # line 4 is blank
    assert (header_line, header) == (1, ["Nom", None, "Date"])
    assert line == 3 and formulas == [7, 8]
    assert cells == [
        "Le Brun", datetime(2024, 3, 15), datetime(2024, 3, 15, 12), 180, True, "#N/A",
        datetime(2025, 3, 15), None, "Le Brun", "NaN",
    ]  # the cell in column XFD is past the 200 read


def test_dates_of_a_1904_workbook():
    styles = '<cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs>'
    content = workbook(sheet_xml('<row><c s="1"><v>43904</v></c></row>'), styles=styles,
                       workbook_pr='<workbookPr date1904="1"/>')
    assert parsing.read_rows(content, ".xlsx")["rows"][0][1] == [datetime(2024, 3, 15)]


def test_the_child_runs_under_its_limits():
    code = ("import runpy, resource; runpy.run_path(%r)['_limit_resources'](); "
            "print(resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CPU)[0])"
            % parsing.__file__)
    output = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True,
                            check=True, text=True).stdout.split()
    assert output == [str(parsing.MEMORY_LIMIT_BYTES), str(parsing.CPU_LIMIT_SECONDS)]


@pytest.mark.parametrize("outcome", [
    subprocess.CompletedProcess([], -9, b"", b""),  # killed at its limit
    subprocess.CompletedProcess([], 1, b"", b"MemoryError"),
])
def test_a_child_that_dies_is_a_clear_refusal(monkeypatch, outcome):
    monkeypatch.setattr(reading.subprocess, "run", lambda *args, **kwargs: outcome)
    with pytest.raises(ImportFileError, match="trop de mémoire ou de temps"):
        importer.read_table(b"Nom;Pr\xc3\xa9nom\n", "liste.csv")


def test_a_child_that_hangs_is_a_clear_refusal(monkeypatch):
    def run(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], kwargs["timeout"])

    monkeypatch.setattr(reading.subprocess, "run", run)
    with pytest.raises(ImportFileError, match="trop de mémoire ou de temps"):
        importer.read_table(b"Nom;Pr\xc3\xa9nom\n", "liste.csv")


def test_the_child_answers_in_json_with_dates_tagged():
    content = to_xlsx([xlsx_row(0)])
    child = subprocess.run([sys.executable, "-I", "-S", parsing.__file__, ".xlsx"],
                           input=content, capture_output=True, check=True)
    rows = json.loads(child.stdout)["rows"]
    assert rows[1][1][2] == {"$date": "1965-01-01T00:00:00"}
    assert importer.read_table(content, "liste.xlsx").rows[0].cells[2] == datetime(1965, 1, 1)
