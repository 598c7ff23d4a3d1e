"""Modules of an association's catalogue, the programme of each half-day, outside speakers and
their bookings."""
from __future__ import annotations

from datetime import datetime, time

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from stages.auth.models import Organization
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart, CourseStatus
from stages.timeutil import local_to_utc, now_utc, to_local

MAX_SPEAKER_FEE_CENTS = 1_000_000  # €10,000: beyond it, a typing error


class ProgrammeTopic(LabelledEnum):
    """What a module covers: the three contents of the décret n° 2016-1709, then optional ones."""

    REALITY = "realite_prostitution", "La réalité de la prostitution"
    COMMODIFICATION = "marchandisation_corps", "La marchandisation du corps"
    RESPONSIBILITY = "responsabilite_acheteur", "La responsabilité pénale et civile de l'acheteur"
    LAW_2016 = "loi_2016", "La loi du 13 avril 2016"
    HEALTH = "sante", "Santé"
    TESTIMONY = "temoignage", "Témoignage d'une personne survivante"
    OTHER = "autre", "Autre thème"


# The contents every course must cover before it is scheduled (décret n° 2016-1709).
REQUIRED_TOPICS = (ProgrammeTopic.REALITY, ProgrammeTopic.COMMODIFICATION, ProgrammeTopic.RESPONSIBILITY)


class SpeakerKind(LabelledEnum):
    SURVIVOR = "survivante", "Personne survivante de la prostitution"
    DOCTOR = "medecin", "Médecin ou soignant"
    POLICE = "police", "Policier ou gendarme"
    MAGISTRATE = "magistrat", "Magistrat"
    LAWYER = "avocat", "Avocat"
    SOCIAL_WORKER = "travailleur_social", "Travailleur social"
    OTHER = "autre", "Autre"


class BookingStatus(LabelledEnum):
    REQUESTED = "requested", "Demandée"
    CONFIRMED = "confirmed", "Confirmée"
    DECLINED = "declined", "Déclinée"


class ProgrammeModule(db.Model):
    """A module of an association's catalogue; archived, never deleted, once a course used it."""

    __tablename__ = "programme_modules"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    title: Mapped[str] = mapped_column(sa.String(200))
    duration_minutes: Mapped[int]
    description: Mapped[str | None] = mapped_column(sa.Text)
    # Its place in the programme a new course starts with; none: not in it.
    default_position: Mapped[int | None]
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    organization: Mapped[Organization] = relationship()
    topic_links: Mapped[list["ProgrammeModuleTopic"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )

    __table_args__ = (
        sa.UniqueConstraint("organization_id", "title"),
        sa.CheckConstraint("duration_minutes >= 5 AND duration_minutes <= 360", name="duration_range"),
    )

    @property
    def topics(self) -> list[ProgrammeTopic]:
        """The contents it covers, in the décret's order then the optional ones."""
        return sorted((link.topic for link in self.topic_links), key=list(ProgrammeTopic).index)


class ProgrammeModuleTopic(db.Model):
    """One content a module covers."""

    __tablename__ = "programme_module_topics"

    module_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programme_modules.id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[ProgrammeTopic] = mapped_column(
        enum_column_type(ProgrammeTopic, "programme_topic"), primary_key=True
    )


class ProgrammeItem(db.Model):
    """A module in the programme of one half-day, in order, with optional times (the venue's
    local wall-clock times within the half-day)."""

    __tablename__ = "programme_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("session_parts.id", ondelete="CASCADE"))
    module_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_modules.id"))
    position: Mapped[int]
    start_time: Mapped[time | None]
    end_time: Mapped[time | None]

    part: Mapped[CoursePart] = relationship(
        backref=backref("programme", order_by="ProgrammeItem.position", cascade="all, delete-orphan",
                        passive_deletes=True)
    )
    module: Mapped[ProgrammeModule] = relationship()
    booking: Mapped["SpeakerBooking | None"] = relationship(
        back_populates="item", cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )

    __table_args__ = (
        sa.CheckConstraint(
            "(start_time IS NULL AND end_time IS NULL) OR "
            "(start_time IS NOT NULL AND end_time IS NOT NULL AND end_time > start_time)",
            name="times_pair",
        ),
        sa.CheckConstraint("position >= 0", name="position_positive"),
        sa.Index("ix_programme_items_part_id_position", "part_id", "position"),
        sa.Index("ix_programme_items_module_id", "module_id"),
    )

    def span(self) -> tuple[datetime, datetime]:
        """When the item takes place, in UTC: its own times, or its whole half-day."""
        part = self.part
        if self.start_time is None or self.end_time is None:
            return part.starts_at, part.ends_at
        zone = part.course.venue.timezone
        day = to_local(part.starts_at, zone).date()
        return local_to_utc(day, self.start_time, zone), local_to_utc(day, self.end_time, zone)


class Speaker(db.Model):
    """An outside speaker (survivor, doctor, police officer, magistrate…), not a user: their
    contact is personal data, seen by their association's organizers only."""

    __tablename__ = "speakers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    full_name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[SpeakerKind] = mapped_column(enum_column_type(SpeakerKind, "speaker_kind"))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    fee_cents: Mapped[int | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    organization: Mapped[Organization] = relationship()

    __table_args__ = (
        sa.CheckConstraint(f"fee_cents >= 0 AND fee_cents <= {MAX_SPEAKER_FEE_CENTS}", name="fee_range"),
        sa.Index("ix_speakers_organization_id_full_name", "organization_id", "full_name"),
    )


class SpeakerBooking(db.Model):
    """A speaker asked for one module of a half-day; the database refuses two active bookings of
    one speaker at once (exclusion constraint on PostgreSQL, triggers on SQLite)."""

    __tablename__ = "speaker_bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("programme_items.id", ondelete="CASCADE"), unique=True)
    speaker_id: Mapped[int] = mapped_column(sa.ForeignKey("speakers.id"))
    status: Mapped[BookingStatus] = mapped_column(
        enum_column_type(BookingStatus, "speaker_booking_status"), default=BookingStatus.REQUESTED
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    item: Mapped[ProgrammeItem] = relationship(back_populates="booking")
    speaker: Mapped[Speaker] = relationship()

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="end_after_start"),
        sa.Index("ix_speaker_bookings_speaker_id_starts_at", "speaker_id", "starts_at"),
    )


def sync_speaker_booking(booking: SpeakerBooking) -> None:
    """Copy the item's times and the course's state onto the booking row."""
    item = booking.item
    booking.starts_at, booking.ends_at = item.span()
    booking.is_active = (
        booking.status != BookingStatus.DECLINED and item.part.course.status != CourseStatus.CANCELLED
    )


_INPUTS = {
    Course: ("status", "venue", "parts"),
    CoursePart: ("starts_at", "ends_at"),
    ProgrammeItem: ("start_time", "end_time", "part"),
    SpeakerBooking: ("status", "item"),
}


def _moves_or_cancels(state) -> bool:
    """Whether a course's change concerns its speakers: a move, or a cancellation (or its undoing);
    draft → scheduled → held does not (the job marking courses held reads no programme)."""
    if state.attrs.venue.history.has_changes() or state.attrs.parts.history.has_changes():
        return True
    history = state.attrs.status.history
    return CourseStatus.CANCELLED in (*history.added, *history.deleted)


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _keep_speaker_bookings_in_step(session, _flush_context, _instances) -> None:
    """Whatever changes a course, a half-day or an item, its speakers' bookings follow."""
    bookings = set()
    for obj in list(session.new) + list(session.dirty):
        fields = _INPUTS.get(type(obj))
        if fields is None or obj in session.deleted:
            continue
        state = sa.inspect(obj)
        if not state.pending and not any(state.attrs[f].history.has_changes() for f in fields):
            continue
        if isinstance(obj, SpeakerBooking):
            bookings.add(obj)
        elif isinstance(obj, ProgrammeItem):
            bookings.update([obj.booking] if obj.booking else [])
        elif isinstance(obj, CoursePart):
            if state.pending:
                continue  # a new half-day has no programme yet
            bookings.update(i.booking for i in obj.programme if i.booking)
        elif not state.pending and _moves_or_cancels(state):
            bookings.update(i.booking for p in obj.parts for i in p.programme if i.booking)
    for booking in bookings:
        if booking.item is not None and booking.item.part is not None and booking not in session.deleted:
            sync_speaker_booking(booking)
