"""Form helpers shared by every area."""
from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms import DecimalField
from wtforms.fields.choices import SelectChoice

from stages.text import normalize_text


class BaseForm(FlaskForm):
    """Every form of the app: CSRF-protected, WTForms' own messages in French."""

    class Meta:
        locales = ("fr_FR", "fr")


def select_choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """WTForms choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def strip_filter(value):
    """Normalize text input (``stages.text.normalize_text``: NFKC, invisible characters dropped),
    drop control characters and trim surrounding spaces. Filters run before validators, so these
    check the text as it will be stored."""
    if isinstance(value, str):
        value = "".join(ch for ch in normalize_text(value) if ch >= " " or ch in "\n\t").strip()
    return value


# The keyword arguments of every free-text field: normalized, trimmed, control characters dropped.
TEXT = {"filters": [strip_filter]}


# Line breaks (and their Unicode cousins) have no place in a one-line field: a course title
# goes into email subjects, calendar SUMMARY lines and PDF headers.
_LINE_BREAKS = str.maketrans({"\r": " ", "\n": " ", "\u0085": " ", "\u2028": " ", "\u2029": " "})


def one_line_filter(value):
    """``strip_filter`` for one-line fields: line breaks become spaces first."""
    if isinstance(value, str):
        value = value.translate(_LINE_BREAKS)
    return strip_filter(value)


# The keyword arguments of every one-line text field.
LINE = {"filters": [one_line_filter]}


class AmountField(DecimalField):
    """A decimal amount: « NaN », « sNaN », « Infinity » are not amounts (they would fail every
    comparison and every conversion further on)."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError("Saisissez un montant en euros, par exemple 120 ou 120,50.")


def database_id(raw) -> int | None:
    """``raw`` as the id of a row (a positive INTEGER), or None: a larger number is no row, and
    the database would refuse it rather than find nothing."""
    raw = str(raw or "")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value < 2**31 else None
