"""Outgoing SMS: counting segments, quiet hours, and one sender with a backend chosen by
configuration (the SMS side of ``stages.mail``).

``SMS_BACKEND`` selects where messages go:

- ``"file"``: one ``.txt`` file per message under ``<instance>/sms/`` (the embedded default and
  the tests': a newcomer reads what the application "sent");
- ``"memory"``: appended to ``current_app.extensions["sms_outbox"]`` (unit tests);
- ``"brevo"``: Brevo's transactional SMS API (``stages.sms_brevo``; README, « SMS »).

Every failure becomes an ``SmsError`` with a French message, so the outbox records a message as
sent only once ``send_sms`` has returned. Logs never hold the number or the text.

The provider calls us back (delivery receipts, replies such as « STOP ») at a URL that carries
an HMAC of our secret (``callback_token``): Brevo signs nothing itself, so the URL is the proof.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app

from stages.timeutil import now_utc

log = logging.getLogger(__name__)
OUTBOX_KEY = "sms_outbox"

# ---------------------------------------------------------------------------------------------
# Segments: GSM 03.38 (7-bit) when every character is in its basic set or extension table,
# else UCS-2 (UTF-16): 160 septets or 70 code units in one SMS, 153 or 67 per part of a long one
# (the rest of each part carries the header that glues the parts together).

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each costs two septets: the escape character, then the character.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7, UCS2 = "GSM-7", "UCS-2"
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}
ENCODING_LABELS = {GSM7: "GSM-7", UCS2: "Unicode"}


@dataclass(frozen=True)
class Segments:
    """How a text travels: its encoding, its length in units of it, and how many SMS it takes."""

    encoding: str
    units: int
    count: int

    @property
    def label(self) -> str:
        """« 1 SMS (GSM-7) », « 3 SMS (Unicode) » (SMS is invariable in French)."""
        return f"{self.count} SMS ({ENCODING_LABELS[self.encoding]})"


def encoding_of(text: str) -> str:
    """GSM-7 when every character is in GSM 03.38 (basic set or extension), else UCS-2."""
    return GSM7 if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else UCS2


def count_segments(text: str) -> Segments:
    """The encoding and the number of SMS ``text`` takes. A long message is cut into parts
    without splitting an escaped GSM character or a UTF-16 surrogate pair."""
    encoding = encoding_of(text)
    if encoding == GSM7:
        sizes = [2 if c in GSM7_EXTENSION else 1 for c in text]
    else:
        sizes = [len(c.encode("utf-16-le")) // 2 for c in text]
    units = sum(sizes)
    single, part = LIMITS[encoding]
    if units <= single:
        return Segments(encoding, units, 1 if units else 0)
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return Segments(encoding, units, count)


# ---------------------------------------------------------------------------------------------
# Quiet hours: no SMS between 20 h and 8 h (SMS_QUIET_HOURS, the local time of TIMEZONE)

_QUIET = re.compile(r"\s*(\d{1,2})[:h](\d{2})\s*-\s*(\d{1,2})[:h](\d{2})\s*")


def quiet_hours(setting: str | None = None) -> tuple[time, time] | None:
    """(start, end) of the quiet hours, None when turned off (an empty setting)."""
    setting = current_app.config.get("SMS_QUIET_HOURS", "20:00-08:00") if setting is None else setting
    if not setting.strip():
        return None
    match = _QUIET.fullmatch(setting)
    if match is None:
        raise ValueError(f"SMS_QUIET_HOURS: « {setting} » n'est pas de la forme 20:00-08:00.")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return time(h1, m1), time(h2, m2)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE", "Europe/Paris"))


def in_quiet_hours(now: datetime | None = None) -> bool:
    """Whether ``now`` (UTC) falls within the quiet hours, local time."""
    hours = quiet_hours()
    if hours is None:
        return False
    start, end = hours
    local = (now or now_utc()).astimezone(_zone()).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # across midnight: 20:00-08:00


def quiet_hours_end(now: datetime | None = None) -> datetime:
    """When an SMS held at ``now`` may leave: now outside quiet hours, else their end (UTC)."""
    now = now or now_utc()
    if not in_quiet_hours(now):
        return now
    _, end = quiet_hours()
    local = now.astimezone(_zone())
    day = local.date() if local.time() < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=_zone()).astimezone(now.tzinfo)


# ---------------------------------------------------------------------------------------------
# Sending


class SmsError(Exception):
    """An SMS could not be handed over; the text is French, without the number or the text."""

    def __init__(self, message: str = "L'envoi du SMS a échoué."):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class OutgoingSms:
    """One SMS to send: the number in E.164, the text, and a tag naming its kind (no data)."""

    to: str
    body: str
    tag: str = ""


@dataclass(frozen=True)
class SentSms:
    """What the gateway answered: who carried it, its id there, and the segments counted."""

    provider: str
    provider_id: str
    segments: Segments


def sender_name() -> str:
    """The sender shown on the phone (at most 11 letters or digits, operators' rule)."""
    return current_app.config.get("SMS_SENDER", "STAGES")


def _send_file(message: OutgoingSms) -> str:
    folder = Path(current_app.instance_path) / "sms"
    folder.mkdir(parents=True, exist_ok=True)
    identifier = f"{now_utc():%Y%m%d-%H%M%S}-{secrets.token_hex(6)}"
    segments = count_segments(message.body)
    (folder / f"{identifier}.txt").write_text(
        f"From: {sender_name()}\nTo: {message.to}\nTag: {message.tag}\n"
        f"Segments: {segments.label}\n\n{message.body}\n",
        encoding="utf-8",
    )
    return identifier


def _send_memory(message: OutgoingSms) -> str:
    box = outbox()
    box.append(message)
    return f"memory-{len(box)}"


# HTTP providers add themselves (``stages.sms_brevo``, imported by the app factory).
_BACKENDS = {"file": _send_file, "memory": _send_memory}


def register_backend(name: str, send) -> None:
    """Make ``send(OutgoingSms) -> provider id`` the backend called ``name``."""
    _BACKENDS[name] = send


def send_sms(message: OutgoingSms) -> SentSms:
    """Hand ``message`` to the configured gateway; ``SmsError`` when it is refused."""
    backend_name = current_app.config.get("SMS_BACKEND", "file")
    backend = _BACKENDS.get(backend_name)
    if backend is None:
        raise SmsError(f"Passerelle SMS inconnue : {backend_name}.")
    segments = count_segments(message.body)
    try:
        provider_id = backend(message)
    except SmsError:
        raise
    except OSError as error:
        log.error("sms: the %s gateway failed: %s", backend_name, type(error).__name__)
        raise SmsError("La passerelle SMS est injoignable.") from error
    return SentSms(backend_name, str(provider_id), segments)


def outbox() -> list[OutgoingSms]:
    """The messages the ``memory`` backend holds (tests)."""
    return current_app.extensions.setdefault(OUTBOX_KEY, [])


# ---------------------------------------------------------------------------------------------
# The provider's calls back to us


def _callback_secret() -> bytes:
    secret = current_app.config.get("SMS_CALLBACK_SECRET") or current_app.config["SECRET_KEY"]
    return secret.encode() if isinstance(secret, str) else secret


def callback_token() -> str:
    """The token in the URLs the provider calls (receipts and replies): an HMAC of our secret,
    so it changes with ``SMS_CALLBACK_SECRET`` and cannot be guessed."""
    return hmac.new(_callback_secret(), b"stages-sms-callback-v1", hashlib.sha256).hexdigest()


def valid_callback_token(token: str) -> bool:
    """Whether ``token`` is ours (compared in constant time)."""
    return hmac.compare_digest(token.encode("utf-8", "replace"), callback_token().encode())
