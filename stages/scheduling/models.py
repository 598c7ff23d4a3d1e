"""Venues, courses (« stages ») and their half-day parts."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.auth.models import Organization, User
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.timeutil import now_utc, to_local

MAX_FEE_CENTS = 45_000  # €450, the maximum 3rd-class fine


venue_owners = sa.Table(
    "venue_owners",
    db.metadata,
    sa.Column("venue_id", sa.ForeignKey("venues.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organization_id", sa.ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False),
    sa.Index("ix_venue_owners_organization_id", "organization_id"),
)


class Venue(db.Model):
    """A room where courses are held, usually borrowed (préfecture, MJD)."""

    __tablename__ = "venues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    address: Mapped[str] = mapped_column(sa.String(300))
    postal_code: Mapped[str] = mapped_column(sa.String(10))
    city: Mapped[str] = mapped_column(sa.String(100))
    room: Mapped[str | None] = mapped_column(sa.String(120))
    capacity: Mapped[int]
    accessibility: Mapped[str | None] = mapped_column(sa.Text)
    # What the venue offers, checked against each person's needs (the text above says the rest).
    step_free_access: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    hearing_loop: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    visual_aids: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    access_instructions: Mapped[str | None] = mapped_column(sa.Text)
    opening_hours: Mapped[str | None] = mapped_column(sa.String(300))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Europe/Paris")
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    # The association that manages the venue's details; none: a venue shared by all, which only
    # admins edit. Any organizer may schedule a course in any venue.
    owner: Mapped[Organization | None] = relationship(secondary="venue_owners", uselist=False)

    __table_args__ = (sa.CheckConstraint("capacity > 0", name="capacity_positive"),)

    @property
    def full_address(self) -> str:
        return f"{self.address}, {self.postal_code} {self.city}"


class CourseStatus(LabelledEnum):
    DRAFT = "draft", "Brouillon"
    SCHEDULED = "scheduled", "Programmé"
    HELD = "held", "Tenu"
    CLOSED = "closed", "Clôturé"
    CANCELLED = "cancelled", "Annulé"


course_organizations = sa.Table(
    "session_organizations",
    db.metadata,
    sa.Column(
        "session_id", sa.ForeignKey("course_sessions.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("organization_id", sa.ForeignKey("organizations.id"), primary_key=True),
    # An association's courses by id alone, from the index (its feeds' validator).
    sa.Index("ix_session_organizations_organization_id_session_id", "organization_id", "session_id"),
)

course_facilitators = sa.Table(
    "session_facilitators",
    db.metadata,
    sa.Column(
        "session_id", sa.ForeignKey("course_sessions.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
    sa.Index("ix_session_facilitators_user_id", "user_id"),
)


class Course(db.Model):
    """One course (« stage »): one or two days split into half-day parts."""

    __tablename__ = "course_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    venue_id: Mapped[int] = mapped_column(sa.ForeignKey("venues.id"))
    status: Mapped[CourseStatus] = mapped_column(
        enum_column_type(CourseStatus, "session_status"), default=CourseStatus.DRAFT
    )
    capacity: Mapped[int]
    min_participants: Mapped[int] = mapped_column(default=0)
    fee_cents: Mapped[int] = mapped_column(default=0)
    # Seats held by enrollments, updated with a conditional UPDATE so it can never overbook.
    seats_taken: Mapped[int] = mapped_column(default=0, server_default="0")
    # First part's start and last part's end, kept in step with the parts for range queries.
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    # When the organizers were reminded to close the course, then to send its bilans.
    closing_reminder_sent_at: Mapped[datetime | None]
    bilan_reminder_sent_at: Mapped[datetime | None]
    # iCalendar SEQUENCE: bumped on every change that calendar apps must pick up.
    ical_sequence: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    venue: Mapped[Venue] = relationship()
    parts: Mapped[list["CoursePart"]] = relationship(
        back_populates="course", order_by="CoursePart.starts_at", cascade="all, delete-orphan"
    )
    organizations: Mapped[list[Organization]] = relationship(
        secondary=course_organizations, order_by=Organization.name
    )
    facilitators: Mapped[list[User]] = relationship(
        secondary=course_facilitators, order_by=User.full_name
    )

    __table_args__ = (
        sa.CheckConstraint("capacity > 0", name="capacity_positive"),
        sa.CheckConstraint(
            "min_participants >= 0 AND min_participants <= capacity", name="min_participants_range"
        ),
        sa.CheckConstraint(f"fee_cents >= 0 AND fee_cents <= {MAX_FEE_CENTS}", name="fee_range"),
        sa.CheckConstraint("seats_taken >= 0 AND seats_taken <= capacity", name="seats_range"),
        sa.CheckConstraint(
            "starts_at IS NULL OR ends_at IS NULL OR ends_at > starts_at", name="span_order"
        ),
        sa.Index("ix_course_sessions_starts_at", "starts_at"),
        # On PostgreSQL it also holds what a feed's validator sums: an index-only scan.
        sa.Index("ix_course_sessions_ends_at", "ends_at", postgresql_include=[
            "id", "status", "updated_at", "ical_sequence", "seats_taken",
        ]),
        sa.Index("ix_course_sessions_venue_id_starts_at", "venue_id", "starts_at"),
        sa.Index("ix_course_sessions_status_starts_at", "status", "starts_at"),
    )

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.seats_taken, 0)

    @property
    def last_day(self) -> date | None:
        """The local date (venue's zone) of the course's last part."""
        return to_local(self.ends_at, self.venue.timezone).date() if self.ends_at else None

    @property
    def days(self) -> list[tuple[date, list["CoursePart"]]]:
        """The parts grouped by local day (the venue's zone), in order."""
        grouped: dict[date, list[CoursePart]] = {}
        for part in self.parts:
            grouped.setdefault(to_local(part.starts_at, self.venue.timezone).date(), []).append(part)
        return list(grouped.items())

    def __repr__(self) -> str:
        return f"<Course {self.id} {self.title!r}>"


class CoursePart(db.Model):
    """A half-day of a course (morning or afternoon), with its own start and end.

    ``venue_id`` and ``is_active`` copy the course's venue and "not cancelled" so that the
    database itself can refuse two active parts in one room at once: an exclusion constraint on
    PostgreSQL, a trigger on SQLite (migration 0002). ``sync_bookings`` keeps them in step.
    """

    __tablename__ = "session_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        "session_id", sa.ForeignKey("course_sessions.id", ondelete="CASCADE")
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    venue_id: Mapped[int] = mapped_column(sa.ForeignKey("venues.id"))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    course: Mapped[Course] = relationship(back_populates="parts")
    venue: Mapped[Venue] = relationship()
    bookings: Mapped[list["FacilitatorBooking"]] = relationship(
        back_populates="part", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="end_after_start"),
        sa.Index("ix_session_parts_session_id_starts_at", "session_id", "starts_at"),
        sa.Index("ix_session_parts_starts_at", "starts_at"),
        sa.Index("ix_session_parts_venue_id_starts_at", "venue_id", "starts_at"),
    )


class SeatReservation(db.Model):
    """Seats of a course held for one referring authority (a parquet) until ``release_days``
    before the course: others cannot take them meanwhile; its own measures can."""

    __tablename__ = "seat_reservations"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course_sessions.id", ondelete="CASCADE"))
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    seats: Mapped[int]
    release_days: Mapped[int] = mapped_column(default=14, server_default="14")
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)

    course: Mapped[Course] = relationship()
    authority: Mapped[Organization] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("course_id", "authority_id"),
        sa.Index("ix_seat_reservations_authority_id", "authority_id"),
        sa.CheckConstraint("seats > 0", name="seats_positive"),
        sa.CheckConstraint("release_days >= 0 AND release_days <= 365", name="release_days_range"),
    )


class FacilitatorBooking(db.Model):
    """A facilitator held by a course part; the database refuses overlapping active bookings."""

    __tablename__ = "facilitator_bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(sa.ForeignKey("session_parts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    part: Mapped[CoursePart] = relationship(back_populates="bookings")
    user: Mapped[User] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("part_id", "user_id"),
        sa.CheckConstraint("ends_at > starts_at", name="end_after_start"),
        sa.Index("ix_facilitator_bookings_user_id_starts_at", "user_id", "starts_at"),
    )


class CourseChange(db.Model):
    """What an organizer changed in a course, and when: shown on the course page."""

    __tablename__ = "session_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        "session_id", sa.ForeignKey("course_sessions.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(default=now_utc)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    summary: Mapped[str] = mapped_column(sa.Text)

    course: Mapped[Course] = relationship()
    user: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_session_changes_session_id_at", "session_id", "at"),)


def sync_bookings(course: Course) -> None:
    """Copy the course's venue, status and facilitators onto its parts and booking rows."""
    active = course.status != CourseStatus.CANCELLED
    if course.parts:
        course.starts_at = min(part.starts_at for part in course.parts)
        course.ends_at = max(part.ends_at for part in course.parts)
    for part in course.parts:
        part.venue = course.venue
        part.is_active = active
        wanted = list(course.facilitators)
        for booking in list(part.bookings):
            if booking.user in wanted:
                wanted.remove(booking.user)
                booking.starts_at, booking.ends_at = part.starts_at, part.ends_at
                booking.is_active = active
            else:
                part.bookings.remove(booking)
        for user in wanted:
            part.bookings.append(
                FacilitatorBooking(
                    user=user, starts_at=part.starts_at, ends_at=part.ends_at, is_active=active
                )
            )


_BOOKING_INPUTS = {
    Course: ("venue", "venue_id", "status", "facilitators", "parts"),
    CoursePart: ("starts_at", "ends_at"),
}


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _keep_bookings_in_step(orm_course, _flush_context, _instances) -> None:
    """Whatever path changes a course (service, demo, import), its bookings follow."""
    courses = set()
    for obj in list(orm_course.new) + list(orm_course.dirty):
        fields = _BOOKING_INPUTS.get(type(obj))
        if fields is None:
            continue
        state = sa.inspect(obj)
        if not state.pending and not any(state.attrs[f].history.has_changes() for f in fields):
            continue
        course = obj if isinstance(obj, Course) else obj.course
        if course is not None and course not in orm_course.deleted:
            courses.add(course)
    for course in courses:
        sync_bookings(course)
