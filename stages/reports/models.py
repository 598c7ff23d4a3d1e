"""Bilans (the post-course report per course and referring authority), non-execution reports
per measure and the monthly summaries per authority; the transmissions of reports to an
authority (``stages.reports.transmissions`` sends them)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.enrollment.models import LegalMeasure
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


class NonExecutionReason(LabelledEnum):
    """Why a measure reached its deadline without a completed course, as the report (an official
    document) writes it: plain nouns, no inclusive-writing dot. How each is decided from the
    records: ``stages.reports.non_execution.reason_for``."""

    NEVER_ENROLLED = "never_enrolled", "Jamais inscrit à un stage"
    UNREACHABLE = "unreachable", "Injoignable : convocation non remise"
    ABSENT = "absent", "Absence au stage"
    REFUSED = "refused", "Refus d'effectuer le stage"
    WITHDRAWN = "withdrawn", "Mesure renvoyée à l'autorité avant convocation"
    LATE_COURSE = "late_course", "Stage prévu après la date limite"


class NonExecutionStatus(LabelledEnum):
    """Where a report stands. « Transmis » and « accusé de réception » are read from its
    transmission, not stored here."""

    DRAFT = "draft", "Brouillon"
    READY = "ready", "Relu, prêt à transmettre"
    WITHDRAWN = "withdrawn", "Retiré (plus lieu de le transmettre)"


class NonExecutionReport(db.Model):
    """A rapport de non-exécution: one measure whose deadline passed without a completed course,
    for its referring authority. Drafted once per measure and deadline (the unique pair) by the
    daily job; reviewed, then transmitted, by an organizer. A draft that no longer applies
    (measure completed, deadline moved) is withdrawn with the reason, never deleted."""

    __tablename__ = "non_execution_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(sa.ForeignKey("legal_measures.id", ondelete="CASCADE"))
    # The measure's authority when drafted (lists filter on it without joining the measure).
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    deadline: Mapped[date]
    reason: Mapped[NonExecutionReason] = mapped_column(
        enum_column_type(NonExecutionReason, "non_execution_reason")
    )
    status: Mapped[NonExecutionStatus] = mapped_column(
        enum_column_type(NonExecutionStatus, "non_execution_status"), default=NonExecutionStatus.DRAFT
    )
    drafted_at: Mapped[datetime] = mapped_column(default=now_utc)
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    withdrawn_at: Mapped[datetime | None]
    # Why it was withdrawn: « Stage effectué le … », « Date limite reportée au … ».
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.String(300))

    measure: Mapped[LegalMeasure] = relationship()
    authority: Mapped[Organization] = relationship()

    @property
    def state(self) -> tuple[str, str]:
        """Its state as shown, with the badge's tone: the stored status, or what its
        transmissions say (« transmis », « réception accusée »)."""
        if self.status != NonExecutionStatus.WITHDRAWN and self.acknowledged_at is not None:
            return "Transmis, réception accusée", "success"
        if self.status != NonExecutionStatus.WITHDRAWN and self.transmitted_at is not None:
            return "Transmis", "success"
        tones = {NonExecutionStatus.DRAFT: "warning", NonExecutionStatus.READY: "info"}
        return self.status.label, tones.get(self.status, "neutral")

    __table_args__ = (
        sa.UniqueConstraint("measure_id", "deadline"),
        sa.CheckConstraint(
            "(status = 'withdrawn') = (withdrawn_at IS NOT NULL)", name="withdrawn_at_status"
        ),
        sa.CheckConstraint("status <> 'ready' OR reviewed_at IS NOT NULL", name="reviewed_when_ready"),
        sa.Index("ix_non_execution_reports_authority_id_status", "authority_id", "status"),
        sa.Index("ix_non_execution_reports_reason", "reason"),
        sa.Index("ix_non_execution_reports_status_deadline", "status", "deadline"),
    )


class MonthlySummary(db.Model):
    """The monthly summary of one referring authority for one calendar month (Europe/Paris):
    the figures as they were counted when it was made, and the measures the liaison must act on
    (ids only). One per authority and month (the unique pair): two schedulers make it once."""

    __tablename__ = "monthly_summaries"

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"))
    month: Mapped[date]  # its first day
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    received: Mapped[int]
    summoned: Mapped[int]
    completed: Mapped[int]
    not_executed: Mapped[int]
    pending: Mapped[int]
    # The measures not executed whose deadline passed in the month: the people to act on.
    to_act_on: Mapped[list] = mapped_column(sa.JSON, default=list)
    # Its transmission to the authority (requested once by the job: number 1).
    transmission_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("report_transmissions.id", ondelete="SET NULL")
    )

    authority: Mapped[Organization] = relationship()
    transmission: Mapped[ReportTransmission | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("authority_id", "month"),
        sa.CheckConstraint(
            "received >= 0 AND summoned >= 0 AND completed >= 0 AND not_executed >= 0 AND pending >= 0",
            name="counts_not_negative",
        ),
        sa.Index("ix_monthly_summaries_month", "month"),
        sa.Index("ix_monthly_summaries_transmission_id", "transmission_id"),
    )


def _transmissions_of_report(*conditions) -> sa.Select:
    """A report's transmissions: kind « non_execution », its authority, its document key
    (``{"report":5}``, as ``stages.reports.transmissions.document_key`` writes it)."""
    key = sa.literal('{"report":') + sa.cast(NonExecutionReport.id, sa.String) + sa.literal("}")
    return sa.select(*conditions).where(
        ReportTransmission.authority_id == NonExecutionReport.authority_id,
        ReportTransmission.kind == TransmissionKind.NON_EXECUTION,
        ReportTransmission.document_key == key,
    )


# When the report was first accepted by the authority's mail server, and first acknowledged:
# read from its transmissions (« transmis », « accusé de réception »), never stored twice.
NonExecutionReport.transmitted_at = sa.orm.column_property(
    _transmissions_of_report(sa.func.min(ReportTransmission.sent_at))
    .where(ReportTransmission.status == TransmissionStatus.SENT).scalar_subquery()
)
NonExecutionReport.acknowledged_at = sa.orm.column_property(
    _transmissions_of_report(sa.func.min(ReportTransmission.acknowledged_at)).scalar_subquery()
)
