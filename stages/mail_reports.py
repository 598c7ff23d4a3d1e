"""Delivery status notifications (DSNs, RFC 3464) read back from a mailbox.

A mail server that cannot deliver a message after accepting it sends a report to the sender's
address: a ``multipart/report; report-type=delivery-status`` whose ``message/delivery-status``
part says, per recipient, the ``Action`` (failed, delayed, delivered…), the ``Status``
(« 5.1.1 ») and the ``Diagnostic-Code``, and whose last part returns the original message or its
headers (``message/rfc822``, ``text/rfc822-headers``) with its Message-ID. ``parse_report`` reads
one; ``maildir_messages`` and ``imap_messages`` read a folder of them, each message once.

This core module knows nothing of convocations: the enrollment area matches the reports to the
messages it sent (``stages.enrollment.convocation.bounces``). Whatever arrives in the mailbox is
hostile until proven otherwise: every failure to read a message makes it « not a report », never
an exception.
"""
from __future__ import annotations

import email
import email.policy
import imaplib
import logging
import os
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

log = logging.getLogger(__name__)

# A DSN is a few kilobytes; one that returns the whole original (attachments) a few hundred.
MAX_MESSAGE_BYTES = 5 * 1024 * 1024
IMAP_TIMEOUT_SECONDS = 30

# Actions of RFC 3464 § 2.3.3 that say something about the delivery, worst first.
ACTIONS = ("failed", "delayed", "delivered")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,240}>")
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True)
class DeliveryReport:
    """What a DSN says about one message we sent."""

    message_id: str  # the original message's, « <…@…> »
    action: str  # "failed", "delayed" or "delivered"
    status: str | None  # « 5.1.1 »
    diagnostic: str | None  # as the remote server said it (may quote the address: clean it)

    @property
    def is_bounce(self) -> bool:
        """A permanent failure: a « delayed » report (4.x.x, the server still tries) is not."""
        return self.action == "failed"


def normalize_message_id(value: str | None) -> str | None:
    """The « <id@domain> » in a header's value (folded, commented…), or None."""
    if not value:
        return None
    match = _MESSAGE_ID.search(str(value))
    return match.group(0) if match else None


def parse_report(raw: bytes) -> DeliveryReport | None:
    """The delivery report in ``raw`` (a whole message), or None when it is not a DSN we can
    read: another kind of mail, a report without the original's Message-ID, a broken message."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        return _report(message)
    except Exception as error:  # noqa: BLE001 - a hostile message is not a report, never a crash
        log.warning("DSN illisible (%s).", type(error).__name__)
        return None


def _report(message: Message) -> DeliveryReport | None:
    if message.get_content_type() != "multipart/report":
        return None
    if (message.get_param("report-type") or "").lower() != "delivery-status":
        return None
    fields, original = None, None
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status" and fields is None:
            fields = _status_fields(part)
        elif kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers") and original is None:
            original = _original_message_id(part)
    if not fields:
        return None
    per_message, recipients = fields[0], fields[1:] or fields[:1]
    message_id = (
        original
        or normalize_message_id(per_message.get("Original-Message-ID"))
        or normalize_message_id(per_message.get("X-Original-Message-ID"))
    )
    if message_id is None:
        return None
    worst = _worst(recipients)
    if worst is None:
        return None
    action, recipient = worst
    status = _STATUS.search(str(recipient.get("Status", "")))
    diagnostic = str(recipient.get("Diagnostic-Code", "") or "")
    # « smtp; 550 5.1.1 … »: the type before the semicolon says nothing to a reader.
    diagnostic = diagnostic.split(";", 1)[1] if ";" in diagnostic else diagnostic
    return DeliveryReport(message_id, action, status.group(0) if status else None,
                          " ".join(diagnostic.split()) or None)


def _status_fields(part: Message) -> list[Message]:
    """The blocks of a message/delivery-status part: per message, then per recipient."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # Some servers encode the part (base64): read its decoded text as blocks of fields.
    body = part.get_payload(decode=True) or b""
    text = body.decode("utf-8", "replace")
    return [email.message_from_string(block.strip() + "\n", policy=email.policy.compat32)
            for block in re.split(r"\r?\n\s*\r?\n", text) if block.strip()]


def _original_message_id(part: Message) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return normalize_message_id(payload[0].get("Message-ID"))
    body = part.get_payload(decode=True)
    if not body:
        return None
    headers = email.message_from_bytes(body, policy=email.policy.compat32)
    return normalize_message_id(headers.get("Message-ID"))


def _worst(recipients: list[Message]) -> tuple[str, Message] | None:
    """The gravest action among the recipients (« failed » before « delayed »…); a missing
    Action is read from the Status class (5: failed, 4: delayed, 2: delivered)."""
    found = []
    for recipient in recipients:
        action = str(recipient.get("Action", "") or "").strip().lower()
        if action not in ACTIONS:
            status = _STATUS.search(str(recipient.get("Status", "")))
            action = {"5": "failed", "4": "delayed", "2": "delivered"}.get(status.group(0)[0]) if status else None
        if action in ACTIONS:
            found.append((ACTIONS.index(action), action, recipient))
    if not found:
        return None
    _, action, recipient = min(found, key=lambda item: item[0])
    return action, recipient


# ---------------------------------------------------------------------------------------------
# Mailboxes: each message read once

# What the reader hands out: the message's bytes and the function that marks it read (call it
# once what the message changed is committed, so a crash in between reads it again).
Incoming = tuple[bytes, Callable[[], None]]


def maildir_messages(path: str | os.PathLike) -> Iterator[Incoming]:
    """The messages of a Maildir folder not read yet (in ``new/``, or in ``cur/`` without the
    « S » flag); marking one read moves it to ``cur/`` with the « S » (seen) flag."""
    root = Path(path)
    if not (root / "cur").is_dir() or not (root / "new").is_dir():
        raise FileNotFoundError(f"{root} n'est pas un dossier Maildir (cur/, new/).")
    for subdir in ("new", "cur"):
        for entry in sorted((root / subdir).iterdir()):
            name, _, info = entry.name.partition(":")
            if not entry.is_file() or entry.name.startswith(".") or (subdir == "cur" and "S" in info.partition(",")[2]):
                continue
            flags = "".join(sorted(set(info.partition(",")[2]) | {"S"})) if info.startswith("2,") else "S"
            target = root / "cur" / f"{name}:2,{flags}"
            yield _read_capped(entry), lambda entry=entry, target=target: entry.rename(target)


def _read_capped(entry: Path) -> bytes:
    """The file's bytes, or nothing when it is larger than any report (read no further)."""
    with open(entry, "rb") as handle:
        data = handle.read(MAX_MESSAGE_BYTES + 1)
    return b"" if len(data) > MAX_MESSAGE_BYTES else data


@dataclass(frozen=True)
class ImapSettings:
    host: str
    user: str
    password: str
    port: int = 993
    folder: str = "INBOX"
    move_to: str | None = None  # else the message is only flagged \\Seen


def imap_messages(settings: ImapSettings, connect=imaplib.IMAP4_SSL) -> Iterator[Incoming]:
    """The unseen messages of an IMAP folder, over TLS (certificate checked); marking one read
    flags it \\Seen, and moves it to ``move_to`` when set. Read with BODY.PEEK: a message whose
    processing fails stays unseen, to be read again."""
    context = ssl.create_default_context()
    imap = connect(settings.host, settings.port, ssl_context=context, timeout=IMAP_TIMEOUT_SECONDS)
    try:
        imap.login(settings.user, settings.password)
        _check(imap.select(_quoted(settings.folder)), "dossier introuvable")
        status, data = imap.uid("SEARCH", None, "UNSEEN")
        _check((status, data), "recherche refusée")
        for uid in (data[0] or b"").split():
            status, parts = imap.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((item[1] for item in parts or [] if isinstance(item, tuple)), b"") if status == "OK" else b""
            yield (raw if len(raw) <= MAX_MESSAGE_BYTES else b""), lambda uid=uid: _mark_read(imap, uid, settings)
    finally:
        try:
            imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def _mark_read(imap, uid: bytes, settings: ImapSettings) -> None:
    imap.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    if settings.move_to:
        status, _ = imap.uid("MOVE", uid, _quoted(settings.move_to))
        if status != "OK":  # servers without MOVE (RFC 6851): copy, delete, expunge
            imap.uid("COPY", uid, _quoted(settings.move_to))
            imap.uid("STORE", uid, "+FLAGS", "(\\Deleted)")
            imap.expunge()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(answer, what: str) -> None:
    status, _ = answer
    if status != "OK":
        raise imaplib.IMAP4.error(what)
