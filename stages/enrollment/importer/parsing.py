"""Referral import, step 1, in a child process: the bytes of a CSV or XLSX file to plain rows.

A spreadsheet is hostile input: a 220 KB .xlsx can unzip to a sheet of 140 MB of empty
``<row/>`` elements, and a tree-building XML parser keeps every one of them. So the bytes are
never parsed in the web worker: ``reading.read_table`` runs this module as a script in a child
process (``python -I -S parsing.py``), which first limits its own memory and CPU time with
``resource.setrlimit``, reads the file from stdin and writes the rows to stdout as JSON. Whatever
a file does, it costs the child at most those limits and the worker nothing: its memory does not
grow. The module imports the standard library only, so the child starts in a few milliseconds of
CPU time.

XLSX is read as a stream: expat events over the decompressed sheet, fed 64 KB at a time, keeping
nothing but the current row, with hard limits on rows (blank ones included), cells and time.
CSV is decoded (UTF-8, else Windows-1252) and split by ``csv`` under the same row and time limits.

The output is the file's non-blank rows, each with its line number as the spreadsheet shows it
and the positions of its XLSX cells computed by a formula, plus notes on how the file was read
(format, encoding, delimiter, sheet); or a French message saying why the file is refused.
"""
from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import math
import posixpath
import re
import sys
import time
import zipfile
from datetime import datetime, timedelta
from xml.parsers import expat

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
HEADER_SEARCH_ROWS = 10  # a title line or two often sits above the header row
# Lines read, blank ones included: past this the file is refused, whatever it holds.
MAX_SCANNED_ROWS = 5 * MAX_ROWS
MAX_COLUMNS = 200  # cells beyond are ignored: a list has about twenty columns
MAX_CELLS = 1_000_000  # cells read in a sheet, empty and ignored ones included
MAX_CELL_CHARS = 32_767  # Excel's own limit
# An XLSX is a zip: bound what it may expand to (zip bombs); it is read as a stream anyway.
MAX_UNZIPPED_BYTES = 150 * 1024 * 1024
MAX_PART_BYTES = 20 * 1024 * 1024  # the workbook, its relationships and styles: small parts
# CPU seconds (a loaded server stretches the wall-clock time, not this): a list of 20,000 rows
# and 19 columns reads in about 2 s.
MAX_CPU_SECONDS = 10
# The child's own limits (``resource.setrlimit``): its address space and CPU time.
MEMORY_LIMIT_BYTES = 768 * 1024 * 1024
CPU_LIMIT_SECONDS = 15
_CHUNK = 64 * 1024

ENCODING_MESSAGE = (
    "Le fichier n'a pas pu être lu : il n'est encodé ni en UTF-8 ni en Windows-1252, ou ce n'est "
    "pas un fichier CSV. Depuis Excel, enregistrez-le au format « CSV UTF-8 (délimité par des "
    "virgules) » ou « Classeur Excel (.xlsx) »."
)
XLS_MESSAGE = (
    "Les classeurs .xls (Excel 97-2003) et les classeurs protégés par un mot de passe ne sont pas "
    "acceptés : enregistrez le fichier, sans mot de passe, au format « Classeur Excel (.xlsx) » "
    "ou « CSV UTF-8 »."
)
ODS_MESSAGE = (
    "Les fichiers OpenDocument (.ods) ne sont pas acceptés : dans LibreOffice, enregistrez la "
    "feuille au format .xlsx ou CSV (UTF-8)."
)
UNREADABLE_XLSX = (
    "Ce classeur n'a pas pu être lu (fichier endommagé ou d'un autre format) : ouvrez-le dans "
    "Excel et enregistrez-le de nouveau au format « Classeur Excel (.xlsx) » ou « CSV UTF-8 »."
)
TOO_HEAVY = (
    "Ce fichier demande trop de mémoire ou de temps pour être lu : enregistrez la liste seule, "
    "sans mise en forme, au format « CSV UTF-8 », ou découpez-la en plusieurs fichiers."
)
DELIMITER_NAMES = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}


class FileRefused(Exception):
    """The file is refused as a whole; the message is French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def too_many_rows() -> FileRefused:
    limit = f"{MAX_ROWS:,}".replace(",", "\u202f")
    return FileRefused(
        f"Le fichier contient plus de {limit} lignes : découpez-le en plusieurs fichiers."
    )


def _too_many_lines() -> FileRefused:
    limit = f"{MAX_SCANNED_ROWS:,}".replace(",", "\u202f")
    return FileRefused(
        f"Le fichier compte plus de {limit} lignes, vides comprises : enregistrez la liste seule "
        "(sans les lignes vides qui la suivent) ou découpez-la en plusieurs fichiers."
    )


class _Rows:
    """The non-blank rows read so far, under the row and time limits."""

    def __init__(self):
        self.rows: list[list] = []
        self.seen = 0
        self.deadline = time.process_time() + MAX_CPU_SECONDS

    def add(self, line: int, cells: list, formulas: list[int]) -> None:
        if line > MAX_SCANNED_ROWS:
            raise _too_many_lines()
        self.seen += 1
        if self.seen % 1024 == 0 and time.process_time() > self.deadline:
            raise FileRefused(TOO_HEAVY)
        if all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells):
            return
        if len(self.rows) >= MAX_ROWS + HEADER_SEARCH_ROWS:
            raise too_many_rows()  # the header is among the first non-blank rows
        self.rows.append([line, cells, formulas])


def read_rows(content: bytes, extension: str = "") -> dict:
    """``{"rows": [[line, cells, formula positions], ...], "notes": [...]}`` for a CSV or XLSX
    file; the format is told by the content, the name's extension only breaks ties."""
    if len(content) > MAX_FILE_BYTES:
        raise FileRefused("Le fichier dépasse 10 Mo.")  # said in detail by the caller
    if not content.strip():
        raise FileRefused("Le fichier est vide.")
    if content.startswith(b"\xd0\xcf\x11\xe0") or extension == ".xls":
        raise FileRefused(XLS_MESSAGE)
    if content.startswith(b"PK\x03\x04"):
        return _read_xlsx(content)
    if extension in (".xlsx", ".xlsm"):
        raise FileRefused(UNREADABLE_XLSX)
    return _read_csv(content)


# ---------------------------------------------------------------------------------------------
# CSV


def _decode(content: bytes) -> tuple[str, str]:
    """The text and its encoding's name.

    UTF-8 first (with or without BOM); then Windows-1252, what Excel's plain « CSV » export writes
    in France. Bytes that are neither (or hold NUL characters: a binary file or UTF-16 without its
    mark) are refused rather than guessed.
    """
    if content.startswith(codecs.BOM_UTF8):
        candidates = [("utf-8-sig", "UTF-8")]
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = [("utf-16", "UTF-16")]  # Excel's « Texte Unicode »
    else:
        candidates = [("utf-8", "UTF-8"), ("cp1252", "Windows-1252")]
    for codec, name in candidates:
        try:
            text = content.decode(codec)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text, name
        break
    raise FileRefused(ENCODING_MESSAGE)


def _sniff_delimiter(text: str) -> str:
    """``;`` (French Excel), ``,`` or tab: the one a line of the file's start holds most of."""
    lines = list(itertools.islice(io.StringIO(text), 2 * HEADER_SEARCH_ROWS))
    unquoted = [re.sub(r'"[^"]*"', "", line) for line in lines if line.strip()]
    counts = {d: max((line.count(d) for line in unquoted), default=0) for d in DELIMITER_NAMES}
    best = max(counts, key=counts.get)  # ties go to ";" (first): the French default
    return best if counts[best] else ";"


def _read_csv(content: bytes) -> dict:
    text, encoding = _decode(content)
    delimiter = _sniff_delimiter(text)
    # strict: an unclosed quote is an error, not the rest of the file silently read as one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = _Rows()
    line = 0
    try:
        for line, record in enumerate(reader, start=1):
            rows.add(line, record[:MAX_COLUMNS], [])
    except csv.Error:
        raise FileRefused(
            f"Le fichier CSV est mal formé à la ligne {line + 1} : un guillemet n'y est pas "
            "refermé, ou une cellule est démesurée. Corrigez cette ligne ou enregistrez de nouveau "
            "le fichier depuis Excel."
        ) from None
    note = f"Fichier CSV, séparateur « {DELIMITER_NAMES[delimiter]} », encodage {encoding}."
    if encoding == "Windows-1252":
        note += (
            " Le fichier n'étant pas en UTF-8, il a été lu comme un export « CSV » d'Excel "
            "(Windows-1252) : vérifiez les accents dans l'aperçu."
        )
    return {"rows": rows.rows, "notes": [note]}


# ---------------------------------------------------------------------------------------------
# XLSX: the package's parts, each parsed by expat as a stream


_LOCAL_NAMES: dict[str, str] = {}


def _local(name: str) -> str:
    """``{namespace}local`` (expat with a namespace separator) → ``local``; a sheet has a few
    dozen names, each met thousands of times: they are remembered."""
    local = _LOCAL_NAMES.get(name)
    if local is None:
        local = name[name.rfind("}") + 1:]
        if len(_LOCAL_NAMES) < 512:
            _LOCAL_NAMES[name] = local
    return local


def _refuse_markup(*_args) -> None:
    # A spreadsheet never declares a document type or entities: refusing them keeps entity
    # expansion (« billion laughs ») and external entities out entirely.
    raise FileRefused(UNREADABLE_XLSX)


def _parse(archive: zipfile.ZipFile, name: str, handler, limit: int | None = None) -> None:
    """Feed the part ``name`` to ``handler``'s ``start``/``end``/``text`` methods, 64 KB at a time."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise FileRefused(UNREADABLE_XLSX) from None
    if limit is not None and info.file_size > limit:
        raise FileRefused(TOO_HEAVY)
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_markup
    parser.EntityDeclHandler = _refuse_markup
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    if hasattr(handler, "text"):
        parser.CharacterDataHandler = handler.text
    deadline = time.process_time() + MAX_CPU_SECONDS
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                parser.Parse(chunk, False)
                if time.process_time() > deadline:
                    raise FileRefused(TOO_HEAVY)
            parser.Parse(b"", True)
    except _Done:
        pass
    except (expat.ExpatError, zipfile.BadZipFile, EOFError, OSError, RuntimeError,
            NotImplementedError, ValueError, OverflowError) as error:
        raise FileRefused(UNREADABLE_XLSX) from error


class _Done(Exception):
    """Raised by a handler that has read all it needs from a part."""


class _Relationships:
    """``Id`` → (``Type``'s last word, part name) of a ``.rels`` part."""

    def __init__(self, base: str):
        self.base = base
        self.targets: dict[str, tuple[str, str]] = {}

    def start(self, name, attrs):
        if _local(name) == "Relationship" and "Id" in attrs and "Target" in attrs:
            target = attrs["Target"]
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                posixpath.join(self.base, target))
            self.targets[attrs["Id"]] = (attrs.get("Type", "").rpartition("/")[2], path)

    def end(self, name):
        pass

    def of_type(self, kind: str) -> str | None:
        return next((path for k, path in self.targets.values() if k == kind), None)


def _has(archive: zipfile.ZipFile, name: str) -> bool:
    try:
        archive.getinfo(name)
    except KeyError:
        return False
    return True


def _relationships(archive: zipfile.ZipFile, part: str) -> _Relationships:
    folder, _, filename = part.rpartition("/")
    rels = _Relationships(folder)
    name = posixpath.join(folder, "_rels", filename + ".rels")
    if _has(archive, name):
        _parse(archive, name, rels, MAX_PART_BYTES)
    return rels


class _Workbook:
    """The sheets' names and relationship ids, in order, and the date system."""

    def __init__(self):
        self.sheets: list[tuple[str, str]] = []
        self.date1904 = False

    def start(self, name, attrs):
        tag = _local(name)
        if tag == "sheet":
            rel_id = next((v for k, v in attrs.items() if _local(k) == "id"), "")
            self.sheets.append((attrs.get("name", ""), rel_id))
        elif tag == "workbookPr":
            self.date1904 = attrs.get("date1904", "0").lower() in ("1", "true")

    def end(self, name):
        pass


class _SharedStrings:
    """The texts that cells of type ``s`` point to; phonetic runs (``rPh``) left out."""

    def __init__(self):
        self.strings: list[str] = []
        self.parts: list[str] = []
        self.in_text = False
        self.phonetic = 0

    def start(self, name, attrs):
        tag = _local(name)
        if tag == "si":
            self.parts = []
        elif tag == "t":
            self.in_text = not self.phonetic
        elif tag == "rPh":
            self.phonetic += 1

    def end(self, name):
        tag = _local(name)
        if tag == "si":
            self.strings.append("".join(self.parts))
            if len(self.strings) > MAX_CELLS:
                raise FileRefused(TOO_HEAVY)
        elif tag == "t":
            self.in_text = False
        elif tag == "rPh":
            self.phonetic -= 1

    def text(self, data):
        if self.in_text:
            self.parts.append(data)


# Built-in number formats that show a date (ECMA-376, 18.8.30); 18–21 and 45–47 are times only.
_BUILTIN_DATES = frozenset((14, 15, 16, 17, 22, *range(27, 37), *range(50, 59)))
_NOT_DATE_PARTS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')


def _is_date_format(code: str) -> bool:
    """A custom format that shows a day or a year (« jj/mm/aaaa » is saved as dd/mm/yyyy)."""
    visible = _NOT_DATE_PARTS.sub("", code.split(";")[0]).lower()
    return "d" in visible or "y" in visible


class _Styles:
    """The cell styles (``cellXfs`` positions) whose number format shows a date."""

    def __init__(self):
        self.custom: dict[int, str] = {}
        self.formats: list[int] = []
        self.in_cell_xfs = False

    def start(self, name, attrs):
        tag = _local(name)
        if tag == "numFmt":
            self.custom[_int(attrs.get("numFmtId"), -1)] = attrs.get("formatCode", "")
        elif tag == "cellXfs":
            self.in_cell_xfs = True
        elif tag == "xf" and self.in_cell_xfs:
            self.formats.append(_int(attrs.get("numFmtId"), 0))

    def end(self, name):
        if _local(name) == "cellXfs":
            self.in_cell_xfs = False

    def date_styles(self) -> frozenset[int]:
        return frozenset(
            index for index, fmt in enumerate(self.formats)
            if fmt in _BUILTIN_DATES or (fmt in self.custom and _is_date_format(self.custom[fmt]))
        )


def _int(text, default: int) -> int:
    return int(text) if text and text.isdigit() and len(text) < 10 else default


_NUMBER = re.compile(r"-?\d{1,20}(\.\d{1,20})?([eE][-+]?\d{1,3})?")
_EXCEL_EPOCH = datetime(1899, 12, 30)
_MAX_SERIAL = 2_958_465  # 31/12/9999


def _number(text: str, is_date: bool, date1904: bool):
    """A numeric cell: int, float, or the date it shows (Excel's day count)."""
    if not _NUMBER.fullmatch(text):
        return text  # not a number after all: kept as written
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        return text
    if not is_date or not 0 <= value <= _MAX_SERIAL:
        return value
    if date1904:
        epoch = datetime(1904, 1, 1)
    else:  # Excel counts a 29/02/1900 that never was: days before it start a day later
        epoch = _EXCEL_EPOCH if value >= 60 else _EXCEL_EPOCH + timedelta(days=1)
    return epoch + timedelta(seconds=round(value * 86_400))


_REFERENCE = re.compile(r"([A-Z]{1,3})\d+")


def _column(reference: str) -> int | None:
    """``"C12"`` → 2; None when the reference is not one."""
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        return None
    number = 0
    for char in match.group(1):
        number = number * 26 + ord(char) - 64
    return number - 1


class _Sheet:
    """The rows of a worksheet, one at a time: only the current row is ever kept."""

    def __init__(self, shared: list[str], date_styles: frozenset[int], date1904: bool):
        self.shared, self.date_styles, self.date1904 = shared, date_styles, date1904
        self.rows = _Rows()
        self.line = 0
        self.cells: dict[int, object] = {}
        self.formulas: list[int] = []
        self.count = 0
        self.position = -1
        self.kind = self.style = None
        self.value: str | None = None
        self.formula = False
        self.collecting: list[str] | None = None
        self.collected = 0
        self.inline: list[str] | None = None
        self.phonetic = 0

    def start(self, name, attrs):
        tag = _local(name)
        if tag == "c":
            self.count += 1
            if self.count > MAX_CELLS:
                raise FileRefused(TOO_HEAVY)
            reference = attrs.get("r")
            column = _column(reference) if reference else None
            self.position = column if column is not None else self.position + 1
            self.kind, self.style = attrs.get("t", "n"), _int(attrs.get("s"), 0)
            self.value, self.formula, self.inline = None, False, None
        elif tag == "v":
            self._collect()
        elif tag == "f":
            self.formula = True
        elif tag == "is":
            self.inline = []
        elif tag == "t" and self.inline is not None and not self.phonetic:
            self._collect()
        elif tag == "rPh":
            self.phonetic += 1
        elif tag == "row":
            line = _int(attrs.get("r"), 0)
            self.line = line if line > self.line else self.line + 1
            if self.line > MAX_SCANNED_ROWS:
                raise _too_many_lines()
            self.cells, self.formulas, self.position = {}, [], -1

    def _collect(self):
        self.collecting, self.collected = [], 0

    def text(self, data):
        if self.collecting is not None:
            self.collected += len(data)
            if self.collected > MAX_CELL_CHARS:
                raise FileRefused(
                    "Une cellule du classeur dépasse 32 767 caractères, la limite d'Excel : ce "
                    "fichier n'est pas une liste d'orientation."
                )
            self.collecting.append(data)

    def end(self, name):
        tag = _local(name)
        if tag == "v" and self.collecting is not None:
            self.value, self.collecting = "".join(self.collecting), None
        elif tag == "t" and self.collecting is not None:
            self.inline.append("".join(self.collecting))
            self.collecting = None
        elif tag == "rPh":
            self.phonetic -= 1
        elif tag == "c":
            value = self._cell_value()
            if 0 <= self.position < MAX_COLUMNS and (value is not None or self.formula):
                self.cells[self.position] = value
                if self.formula:
                    self.formulas.append(self.position)
        elif tag == "row":
            width = max(self.cells, default=-1) + 1
            self.rows.add(self.line, [self.cells.get(i) for i in range(width)], self.formulas)
        elif tag == "sheetData":
            raise _Done

    def _cell_value(self):
        kind, value = self.kind, self.value
        if kind == "inlineStr":
            return "".join(self.inline) if self.inline else None
        if not value:
            return None  # an empty cell, or a formula whose result was never saved
        if kind == "s":
            index = _int(value, -1)
            if not 0 <= index < len(self.shared):
                raise FileRefused(UNREADABLE_XLSX)
            return self.shared[index]
        if kind == "b":
            return value.strip() in ("1", "true")
        if kind == "d":
            try:
                return datetime.fromisoformat(value.strip())
            except ValueError:
                return value
        if kind in ("str", "e"):
            return value
        return _number(value.strip(), self.style in self.date_styles, self.date1904)


def _read_xlsx(content: bytes) -> dict:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as error:
        raise FileRefused(UNREADABLE_XLSX) from error
    with archive:
        infos = archive.infolist()
        if sum(info.file_size for info in infos) > MAX_UNZIPPED_BYTES:
            raise FileRefused(
                "Ce classeur est anormalement volumineux une fois décompressé : enregistrez "
                "la liste seule, au format CSV UTF-8."
            )
        if _has(archive, "mimetype") and b"opendocument" in archive.read("mimetype")[:200]:
            raise FileRefused(ODS_MESSAGE)
        workbook_part = _relationships(archive, "").of_type("officeDocument") or "xl/workbook.xml"
        workbook = _Workbook()
        _parse(archive, workbook_part, workbook, MAX_PART_BYTES)
        parts = _relationships(archive, workbook_part)
        sheets = [
            (name, parts.targets[rel_id][1]) for name, rel_id in workbook.sheets
            if parts.targets.get(rel_id, ("",))[0] == "worksheet"
        ]
        if not sheets:
            raise FileRefused("Ce classeur ne contient aucune feuille de données.")
        shared = _SharedStrings()
        if shared_part := parts.of_type("sharedStrings"):
            _parse(archive, shared_part, shared)
        styles = _Styles()
        if styles_part := parts.of_type("styles"):
            _parse(archive, styles_part, styles, MAX_PART_BYTES)
        title, sheet_part = sheets[0]
        sheet = _Sheet(shared.strings, styles.date_styles(), workbook.date1904)
        _parse(archive, sheet_part, sheet)
    note = f"Classeur XLSX, feuille « {title} »."
    if len(sheets) > 1:
        note += f" Seule la première des {len(sheets)} feuilles est lue."
    return {"rows": sheet.rows.rows, "notes": [note]}


# ---------------------------------------------------------------------------------------------
# The child process


def _encode(value):
    if isinstance(value, datetime):
        return {"$date": value.isoformat()}
    raise TypeError(type(value).__name__)


def _limit_resources() -> None:
    """The child's ceiling: address space and CPU time (SIGXCPU ends it past the soft limit)."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_LIMIT_SECONDS, CPU_LIMIT_SECONDS + 1))


def main() -> None:
    """Read the file from stdin (its extension, lower-case, as the only argument), write JSON."""
    _limit_resources()
    content = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
    try:
        result = read_rows(content, sys.argv[1] if len(sys.argv) > 1 else "")
    except FileRefused as refused:
        result = {"error": refused.message}
    except (MemoryError, RecursionError):
        result = {"error": TOO_HEAVY}
    sys.stdout.buffer.write(json.dumps(result, default=_encode).encode("ascii"))


if __name__ == "__main__":
    main()
