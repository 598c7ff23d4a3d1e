"""Form helpers shared by every area."""
from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
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
