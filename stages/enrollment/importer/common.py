"""Referral import: the French messages and the error types shared by every step."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from stages.errors import DomainError

CHUNK = 500  # values per IN (...): far below every database's parameter limit
SAMPLE_SIZE = 10
Progress = Callable[[int], None]
# The limits on the file itself (size, rows, columns, cells, time) are the child reader's:
# ``stages.enrollment.importer.parsing``.

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
