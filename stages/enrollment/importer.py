"""Import of referral lists (« listes d'orientation ») sent by the parquets, from CSV or XLSX.

Three steps, each usable on its own, so that the upload page and ``flask stages
import-referrals`` show the same preview:

1. ``read_table(content, filename)`` turns the bytes into a ``RawTable``: the header row, the raw
   cells and the line numbers the user sees in the spreadsheet (header = line 1). Oversized,
   binary, badly encoded or malformed files are refused as a whole with ``ImportFileError``;
2. ``plan_import(table, association)`` maps the French headers to fields, converts and validates
   each row with the enrollment services' validators, and decides what would happen to it (new
   person, attached to a person on file, already imported, repeated in the file). It writes
   nothing: this is the preview;
3. ``create_from_plan(report)`` creates the participants and measures in the caller's transaction
   when no row has an error (``run_import`` = 2 then 3). The caller commits once: all or nothing.

Re-imports: each row gets an ``import_key``, the SHA-256 of its normalized referral (authority,
case reference, surname, first names, birth date, frame), stored on the measure and unique in the
database, so the same rows — in any file, in any order — are never created twice.

Messages never quote a cell of an identity column (names, birth dates…): the line and column are
enough to find it, and CLI output may end up in logs.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.enrollment.models import LegalFrame, LegalMeasure, Participant, Payer, PaymentStatus
from stages.enrollment.services import (
    MeasureData,
    ParticipantData,
    add_measure,
    create_participant,
    find_duplicates,
    search_key,
    validate_measure,
    validate_participant,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import AUTHORITY_KINDS, Organization, OrganizationKind

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_ROWS = 20_000
# An XLSX is a zip: bound what it may expand to (zip bombs) and the rows scanned, blank included.
MAX_UNZIPPED_BYTES = 150 * 1024 * 1024
MAX_SCANNED_ROWS = 5 * MAX_ROWS
MAX_COLUMNS = 200  # cells beyond are ignored: a list has about twenty columns
HEADER_SEARCH_ROWS = 10  # a title line or two often sits above the header row
CHUNK = 500  # values per IN (...): far below every database's parameter limit
SAMPLE_SIZE = 10
Progress = Callable[[int], None]

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
FORMULA_MESSAGE = (
    "Contenu interprétable comme une formule (la cellule commence par « = », « + », « - », "
    "« @ » ou une tabulation) : refusé par sécurité. Retirez ce premier caractère."
)


class ImportFileError(DomainError):
    """The file as a whole cannot be read (size, format, encoding, columns): no row is looked at."""


@dataclass(frozen=True)
class RowError:
    """One problem in one row, at the line numbered as in the spreadsheet (header = line 1)."""

    line: int
    column: str | None  # the header as written in the file; None when the whole row is concerned
    message: str

    def __str__(self) -> str:
        where = f"Ligne {self.line}" + (f", colonne « {self.column} »" if self.column else "")
        return f"{where} : {self.message}"


# ---------------------------------------------------------------------------------------------
# Reading the file


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


# ---------------------------------------------------------------------------------------------
# Columns


class Kind(StrEnum):
    TEXT = "text"
    POSTAL_CODE = "postal_code"
    PHONE = "phone"
    EMAIL = "email"
    DATE = "date"
    AMOUNT = "amount"
    FRAME = "frame"
    AUTHORITY = "authority"
    PAYER = "payer"
    PAYMENT = "payment"


# A formula's cached result is accepted in these columns (a deadline computed as decision + 6
# months is common); everywhere else a formula is refused.
COMPUTABLE_KINDS = (Kind.DATE, Kind.AMOUNT)


def _max_length(model, name: str) -> int:
    return model.__table__.c[name].type.length


@dataclass(frozen=True)
class Column:
    """A field the import understands, its French header and the other headers accepted for it."""

    field: str
    label: str
    kind: Kind = Kind.TEXT
    required: bool = False
    synonyms: tuple[str, ...] = ()
    max_length: int | None = None


_P, _M = Participant, LegalMeasure
COLUMNS = (
    Column("surname", "Nom", required=True, max_length=_max_length(_P, "surname"),
           synonyms=("Nom de famille", "Nom d'usage", "Nom patronymique", "Nom de naissance")),
    Column("first_names", "Prénom(s)", required=True, max_length=_max_length(_P, "first_names"),
           synonyms=("Prénom",)),
    Column("birth_date", "Date de naissance", Kind.DATE, required=True,
           synonyms=("Né le", "Né(e) le", "Date naissance", "DDN")),
    Column("birth_place", "Lieu de naissance", max_length=_max_length(_P, "birth_place"),
           synonyms=("Né à", "Né(e) à", "Ville de naissance", "Commune de naissance")),
    Column("address", "Adresse", max_length=_max_length(_P, "address"),
           synonyms=("Adresse postale", "Domicile")),
    Column("postal_code", "Code postal", Kind.POSTAL_CODE,
           max_length=_max_length(_P, "postal_code"), synonyms=("CP",)),
    Column("city", "Ville", max_length=_max_length(_P, "city"), synonyms=("Commune", "Localité")),
    Column("phone", "Téléphone", Kind.PHONE, max_length=_max_length(_P, "phone"),
           synonyms=("Tél", "Portable", "Mobile", "Téléphone portable", "N° de téléphone")),
    Column("email", "Courriel", Kind.EMAIL, max_length=_max_length(_P, "email"),
           synonyms=("E-mail", "Mél", "Mail", "Adresse électronique", "Adresse mail")),
    Column("frame", "Cadre", Kind.FRAME, required=True,
           synonyms=("Cadre juridique", "Cadre légal", "Type de mesure", "Mesure")),
    Column("authority", "Autorité", Kind.AUTHORITY, required=True,
           synonyms=("Autorité prescriptrice", "Prescripteur", "Juridiction", "Parquet")),
    Column("case_reference", "N° de parquet", required=True,
           max_length=_max_length(_M, "case_reference"),
           synonyms=("Numéro de parquet", "Nº de parquet", "N° parquet",
                     "Num parquet", "Référence", "Référence de la procédure", "N° de procédure",
                     "Numéro de procédure")),
    Column("facts_date", "Date des faits", Kind.DATE, synonyms=("Date de l'infraction",)),
    Column("decision_date", "Date de décision", Kind.DATE, required=True,
           synonyms=("Date de la décision", "Date du jugement")),
    Column("final_date", "Date définitive", Kind.DATE,
           synonyms=("Date à laquelle la décision est définitive", "Décision définitive le")),
    Column("deadline", "Date limite", Kind.DATE, required=True,
           synonyms=("Échéance", "Date d'échéance", "Date butoir", "À réaliser avant le")),
    Column("fee_cents", "Montant", Kind.AMOUNT,
           synonyms=("Montant du stage", "Coût", "Coût du stage", "Prix", "Frais de stage")),
    Column("payer", "Payeur", Kind.PAYER, synonyms=("Payé par", "À la charge de")),
    Column("payment_status", "Statut du paiement", Kind.PAYMENT,
           synonyms=("Paiement", "État du paiement", "Statut paiement")),
    Column("certificate_recipient", "Destinataire de l'attestation",
           max_length=_max_length(_M, "certificate_recipient"),
           synonyms=("Destinataire", "Attestation à adresser à")),
)
IDENTITY_FIELDS = frozenset(
    ("surname", "first_names", "birth_date", "birth_place", "address", "postal_code", "city",
     "phone", "email")
)


def normalize(text) -> str:
    """Lower-case, accent-, space- and punctuation-free form, to match headers and labels."""
    text = unicodedata.normalize("NFKD", str(text))
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c)).lower()


_HEADERS = {normalize(name): col for col in COLUMNS for name in (col.label, *col.synonyms)}


def _known_headers(cells: tuple) -> int:
    return sum(1 for cell in cells if cell is not None and normalize(cell) in _HEADERS)


@dataclass(frozen=True)
class ColumnMap:
    """Where each field sits in the file, and the header the user gave it (for messages)."""

    index: dict[str, int]
    headers: dict[str, str]
    notes: list[str]


def map_columns(headers: list[str]) -> ColumnMap:
    """Match the file's headers to fields; a missing required column is a file-level error."""
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    ignored = []
    for position, header in enumerate(headers):
        if not header:
            continue
        column = _HEADERS.get(normalize(header))
        if column is None:
            ignored.append(f"« {header} »")
        elif column.field in index:
            raise ImportFileError(
                f"La colonne « {column.label} » figure deux fois (« {names[column.field]} » et "
                f"« {header} ») : gardez-en une seule."
            )
        else:
            index[column.field], names[column.field] = position, header
    missing = [f"« {c.label} »" for c in COLUMNS if c.required and c.field not in index]
    if missing:
        raise ImportFileError(
            f"Colonne{'s' if len(missing) > 1 else ''} obligatoire{'s' if len(missing) > 1 else ''}"
            f" absente{'s' if len(missing) > 1 else ''} : {', '.join(missing)}. La ligne d'en-tête "
            "doit porter les intitulés des colonnes (Nom, Prénom(s), Date de naissance, Cadre, "
            "Autorité, N° de parquet, Date de décision, Date limite…)."
        )
    notes = [f"Colonnes ignorées (non reconnues) : {', '.join(ignored)}."] if ignored else []
    return ColumnMap(index, names, notes)


# ---------------------------------------------------------------------------------------------
# Cells


class CellError(Exception):
    """A cell's content is refused; the message is French."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# Zero-width characters come with text pasted from web pages or Word: dropped silently.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_SPACES = re.compile(r"\s+")
# Control characters and bidirectional overrides (which can disguise a text): refused.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SIGNED_NUMBER = re.compile(r"[+-][\d\s.,()/€]*")
_PLACEHOLDER = re.compile(r"[-–—]+")


def clean_text(value, *, signed_number_ok: bool = False) -> str | None:
    """A cell as one line of text, or None when empty; formulas and control characters refused."""
    if value is None:
        return None
    text = value if isinstance(value, str) else _scalar_text(value)
    stripped = text.strip()
    if _PLACEHOLDER.fullmatch(stripped):
        return None  # « - » or « — » is how lists say "unknown", not a formula
    formula_like = text[:1] in ("\t", "\r") or stripped[:1] in ("=", "+", "-", "@")
    if formula_like and not (signed_number_ok and _SIGNED_NUMBER.fullmatch(stripped)):
        raise CellError(FORMULA_MESSAGE)
    text = _SPACES.sub(" ", text.translate(_INVISIBLE)).strip()
    if _CONTROL.search(text):
        raise CellError("La cellule contient un caractère de contrôle invisible : retapez-la.")
    return text or None


def _scalar_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # 2412345678.0 from a numeric cell is the reference 2412345678
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value)


def _text(value, column: Column, _referential) -> str | None:
    text = clean_text(value)
    if text and column.max_length and len(text) > column.max_length:
        raise CellError(
            f"Texte trop long ({len(text)} caractères, {column.max_length} au maximum)."
        )
    return text


def _postal_code(value, column, referential) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 100_000:
        return f"{value:05d}"  # Excel drops the leading zero of numeric codes (01000 → 1000)
    return _text(value, column, referential)


def _phone(value, column, referential) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) == 9:
        return f"0{value}"  # a French number typed as a number lost its leading zero
    text = clean_text(value, signed_number_ok=True)
    if text and not re.fullmatch(r"\+?[\d\s.()/-]{6,40}", text):
        raise CellError("Numéro de téléphone illisible : chiffres, espaces et « + » seulement.")
    return text


def _email(value, column, referential) -> str | None:
    text = _text(value, column, referential)
    if text and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise CellError("Adresse électronique invalide.")
    return text


_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?: \d{1,2}[:h]\d{2}(?::\d{2})?)?")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
_DATE_HINT = "écrivez-la JJ/MM/AAAA, par exemple 15/03/2024."


def _date(value, column, referential) -> date | None:
    """A date from a date cell, ``JJ/MM/AAAA`` or ``AAAA-MM-JJ`` (an hour 00:00 is tolerated)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel_serial(value)
    text = clean_text(value)
    if text is None:
        return None
    if match := _DMY.fullmatch(text):
        day, month, year = (int(g) for g in match.groups())
    elif match := _ISO.fullmatch(text):
        year, month, day = (int(g) for g in match.groups())
    else:
        raise CellError(f"Date illisible : {_DATE_HINT}")
    if not 1900 <= year <= 2100:
        raise CellError(f"Année invalide : {_DATE_HINT}")
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError("Cette date n'existe pas (jour ou mois impossible).") from None


def _excel_serial(number: float) -> date:
    """A date cell whose format was lost reads as Excel's day count: 45366 is 15/03/2024."""
    from openpyxl.utils.datetime import from_excel

    if not 1 <= number <= 73_050:  # up to 31/12/2099
        raise CellError(f"Date illisible : {_DATE_HINT}")
    return from_excel(number).date()


_AMOUNT = re.compile(r"[+-]?\d+(?:[.,]\d{1,2})?")


def _amount(value, column, referential) -> int | None:
    """Cents from ``180``, ``180,00``, ``180 €`` or a numeric cell."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        cents = round(value * 100)
        if abs(value * 100 - cents) > 1e-6:
            raise CellError("Montant au centime près attendu (deux décimales au plus).")
        return cents
    text = clean_text(value, signed_number_ok=True)
    if text is None:
        return None
    compact = re.sub(r"\s|€|(?i:eur(?:os?)?)$", "", text)
    if not _AMOUNT.fullmatch(compact):
        raise CellError("Montant illisible : écrivez par exemple 180 ou 180,00 €.")
    return int(Decimal(compact.replace(",", ".")) * 100)


def _choice_map(enum_cls, extra: dict[str, str]) -> dict[str, object]:
    """Normalized code, French label (with and without its article reference) → member."""
    names = {}
    for member in enum_cls:
        for name in (member.value, member.label, member.label.split(" (")[0]):
            names[normalize(name)] = member
    names.update({normalize(name): enum_cls(code) for name, code in extra.items()})
    return names


_FRAMES = _choice_map(LegalFrame, {
    "Mesure alternative aux poursuites": "alternative_poursuites",
    "Alternatives aux poursuites": "alternative_poursuites",
    "Stage (peine)": "peine_stage",
    "Peine de stage de sensibilisation": "peine_stage",
})
_PAYERS = _choice_map(Payer, {
    "Personne convoquée": "participant", "Stagiaire": "participant", "Personne": "participant",
    "Autorité": "authority", "Autorité prescriptrice": "authority", "Dispense": "waived",
    "Dispensé(e)": "waived", "Gratuit": "waived",
})
_PAYMENT_STATUSES = _choice_map(PaymentStatus, {
    "Dû": "due", "Non payé": "due", "Impayé": "due", "Payée": "paid", "Réglé": "paid",
    "Acquitté": "paid", "Dispensée": "waived", "Gratuit": "waived",
})


def _choice(names: dict, message: str):
    def convert(value, column, referential):
        text = clean_text(value)
        if text is None:
            return None
        member = names.get(normalize(text))
        if member is None:
            raise CellError(message.format(value=text[:60]))
        return member

    return convert


class Referential:
    """The organizations, loaded once per import so that no row costs a query."""

    def __init__(self, organizations: Iterable[Organization]):
        self.by_name: dict[str, list[Organization]] = {}
        self.by_short_name: dict[str, list[Organization]] = {}
        for org in organizations:
            self.by_name.setdefault(normalize(org.name), []).append(org)
            self.by_short_name.setdefault(normalize(org.short_name), []).append(org)

    @classmethod
    def load(cls) -> Referential:
        return cls(db.session.scalars(sa.select(Organization)))

    def authority(self, value, column, referential=None) -> Organization | None:
        """The referring authority named (full or short name) by a cell."""
        text = clean_text(value)
        if text is None:
            return None
        key = normalize(text)
        matches = self.by_name.get(key) or self.by_short_name.get(key) or []
        live = [org for org in matches if org.archived_at is None]
        authorities = [org for org in live if org.kind in AUTHORITY_KINDS]
        shown = text[:60]
        if not matches:
            raise CellError(
                f"Autorité inconnue « {shown} » : indiquez le nom ou le nom court d'un parquet, "
                "d'un tribunal ou d'un SPIP enregistré dans Organisations."
            )
        if not live:
            raise CellError(f"L'autorité « {shown} » est archivée.")
        if not authorities:
            raise CellError(
                f"« {shown} » n'est pas une autorité prescriptrice (parquet, tribunal ou SPIP)."
            )
        if len(authorities) > 1:
            raise CellError(f"« {shown} » désigne plusieurs autorités : indiquez le nom complet.")
        return authorities[0]


_CONVERTERS = {
    Kind.TEXT: _text,
    Kind.POSTAL_CODE: _postal_code,
    Kind.PHONE: _phone,
    Kind.EMAIL: _email,
    Kind.DATE: _date,
    Kind.AMOUNT: _amount,
    Kind.FRAME: _choice(
        _FRAMES,
        "Cadre inconnu « {value} » : indiquez Alternative aux poursuites, Composition pénale, "
        "Ordonnance pénale, Peine de stage ou Sursis probatoire.",
    ),
    Kind.AUTHORITY: lambda value, column, referential: referential.authority(value, column),
    Kind.PAYER: _choice(
        _PAYERS, "Payeur inconnu « {value} » : indiquez La personne convoquée, L'autorité "
        "prescriptrice ou Dispensé."
    ),
    Kind.PAYMENT: _choice(
        _PAYMENT_STATUSES, "Statut du paiement inconnu « {value} » : indiquez À payer, Payé ou "
        "Dispensé."
    ),
}


def convert_cell(column: Column, value, is_formula: bool, referential: Referential):
    """The cell's value for ``column``, or ``CellError``."""
    if is_formula and column.kind not in COMPUTABLE_KINDS:
        raise CellError(FORMULA_MESSAGE)
    if is_formula and value is None:
        raise CellError(
            "Cellule calculée par une formule dont le résultat n'est pas enregistré : ouvrez le "
            "fichier dans Excel et enregistrez-le, ou remplacez la formule par sa valeur."
        )
    return _CONVERTERS[column.kind](value, column, referential)


# ---------------------------------------------------------------------------------------------
# Rows and the plan


class Outcome(StrEnum):
    """What importing a valid row does."""

    NEW_PERSON = "new_person"
    EXISTING_PERSON = "existing_person"
    SAME_PERSON_AS_LINE = "same_person_as_line"
    ALREADY_IMPORTED = "already_imported"
    ALREADY_RECORDED = "already_recorded"
    REPEATED = "repeated"


CREATING = (Outcome.NEW_PERSON, Outcome.EXISTING_PERSON, Outcome.SAME_PERSON_AS_LINE)


@dataclass
class PlannedRow:
    """A valid row and what importing it will do."""

    line: int
    participant: ParticipantData
    measure: MeasureData
    import_key: str
    outcome: Outcome = Outcome.NEW_PERSON
    participant_id: int | None = None  # the person on file the measure is attached to
    other_line: int | None = None  # the earlier line it repeats, or whose new person it shares

    @property
    def identity(self) -> tuple[str, date]:
        person = self.participant
        return search_key(person.surname, person.first_names), person.birth_date

    @property
    def display_name(self) -> str:
        return f"{self.participant.surname.upper()} {self.participant.first_names}"

    @property
    def remark(self) -> str:
        """The row's fate, in French, for the preview."""
        return {
            Outcome.NEW_PERSON: "nouvelle personne",
            Outcome.EXISTING_PERSON: "rattachée à une personne existante",
            Outcome.SAME_PERSON_AS_LINE: f"même personne qu'à la ligne {self.other_line}",
            Outcome.ALREADY_IMPORTED: "déjà importée",
            Outcome.ALREADY_RECORDED: "déjà enregistrée pour cette personne",
            Outcome.REPEATED: f"doublon de la ligne {self.other_line} : ignorée",
        }[self.outcome]


@dataclass
class ImportReport:
    """The preview of an import, then its result (``created``)."""

    association: Organization
    rows_total: int = 0
    rows: list[PlannedRow] = field(default_factory=list)  # the valid rows
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def _with(self, *outcomes: Outcome) -> list[PlannedRow]:
        return [row for row in self.rows if row.outcome in outcomes]

    @property
    def to_create(self) -> list[PlannedRow]:
        return self._with(*CREATING)

    @property
    def attached(self) -> list[PlannedRow]:
        """Rows whose measure goes to a person already on file."""
        return self._with(Outcome.EXISTING_PERSON)

    @property
    def already_imported(self) -> list[PlannedRow]:
        return self._with(Outcome.ALREADY_IMPORTED, Outcome.ALREADY_RECORDED)

    @property
    def repeated(self) -> list[PlannedRow]:
        return self._with(Outcome.REPEATED)

    @property
    def sample(self) -> list[PlannedRow]:
        """The first rows to be created, for the preview."""
        return self.to_create[:SAMPLE_SIZE]

    @property
    def error_lines(self) -> list[int]:
        return sorted({error.line for error in self.errors})

    def summary(self) -> str:
        """One French sentence with the counts (those at zero left out, but the first)."""
        attached = len(self.attached)
        parts = [
            _count(len(self.to_create), "mesure à créer", "mesures à créer")
            + (f" (dont {_count(attached, 'rattachée', 'rattachées')} à une personne existante)"
               if attached else ""),
        ]
        for rows, singular, plural in (
            (self.already_imported, "déjà importée", "déjà importées"),
            (self.repeated, "doublon dans le fichier", "doublons dans le fichier"),
            (self.error_lines, "ligne en erreur", "lignes en erreur"),
        ):
            if rows:
                parts.append(_count(len(rows), singular, plural))
        return f"{_count(self.rows_total, 'ligne lue', 'lignes lues')} : {', '.join(parts)}."


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n:,}".replace(",", "\u202f") + " " + (singular if n <= 1 else plural)


# The services' validators return sentences without saying which field they concern: the import
# must point at a column, so each sentence is attributed by its subject.
_MESSAGE_FIELDS = (
    ("La date de naissance", "birth_date"), ("Le nom", "surname"), ("Le prénom", "first_names"),
    ("L'autorité", "authority"), ("Le numéro de parquet", "case_reference"),
    ("La date limite", "deadline"), ("La date des faits", "facts_date"),
    ("La date à laquelle", "final_date"), ("Le montant", "fee_cents"),
)


def _attribute(line: int, messages: list[str], columns: ColumnMap) -> list[RowError]:
    def column_of(message: str) -> str | None:
        name = next((f for start, f in _MESSAGE_FIELDS if message.startswith(start)), None)
        return columns.headers.get(name) if name else None

    return [RowError(line, column_of(message), message) for message in messages]


def import_key(person: ParticipantData, measure: MeasureData) -> str:
    """The row's fingerprint: the same for the same referral whatever the file, order or accents."""
    parts = (
        "v1",
        str(measure.authority.id),
        _compact_reference(measure.case_reference),
        search_key(person.surname, person.first_names),
        person.birth_date.isoformat(),
        measure.frame.value,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _compact_reference(reference: str) -> str:
    return "".join(reference.split()).upper()


def convert_row(
    row: RawRow, columns: ColumnMap, referential: Referential, association: Organization
) -> tuple[PlannedRow | None, list[RowError]]:
    """A row's data and errors; identity and measure are validated even if the other half failed."""
    values, errors, failed = {}, [], set()
    for column in COLUMNS:
        position = columns.index.get(column.field)
        if position is None:
            continue
        raw = row.cells[position] if position < len(row.cells) else None
        try:
            value = convert_cell(column, raw, position in row.formulas, referential)
            if value is None and column.required:
                raise CellError("Valeur obligatoire manquante.")
        except CellError as error:
            errors.append(RowError(row.line, columns.headers[column.field], error.message))
            failed.add(column.field)
            continue
        values[column.field] = value
    person = measure = None
    if not failed & IDENTITY_FIELDS:
        person = ParticipantData(**{name: values.get(name) for name in IDENTITY_FIELDS})
        errors += _attribute(row.line, validate_participant(person), columns)
    if not failed - IDENTITY_FIELDS:
        measure = _measure_data(values, association)
        errors += _attribute(row.line, validate_measure(measure), columns)
    if errors:
        return None, errors
    return PlannedRow(row.line, person, measure, import_key(person, measure)), []


def _measure_data(values: dict, association: Organization) -> MeasureData:
    optional = {
        name: values[name]
        for name in ("facts_date", "final_date", "fee_cents", "payer", "payment_status",
                     "certificate_recipient")
        if values.get(name) is not None
    }
    return MeasureData(
        frame=values["frame"], authority=values["authority"],
        case_reference=values["case_reference"], decision_date=values["decision_date"],
        deadline=values["deadline"], handling_organization=association, **optional,
    )


def plan_import(
    table: RawTable, association: Organization, *, progress: Progress | None = None
) -> ImportReport:
    """The preview: what importing ``table`` for ``association`` would do, row by row. No writes."""
    if association.kind != OrganizationKind.ASSOCIATION:
        raise DomainError("L'association chargée des stages doit être une association.")
    columns = map_columns(table.headers)
    referential = Referential.load()
    report = ImportReport(association, len(table.rows), notes=[*table.notes, *columns.notes])
    for row in table.rows:
        planned, errors = convert_row(row, columns, referential, association)
        report.errors += errors
        if planned is not None:
            report.rows.append(planned)
        if progress:
            progress(1)
    _mark_repeats(report)
    _mark_already_imported(report.rows)
    _match_people(report.rows)
    return report


def _mark_repeats(report: ImportReport) -> None:
    """Rows of the file with the same key: an exact copy is skipped, a variant is an error."""
    first: dict[str, PlannedRow] = {}
    kept = []
    for row in report.rows:
        original = first.setdefault(row.import_key, row)
        if original is row:
            kept.append(row)
        elif (original.participant, original.measure) == (row.participant, row.measure):
            row.outcome, row.other_line = Outcome.REPEATED, original.line
            kept.append(row)
        else:
            report.errors.append(RowError(
                row.line, None,
                f"Même personne, même cadre, même autorité et même n° de parquet qu'à la ligne "
                f"{original.line}, mais avec d'autres valeurs : ne gardez qu'une des deux lignes.",
            ))
    report.rows = kept
    report.errors.sort(key=lambda error: error.line)


def _chunks(values: Iterable) -> Iterator[list]:
    iterator = iter(values)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        yield chunk


def _mark_already_imported(rows: list[PlannedRow]) -> None:
    pending = [row for row in rows if row.outcome in CREATING]
    known = set()
    for chunk in _chunks(row.import_key for row in pending):
        known.update(
            db.session.scalars(
                sa.select(LegalMeasure.import_key).where(LegalMeasure.import_key.in_(chunk))
            )
        )
    for row in pending:
        if row.import_key in known:
            row.outcome = Outcome.ALREADY_IMPORTED


def _match_people(rows: list[PlannedRow]) -> None:
    """Attach rows to people on file (as ``find_duplicates`` defines them) or to an earlier row."""
    pending = [row for row in rows if row.outcome in CREATING]
    on_file = _identities_on_file({row.identity[0] for row in pending})
    person_ids: dict[tuple, int | None] = {}
    first_lines: dict[tuple, int] = {}
    for row in pending:
        identity = row.identity
        if identity in on_file and identity not in person_ids:
            # Only rows whose identity is on file reach the service: a handful of queries.
            matches = find_duplicates(row.participant.surname, row.participant.first_names,
                                      row.participant.birth_date)
            person_ids[identity] = min((person.id for person in matches), default=None)
        if person_ids.get(identity):
            row.outcome, row.participant_id = Outcome.EXISTING_PERSON, person_ids[identity]
        elif identity in first_lines:
            row.outcome, row.other_line = Outcome.SAME_PERSON_AS_LINE, first_lines[identity]
        else:
            first_lines[identity] = row.line
    _mark_already_recorded([row for row in pending if row.outcome == Outcome.EXISTING_PERSON])


def _identities_on_file(keys: set[str]) -> set[tuple]:
    """(search key, birth date) of the people on file among ``keys``, in a few IN queries."""
    found = set()
    for chunk in _chunks(sorted(keys)):
        found.update(
            (key, birth) for key, birth in db.session.execute(
                sa.select(Participant.search_key, Participant.birth_date).where(
                    Participant.search_key.in_(chunk), Participant.anonymized_at.is_(None)
                )
            )
        )
    return found


def _mark_already_recorded(rows: list[PlannedRow]) -> None:
    """A measure typed in by hand before the list arrived has no import key: match it by case."""
    recorded = set()
    for chunk in _chunks(sorted({row.participant_id for row in rows})):
        for person_id, authority_id, reference, frame in db.session.execute(
            sa.select(LegalMeasure.participant_id, LegalMeasure.authority_id,
                      LegalMeasure.case_reference, LegalMeasure.frame)
            .where(LegalMeasure.participant_id.in_(chunk))
        ):
            recorded.add((person_id, authority_id, _compact_reference(reference), frame))
    for row in rows:
        case = (row.participant_id, row.measure.authority.id,
                _compact_reference(row.measure.case_reference), row.measure.frame)
        if case in recorded:
            row.outcome = Outcome.ALREADY_RECORDED


# ---------------------------------------------------------------------------------------------
# Writing


def create_from_plan(
    report: ImportReport, *, by=None, progress: Progress | None = None
) -> ImportReport:
    """Create the planned people and measures in the caller's transaction; the caller commits.

    Two imports of the same rows at once: the second one's flush breaks the unique
    ``import_key`` and raises ``IntegrityError``; the caller rolls back.
    """
    if not report.ok:
        raise DomainError("La liste contient des erreurs : rien n'a été importé.")
    people: dict[tuple, Participant] = {}
    for row in report.to_create:
        person = people.get(row.identity)
        if person is None:
            person = (
                db.session.get(Participant, row.participant_id)
                if row.participant_id else create_participant(row.participant)
            )
            people[row.identity] = person
        add_measure(person, row.measure, import_key=row.import_key)
        report.created += 1
        if progress:
            progress(1)
    if report.created:
        audit(
            "referrals.imported", report.association, user=by,
            details=f"{report.created} mesures ({len(report.attached)} rattachées à une personne "
            f"existante, {len(report.already_imported)} déjà importées)",
        )
    return report


def run_import(
    table: RawTable, association: Organization, by=None, *, progress: Progress | None = None
) -> ImportReport:
    """Plan then, only if no row has an error, create everything (all or nothing)."""
    report = plan_import(table, association, progress=progress)
    if report.ok:
        create_from_plan(report, by=by)
    return report
