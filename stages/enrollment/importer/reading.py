"""Referral import, step 1: reading a CSV or XLSX file into a ``RawTable``, uninterpreted.

The bytes are parsed in a child process (``parsing``, run as a script under memory and CPU
limits): a hostile file costs the child its limits and this process nothing. Here the plain rows
it returns become a table: the header row is found among the first lines, and the rows under it
kept. A file refused as a whole raises ``ImportFileError``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app, has_app_context

from stages.enrollment.importer import parsing
from stages.enrollment.importer.columns import known_headers
from stages.enrollment.importer.common import ImportFileError
from stages.enrollment.importer.parsing import HEADER_SEARCH_ROWS, MAX_FILE_BYTES, MAX_ROWS

# The child's wall-clock limit, beyond its own CPU limit (a loaded host stretches the wall-clock
# time of a legitimate list: 2 s of CPU can take 7 s): under gunicorn's 30 s worker timeout, so
# that the page still answers.
CHILD_TIMEOUT_SECONDS = 25


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

    def samples(self, count: int = 3, width: int = 40) -> dict[int, list[str]]:
        """Position → the first few distinct values of each column, shortened, to help tell
        what an unknown column holds."""
        found: dict[int, list[str]] = {}
        for row in self.rows[:1000]:
            for position, cell in enumerate(row.cells):
                text = _plain(cell)
                text = text if len(text) <= width else text[: width - 1] + "…"
                values = found.setdefault(position, [])
                if text and len(values) < count and text not in values:
                    values.append(text)
        return found


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
    parsed = _parse_in_child(content, Path(filename.lower()).suffix)
    table = _table_from_rows(
        RawRow(line, tuple(cells), frozenset(formulas)) for line, cells, formulas in parsed["rows"]
    )
    table.notes[:0] = parsed["notes"]
    return table


def _parse_in_child(content: bytes, extension: str) -> dict:
    """``parsing.read_rows`` run in a child process limited in memory and CPU time.

    Only the file's extension goes on the command line (other users of the host can read it):
    the name itself may hold a person's name.
    """
    command = [sys.executable, "-I", "-S", parsing.__file__, extension[:8]]
    try:
        child = subprocess.run(
            command, input=content, capture_output=True, timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ImportFileError(parsing.TOO_HEAVY) from None
    if child.returncode != 0 or not child.stdout:
        # Killed at its memory or CPU limit (or crashed): its stderr may quote the file, so
        # only the status is logged.
        if has_app_context():
            current_app.logger.warning("referral import: reader ended with status %s", child.returncode)
        raise ImportFileError(parsing.TOO_HEAVY)
    parsed = json.loads(child.stdout, object_hook=_decode)
    if "error" in parsed:
        raise ImportFileError(parsed["error"])
    return parsed


def _decode(value: dict):
    """The child's JSON: date cells come as ``{"$date": "2025-03-15T00:00:00"}``."""
    if "$date" in value:
        return datetime.fromisoformat(value["$date"])
    return value


def _table_from_rows(rows: Iterable[RawRow]) -> RawTable:
    """Find the header row among the first lines, then keep the non-blank rows under it."""
    rows = list(rows)  # the child sends the non-blank rows only, at most MAX_ROWS and a few
    head = rows[:HEADER_SEARCH_ROWS]
    if not head:
        raise ImportFileError("Le fichier est vide.")
    header = next((r for r in head if known_headers(r.cells) >= 3), head[0])
    data = [row for row in rows if row.line > header.line]
    if len(data) > MAX_ROWS:
        raise ImportFileError(parsing.too_many_rows().message)
    if not data:
        raise ImportFileError("Le fichier ne contient aucune ligne de données sous l'en-tête.")
    notes = []
    if header.line > 1:
        notes.append(
            f"L'en-tête a été trouvé à la ligne {header.line} ; les lignes au-dessus sont ignorées."
        )
    return RawTable([_plain(cell) for cell in header.cells], data, notes)


def _plain(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""
