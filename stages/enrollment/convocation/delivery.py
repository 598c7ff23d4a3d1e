"""Proof of delivery of each summons: what became of every convocation sent, per channel.

A parquet can act on a no-show only if the summons is proven. Each thing learnt about a
convocation is one ``SummonsDelivery`` row of its enrollment, never rewritten: the email accepted
by the mail server (its Message-ID, the time), refused by it (the SMTP code, never the address),
bounced later (the DSN's status and diagnostic), a registered letter posted (its La Poste number)
and its avis de réception (the date typed in), and, from the areas that send them, an SMS's
gateway status or the person's own confirmation.

``record_delivery`` is the one way to write a row. A failure (refused, bounced) whose message
was the summons the person holds makes the summons due again: the enrollment goes back from
« convoqué·e » to « inscrit·e » (« à convoquer ») with the reason in its history.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.enrollment.services import set_enrollment_status_unchecked
from stages.enums import LabelledEnum, enum_column_type
from stages.errors import DomainError
from stages.extensions import db
from stages.timeutil import fr_date, fr_datetime, now_utc


class DeliveryChannel(LabelledEnum):
    """How a convocation went to the person."""

    EMAIL = "email", "Courriel"
    LETTER = "letter", "Courrier simple"
    REGISTERED_LETTER = "registered_letter", "Lettre recommandée avec AR"
    SMS = "sms", "SMS"
    CONFIRMATION = "confirmation", "Page de confirmation"


class DeliveryStatus(LabelledEnum):
    """What was learnt about it (``delivery_text`` says it per channel)."""

    ACCEPTED = "accepted", "accepté"
    REFUSED = "refused", "refusé"
    BOUNCED = "bounced", "rejeté (bounce)"
    DELAYED = "delayed", "remise retardée"
    POSTED = "posted", "posté"
    DELIVERED = "delivered", "remis"
    ACKNOWLEDGED = "acknowledged", "réception confirmée"


# The summons did not reach the person: it is due again unless another proof stands.
FAILED_STATUSES = (DeliveryStatus.REFUSED, DeliveryStatus.BOUNCED)
# The summons left us, or reached the person.
PROOF_STATUSES = (
    DeliveryStatus.ACCEPTED, DeliveryStatus.POSTED, DeliveryStatus.DELIVERED, DeliveryStatus.ACKNOWLEDGED,
)
# Channels whose messages carry an identifier the gateway or the mail server reports back with.
IDENTIFIED_CHANNELS = (DeliveryChannel.EMAIL, DeliveryChannel.SMS)

_TEXTS = {
    (DeliveryChannel.EMAIL, DeliveryStatus.ACCEPTED): "Courriel accepté par le serveur de messagerie",
    (DeliveryChannel.EMAIL, DeliveryStatus.REFUSED): "Courriel refusé par le serveur de messagerie",
    (DeliveryChannel.EMAIL, DeliveryStatus.BOUNCED): "Courriel rejeté (bounce)",
    (DeliveryChannel.EMAIL, DeliveryStatus.DELAYED): "Courriel en attente de remise (le serveur réessaie)",
    (DeliveryChannel.EMAIL, DeliveryStatus.DELIVERED): "Courriel remis à la boîte du destinataire",
    (DeliveryChannel.SMS, DeliveryStatus.ACCEPTED): "SMS accepté par la passerelle",
    (DeliveryChannel.SMS, DeliveryStatus.DELIVERED): "SMS remis au téléphone",
    (DeliveryChannel.LETTER, DeliveryStatus.POSTED): "Courrier simple posté",
    (DeliveryChannel.REGISTERED_LETTER, DeliveryStatus.POSTED): "Lettre recommandée avec AR",
    (DeliveryChannel.REGISTERED_LETTER, DeliveryStatus.ACKNOWLEDGED): "Avis de réception signé",
    (DeliveryChannel.CONFIRMATION, DeliveryStatus.ACKNOWLEDGED): "Convocation reçue : la personne a répondu par son lien",
}

LETTER_NUMBER_LENGTH = 13
ONCE_CONDITION = "message_id IS NOT NULL AND status IN ('bounced', 'delivered')"


def _in(column: str, members: Iterable[LabelledEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{m.value}'" for m in members) + ")"


class SummonsDelivery(db.Model):
    """One thing learnt about one convocation (an enrollment's summons): never rewritten.

    No address or phone number: the Message-ID (random or keyed, see ``stages.mail``), the
    SMTP or DSN code and diagnostic with addresses removed, a La Poste number.
    """

    __tablename__ = "summons_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    channel: Mapped[DeliveryChannel] = mapped_column(enum_column_type(DeliveryChannel, "delivery_channel"))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column_type(DeliveryStatus, "delivery_status"))
    # When it happened (the server's answer, the DSN's arrival, the posting typed in), UTC.
    at: Mapped[datetime] = mapped_column(default=now_utc)
    message_id: Mapped[str | None] = mapped_column(sa.String(250))
    # The SMTP class and code, a DSN's status and diagnostic, a gateway's answer: no address.
    detail: Mapped[str | None] = mapped_column(sa.String(300))
    # La Poste's number of a registered letter, normalized: « 1A12345678901 ».
    letter_number: Mapped[str | None] = mapped_column(sa.String(LETTER_NUMBER_LENGTH))
    # The day the avis de réception says the letter was received.
    acknowledged_on: Mapped[date | None]
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    enrollment: Mapped[Enrollment] = relationship()
    recorded_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "(channel = 'registered_letter') = (letter_number IS NOT NULL)", name="letter_number_channel"
        ),
        sa.CheckConstraint(
            f"letter_number IS NULL OR length(letter_number) = {LETTER_NUMBER_LENGTH}", name="letter_number_length"
        ),
        sa.CheckConstraint(
            "(acknowledged_on IS NOT NULL) = (channel = 'registered_letter' AND status = 'acknowledged')",
            name="acknowledged_on_status",
        ),
        sa.CheckConstraint(
            f"message_id IS NULL OR {_in('channel', IDENTIFIED_CHANNELS)}", name="message_id_channel"
        ),
        sa.CheckConstraint(
            "status <> 'posted' OR channel IN ('letter', 'registered_letter')", name="posted_channel"
        ),
        # A registered letter is posted once and acknowledged once.
        sa.UniqueConstraint("letter_number", "status"),
        # A summons's history (the person's page, the bilan), and a DSN's match.
        sa.Index("ix_summons_deliveries_enrollment_id_at", "enrollment_id", "at"),
        sa.Index("ix_summons_deliveries_message_id", "message_id"),
        # A message bounces, or is reported delivered, once: two readers of the same DSNs at
        # once (cron and the scheduler) record it once.
        sa.Index(
            "uq_summons_deliveries_message_outcome", "message_id", "status", unique=True,
            postgresql_where=sa.text(ONCE_CONDITION), sqlite_where=sa.text(ONCE_CONDITION),
        ),
    )

    @property
    def text(self) -> str:
        """« Courriel accepté par le serveur de messagerie », « Lettre recommandée avec AR n° … »."""
        return delivery_text(self)


def delivery_text(delivery: SummonsDelivery) -> str:
    """What the row says, in French, without its date."""
    text = _TEXTS.get(
        (delivery.channel, delivery.status), f"{delivery.channel.label} : {delivery.status.label}"
    )
    if delivery.channel == DeliveryChannel.REGISTERED_LETTER:
        text += f" n° {format_letter_number(delivery.letter_number)}"
        if delivery.acknowledged_on:
            text += f", reçue le {fr_date(delivery.acknowledged_on)}"
    if delivery.detail:
        text += f" ({delivery.detail})"
    return text


# ---------------------------------------------------------------------------------------------
# Without addresses

_ADDRESS = re.compile(r"<?[^\s<>\"'@;,()]+@[^\s<>\"'@;,()]+>?")
_LONG_NUMBER = re.compile(r"\+?\d[\d .-]{7,}\d")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _phone_like(match: re.Match) -> str:
    """A phone number has 9 digits at least (SMTP codes « 550 5.1.1 » fewer); an IP address
    (a mail server's) is left as it is."""
    text = match.group(0)
    if sum(ch.isdigit() for ch in text) < 9 or _IPV4.fullmatch(text):
        return text
    return "[numéro]"


def without_addresses(text: str | None, limit: int = 300) -> str | None:
    """``text`` with every email address and phone-like number replaced by « [adresse] » /
    « [numéro] », on one line, cut to ``limit``: what a server says often quotes the recipient."""
    if not text:
        return None
    text = _ADDRESS.sub("[adresse]", text)
    text = _LONG_NUMBER.sub(_phone_like, text)
    text = " ".join(text.split())
    return text[:limit] or None


# ---------------------------------------------------------------------------------------------
# Registered letters

_LETTER_NUMBER = re.compile(r"[0-9][A-Z][0-9]{11}")


def normalize_letter_number(raw: str) -> str:
    """« 1A 123 456 7890 1 » → « 1A12345678901 »; DomainError (French) when it is not a La Poste
    registered-letter number (13 characters: a digit, a letter, eleven digits)."""
    compact = re.sub(r"[\s\u00a0.-]", "", raw or "").upper()
    if not _LETTER_NUMBER.fullmatch(compact):
        raise DomainError(
            "Numéro de lettre recommandée invalide : il compte 13 caractères, un chiffre, une "
            "lettre puis 11 chiffres (par exemple « 1A 123 456 7890 1 »)."
        )
    return compact


def format_letter_number(number: str | None) -> str:
    """« 1A12345678901 » → « 1A 123 456 7890 1 », as printed on La Poste's receipts."""
    if not number or len(number) != LETTER_NUMBER_LENGTH:
        return number or ""
    return f"{number[:2]} {number[2:5]} {number[5:8]} {number[8:12]} {number[12:]}"


# ---------------------------------------------------------------------------------------------
# The one service


def record_delivery(
    enrollment: Enrollment,
    channel: DeliveryChannel,
    status: DeliveryStatus,
    *,
    at: datetime | None = None,
    message_id: str | None = None,
    detail: str | None = None,
    letter_number: str | None = None,
    acknowledged_on: date | None = None,
    by: User | None = None,
) -> SummonsDelivery:
    """Record what became of ``enrollment``'s convocation on ``channel``; flushes, the caller
    commits (a job, a command or a view: one transaction with what caused it).

    Every area that learns something about a summons calls this, and only this:

    - email (this package): ``ACCEPTED`` with the Message-ID when the mail server takes it,
      ``REFUSED`` with the SMTP class and code when it does not, ``BOUNCED`` / ``DELAYED`` /
      ``DELIVERED`` from a DSN (``bounces.py``), matched on the Message-ID;
    - SMS: ``ACCEPTED`` with the gateway's message id, then ``DELIVERED`` or ``BOUNCED``
      (``REFUSED`` when the gateway says no at once) from its receipts, on the same id;
    - the person's confirmation page: ``CONFIRMATION`` / ``ACKNOWLEDGED``;
    - a registered letter: ``POSTED`` with ``letter_number`` (normalized, see
      ``normalize_letter_number``), then ``ACKNOWLEDGED`` with ``acknowledged_on``; organizers
      go through ``registered_letters.record_registered_letter`` and ``record_acknowledgement``,
      which check them.

    ``detail`` is passed through ``without_addresses``: never put an address or a number in it
    on purpose. ``at`` defaults to now (UTC). When ``status`` is a failure of the message the
    person's summons rests on (no other proof stands), the enrollment is « à convoquer » again
    and the reason goes in its history and the audit log.
    """
    delivery = SummonsDelivery(
        enrollment_id=enrollment.id,
        channel=channel,
        status=status,
        at=at or now_utc(),
        message_id=message_id,
        detail=without_addresses(detail),
        letter_number=letter_number,
        acknowledged_on=acknowledged_on,
        recorded_by_id=by.id if by else None,
    )
    db.session.add(delivery)
    db.session.flush()
    if status in FAILED_STATUSES and _summons_rests_on(enrollment, delivery):
        _summon_again(enrollment, delivery, by)
    return delivery


def _summons_rests_on(enrollment: Enrollment, failure: SummonsDelivery) -> bool:
    """Whether the person is « convoqué·e » by the failed message alone: it had been accepted,
    and no other proof (another email, a letter, a confirmation) stands beside it."""
    if enrollment.status != EnrollmentStatus.SUMMONED or failure.message_id is None:
        return False
    rows = db.session.execute(
        sa.select(SummonsDelivery.message_id, SummonsDelivery.status)
        .where(SummonsDelivery.enrollment_id == enrollment.id)
    ).all()
    failed_ids = {mid for mid, status in rows if status in FAILED_STATUSES and mid is not None}
    was_accepted = any(mid == failure.message_id and status in PROOF_STATUSES for mid, status in rows)
    other_proofs = [
        mid for mid, status in rows
        if status in PROOF_STATUSES and (mid is None or mid not in failed_ids)
    ]
    return was_accepted and not other_proofs


def _summon_again(enrollment: Enrollment, failure: SummonsDelivery, by: User | None) -> None:
    reason = delivery_text(failure)
    enrollment.convocation_sent_at = None
    set_enrollment_status_unchecked(
        enrollment, EnrollmentStatus.ENROLLED, by=by,
        note=f"Convocation non remise — {reason[:400]} : à convoquer de nouveau",
    )
    audit("convocation.undelivered", enrollment, participant_id=enrollment.measure.participant_id,
          details=f"{failure.channel.value}, {failure.status.value}", user=by)


# ---------------------------------------------------------------------------------------------
# Reading


def deliveries_by_enrollment(enrollment_ids: Iterable[int]) -> dict[int, list[SummonsDelivery]]:
    """Each enrollment's deliveries, oldest first: one statement whatever the number."""
    ids = list(enrollment_ids)
    found: dict[int, list[SummonsDelivery]] = defaultdict(list)
    if not ids:
        return found
    for delivery in db.session.scalars(_BY_ENROLLMENT, {"ids": ids}):
        found[delivery.enrollment_id].append(delivery)
    return found


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_BY_ENROLLMENT = (
    sa.select(SummonsDelivery)
    .where(SummonsDelivery.enrollment_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(SummonsDelivery.enrollment_id, SummonsDelivery.at, SummonsDelivery.id)
)


def open_registered_letters(deliveries: list[SummonsDelivery]) -> list[SummonsDelivery]:
    """The registered letters among ``deliveries`` whose avis de réception is not recorded."""
    acknowledged = {
        d.letter_number for d in deliveries if d.status == DeliveryStatus.ACKNOWLEDGED
    }
    return [
        d for d in deliveries
        if d.channel == DeliveryChannel.REGISTERED_LETTER and d.status == DeliveryStatus.POSTED
        and d.letter_number not in acknowledged
    ]


def last_failure(deliveries: list[SummonsDelivery]) -> SummonsDelivery | None:
    """The latest failure, if nothing was accepted, posted or confirmed after it: why a summons
    is still (or again) to send."""
    for delivery in reversed(deliveries):
        if delivery.status in FAILED_STATUSES:
            return delivery
        if delivery.status in PROOF_STATUSES:
            return None
    return None


def proof_line(delivery: SummonsDelivery, zone: str | None = None) -> str:
    """One proof as a document states it: « 02/03/2026 à 10 h 00 : Courriel accepté par le
    serveur de messagerie (Message-ID <…>) »."""
    line = f"{fr_datetime(delivery.at, zone)} : {delivery.text}"
    if delivery.message_id:
        line += f" (Message-ID {delivery.message_id})"
    return line


def proof_lines(deliveries: list[SummonsDelivery], zone: str | None = None) -> list[str]:
    """Every proof of a summons, oldest first; « Aucune preuve d'envoi enregistrée. » alone when
    there is none."""
    return [proof_line(d, zone) for d in deliveries] or ["Aucune preuve d'envoi enregistrée."]
