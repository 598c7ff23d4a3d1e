"""Small helpers of the generator: holidays, workdays, weighted draws, names, tokens, years."""
from __future__ import annotations

import base64
import random
import unicodedata
from datetime import date, datetime, timedelta

from stages.timeutil import to_local


# ---------------------------------------------------------------------------------------------
# Small helpers


def _holidays(first_year: int, last_year: int) -> set[date]:
    import holidays

    return set(holidays.France(years=range(first_year, last_year + 1)))


def _next_workday(day: date, two_days: bool, closed: set[date]) -> date:
    """The first day from ``day`` that is a weekday and not a holiday (both days for two)."""
    while True:
        days = [day, day + timedelta(days=1)] if two_days else [day]
        if all(d.weekday() < 5 and d not in closed for d in days):
            return day
        day += timedelta(days=1)


def _weighted(rng: random.Random, choices):
    return rng.choices([c[0] for c in choices], weights=[c[1] for c in choices])[0]


def _weighted_row(rng: random.Random, rows):
    return rng.choices(rows, weights=[row[1] for row in rows])[0]


def _ascii(text: str) -> str:
    """Lower-case ASCII for e-mail addresses: « Léa Fabre » → « lea fabre »."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return "".join(c if c.isalnum() or c in " .-" else "-" for c in plain).strip()


def _short(name: str) -> str:
    return name if len(name) <= 60 else name[:57] + "…"


def _token(rng: random.Random) -> str:
    """What ``secrets.token_urlsafe(32)`` gives, drawn from the seeded generator."""
    return base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode()


def _paris_year(moment: datetime) -> int:
    return to_local(moment, "Europe/Paris").year
