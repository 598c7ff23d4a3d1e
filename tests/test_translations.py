"""The gettext catalogs of what is sent to people summoned: complete, reviewed, in step with the
code (stages.i18n; README, « Languages »)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from stages.i18n import TRANSLATED, catalog_path, gettext_for, translations

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "stages" / "translations" / "messages.pot"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _catalog(path: Path):
    with path.open("rb") as po:
        return read_po(po)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_message_is_translated_and_none_is_fuzzy(lang):
    catalog = _catalog(catalog_path(lang))
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if not message.string or not str(message.string).strip():
            problems.append(f"untranslated: {message.id!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy (to review): {message.id!r}")
        elif sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string)):
            problems.append(f"placeholders differ: {message.id!r}")
    assert not problems, f"{catalog_path(lang)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_catalog_has_every_message_of_the_code(lang, tmp_path):
    """The texts the code marks (extracted afresh, as `make translations` does) are all in the
    catalog: a French text changed in the code and not yet translated fails here."""
    template = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "--no-default-keywords", "-k", "_", "-k", "N_", "--no-location", "--sort-output",
         "--omit-header", "-o", str(template), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    wanted = {m.id for m in _catalog(template) if m.id}
    present = {m.id for m in _catalog(catalog_path(lang)) if m.id}
    assert wanted - present == set(), f"make translations, then translate: {sorted(wanted - present)}"
    assert wanted == {m.id for m in _catalog(TEMPLATE) if m.id}, "make translations: messages.pot is stale"


def test_the_catalogs_are_what_the_code_reads():
    assert gettext_for("ro")("Lieu") == "Locul"
    assert gettext_for("ar")("Lieu") == "المكان"
    assert gettext_for("fr")("Lieu") == "Lieu"
    assert gettext_for("ta")("Lieu") == "Lieu"  # no catalog: the French
    assert translations("en") is translations("en")  # read once per process
