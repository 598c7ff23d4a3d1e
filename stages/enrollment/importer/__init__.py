"""Import of referral lists (« listes d'orientation ») sent by the parquets, from CSV or XLSX.

Three steps, each usable on its own, so that the upload page and ``flask stages
import-referrals`` show the same preview:

1. ``read_table(content, filename)`` turns the bytes into a ``RawTable``: the header row, the raw
   cells and the line numbers the user sees in the spreadsheet (header = line 1). The bytes are
   parsed in a child process limited in memory and CPU time, as a stream with hard limits on
   rows, cells and time, so a hostile file costs the web worker nothing. Oversized, binary,
   badly encoded or malformed files are refused as a whole with ``ImportFileError``;
2. ``plan_import(table, association, authority=..., columns=...)`` finds which column feeds which
   field (the organizer's choice for this import, else the one remembered for the authority,
   else the header's own meaning), converts and validates each row with the enrollment services'
   validators, and decides what would happen to it (new person, attached to a person on file,
   already imported, repeated in the file). The authority chosen at upload refers every row whose
   « Autorité » cell is empty or absent. It writes nothing: this is the preview;
3. ``create_from_plan(report)`` creates the participants and measures in the caller's transaction
   when no row has an error (``run_import`` = 2 then 3). The caller commits once: all or nothing.

Re-imports: each row gets an ``import_key``, the SHA-256 of its normalized referral (authority,
case reference, surname, first names, birth date, frame), stored on the measure and unique in the
database, so the same rows — in any file, in any order — are never created twice.

Messages never quote a cell of an identity column (names, birth dates…): the line and column are
enough to find it, and CLI output may end up in logs.

Modules, in the order the steps use them:

- ``parsing``: the child process's reader (standard library only), the limits on a file and
  their French messages;
- ``common``: the French messages and the error types every step shares;
- ``columns``: the fields the import understands, their French headers, ``header_key`` and
  which column feeds which field;
- ``mappings``: the column choices remembered per referring authority;
- ``reading``: ``read_table``, the child's rows to a ``RawTable``;
- ``cells``: converting one cell to a field's value (dates, amounts, choices, authorities);
- ``rows``: converting and validating one row into a ``PlannedRow`` with its import key;
- ``plan``: ``plan_import`` and its ``ImportReport``, matched against what is already on file;
- ``writing``: ``create_from_plan`` and ``run_import``.
"""
from stages.enrollment.importer.columns import COLUMNS, IGNORED, Source, needs_choices, normalize
from stages.enrollment.importer.common import ImportFileError
from stages.enrollment.importer.mappings import (
    column_assignments,
    remember_columns,
    remembered_columns,
)
from stages.enrollment.importer.parsing import MAX_ROWS
from stages.enrollment.importer.plan import ImportReport, plan_import
from stages.enrollment.importer.reading import check_size, read_table
from stages.enrollment.importer.rows import Outcome
from stages.enrollment.importer.writing import create_from_plan, run_import

__all__ = [
    "COLUMNS",
    "IGNORED",
    "MAX_ROWS",
    "ImportFileError",
    "ImportReport",
    "Outcome",
    "Source",
    "check_size",
    "column_assignments",
    "create_from_plan",
    "needs_choices",
    "normalize",
    "plan_import",
    "read_table",
    "remember_columns",
    "remembered_columns",
    "run_import",
]
