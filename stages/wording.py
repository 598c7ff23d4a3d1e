"""French wording shared by pages, mails and documents: plurals and the one seat notation.

Plurals go through Babel's CLDR rule for French, where 0 and 1 take the singular (« 0 place
prise », « 1 place prise », « 2 places prises »), never through a hand-made « (s) ».
"""
from __future__ import annotations

from babel import Locale

FRENCH = Locale.parse("fr_FR")


def ngettext(singular: str, plural: str, n: int, **values) -> str:
    """``singular`` or ``plural`` as French grammar asks for ``n`` (Babel's plural rule), with
    ``%(num)d`` (and any other ``%(name)s`` given) filled in: ``ngettext("%(num)d place",
    "%(num)d places", 2)`` → « 2 places »."""
    text = singular if FRENCH.plural_form(abs(n)) == "one" else plural
    return text % dict(values, num=n)  # a float ``n`` (« 1,5 jour ») gives its text in ``values``


def seats_text(taken: int, capacity: int) -> str:
    """The one seat notation: « 13 places prises sur 14 », « 1 place prise sur 14 »."""
    return ngettext(
        "%(num)d place prise sur %(capacity)d", "%(num)d places prises sur %(capacity)d",
        taken, capacity=capacity,
    )


# The partners official documents name in their footer: every kind of authority that orders the
# courses (parquets; the courts, among them the police court; the probation services).
PARTNERS_LINE = (
    "Stages organisés pour les parquets, les tribunaux (tribunaux judiciaires et tribunaux de "
    "police) et les services pénitentiaires d'insertion et de probation (SPIP)."
)
