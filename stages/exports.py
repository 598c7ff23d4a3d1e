"""Helpers shared by every CSV and XLSX export.

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula
(« injection de formule », OWASP "CSV injection"): a participant's name such as
``=HYPERLINK("http://…")`` must never become a live link or command in the liaison's Excel.
"""
from __future__ import annotations

from collections.abc import Iterable

# A leading tab or carriage return is trimmed by some spreadsheet programs, which then see the
# character after it: treated like the formula signs themselves.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Return ``value`` made inert for a spreadsheet: risky text gets a leading apostrophe.

    Numbers, dates and ``None`` are returned unchanged (a numeric cell cannot be a formula); text
    that starts with a formula sign, even after leading spaces, is prefixed with ``'``, which Excel
    and LibreOffice read as "this is text". openpyxl also writes a string that starts with ``=`` as
    a formula, so the same call protects XLSX exports.
    """
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(FORMULA_TRIGGERS) or value.lstrip().startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: Iterable) -> list:
    """``safe_cell`` applied to each value of an exported row."""
    return [safe_cell(value) for value in values]
