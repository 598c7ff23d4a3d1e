"""The languages people summoned speak, and the translations of what is sent to them.

French is the language of the application and the only one with legal force: a document sent
to a person who speaks another language keeps its French text whole and adds, after it, a
translation « for information » when a catalog exists for that language (``TRANSLATED``).

The catalogs are gettext ``.po`` files in ``stages/translations/<lang>/LC_MESSAGES/`` whose
message ids are the French texts themselves: a French sentence changed in the code no longer
finds its old translation, and the catalog test says which one to translate again. They are read
when first needed, once per process, with Babel: no compiled ``.mo`` file to build, ship or
forget to rebuild (``make translations`` extracts the texts and updates the catalogs; README).

This module is the small API the other areas use: ``gettext_for(lang)``, ``ngettext_for(lang)``,
``translations(lang)``, ``direction(lang)``, ``language_label(code)``, ``format_day(day, lang)``.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency
from babel.support import NullTranslations, Translations

from stages.timeutil import fr_date, fr_time, to_local

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
FRENCH = "fr"


def N_(text: str) -> str:
    """Mark a French text for the catalogs without translating it here (``gettext_noop``): the
    code that prints it for a person translates it with ``gettext_for``."""
    return text


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    label: str  # its French name, as the select shows it
    native: str  # its own name, as a translation's heading shows it
    rtl: bool = False


# Languages spoken by people referred to the courses (French first, then by French name). A
# language outside ``TRANSLATED`` is recorded (the interpreter, the roster) but its convocation
# is in French only.
LANGUAGES = (
    Language("fr", "Français", "Français"),
    Language("sq", "Albanais", "Shqip"),
    Language("de", "Allemand", "Deutsch"),
    Language("en", "Anglais", "English"),
    Language("ar", "Arabe", "العربية", rtl=True),
    Language("bn", "Bengali", "বাংলা"),
    Language("bg", "Bulgare", "Български"),
    Language("zh", "Chinois", "中文"),
    Language("es", "Espagnol", "Español"),
    Language("ka", "Géorgien", "ქართული"),
    Language("hi", "Hindi", "हिन्दी"),
    Language("it", "Italien", "Italiano"),
    Language("nl", "Néerlandais", "Nederlands"),
    Language("ps", "Pachto", "پښتو", rtl=True),
    Language("fa", "Persan", "فارسی", rtl=True),
    Language("pl", "Polonais", "Polski"),
    Language("pt", "Portugais", "Português"),
    Language("ro", "Roumain", "Română"),
    Language("ru", "Russe", "Русский"),
    Language("ta", "Tamoul", "தமிழ்"),
    Language("tr", "Turc", "Türkçe"),
    Language("uk", "Ukrainien", "Українська"),
    Language("ur", "Ourdou", "اردو", rtl=True),
    Language("vi", "Vietnamien", "Tiếng Việt"),
)
_BY_CODE = {language.code: language for language in LANGUAGES}
# The languages a convocation is translated into: those with a catalog in the repository.
TRANSLATED = ("en", "es", "pt", "ro", "ar")


def language(code: str | None) -> Language:
    """The language of ``code``; French for an unknown or empty code."""
    return _BY_CODE.get(code or FRENCH, _BY_CODE[FRENCH])


def language_label(code: str | None) -> str:
    """« Arabe », « Roumain »: the French name of a language."""
    return language(code).label


def language_choices() -> list[tuple[str, str]]:
    """(code, French name) for a select, French first."""
    return [(item.code, item.label) for item in LANGUAGES]


def direction(code: str | None) -> str:
    """« rtl » for a language written right to left, else « ltr »."""
    return "rtl" if language(code).rtl else "ltr"


def is_translated(code: str | None) -> bool:
    """Whether documents for a speaker of ``code`` carry a translation after the French."""
    return code in TRANSLATED


def catalog_path(code: str) -> Path:
    return TRANSLATIONS_DIR / code / "LC_MESSAGES" / "messages.po"


@cache
def translations(code: str | None) -> NullTranslations:
    """The translations into ``code``, read from its ``.po`` file once per process; French (or a
    language without a catalog) gives the French texts back unchanged. Fuzzy entries are not
    used (a test keeps the catalogs free of them)."""
    if code not in TRANSLATED:
        return NullTranslations()
    with catalog_path(code).open("rb") as po:
        catalog = read_po(po, locale=code)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)  # in memory: Babel's Translations reads the .mo format
    compiled.seek(0)
    return Translations(compiled)


def gettext_for(code: str | None):
    """``gettext`` of the language ``code``: ``_ = gettext_for("ro"); _("Lieu")`` → « Locul »."""
    return translations(code).gettext


def ngettext_for(code: str | None):
    """``ngettext`` of the language ``code``, with that language's plural rule."""
    return translations(code).ngettext


def format_day(day: date, code: str | None) -> str:
    """« jeudi 12 mars 2026 », « Thursday, March 12, 2026 », « الخميس، 12 مارس 2026 »."""
    if code not in TRANSLATED:
        return fr_date(day)
    return format_date(day, "full", locale=code)


def format_time(value: datetime, zone: str, code: str | None) -> str:
    """« 9 h 30 » in French, « 9:30 » in the other languages (24-hour clock, Latin digits: the
    same figures as the French text above the translation)."""
    if code not in TRANSLATED:
        return fr_time(value, zone)
    local = to_local(value, zone)
    return f"{local.hour}:{local.minute:02d}"


def format_euros(cents: int, code: str | None) -> str:
    """An amount in euros as the language writes it, on one line (no-break spaces)."""
    locale = code if code in TRANSLATED else "fr_FR"
    return format_currency(cents / 100, "EUR", locale=locale).replace(" ", "\u00a0")


def page_language(code: str | None) -> dict:
    """What a page shown to a person summoned needs to speak their language (the confirmation
    page): ``_``, ``lang``, ``dir``, and the day and hours as that language writes them; French
    when there is no catalog for it."""
    lang = code if is_translated(code) else FRENCH

    def day_text(value: date | datetime, zone: str | None = None) -> str:
        day = to_local(value, zone).date() if isinstance(value, datetime) else value
        return format_day(day, lang)

    def hours_text(start: datetime, end: datetime, zone: str) -> str:
        return f"{format_time(start, zone, lang)}\u00a0– {format_time(end, zone, lang)}"

    return {"_": gettext_for(lang), "lang": lang, "dir": direction(lang),
            "day_text": day_text, "hours_text": hours_text}
