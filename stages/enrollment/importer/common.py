"""Referral import: the limits, the French messages and the error types shared by every step."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stages.errors import DomainError

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
