"""Bilans: the post-course report per course and referring authority."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

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
