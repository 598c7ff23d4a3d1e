"""Bilans (the post-course report per course and referring authority), non-execution reports
per measure and the monthly summaries per authority."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.enrollment.models import LegalMeasure
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.scheduling.models import Course
from stages.auth.models import Organization
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

    course: Mapped[Course] = relationship()
    authority: Mapped[Organization] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("session_id", "authority_id"),
        sa.Index("ix_bilans_authority_id_sent_at", "authority_id", "sent_at"),
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

    authority: Mapped[Organization] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("authority_id", "month"),
        sa.CheckConstraint(
            "received >= 0 AND summoned >= 0 AND completed >= 0 AND not_executed >= 0 AND pending >= 0",
            name="counts_not_negative",
        ),
        sa.Index("ix_monthly_summaries_month", "month"),
    )
