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

Modules, in the order the steps use them:

- ``common``: the limits, the French messages and the error types every step shares;
- ``columns``: the fields the import understands, their French headers and ``map_columns``;
- ``reading``: ``read_table``, CSV and XLSX bytes to a ``RawTable``;
- ``cells``: converting one cell to a field's value (dates, amounts, choices, authorities);
- ``rows``: converting and validating one row into a ``PlannedRow`` with its import key;
- ``plan``: ``plan_import`` and its ``ImportReport``, matched against what is already on file;
- ``writing``: ``create_from_plan`` and ``run_import``.
"""
from stages.enrollment.importer.columns import COLUMNS, normalize
from stages.enrollment.importer.common import MAX_ROWS, ImportFileError
from stages.enrollment.importer.plan import ImportReport, plan_import
from stages.enrollment.importer.reading import check_size, read_table
from stages.enrollment.importer.rows import Outcome
from stages.enrollment.importer.writing import create_from_plan, run_import

__all__ = [
    "COLUMNS",
    "MAX_ROWS",
    "ImportFileError",
    "ImportReport",
    "Outcome",
    "check_size",
    "create_from_plan",
    "normalize",
    "plan_import",
    "read_table",
    "run_import",
]
