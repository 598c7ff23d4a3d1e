"""Referral import, step 1: reading a CSV or XLSX file into a ``RawTable``, uninterpreted.

Size, format, encoding and shape are checked here; a file refused as a whole raises
``ImportFileError``.
"""
from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from stages.enrollment.importer.columns import _known_headers
from stages.enrollment.importer.common import (
    ENCODING_MESSAGE,
    HEADER_SEARCH_ROWS,
    MAX_COLUMNS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MAX_SCANNED_ROWS,
    MAX_UNZIPPED_BYTES,
    ODS_MESSAGE,
    UNREADABLE_XLSX,
    XLS_MESSAGE,
    ImportFileError,
)

@dataclass(frozen=True)
class RawRow:
    line: int
    cells: tuple
    formulas: frozenset[int] = frozenset()  # positions of XLSX cells computed by a formula


@dataclass
class RawTable:
    """A file's header and non-blank data rows, before any interpretation."""

    headers: list[str]
    rows: list[RawRow]
    notes: list[str] = field(default_factory=list)  # how it was read, shown in the preview


def check_size(size: int) -> None:
    """Refuse a file over 10 MB before reading it."""
    if size > MAX_FILE_BYTES:
        megabytes = f"{size / 1024 / 1024:.1f}".replace(".", ",")
        raise ImportFileError(
            f"Le fichier pèse {megabytes} Mo : la limite est de 10 Mo. Découpez la liste en "
            "plusieurs fichiers."
        )


def read_table(content: bytes, filename: str = "") -> RawTable:
    """Read a CSV or XLSX file; the format is told by the content, the name only breaks ties."""
    check_size(len(content))
    if not content.strip():
        raise ImportFileError("Le fichier est vide.")
    name = filename.lower()
    if content.startswith(b"\xd0\xcf\x11\xe0") or name.endswith(".xls"):
        raise ImportFileError(XLS_MESSAGE)
    if content.startswith(b"PK\x03\x04"):
        return _read_xlsx(content)
    if name.endswith((".xlsx", ".xlsm")):
        raise ImportFileError(UNREADABLE_XLSX)
    return _read_csv(content)


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
    raise ImportFileError(ENCODING_MESSAGE)


_DELIMITER_NAMES = {";": "point-virgule", ",": "virgule", "\t": "tabulation"}


def _sniff_delimiter(text: str) -> str:
    """``;`` (French Excel), ``,`` or tab: the one a line of the file's start holds most of."""
    lines = [line for line in itertools.islice(io.StringIO(text), 2 * HEADER_SEARCH_ROWS)]
    unquoted = [re.sub(r'"[^"]*"', "", line) for line in lines if line.strip()]
    counts = {d: max((line.count(d) for line in unquoted), default=0) for d in _DELIMITER_NAMES}
    best = max(counts, key=counts.get)  # ties go to ";" (first): the French default
    return best if counts[best] else ";"


def _read_csv(content: bytes) -> RawTable:
    text, encoding = _decode(content)
    delimiter = _sniff_delimiter(text)
    # strict: an unclosed quote is an error, not the rest of the file silently read as one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    table = _table_from_rows(_csv_rows(reader))
    note = f"Fichier CSV, séparateur « {_DELIMITER_NAMES[delimiter]} », encodage {encoding}."
    if encoding == "Windows-1252":
        note += (
            " Le fichier n'étant pas en UTF-8, il a été lu comme un export « CSV » d'Excel "
            "(Windows-1252) : vérifiez les accents dans l'aperçu."
        )
    table.notes.insert(0, note)
    return table


def _csv_rows(reader) -> Iterator[RawRow]:
    line = 0
    try:
        for line, record in enumerate(reader, start=1):
            yield RawRow(line, tuple(record[:MAX_COLUMNS]))
    except csv.Error:
        raise ImportFileError(
            f"Le fichier CSV est mal formé à la ligne {line + 1} : un guillemet n'y est pas "
            "refermé, ou une cellule est démesurée. Corrigez cette ligne ou enregistrez de nouveau "
            "le fichier depuis Excel."
        ) from None


def _read_xlsx(content: bytes) -> RawTable:
    from openpyxl import load_workbook

    # openpyxl warns about the spreadsheet features it skips (extensions, styles): noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        formulas = _formula_cells(content) if _inspect_zip(content) else {}
        try:
            workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as error:  # a damaged file raises many kinds of errors inside openpyxl
            raise ImportFileError(UNREADABLE_XLSX) from error
        try:
            if not workbook.worksheets:
                raise ImportFileError("Ce classeur ne contient aucune feuille de données.")
            sheet = workbook.worksheets[0]
            sheet.reset_dimensions()  # some programs write wrong dimensions: read every row
            table = _table_from_rows(_sheet_rows(sheet, formulas))
            note = f"Classeur XLSX, feuille « {sheet.title} »."
            if len(workbook.worksheets) > 1:
                note += f" Seule la première des {len(workbook.worksheets)} feuilles est lue."
        finally:
            workbook.close()
    table.notes.insert(0, note)
    return table


def _inspect_zip(content: bytes) -> bool:
    """Check the archive (zip bomb, OpenDocument) and tell whether any sheet holds a formula."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > MAX_UNZIPPED_BYTES:
                raise ImportFileError(
                    "Ce classeur est anormalement volumineux une fois décompressé : enregistrez "
                    "la liste seule, au format CSV UTF-8."
                )
            if "mimetype" in archive.namelist() and b"opendocument" in archive.read("mimetype"):
                raise ImportFileError(ODS_MESSAGE)
            return any(
                _holds_formula(archive, info)
                for info in infos
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
            )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError,
            EOFError) as error:
        raise ImportFileError(UNREADABLE_XLSX) from error


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _holds_formula(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    tail = b""
    with archive.open(info) as stream:
        while chunk := stream.read(1 << 20):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-16:]
    return False


def _formula_cells(content: bytes) -> dict[int, frozenset[int]]:
    """Line → positions of formula cells, for the rare workbooks that have any.

    The values pass (``data_only=True``) gives each formula's cached result and cannot tell it
    from typed text, so a second pass reads the formulas themselves.
    """
    from openpyxl import load_workbook

    found: dict[int, frozenset[int]] = {}
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
    except Exception as error:  # see _read_xlsx
        raise ImportFileError(UNREADABLE_XLSX) from error
    try:
        if not workbook.worksheets:
            return found  # said by the values pass
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()
        for line, values in enumerate(_guarded(sheet.iter_rows(values_only=True)), start=1):
            positions = frozenset(
                i for i, v in enumerate(values) if isinstance(v, str) and v.startswith("=")
            )
            if positions:
                found[line] = positions
            if line > MAX_SCANNED_ROWS:
                break
    finally:
        workbook.close()
    return found


def _guarded(rows: Iterator) -> Iterator:
    """openpyxl parses lazily: a damaged sheet fails while rows are read, not when opened."""
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except Exception as error:  # see _read_xlsx
            raise ImportFileError(UNREADABLE_XLSX) from error
        yield values


def _sheet_rows(sheet, formulas: dict[int, frozenset[int]]) -> Iterator[RawRow]:
    for line, values in enumerate(_guarded(sheet.iter_rows(values_only=True)), start=1):
        yield RawRow(line, tuple(values[:MAX_COLUMNS]), formulas.get(line, frozenset()))


def _is_blank(cells: tuple) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _table_from_rows(rows: Iterable[RawRow]) -> RawTable:
    """Find the header row among the first lines, then keep the non-blank rows under it."""
    rows = iter(rows)
    head: list[RawRow] = []
    for row in rows:
        if _is_blank(row.cells):
            continue
        head.append(row)
        if _known_headers(row.cells) >= 3 or len(head) == HEADER_SEARCH_ROWS:
            break
    if not head:
        raise ImportFileError("Le fichier est vide.")
    header = next((r for r in head if _known_headers(r.cells) >= 3), head[0])
    data: list[RawRow] = []
    for row in itertools.chain((r for r in head if r.line > header.line), rows):
        if row.line - header.line > MAX_SCANNED_ROWS:
            raise _too_many_rows()
        if _is_blank(row.cells):
            continue
        data.append(row)
        if len(data) > MAX_ROWS:
            raise _too_many_rows()
    if not data:
        raise ImportFileError("Le fichier ne contient aucune ligne de données sous l'en-tête.")
    notes = []
    if header.line > 1:
        notes.append(
            f"L'en-tête a été trouvé à la ligne {header.line} ; les lignes au-dessus sont ignorées."
        )
    return RawTable([_plain(cell) for cell in header.cells], data, notes)


def _too_many_rows() -> ImportFileError:
    limit = f"{MAX_ROWS:,}".replace(",", "\u202f")
    return ImportFileError(
        f"Le fichier contient plus de {limit} lignes : découpez-le en plusieurs fichiers."
    )


def _plain(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""
