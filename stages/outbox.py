"""The outbox: every email that a job or a background change sends goes out once, even across a
crash or two schedulers at once.

A message is first **queued**: a row of ``outbox`` whose unique ``key`` names the logical message
(« convocation_reminder:7:1234 », « deadline_digest:2026-03-05:17 »), inserted with ON CONFLICT
DO NOTHING in the caller's transaction — so a promotion's message exists only if the promotion is
committed, and two schedulers, or a manual run beside the scheduled one, queue it once.

To send it, a process **claims** the row: a conditional UPDATE that only one process can win sets
``claimed_at``, counts the attempt and holds the message for ``CLAIM_TIMEOUT`` (its ``due_at``
moves that far ahead), and is committed. The process builds the message, hands it to the mail
server, then records ``sent_at`` — with whatever the sending area records beside it
(``reminder_7d_sent_at``, « convoqué·e ») — in one transaction.

- A refused send (``MailError``) records the error (no address: the class and SMTP code) and
  makes the message due again after a back-off: 10 minutes, doubling, at most 6 hours.
- A crash between the claim and ``sent_at`` (process killed, host lost) leaves the claim: once
  ``CLAIM_TIMEOUT`` has passed the message is due again and the next run sends it. The only
  window for a duplicate is between the mail server's acceptance and the commit of ``sent_at``;
  every attempt carries the same Message-ID, so mail clients can tell a repeat.

**Bodies are built when sent, from the current data, never stored.** A row holds its kind, its
key and a few ids (``refs``): no address, no name, no letter. So the outbox keeps no personal data
that could outlive the retention purge, a message that no longer applies (course cancelled,
person withdrawn or anonymized, address removed, a digest of a past day) is dropped rather than
sent late, and a retried reminder says « demain » when it is sent the day before. Sent rows only
say that something was sent; they are purged after ``SENT_RETENTION``.

Each area registers the kinds it sends (``register_kind``), with the function that builds a
message from its ``refs`` and the one that records it as sent: this core module imports no area.

**Channels.** A kind goes by email (``channel="email"``, the default: ``build`` returns an
``EmailMessage``) or by SMS (``channel="sms"``: ``build`` returns a ``stages.sms.OutgoingSms``,
handed to ``send_sms``, and ``on_sent(refs, sent)`` also gets the gateway's ``SentSms``). Claims,
retries, the back-off and « exactly once » are the same for both. An SMS is never sent within the
quiet hours (``stages.sms.in_quiet_hours``, 20 h–8 h by default): ``deliver`` leaves the SMS kinds
alone then, and queued ones are due at the end of the quiet hours.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from flask import Flask, g, has_app_context
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from stages.extensions import db
from stages.mail import MailError, send_email, stable_message_id
from stages.sms import OutgoingSms, SmsError, in_quiet_hours, quiet_hours_end, send_sms
from stages.timeutil import now_utc

log = logging.getLogger(__name__)

# A claim not marked sent after this long was interrupted: the message is due again. Far above
# the SMTP timeout (15 s), so a slow server never makes two processes send one message.
CLAIM_TIMEOUT = timedelta(minutes=10)
MAX_RETRY_DELAY = timedelta(hours=6)
SENT_RETENTION = timedelta(days=30)
# Messages handled by one ``deliver``; the rest wait for the next run.
BATCH_SIZE = 1000
_QUEUED_KEYS = "outbox_queued_keys"


class OutboxMessage(db.Model):
    """One logical email: queued, claimed, sent. No personal data (see the module docstring)."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Names the logical message: the same message is never queued twice.
    key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    # The ids the builder needs (an enrollment, a user and a day…), never personal data.
    refs: Mapped[dict] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    # Not before: now when queued, the end of the claim while claimed, the back-off after a refusal.
    due_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]  # the last attempt's claim
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(300))

    __table_args__ = (
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The due messages (sent_at IS NULL, due_at <= now) and the purge (sent_at < …).
        sa.Index("ix_outbox_sent_at_due_at", "sent_at", "due_at"),
    )


# ---------------------------------------------------------------------------------------------
# The kinds of message, registered by the areas that send them


@dataclass(frozen=True)
class Kind:
    """How to build a kind of message from its ``refs`` (None: it no longer applies, drop it),
    and what to record once it is sent (in the transaction that records ``sent_at``)."""

    name: str
    label: str  # French, for the admin page
    build: Callable[[dict], EmailMessage | OutgoingSms | None]
    on_sent: Callable[..., None] | None = None
    # With the Message-ID: after ``on_sent``, in its transaction (the mail server accepted it)…
    on_accepted: Callable[[dict, str], None] | None = None
    # … or in the transaction that records a refusal, with its description (no address).
    on_refused: Callable[[dict, str, MailError], None] | None = None
    channel: str = "email"  # or "sms"


KINDS: dict[str, Kind] = {}
CHANNELS = ("email", "sms")


def register_kind(
    name: str,
    label: str,
    build: Callable[[dict], EmailMessage | OutgoingSms | None],
    on_sent: Callable[..., None] | None = None,
    *,
    on_accepted: Callable[[dict, str], None] | None = None,
    on_refused: Callable[[dict, str, MailError], None] | None = None,
    channel: str = "email",
) -> None:
    """Declare a kind of message (at import time, from the area that sends it).

    ``on_accepted(refs, message_id)`` and ``on_refused(refs, message_id, error)`` let an email
    kind keep a proof of each attempt (the convocation's delivery record); an SMS kind's
    ``on_sent(refs, receipt)`` receives the gateway's receipt."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    KINDS[name] = Kind(name, label, build, on_sent, on_accepted, on_refused, channel)


def sms_kinds() -> set[str]:
    """The kinds that go by SMS."""
    return {name for name, kind in KINDS.items() if kind.channel == "sms"}


def kind_label(name: str) -> str:
    """The French label of a kind (its name when its area is not loaded)."""
    kind = KINDS.get(name)
    return kind.label if kind else name


# ---------------------------------------------------------------------------------------------
# Queueing


def enqueue(kind: str, items: Iterable[tuple[str, dict]]) -> None:
    """Queue one message per ``(key, refs)``, in the caller's transaction (flushes, never
    commits); a key already queued or sent is left as it is. After a web request that committed
    them, the messages are sent at once (``init_app``); the ``deliver_outbox`` job sends the rest.
    """
    now = now_utc()
    # An SMS queued within the quiet hours is due when they end (``deliver`` checks it too).
    due = quiet_hours_end(now) if kind in KINDS and KINDS[kind].channel == "sms" else now
    # In key order: concurrent transactions queueing the same messages lock them in one order.
    rows = sorted(
        ({"key": key, "kind": kind, "refs": refs, "created_at": now, "due_at": due, "attempts": 0}
         for key, refs in items),
        key=lambda row: row["key"],
    )
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(OutboxMessage.__table__)
    db.session.execute(insert.on_conflict_do_nothing(index_elements=["key"]), rows)
    if has_app_context():
        g.setdefault(_QUEUED_KEYS, []).extend(row["key"] for row in rows)


# ---------------------------------------------------------------------------------------------
# Sending


@dataclass
class Delivery:
    """What one ``deliver`` did."""

    sent: int = 0  # emails
    sms_sent: int = 0
    failed: int = 0
    dropped: int = 0  # no longer applied: deleted unsent
    busy: int = 0  # claimed by another process meanwhile

    def counts(self) -> dict[str, int]:
        counts = {
            "courriels envoyés": self.sent,
            "envois refusés": self.failed,
            "courriels devenus sans objet": self.dropped,
        }
        if self.sms_sent:
            counts["SMS envoyés"] = self.sms_sent
        return counts


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(OutboxMessage.sent_at.is_(None), OutboxMessage.due_at <= now)


def deliver(*, kinds: Iterable[str] | None = None, keys: Iterable[str] | None = None) -> Delivery:
    """Send the due messages (of ``kinds``, or with ``keys``), each claimed first.

    Commits after each message: call it once the work that queued them is committed.
    """
    names = set(KINDS) if kinds is None else set(kinds)
    if not names <= set(KINDS):
        log.warning("outbox: kinds not registered in this process: %s", sorted(names - set(KINDS)))
        names &= set(KINDS)
    if in_quiet_hours():
        names -= sms_kinds()  # held until the quiet hours end
    query = (
        sa.select(OutboxMessage.id, OutboxMessage.key, OutboxMessage.kind, OutboxMessage.refs)
        .where(_due(now_utc()), OutboxMessage.kind.in_(names))
        .order_by(OutboxMessage.id)
        .limit(BATCH_SIZE)
    )
    if keys is not None:
        query = query.where(OutboxMessage.key.in_(list(keys)))
    rows = db.session.execute(query).all()
    delivery = Delivery()
    for row in rows:
        outcome = _deliver_one(row.id, row.key, KINDS[row.kind], row.refs)
        if outcome == "sent" and KINDS[row.kind].channel == "sms":
            outcome = "sms_sent"
        setattr(delivery, outcome, getattr(delivery, outcome) + 1)
    db.session.commit()
    return delivery


def _deliver_one(message_id: int, key: str, kind: Kind, refs: dict) -> str:
    attempt = _claim(message_id)
    if attempt is None:
        return "busy"
    try:
        message = kind.build(refs)
    except Exception as error:  # noqa: BLE001 - one broken message must not stop the others
        db.session.rollback()
        log.error("outbox: message %d (%s) could not be built: %s", message_id, kind.name,
                  type(error).__name__)
        _release(message_id, attempt, f"Message impossible à préparer ({type(error).__name__}).")
        return "failed"
    if message is None:
        db.session.rollback()
        db.session.execute(
            sa.delete(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
        )
        db.session.commit()
        return "dropped"
    receipt = header_id = None  # the gateway's answer (SMS), or the email's Message-ID
    try:
        if kind.channel == "sms":
            receipt = send_sms(message)
        else:
            del message["Message-ID"]
            message["Message-ID"] = header_id = stable_message_id(key)
            send_email(message)
    except (MailError, SmsError) as error:
        db.session.rollback()
        _release(message_id, attempt, _describe(error), kind, refs, header_id, error)
        return "failed"
    _record_sent(message_id, kind, refs, receipt=receipt, header_id=header_id)
    return "sent"


def _claim(message_id: int) -> int | None:
    """Take the message for ``CLAIM_TIMEOUT`` and commit; its attempt number, or None when
    another process holds it or it was sent meanwhile."""
    now = now_utc()
    row = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _due(now))
        .values(claimed_at=now, due_at=now + CLAIM_TIMEOUT, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.attempts, OutboxMessage.last_error)
        .execution_options(synchronize_session=False)
    ).first()
    db.session.commit()
    if row is None:
        return None
    if row.attempts > 1 and row.last_error is None:
        log.warning("outbox: message %d: attempt %d follows one that was interrupted",
                    message_id, row.attempts)
    return row.attempts


def _release(
    message_id: int, attempt: int, error: str, kind: Kind | None = None, refs: dict | None = None,
    header_id: str | None = None, failure: MailError | None = None,
) -> None:
    """A failed attempt: record why, and make the message due again after the back-off (with
    the area's record of the refusal, when it keeps one)."""
    delay = min(CLAIM_TIMEOUT * 2 ** (attempt - 1), MAX_RETRY_DELAY)
    db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
        .values(due_at=now_utc() + delay, last_error=error[:300])
        .execution_options(synchronize_session=False)
    )
    if kind is not None and kind.on_refused is not None and failure is not None:
        try:
            with db.session.begin_nested():
                kind.on_refused(refs or {}, header_id, failure)
        except Exception as broken:  # noqa: BLE001 - the back-off must be recorded anyway
            log.error("outbox: message %d (%s): recording the refusal failed: %s", message_id,
                      kind.name, type(broken).__name__)
    db.session.commit()


def _record_sent(message_id: int, kind: Kind, refs: dict, receipt=None, header_id: str | None = None) -> None:
    """``sent_at`` and the area's own record, in one transaction; ``sent_at`` alone if the
    area's record fails (the email is gone: it must never be sent again)."""

    def mark_sent() -> bool:
        result = db.session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.sent_at.is_(None))
            .values(sent_at=now_utc(), last_error=None)
            .execution_options(synchronize_session=False)
        )
        return result.rowcount == 1

    try:
        if mark_sent():
            if kind.on_sent is not None:
                if kind.channel == "sms":
                    kind.on_sent(refs, receipt)
                else:
                    kind.on_sent(refs)
            if kind.on_accepted is not None and header_id is not None:
                kind.on_accepted(refs, header_id)
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - recorded as sent whatever happens after
        db.session.rollback()
        log.error("outbox: message %d (%s) sent, but recording it failed: %s", message_id,
                  kind.name, type(error).__name__)
        mark_sent()
        db.session.commit()


def _describe(error: MailError | SmsError) -> str:
    """The French message, the exception class and the SMTP code: never the server's reply,
    which often quotes the recipient's address."""
    if isinstance(error, SmsError):
        return error.message
    cause = error.__cause__
    if cause is None:
        return error.message
    code = getattr(cause, "smtp_code", None)
    return f"{error.message} ({type(cause).__name__}{f', code {code}' if code else ''})"


def init_app(app: Flask) -> None:
    """Send what a web request queued as soon as it is committed (the job retries failures)."""

    @app.after_request
    def deliver_queued(response):
        keys = g.pop(_QUEUED_KEYS, None)
        if keys:
            # The request's own work is committed or abandoned by now: start clean. Keys of a
            # rolled-back transaction find no row.
            db.session.rollback()
            try:
                deliver(keys=keys)
            except Exception as error:  # noqa: BLE001 - the job retries; the answer stands
                db.session.rollback()
                log.error("outbox: sending after the request failed: %s", type(error).__name__)
        return response


# ---------------------------------------------------------------------------------------------
# The admin page and the purge


@dataclass(frozen=True)
class KindCounts:
    label: str
    due: int
    failing: int
    sent: int


def outbox_counts() -> list[KindCounts]:
    """Per kind: messages due (of which the last attempt failed) and sent (kept 30 days)."""
    unsent = OutboxMessage.sent_at.is_(None)
    rows = db.session.execute(
        sa.select(
            OutboxMessage.kind,
            sa.func.sum(sa.case((unsent, 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(unsent, OutboxMessage.last_error.is_not(None)), 1), else_=0)),
            sa.func.sum(sa.case((unsent, 0), else_=1)),
        )
        .group_by(OutboxMessage.kind)
        .order_by(OutboxMessage.kind)
    ).all()
    return [
        KindCounts(kind_label(kind), int(due), int(failing), int(sent))
        for kind, due, failing, sent in rows
    ]


def latest_errors(limit: int = 10) -> list[OutboxMessage]:
    """The unsent messages whose last attempt failed, latest first (their errors carry no
    personal data)."""
    return list(
        db.session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.last_error.is_not(None))
            .order_by(OutboxMessage.claimed_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def purge_sent(now: datetime) -> int:
    """Forget messages sent more than ``SENT_RETENTION`` ago; how many were deleted."""
    result = db.session.execute(
        sa.delete(OutboxMessage).where(OutboxMessage.sent_at < now - SENT_RETENTION)
    )
    return result.rowcount
