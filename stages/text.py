"""Free text typed in a form or read from an imported list: one normalization, one formula test.

Text is normalized *before* it is checked: a check made on the raw text and passed by a leading
zero-width space (U+200B) or byte order mark (U+FEFF) would be worthless once the invisible
character is dropped, leaving ``=HYPERLINK(…)`` stored as a surname.
"""
from __future__ import annotations

import unicodedata

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_SIGNS = ("=", "+", "-", "@")


def _is_invisible(char: str) -> bool:
    """Format characters (Unicode category Cf): zero-width spaces and joiners, byte order mark,
    soft hyphen, word joiner, bidirectional marks and overrides."""
    return unicodedata.category(char) == "Cf"


def normalize_text(text: str) -> str:
    """``text`` in Unicode compatibility form (NFKC: full-width « ＝ » is « = », a no-break space
    is a space) without its invisible format characters."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    return "".join(char for char in text if not _is_invisible(char))


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could run ``text`` as a formula: its first visible character (past
    spaces and invisible characters, compatibility forms folded) is « = », « + », « - » or « @ »,
    or it starts with a tab or a carriage return, which some programs trim before looking."""
    if text.startswith(("\t", "\r")):
        return True
    for char in text:
        if char.isspace() or _is_invisible(char):
            continue
        return unicodedata.normalize("NFKC", char).startswith(FORMULA_SIGNS)
    return False
