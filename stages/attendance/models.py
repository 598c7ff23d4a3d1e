"""Attendance per enrollment and half-day part, with every revision kept."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.auth.models import User
from stages.enrollment.models import Enrollment
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.scheduling.models import CoursePart
from stages.timeutil import now_utc


class AttendanceStatus(LabelledEnum):
    PRESENT = "present", "Présent·e"
    LATE = "late", "En retard"
    LEFT_EARLY = "left_early", "Parti·e plus tôt"
    ABSENT = "absent", "Absent·e"
    EXCUSED = "excused", "Absent·e excusé·e"


class AttendanceMark(db.Model):
    """The current attendance of one enrollment for one half-day part."""

    __tablename__ = "attendance_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("session_parts.id", ondelete="CASCADE"))
    status: Mapped[AttendanceStatus] = mapped_column(
        enum_column_type(AttendanceStatus, "attendance_status")
    )
    arrived_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(sa.String(500))
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    enrollment: Mapped[Enrollment] = relationship()
    part: Mapped[CoursePart] = relationship()
    updated_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("enrollment_id", "part_id"),
        sa.Index("ix_attendance_marks_part_id", "part_id"),
    )


class AttendanceRevision(db.Model):
    """A past value of a mark: nothing a facilitator or an organizer wrote is ever lost."""

    __tablename__ = "attendance_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    mark_id: Mapped[int] = mapped_column(sa.ForeignKey("attendance_marks.id", ondelete="CASCADE"))
    status: Mapped[AttendanceStatus] = mapped_column(
        enum_column_type(AttendanceStatus, "attendance_status")
    )
    arrived_at: Mapped[datetime | None]
    left_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(sa.String(500))
    # Required when an organizer corrects attendance after the day.
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    changed_at: Mapped[datetime] = mapped_column(default=now_utc)
    changed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (sa.Index("ix_attendance_revisions_mark_id", "mark_id"),)
