"""Retention periods set by an admin (one row; the environment gives the defaults)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from stages.extensions import db
from stages.timeutil import now_utc


class RetentionSettings(db.Model):
    """The periods the nightly purge applies, in days, when an admin has set them."""

    __tablename__ = "retention_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_days: Mapped[int]
    grace_days: Mapped[int]
    audit_days: Mapped[int]
    backup_days: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.CheckConstraint("id = 1", name="one_row"),
        sa.CheckConstraint("measure_days BETWEEN 180 AND 3650", name="measure_days_range"),
        sa.CheckConstraint("grace_days BETWEEN 0 AND 365", name="grace_days_range"),
        sa.CheckConstraint("audit_days BETWEEN 90 AND 1095", name="audit_days_range"),
        sa.CheckConstraint("backup_days BETWEEN 1 AND measure_days", name="backup_days_range"),
    )
