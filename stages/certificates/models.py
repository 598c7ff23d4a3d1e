"""Attestations de stage: numbered per year, verifiable by a random code, revocable, replaceable."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.enrollment.models import Enrollment
from stages.extensions import db
from stages.timeutil import now_utc


class Certificate(db.Model):
    """An attestation de stage for a completed enrollment.

    An enrollment has at most one valid attestation (a partial unique index). A revoked one may
    be replaced once, by a new attestation with its own number that names it (``replaces_id``).
    """

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id"))
    year: Mapped[int]
    sequence: Mapped[int]
    number: Mapped[str] = mapped_column(sa.String(20), unique=True)
    # At least 80 bits of randomness, shown on the PDF and behind its QR code.
    verification_code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    hours_attended_minutes: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(default=now_utc)
    issued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(sa.String(500))
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # What was certified, as issued: the PDF's bytes, and the facts the public verification page
    # shows. Later edits (a rectified name, a renamed association) never change them: a change
    # goes through revocation and an attestation rectificative. Erased with the person.
    pdf: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    holder_initials: Mapped[str | None] = mapped_column(sa.String(12))
    holder_birth_year: Mapped[int | None]
    course_days: Mapped[list | None] = mapped_column(sa.JSON)
    # The revoked attestation this one replaces (same enrollment), if any.
    replaces_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificates.id"), unique=True)

    enrollment: Mapped[Enrollment] = relationship()
    replaces: Mapped[Certificate | None] = relationship(remote_side=[id])

    __table_args__ = (
        sa.UniqueConstraint("year", "sequence"),
        sa.Index("ix_certificates_enrollment_id", "enrollment_id"),
        sa.Index(
            "uq_certificates_one_valid_per_enrollment", "enrollment_id", unique=True,
            postgresql_where=sa.text("revoked_at IS NULL"), sqlite_where=sa.text("revoked_at IS NULL"),
        ),
        sa.CheckConstraint("hours_attended_minutes >= 0", name="hours_positive"),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revocation_reason IS NULL)", name="revocation_has_reason"
        ),
    )


class VerificationTally(db.Model):
    """How many times the public page checked a code, per day, outcome and attestation.

    Anyone may check a code, as often as the rate limit allows: one row per check would let the
    public fill the audit log. The checks are counted instead (an unknown code on the row whose
    ``certificate_id`` is NULL). Nothing here says who checked, nor the code typed.
    """

    __tablename__ = "verification_tallies"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    outcome: Mapped[str] = mapped_column(sa.String(20))
    certificate_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificates.id", ondelete="CASCADE"))
    count: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        sa.UniqueConstraint("day", "outcome", "certificate_id"),
        # The unique constraint lets NULLs repeat: the unknown codes' row is unique per day too.
        sa.Index(
            "uq_verification_tallies_unknown", "day", "outcome", unique=True,
            postgresql_where=sa.text("certificate_id IS NULL"), sqlite_where=sa.text("certificate_id IS NULL"),
        ),
        sa.Index("ix_verification_tallies_certificate_id", "certificate_id"),
        sa.CheckConstraint("count >= 0", name="count_positive"),
    )
