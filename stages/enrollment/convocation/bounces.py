"""Bounces of the convocation emails: the DSNs read from a mailbox, matched to what we sent.

Each convocation email's acceptance was recorded with its Message-ID (``delivery``). A DSN that
returns that Message-ID with « failed » marks the email « rejeté (bounce) » with the status code
and the diagnostic (addresses removed), and makes the summons due again (``record_delivery``);
« delayed » is noted without consequence (the remote server still tries), « delivered » noted
as a proof. Reports about anything else (a reminder, a digest, spam) are ignored.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from stages.enrollment.convocation.delivery import (
    DeliveryChannel,
    DeliveryStatus,
    SummonsDelivery,
    record_delivery,
)
from stages.extensions import db
from stages.mail_reports import (
    DeliveryReport,
    ImapSettings,
    Incoming,
    imap_messages,
    maildir_messages,
    parse_report,
)
from stages.wording import ngettext

log = logging.getLogger(__name__)

_STATUS_OF_ACTION = {
    "failed": DeliveryStatus.BOUNCED,
    "delayed": DeliveryStatus.DELAYED,
    "delivered": DeliveryStatus.DELIVERED,
}


@dataclass
class BounceRun:
    """What one reading of the mailbox did."""

    bounced: int = 0
    delayed: int = 0
    delivered: int = 0
    ignored: int = 0  # not a DSN, or about a message that is not a convocation
    already: int = 0  # a report already recorded (the same DSN twice)

    def message(self) -> str:
        """« 1 courriel rejeté, 1 remise retardée, 0 remise confirmée, 2 messages ignorés »."""
        parts = [
            ngettext("%(num)d courriel rejeté", "%(num)d courriels rejetés", self.bounced),
            ngettext("%(num)d remise retardée", "%(num)d remises retardées", self.delayed),
            ngettext("%(num)d remise confirmée", "%(num)d remises confirmées", self.delivered),
            ngettext("%(num)d message ignoré", "%(num)d messages ignorés", self.ignored + self.already),
        ]
        return ", ".join(parts) + "."

    def counts(self) -> dict[str, int]:
        return {
            "courriels rejetés": self.bounced,
            "remises retardées": self.delayed,
            "remises confirmées": self.delivered,
            "messages ignorés": self.ignored + self.already,
        }


# Higher areas that send other emails with a Message-ID they keep (the reports' transmissions)
# register a reader here: ``reader(report)`` returns an outcome, or None when the message is not
# theirs (this area imports none of them).
OTHER_READERS: list[Callable[[DeliveryReport], str | None]] = []


def register_reader(reader: Callable[[DeliveryReport], str | None]) -> None:
    """Let ``reader`` record the reports about messages that are not convocations."""
    if reader not in OTHER_READERS:
        OTHER_READERS.append(reader)


def record_report(report: DeliveryReport) -> str:
    """Record what ``report`` says about a convocation email; flushes, the caller commits.

    Returns the outcome: ``bounced``, ``delayed``, ``delivered``, ``ignored`` (no convocation
    email has that Message-ID) or ``already`` (this report was recorded before).
    """
    sent = db.session.scalar(
        sa.select(SummonsDelivery)
        .where(
            SummonsDelivery.message_id == report.message_id,
            SummonsDelivery.channel == DeliveryChannel.EMAIL,
            SummonsDelivery.status == DeliveryStatus.ACCEPTED,
        )
        .order_by(SummonsDelivery.at.desc(), SummonsDelivery.id.desc())
        .limit(1)
    )
    if sent is None:
        for reader in OTHER_READERS:
            outcome = reader(report)
            if outcome is not None:
                return outcome
        return "ignored"
    status = _STATUS_OF_ACTION[report.action]
    detail = " — ".join(item for item in (report.status, report.diagnostic) if item) or None
    already = db.session.scalar(
        sa.select(sa.func.count(SummonsDelivery.id)).where(
            SummonsDelivery.message_id == report.message_id, SummonsDelivery.status == status,
        )
    )
    # A delayed message may be reported several times, each a new attempt; a failure once.
    if already and status != DeliveryStatus.DELAYED:
        return "already"
    try:
        with db.session.begin_nested():
            record_delivery(sent.enrollment, DeliveryChannel.EMAIL, status,
                            message_id=report.message_id, detail=detail)
    except sa.exc.IntegrityError:  # another reader recorded it meanwhile
        return "already"
    return {DeliveryStatus.BOUNCED: "bounced", DeliveryStatus.DELAYED: "delayed"}.get(status, "delivered")


def process_mailbox(messages: Iterable[Incoming]) -> BounceRun:
    """Read each message, record its report, commit, then mark it read: a crash reads the
    message again, and a report already recorded is not recorded twice."""
    run = BounceRun()
    for raw, mark_read in messages:
        report = parse_report(raw) if raw else None
        try:
            outcome = record_report(report) if report is not None else "ignored"
            db.session.commit()
        except Exception as error:  # noqa: BLE001 - one report must not stop the others
            db.session.rollback()
            log.error("Avis de non-remise non enregistré (%s).", type(error).__name__)
            continue  # left unread: tried again next time
        setattr(run, outcome, getattr(run, outcome) + 1)
        try:
            mark_read()
        except Exception as error:  # noqa: BLE001 - already recorded; « already » next time
            log.warning("Message non marqué comme lu (%s).", type(error).__name__)
    return run


def configured_messages(config, *, maildir: str | None = None, imap_host: str | None = None,
                        imap_user: str | None = None, imap_password_env: str | None = None,
                        imap_folder: str | None = None, imap_move_to: str | None = None,
                        imap_port: int | None = None):
    """The messages to read: the Maildir folder, else the IMAP folder (arguments first, then
    the ``BOUNCE_*`` settings); None when neither is set. ValueError (French) when the IMAP
    password's environment variable is empty."""
    maildir = maildir or (None if imap_host else config.get("BOUNCE_MAILDIR"))
    if maildir:
        return maildir_messages(maildir)
    host = imap_host or config.get("BOUNCE_IMAP_HOST")
    if not host:
        return None
    variable = imap_password_env or config.get("BOUNCE_IMAP_PASSWORD_ENV") or "STAGES_BOUNCE_IMAP_PASSWORD"
    password = os.environ.get(variable)
    if not password:
        raise ValueError(f"Mot de passe IMAP absent : définissez la variable d'environnement {variable}.")
    return imap_messages(ImapSettings(
        host=host,
        user=imap_user or config.get("BOUNCE_IMAP_USER") or "",
        password=password,
        port=imap_port or int(config.get("BOUNCE_IMAP_PORT") or 993),
        folder=imap_folder or config.get("BOUNCE_IMAP_FOLDER") or "INBOX",
        move_to=imap_move_to or config.get("BOUNCE_IMAP_MOVE_TO"),
    ))
