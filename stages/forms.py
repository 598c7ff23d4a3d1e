"""Form helpers shared by every area."""
from __future__ import annotations

from collections.abc import Iterable

from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice


class BaseForm(FlaskForm):
    """Every form of the app: CSRF-protected, WTForms' own messages in French."""

    class Meta:
        locales = ("fr_FR", "fr")


def select_choices(pairs: Iterable[tuple[object, str]]) -> list[SelectChoice]:
    """WTForms choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def strip_filter(value):
    """Trim surrounding spaces from text input (and drop control characters)."""
    if isinstance(value, str):
        value = "".join(ch for ch in value if ch >= " " or ch in "\n\t").strip()
    return value


# The keyword arguments of every free-text field: trimmed, control characters dropped.
TEXT = {"filters": [strip_filter]}
