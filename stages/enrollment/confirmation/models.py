"""The link each summons carries to the person's confirmation page, and their replies."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.auth.models import User
from stages.enrollment.models import Enrollment
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.timeutil import now_utc

# The longest free text a person may add to « autre… » (a reason, not a letter).
REASON_TEXT_MAX = 200


class ReplyKind(LabelledEnum):
    CONFIRMED = "confirmed", "Présence confirmée"
    OTHER_DATE = "other_date", "Demande d'une autre date"


class ChangeReason(LabelledEnum):
    MEDICAL = "medical", "Raison médicale"
    WORK = "work", "Obligation professionnelle"
    OTHER = "other", "Autre"


class SummonsLink(db.Model):
    """The secret link of one enrollment's summons (letter, email, reminders).

    Only the SHA-256 of the code is stored: the code is re-derived from ``salt`` with the
    application's secret key when a letter is drawn again (same letter, same link), so the
    table alone gives no working link.
    """

    __tablename__ = "summons_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("enrollments.id", ondelete="CASCADE"), unique=True
    )
    salt: Mapped[str] = mapped_column(sa.String(32))
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    enrollment: Mapped[Enrollment] = relationship()


class SummonsReply(db.Model):
    """What a person answered on their confirmation page: a confirmation, or a request for
    another date with its reason; a task for the course's organizers until one marks it handled.

    No address and no user agent: at most the user agent's SHA-256, to tell two devices apart.
    """

    __tablename__ = "summons_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    # The course the person answered about (the enrollment's, when they answered).
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course_sessions.id", ondelete="CASCADE"))
    kind: Mapped[ReplyKind] = mapped_column(enum_column_type(ReplyKind, "summons_reply_kind"))
    reason: Mapped[ChangeReason | None] = mapped_column(
        enum_column_type(ChangeReason, "summons_change_reason")
    )
    reason_text: Mapped[str | None] = mapped_column(sa.String(REASON_TEXT_MAX))
    at: Mapped[datetime] = mapped_column(default=now_utc)
    user_agent_hash: Mapped[str | None] = mapped_column(sa.String(64))
    handled_at: Mapped[datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    enrollment: Mapped[Enrollment] = relationship()
    handled_by: Mapped[User | None] = relationship()

    __table_args__ = (
        # A confirmation is recorded once per enrollment, however often it is sent; a request
        # for another date once while it waits for an organizer.
        sa.Index(
            "uq_summons_replies_one_confirmation", "enrollment_id", unique=True,
            postgresql_where=sa.text("kind = 'confirmed'"),
            sqlite_where=sa.text("kind = 'confirmed'"),
        ),
        sa.Index(
            "uq_summons_replies_one_pending_request", "enrollment_id", unique=True,
            postgresql_where=sa.text("kind = 'other_date' AND handled_at IS NULL"),
            sqlite_where=sa.text("kind = 'other_date' AND handled_at IS NULL"),
        ),
        sa.CheckConstraint(
            "(kind = 'confirmed') = (reason IS NULL)", name="reason_for_requests_only"
        ),
        sa.CheckConstraint(
            f"reason_text IS NULL OR (reason = 'other' AND length(reason_text) <= {REASON_TEXT_MAX})",
            name="reason_text_for_other",
        ),
        sa.CheckConstraint("handled_by_id IS NULL OR handled_at IS NOT NULL", name="handled_by_when_handled"),
        sa.Index("ix_summons_replies_course_id_handled_at", "course_id", "handled_at"),
    )
