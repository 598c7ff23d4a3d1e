"""Amounts typed by people, read strictly: « 12,50 », « 12.50 », « 1 200,00 € » are read; what
could be misread (« 12,505 », « 1.200 », « sNaN », « -3 », « 1e3 ») is refused with a French
message rather than guessed."""
from __future__ import annotations

import re

from stages.errors import DomainError

# Digits grouped by three with a space (ordinary, no-break or narrow no-break), or not grouped;
# then a comma or a point and one or two decimals.
_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?: [0-9]{3})+|[0-9]+)(?:[.,][0-9]{1,2})?")
MAX_TYPED_CENTS = 10_000_000


def parse_amount(text: str | None) -> int:
    """The amount in cents of ``text``; a ``DomainError`` in French when it is not one."""
    compact = (text or "").replace("\u00a0", " ").replace("\u202f", " ").strip()
    if compact.endswith("€"):
        compact = compact[:-1].strip()
    if not compact:
        raise DomainError("Indiquez un montant.")
    if len(compact) > 20 or not _AMOUNT.fullmatch(compact):
        raise DomainError(
            "Le montant n'est pas lisible : écrivez-le en euros, avec au plus deux décimales "
            "(par exemple 12,50 ou 1 200,00)."
        )
    units, _, decimals = compact.replace(" ", "").replace(",", ".").partition(".")
    cents = int(units) * 100 + int((decimals + "00")[:2])
    if cents <= 0:
        raise DomainError("Le montant doit être supérieur à zéro.")
    if cents > MAX_TYPED_CENTS:
        raise DomainError("Le montant est trop élevé.")
    return cents


def euros(cents: int) -> str:
    """« 1 200,00 € » with no-break spaces."""
    sign = "-" if cents < 0 else ""
    text = f"{abs(cents) / 100:,.2f}".replace(",", "\u00a0").replace(".", ",")
    return f"{sign}{text}\u00a0€"
