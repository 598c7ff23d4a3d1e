"""Free-text normalization and the formula test shared by forms, imports and exports."""
from __future__ import annotations

import pytest

from stages.forms import strip_filter
from stages.text import looks_like_formula, normalize_text


def test_normalize_text_folds_compatibility_forms_and_drops_invisible_characters():
    assert normalize_text("\ufeffDu\u200bpont\u00ad") == "Dupont"
    assert normalize_text("\uff1d1+1") == "=1+1"  # full-width « = »
    assert normalize_text("12\u00a0rue\u202fX") == "12 rue X"  # no-break spaces
    assert normalize_text("\u202eevil") == "evil"  # a bidirectional override
    assert normalize_text("Lefèvre Éloïse") == "Lefèvre Éloïse"


@pytest.mark.parametrize("text", [
    "=1", "+33", "-2", "@SUM(A1)", "  =1", "\t1", "\r1", "\u200b=1", "\ufeff=1", "\u2060 @x",
    "\u00ad+1", "\uff1d1", "\uff201",
])
def test_formula_signs_are_seen_past_spaces_and_invisible_characters(text):
    assert looks_like_formula(text)


@pytest.mark.parametrize("text", ["Dupont", "Jean-Pierre", "", " ", "\u200b", "1+1", "a=b"])
def test_ordinary_text_is_no_formula(text):
    assert not looks_like_formula(text)


def test_every_free_text_field_is_normalized_before_its_validators():
    assert strip_filter(" \u200b=HYPERLINK(1)\x07 ") == "=HYPERLINK(1)"
    assert strip_filter("Ligne 1\nLigne 2\t") == "Ligne 1\nLigne 2"
    assert strip_filter(None) is None
