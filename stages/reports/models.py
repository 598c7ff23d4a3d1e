"""Bilans: the post-course report per course and referring authority; the transmissions of
reports to an authority (``stages.reports.transmissions`` sends them)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.scheduling.models import Course
from stages.auth.models import Organization, User
from stages.timeutil import now_utc


class Bilan(db.Model):
    """The report of one closed course to one referring authority, and when it was sent."""

    __tablename__ = "bilans"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column("session_id", sa.ForeignKey("course_sessions.id"))
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    sent_at: Mapped[datetime | None]
    sent_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Its latest transmission by email (``sent_at`` is set once the mail server accepted one, or
    # when an organizer marks it handed over otherwise).
    transmission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("report_transmissions.id", ondelete="SET NULL")
    )

    course: Mapped[Course] = relationship()
    authority: Mapped[Organization] = relationship()
    transmission: Mapped[ReportTransmission | None] = relationship(foreign_keys=[transmission_id])

    __table_args__ = (
        sa.UniqueConstraint("session_id", "authority_id"),
        sa.Index("ix_bilans_authority_id_sent_at", "authority_id", "sent_at"),
        sa.Index("ix_bilans_transmission_id", "transmission_id"),
    )


class TransmissionKind(LabelledEnum):
    """What is sent to the authority."""

    BILAN = "bilan", "Bilan de stage"
    NON_EXECUTION = "non_execution", "Rapport de non-exécution"
    MONTHLY_SUMMARY = "monthly_summary", "Synthèse mensuelle"


class TransmissionStatus(LabelledEnum):
    """Where one transmission stands with the mail server."""

    QUEUED = "queued", "à envoyer"
    SENT = "sent", "transmis"
    FAILED = "failed", "échec de l'envoi"
    BOUNCED = "bounced", "rejeté (bounce)"


class AcknowledgmentChannel(LabelledEnum):
    APP = "app", "dans l'application"
    LINK = "link", "par le lien du courriel"


class ReportTransmission(db.Model):
    """One sending of one document to one authority; never rewritten but for its outcome and its
    acknowledgment. No address of a person: the authority's mailbox, the Message-ID, the SMTP
    class and code."""

    __tablename__ = "report_transmissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    # The association that sends it (its organizers follow it), when known.
    sender_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id", ondelete="SET NULL"))
    kind: Mapped[TransmissionKind] = mapped_column(enum_column_type(TransmissionKind, "transmission_kind"))
    # What is sent, as ids: {"course": 12}, {"report": 5}, {"period": "2026-11"}; ``document_key``
    # is their canonical text, to find a document's transmissions.
    refs: Mapped[dict] = mapped_column(sa.JSON)
    document_key: Mapped[str] = mapped_column(sa.String(200))
    # 1 for the document's first transmission to this authority, then 2, 3…
    number: Mapped[int]
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=now_utc)
    status: Mapped[TransmissionStatus] = mapped_column(
        enum_column_type(TransmissionStatus, "transmission_status"), default=TransmissionStatus.QUEUED
    )
    recipients: Mapped[str | None] = mapped_column(sa.String(500))  # the authority's mailbox(es)
    sent_at: Mapped[datetime | None]  # accepted by the mail server
    message_id: Mapped[str | None] = mapped_column(sa.String(250))
    # « SMTPDataError, code 550, échec définitif », a bounce's status: never an address.
    refusal: Mapped[str | None] = mapped_column(sa.String(300))
    refusal_code: Mapped[int | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    acknowledged_via: Mapped[AcknowledgmentChannel | None] = mapped_column(
        enum_column_type(AcknowledgmentChannel, "acknowledgment_channel")
    )

    authority: Mapped[Organization] = relationship(foreign_keys=[authority_id])
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    files: Mapped[list[TransmittedFile]] = relationship(
        back_populates="transmission", order_by="TransmittedFile.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # Two identical requests (two clicks, two schedulers) make one row.
        sa.UniqueConstraint("authority_id", "kind", "document_key", "number"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
        sa.CheckConstraint("(status IN ('sent', 'bounced')) = (sent_at IS NOT NULL)", name="sent_at_status"),
        sa.CheckConstraint("status <> 'queued' OR acknowledged_at IS NULL", name="acknowledged_once_sent"),
        sa.CheckConstraint("(acknowledged_at IS NULL) = (acknowledged_via IS NULL)", name="acknowledged_via_set"),
        sa.CheckConstraint("acknowledged_via <> 'app' OR acknowledged_by_id IS NOT NULL OR acknowledged_at IS NULL",
                           name="acknowledged_by_in_app"),
        # A document's history; an authority's list; the organizers' « sans accusé » count.
        sa.Index("ix_report_transmissions_document", "authority_id", "kind", "document_key"),
        sa.Index("ix_report_transmissions_sender_status", "sender_id", "status", "acknowledged_at", "sent_at"),
        # A DSN's match.
        sa.Index("ix_report_transmissions_message_id", "message_id"),
        # The list, newest first.
        sa.Index("ix_report_transmissions_requested_at", "requested_at"),
    )

    @property
    def reference(self) -> str:
        """The transmission's number as shown to the authority: « T-000123 »."""
        return f"T-{self.id:06d}"

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class TransmittedFile(db.Model):
    """One file exactly as it was attached: its name, size and SHA-256."""

    __tablename__ = "report_transmission_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    transmission_id: Mapped[int] = mapped_column(sa.ForeignKey("report_transmissions.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(sa.String(200))
    mimetype: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))

    transmission: Mapped[ReportTransmission] = relationship(back_populates="files")

    __table_args__ = (
        sa.CheckConstraint("size >= 0", name="size_not_negative"),
        sa.CheckConstraint("length(sha256) = 64", name="sha256_length"),
        sa.Index("ix_report_transmission_files_transmission_id", "transmission_id"),
    )
