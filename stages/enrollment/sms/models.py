"""A person's consent to SMS, and the SMS sent to them with the gateway's last status."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.auth.models import User
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.timeutil import now_utc


class ConsentWithdrawal(LabelledEnum):
    """How a consent ended."""

    STOP = "stop", "Réponse « STOP » par SMS"
    ORGANIZER = "organizer", "Retrait noté par l'association"
    # Consent is to SMS at the number the person gave: a new number needs it asked again.
    NUMBER_CHANGED = "number_changed", "Numéro de téléphone changé"


class SmsConsent(db.Model):
    """The person agreed to receive SMS (told to the association, recorded by ``given_by``);
    ``withdrawn_at`` once they said no (a « STOP » reply, or told the association).

    At most one live consent per person (a partial unique index); past ones stay as history.
    The number is the person's (``Participant.phone``): never copied here.
    """

    __tablename__ = "sms_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participants.id"))
    given_at: Mapped[datetime] = mapped_column(default=now_utc)
    given_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    withdrawn_how: Mapped[ConsentWithdrawal | None] = mapped_column(
        enum_column_type(ConsentWithdrawal, "sms_consent_withdrawal")
    )

    given_by: Mapped[User | None] = relationship(foreign_keys=[given_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])

    __table_args__ = (
        sa.Index(
            "uq_sms_consents_live", "participant_id", unique=True,
            sqlite_where=sa.text("withdrawn_at IS NULL"),
            postgresql_where=sa.text("withdrawn_at IS NULL"),
        ),
        sa.CheckConstraint(
            "(withdrawn_at IS NULL) = (withdrawn_how IS NULL)", name="withdrawal_complete"
        ),
    )


class SmsStatus(LabelledEnum):
    """Where an SMS stands, as the gateway last told (Brevo's ``msg_status`` words mapped)."""

    SENT = "sent", "Transmis à la passerelle"
    ACCEPTED = "accepted", "Accepté par l'opérateur"
    DELIVERED = "delivered", "Reçu sur le téléphone"
    SOFT_BOUNCE = "soft_bounce", "Non remis pour l'instant (téléphone éteint, saturé…)"
    HARD_BOUNCE = "hard_bounce", "Non remis (numéro invalide ou inactif)"
    REJECTED = "rejected", "Refusé par la passerelle"


# Statuses after which no later one is taken (a late « sent » never undoes « delivered »).
FINAL_STATUSES = (SmsStatus.DELIVERED, SmsStatus.HARD_BOUNCE, SmsStatus.REJECTED)


class SmsMessage(db.Model):
    """One SMS handed to the gateway: which logical message (the outbox key), for which
    enrollment, its id at the gateway and its last status. Neither the number nor the text."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id"))
    provider: Mapped[str] = mapped_column(sa.String(20))
    provider_id: Mapped[str] = mapped_column(sa.String(80))
    encoding: Mapped[str] = mapped_column(sa.String(10))
    segments: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(default=now_utc)
    status: Mapped[SmsStatus] = mapped_column(
        enum_column_type(SmsStatus, "sms_status"), default=SmsStatus.SENT
    )
    status_at: Mapped[datetime] = mapped_column(default=now_utc)

    __table_args__ = (
        sa.CheckConstraint("segments >= 1", name="segments_positive"),
        sa.Index("ix_sms_messages_provider_id", "provider", "provider_id"),
        sa.Index("ix_sms_messages_enrollment_id", "enrollment_id"),
    )
