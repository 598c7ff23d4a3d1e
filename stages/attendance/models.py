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
    # When the current value was chosen, by the clock of the device that chose it (a tablet
    # syncing later); the last chosen wins. Null for marks saved online, chosen at updated_at.
    recorded_at: Mapped[datetime | None]

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
    # Sent by a tablet: its item's UUID and the device's clock when the mark was chosen.
    client_id: Mapped[str | None] = mapped_column(sa.String(36), unique=True)
    recorded_at: Mapped[datetime | None]

    __table_args__ = (sa.Index("ix_attendance_revisions_mark_id", "mark_id"),)


class SignatureKind(LabelledEnum):
    SIGNATURE = "signature", "Signature"
    REFUSAL = "refusal", "Refus de signer"
    COUNTERSIGNATURE = "countersignature", "Contresignature de l'intervenant·e"
    VOID = "void", "Annulation"


# What a person does on the sign-in sheet; the countersignature seals the half-day.
PARTICIPANT_KINDS = (SignatureKind.SIGNATURE, SignatureKind.REFUSAL)


class AttendanceSignature(db.Model):
    """One entry of a half-day's émargement électronique: append-only and hash-chained.

    Each entry's ``chain_hash`` is the SHA-256 of the previous entry's hash and of this entry's
    facts (``stages.attendance.signatures.entry_facts``), so that any later change, insertion or
    removal inside a half-day's chain no longer verifies. The database refuses every UPDATE but
    the retention's erasure of the image, and every new signature once the half-day is
    countersigned (triggers of migration 0017); a mistake is undone by a ``void`` entry.
    """

    __tablename__ = "attendance_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("session_parts.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[SignatureKind] = mapped_column(enum_column_type(SignatureKind, "signature_kind"))
    enrollment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    voids_id: Mapped[int | None] = mapped_column(sa.ForeignKey("attendance_signatures.id"))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    image: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    image_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # Countersignature: the SHA-256 of the half-day's marks when it was sealed.
    record_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    signed_at: Mapped[datetime]  # the device's clock, to the second
    received_at: Mapped[datetime]  # the server's
    user_agent: Mapped[str] = mapped_column(sa.String(300), default="")
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    previous_hash: Mapped[str] = mapped_column(sa.String(64))
    chain_hash: Mapped[str] = mapped_column(sa.String(64))
    erased_at: Mapped[datetime | None]  # the image erased by the retention purge

    part: Mapped[CoursePart] = relationship()
    enrollment: Mapped[Enrollment | None] = relationship()
    recorded_by: Mapped[User] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("part_id", "seq"),
        sa.Index("ix_attendance_signatures_enrollment_id", "enrollment_id"),
        sa.Index("ix_attendance_signatures_voids_id", "voids_id"),
        sa.CheckConstraint(
            "(kind IN ('signature', 'refusal')) = (enrollment_id IS NOT NULL)",
            name="participant_entries_name_the_enrollment",
        ),
        sa.CheckConstraint(
            "kind NOT IN ('signature', 'countersignature') OR image_sha256 IS NOT NULL",
            name="signatures_have_an_image",
        ),
        sa.CheckConstraint(
            "(kind = 'void') = (voids_id IS NOT NULL AND reason IS NOT NULL)",
            name="voids_name_their_entry_and_reason",
        ),
    )


class AttendanceSyncReceipt(db.Model):
    """An item a device sent to the sync endpoint, by its client UUID: a replay writes nothing."""

    __tablename__ = "attendance_sync_receipts"

    client_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(sa.String(20))  # applied | superseded
    received_at: Mapped[datetime] = mapped_column(default=now_utc)

    __table_args__ = (
        sa.Index("ix_attendance_sync_receipts_course_id", "course_id"),
        sa.Index("ix_attendance_sync_receipts_user_id", "user_id"),
    )


class IncidentKind(LabelledEnum):
    BEHAVIOUR = "behaviour", "Comportement"
    INTERRUPTION = "interruption", "Interruption de la séance"
    HEALTH = "health", "Santé"
    SAFETY = "safety", "Sécurité"
    OTHER = "other", "Autre"


INCIDENT_TEXT_MAX = 1000


class HalfDayIncident(db.Model):
    """Something that happened during a half-day, noted by its facilitator: when, what kind,
    what, and who noted it. Editable until the course is closed; on the bilan and the course
    page. ``enrollment_id`` names the person concerned, if any: the bilan of that person's
    authority shows it; an incident about nobody in particular is on every authority's."""

    __tablename__ = "attendance_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("session_parts.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime]
    kind: Mapped[IncidentKind] = mapped_column(enum_column_type(IncidentKind, "incident_kind"))
    text: Mapped[str] = mapped_column(sa.String(INCIDENT_TEXT_MAX))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime | None]

    part: Mapped[CoursePart] = relationship()
    enrollment: Mapped[Enrollment | None] = relationship()
    recorded_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.Index("ix_attendance_incidents_part_id_occurred_at", "part_id", "occurred_at"),
        sa.Index("ix_attendance_incidents_enrollment_id", "enrollment_id"),
        sa.CheckConstraint("length(text) > 0", name="incident_has_text"),
    )
