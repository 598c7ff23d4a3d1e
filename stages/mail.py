"""Outgoing email: one builder and one sender, with a backend chosen by configuration.

``MAIL_BACKEND`` selects where messages go:

- ``"smtp"``: a real SMTP server (production), with optional STARTTLS and login;
- ``"file"``: one ``.eml`` file per message under ``<instance>/mail/`` (the embedded default, so a
  newcomer can open what the application "sent" in any mail reader);
- ``"memory"``: appended to ``current_app.extensions["mail_outbox"]`` (unit tests).

Every failure becomes a ``MailError`` with a French message, so callers record a message as sent
only once ``send_email`` has returned. Logs name neither the recipient nor the subject: an address
next to "convocation" is already personal data about an offence.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import smtplib
import ssl
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app

from stages.timeutil import now_utc
from stages.wording import ngettext

SMTP_TIMEOUT_SECONDS = 15
OUTBOX_KEY = "mail_outbox"

# (filename, content, MIME type with optional parameters, e.g. "text/calendar; method=REQUEST")
Attachment = tuple[str, bytes, str]


class MailError(Exception):
    """A message could not be handed over; the text is French and may be shown to the user."""

    def __init__(self, message: str = "L'envoi du courriel a échoué."):
        super().__init__(message)
        self.message = message


def sender_address() -> str:
    """The bare address of ``MAIL_SENDER`` (which may be written « Nom <adresse> »)."""
    return parseaddr(current_app.config["MAIL_SENDER"])[1] or current_app.config["MAIL_SENDER"]


def build_message(
    to: str, subject: str, text: str, attachments: Iterable[Attachment] = ()
) -> EmailMessage:
    """A plain-text message from ``MAIL_SENDER`` to ``to``, with attachments."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(now_utc())
    # An explicit domain: the default asks the resolver for this host's name, which can hang.
    message["Message-ID"] = make_msgid(domain=_message_id_domain())
    message.set_content(text)
    for filename, content, mimetype in attachments:
        maintype, subtype, params = _split_mimetype(mimetype)
        message.add_attachment(
            content, maintype=maintype, subtype=subtype, filename=filename, params=params
        )
    return message


def _split_mimetype(mimetype: str) -> tuple[str, str, dict[str, str]]:
    """« text/calendar; method=REQUEST » → ("text", "calendar", {"method": "REQUEST"})."""
    kind, *raw_params = (item.strip() for item in mimetype.split(";"))
    maintype, _, subtype = kind.partition("/")
    params = {}
    for item in raw_params:
        key, _, value = item.partition("=")
        if key:
            params[key.strip()] = value.strip().strip('"')
    return maintype, subtype or "octet-stream", params


def _message_id_domain() -> str:
    address = sender_address()
    if "@" in address:
        return address.rsplit("@", 1)[1]
    return urlsplit(current_app.config.get("BASE_URL") or "").hostname or "stages"


def stable_message_id(seed: str) -> str:
    """A Message-ID that stays the same on every attempt to send one logical message (``seed``).

    If a retry follows a send whose acceptance was never recorded (a crash in between), the
    person's mail client sees the same message twice and may show it once. Keyed with
    ``SECRET_KEY``, so the header reveals nothing of the seed.
    """
    secret = current_app.config["SECRET_KEY"]
    secret = secret if isinstance(secret, bytes) else str(secret).encode()
    digest = hmac.new(secret, seed.encode(), hashlib.sha256).hexdigest()[:32]
    return f"<{digest}@{_message_id_domain()}>"


def send_email(message: EmailMessage) -> None:
    """Hand ``message`` to the configured backend; raise ``MailError`` if it was not accepted."""
    backend = current_app.config.get("MAIL_BACKEND", "file")
    sender = _BACKENDS.get(backend)
    if sender is None:
        current_app.logger.error("MAIL_BACKEND inconnu : %r", backend)
        raise MailError("L'envoi des courriels est mal configuré (MAIL_BACKEND inconnu).")
    sender(message)


def _send_smtp(message: EmailMessage) -> None:
    config = current_app.config
    try:
        with smtplib.SMTP(
            config["SMTP_HOST"], int(config["SMTP_PORT"]), timeout=SMTP_TIMEOUT_SECONDS
        ) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        # The class and SMTP code only: server replies often quote the recipient's address.
        code = getattr(error, "smtp_code", None)
        current_app.logger.warning(
            "Courriel non remis par le serveur SMTP (%s%s).",
            type(error).__name__,
            f", code {code}" if code else "",
        )
        raise MailError() from error
    if refused:
        # Some recipients accepted, others not: the message was not sent to everyone it names.
        current_app.logger.warning(
            ngettext("Courriel refusé pour %(num)d destinataire.", "Courriel refusé pour %(num)d destinataires.",
                     len(refused))
        )
        raise MailError()


def _send_file(message: EmailMessage) -> None:
    folder = Path(current_app.instance_path) / "mail"
    # Time first so a directory listing reads in sending order; random so names never collide.
    # The name says nothing about the recipient.
    name = f"{now_utc():%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}.eml"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / name, "xb") as handle:
            handle.write(message.as_bytes())
    except OSError as error:
        current_app.logger.warning("Courriel non écrit dans %s (%s).", folder, type(error).__name__)
        raise MailError() from error


def _send_memory(message: EmailMessage) -> None:
    current_app.extensions.setdefault(OUTBOX_KEY, []).append(message)


_BACKENDS = {"smtp": _send_smtp, "file": _send_file, "memory": _send_memory}


def outbox() -> list[EmailMessage]:
    """The messages the memory backend has kept (tests read and clear it)."""
    return current_app.extensions.setdefault(OUTBOX_KEY, [])
