"""Time helpers: store UTC, convert to the local zone (Europe/Paris) only at the edges."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from flask import current_app, has_app_context
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

UTC = timezone.utc
# Parsed once: given its name, Babel parses the locale again on every call (some 2,000 times
# on the admin's national calendar, bench/README.md).
LOCALE = Locale.parse("fr_FR")


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL keeps ``timestamptz``; SQLite has no zone type and silently drops offsets, so values
    are normalised to UTC before they are written and marked UTC when they are read back. Naive
    datetimes are refused: they are always a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use an aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def now_utc() -> datetime:
    """The current time, aware, in UTC (tests freeze it with time-machine)."""
    return datetime.now(UTC)


def local_zone(name: str | None = None) -> ZoneInfo:
    """The zone of a venue, or the application's default zone."""
    if name:
        return ZoneInfo(name)
    if has_app_context():
        return ZoneInfo(current_app.config.get("TIMEZONE", "Europe/Paris"))
    return ZoneInfo("Europe/Paris")


def to_local(value: datetime, zone: str | None = None) -> datetime:
    """Convert an aware UTC datetime to local time (Europe/Paris unless a zone is given)."""
    return value.astimezone(local_zone(zone))


def local_to_utc(day: date, at: time, zone: str | None = None) -> datetime:
    """Combine a local date and wall-clock time in ``zone`` and return it in UTC."""
    return datetime.combine(day, at, tzinfo=local_zone(zone)).astimezone(UTC)


def today_local(zone: str | None = None) -> date:
    """Today's date in the local zone."""
    return to_local(now_utc(), zone).date()


def fr_date(
    value: date | datetime | None,
    fmt: str = "long",
    zone: str | None = None,
    *,
    first_as_ordinal: bool = True,
) -> str:
    """Format a date in French: ``long`` gives « jeudi 12 mars 2026 », ``medium`` « 12 mars
    2026 », ``short`` « 12/03/2026 »; any other CLDR pattern is used as given.

    The first of the month is an ordinal in French: « jeudi 1er avril 2027 », « 1er avril »,
    wherever the day is written as a number on its own (``d``); « 01/04/2027 » stays numeric.
    ``first_as_ordinal=False`` only redraws documents issued before that rule, byte for byte.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value, zone).date()
    pattern = {"long": "EEEE d MMMM y", "medium": "d MMMM y", "short": "dd/MM/y"}.get(fmt, fmt)
    if value.day == 1 and first_as_ordinal:
        pattern = _first_as_ordinal(pattern)
    return format_date(value, pattern, locale=LOCALE)


def _first_as_ordinal(pattern: str) -> str:
    """``pattern`` with each lone ``d`` field (outside quoted text) followed by a literal « er »."""
    out, quoted, index = [], False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "'":
            quoted = not quoted
        elif char == "d" and not quoted:
            end = index
            while end < len(pattern) and pattern[end] == "d":
                end += 1
            out.append("d'er'" if end - index == 1 else pattern[index:end])
            index = end
            continue
        out.append(char)
        index += 1
    return "".join(out)


NBSP = "\u00a0"


def fr_time(value: datetime | time | None, zone: str | None = None, *, legacy: bool = False) -> str:
    """Format a time in French: « 9 h 30 », « 14 h 00 », held together by no-break spaces so
    that a line never breaks inside it. The only time formatter of the pages, mails and PDFs.

    ``legacy=True`` gives the earlier « 09 h 30 » (leading zero, plain spaces): only to redraw
    documents issued before, byte for byte.
    """
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value, zone)
    # Written directly rather than through Babel: digits only, the same in every locale, and
    # cheap (calendars format hundreds of times per page).
    if legacy:
        return f"{value.hour:02d} h {value.minute:02d}"
    return f"{value.hour}{NBSP}h{NBSP}{value.minute:02d}"


def fr_time_range(start: datetime, end: datetime, zone: str | None = None) -> str:
    """« 9 h 30 – 12 h 30 »: a half-day's hours, the dash between no-break spaces too (a line may
    break after the dash only)."""
    return f"{fr_time(start, zone)}{NBSP}– {fr_time(end, zone)}"


def fr_half_day(value: datetime, zone: str | None = None) -> str:
    """« matin » for a half-day that starts before noon (local time), « après-midi » otherwise."""
    return "matin" if to_local(value, zone).hour < 12 else "après-midi"


def fr_datetime(value: datetime | None, zone: str | None = None) -> str:
    """Format a moment in French: « 12/03/2026 à 9 h 30 »."""
    if value is None:
        return ""
    return f"{fr_date(value, 'short', zone)} à {fr_time(value, zone)}"


def hhmm(value: datetime | None, zone: str | None = None) -> str:
    """Local wall-clock « 09:45 », the value of an HTML time input."""
    return to_local(value, zone).strftime("%H:%M") if value else ""
