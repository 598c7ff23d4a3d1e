"""Participants, their legal measures, enrollments into courses and the enrollment history."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.auth.models import User
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.i18n import N_
from stages.scheduling.models import MAX_FEE_CENTS, Course
from stages.auth.models import Organization
from stages.timeutil import now_utc


class LegalFrame(LabelledEnum):
    """The legal frame under which the course is ordered (see DOMAIN.md), labelled as a parquet
    writes it: the measure or penalty and its texts. How a penalty was pronounced (ordonnance
    pénale or judgment) is not a frame: see ``DecisionProcedure``. What each frame means for the
    person (criminal record, absence, deadline) is in ``stages.enrollment.frames``."""

    ALTERNATIVE_POURSUITES = "alternative_poursuites", N_("Alternative aux poursuites (art. 41-1 CPP)")
    COMPOSITION_PENALE = "composition_penale", N_("Composition pénale (art. 41-2 CPP)")
    # Until migration 0020 « ordonnance_penale », « Ordonnance pénale (art. 131-16 9° bis CP) ».
    STAGE_CONTRAVENTION = (
        "stage_contravention",
        N_("Peine complémentaire de stage, contravention de recours à la prostitution "
           "(art. 611-1 et 131-16 9° bis CP)"),
    )
    PEINE_STAGE = "peine_stage", N_("Peine de stage (art. 131-5-1 CP)")
    SURSIS_PROBATOIRE = "sursis_probatoire", N_("Sursis probatoire (art. 132-45 CP)")


class DecisionProcedure(LabelledEnum):
    """How the complementary penalty of the 611-1 contravention was pronounced (frame
    ``stage_contravention`` only): the same penalty, by either procedure."""

    ORDONNANCE_PENALE = "ordonnance_penale", "Ordonnance pénale"
    POLICE_COURT_JUDGMENT = "jugement_tribunal_police", "Jugement du tribunal de police"


class Payer(LabelledEnum):
    PARTICIPANT = "participant", "La personne convoquée"
    AUTHORITY = "authority", "L'autorité prescriptrice"
    WAIVED = "waived", "Dispensé"


class PaymentStatus(LabelledEnum):
    DUE = "due", "À payer"
    PAID = "paid", "Payé"
    WAIVED = "waived", "Dispensé"


class MeasureStatus(LabelledEnum):
    """Where a measure stands in the participant lifecycle (DOMAIN.md)."""

    REFERRED = "referred", "À convoquer"
    ENROLLED = "enrolled", "Inscrit·e"
    SUMMONED = "summoned", "Convoqué·e"
    CONFIRMED = "confirmed", "Présence confirmée"
    ATTENDED = "attended", "Stage effectué"
    PARTLY_ATTENDED = "partly_attended", "Stage partiellement effectué"
    ABSENT_EXCUSED = "absent_excused", "Absent·e excusé·e"
    ABSENT_UNEXCUSED = "absent_unexcused", "Absent·e non excusé·e"
    CERTIFICATE_ISSUED = "certificate_issued", "Attestation délivrée"
    REPORTED = "reported", "Bilan transmis"
    WITHDRAWN = "withdrawn", "Renvoyé·e à l'autorité"


class Participant(db.Model):
    """A person ordered to attend a course (« stagiaire »). Identity fields are erased on purge."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    surname: Mapped[str] = mapped_column(sa.String(120))
    first_names: Mapped[str] = mapped_column(sa.String(200))
    birth_date: Mapped[date | None]
    birth_place: Mapped[str | None] = mapped_column(sa.String(120))
    address: Mapped[str | None] = mapped_column(sa.String(300))
    postal_code: Mapped[str | None] = mapped_column(sa.String(10))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    # E.164 (« +33612345678 », ``stages.phones``); a number stored before migration 0024 that
    # could not be read is kept as typed, with ``phone_to_check`` (« numéro à vérifier »).
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    phone_to_check: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    email: Mapped[str | None] = mapped_column(sa.String(254))
    # The language the person speaks (ISO 639-1, stages.i18n.LANGUAGES): their convocation adds
    # a translation when there is a catalog for it; French by default.
    language: Mapped[str] = mapped_column(sa.String(8), default="fr", server_default="fr")
    interpreter_needed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # Accessibility needs, each checked against the venue's (scheduling.models.Venue); the free
    # text is what no box says, shown to be checked by hand.
    needs_reduced_mobility: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    needs_hearing: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    needs_sight: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    needs_other: Mapped[str | None] = mapped_column(sa.String(300))
    # Lower-case, accent-free "surname first names", for indexed prefix search.
    search_key: Mapped[str] = mapped_column(sa.String(330), default="")
    anonymized_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    measures: Mapped[list["LegalMeasure"]] = relationship(
        back_populates="participant", order_by="LegalMeasure.decision_date"
    )

    __table_args__ = (
        sa.CheckConstraint("length(language) = 2 AND language = lower(language)", name="language_code"),
        sa.Index("ix_participants_identity", "surname", "first_names", "birth_date"),
        sa.Index("ix_participants_search_key", "search_key"),
        sa.Index("ix_participants_phone", "phone"),  # « STOP » replies find people by number
        sa.CheckConstraint(
            "phone IS NULL OR phone_to_check OR phone LIKE '+%'", name="phone_e164"
        ),
    )

    @property
    def display_name(self) -> str:
        """« DUPONT Jean » as French administrations write names."""
        if self.anonymized_at:
            return "Personne anonymisée"
        return f"{self.surname.upper()} {self.first_names}"


class LegalMeasure(db.Model):
    """One court or prosecutor decision ordering a participant to attend a course."""

    __tablename__ = "legal_measures"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participants.id"))
    frame: Mapped[LegalFrame] = mapped_column(enum_column_type(LegalFrame, "legal_frame"))
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    # The association that received the referral and organizes the course.
    handling_organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"))
    case_reference: Mapped[str] = mapped_column(sa.String(80))
    facts_date: Mapped[date | None]
    decision_date: Mapped[date]
    final_date: Mapped[date | None]
    deadline: Mapped[date]
    # Frame ``stage_contravention``: ordonnance pénale or police court's judgment.
    procedure: Mapped[DecisionProcedure | None] = mapped_column(
        enum_column_type(DecisionProcedure, "decision_procedure")
    )
    # Frame ``peine_stage``: whether the court set the penalty the JAP may apply if the course is
    # not done (art. 131-9 CP); when it did not, not doing it is itself an offence (art. 434-41
    # CP). None: not known (measures recorded before migration 0020).
    penalty_set_in_advance: Mapped[bool | None]
    # Why the deadline differs from the one the law gives (``frames.legal_deadline``); None when
    # it is the legal one, or the frame has none.
    deadline_reason: Mapped[str | None] = mapped_column(sa.String(500))
    fee_cents: Mapped[int] = mapped_column(default=0)
    payer: Mapped[Payer] = mapped_column(enum_column_type(Payer, "payer"), default=Payer.PARTICIPANT)
    payment_status: Mapped[PaymentStatus] = mapped_column(
        enum_column_type(PaymentStatus, "payment_status"), default=PaymentStatus.DUE
    )
    certificate_recipient: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[MeasureStatus] = mapped_column(
        enum_column_type(MeasureStatus, "measure_status"), default=MeasureStatus.REFERRED
    )
    status_changed_at: Mapped[datetime] = mapped_column(default=now_utc)
    withdrawal_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # When the measure was reported or withdrawn. The retention period counts from here, or, for
    # a measure left without either, from its deadline (stages.privacy.retention.closed_before).
    closed_at: Mapped[datetime | None]
    # Identifies the referral-list row it came from, so a re-import creates nothing twice.
    import_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)

    participant: Mapped[Participant] = relationship(back_populates="measures")
    authority: Mapped[Organization] = relationship(foreign_keys=[authority_id])
    handling_organization: Mapped[Organization | None] = relationship(
        foreign_keys=[handling_organization_id]
    )
    enrollments: Mapped[list["Enrollment"]] = relationship(
        back_populates="measure", order_by="Enrollment.created_at"
    )

    __table_args__ = (
        sa.CheckConstraint(f"fee_cents >= 0 AND fee_cents <= {MAX_FEE_CENTS}", name="fee_range"),
        sa.CheckConstraint("deadline >= decision_date", name="deadline_after_decision"),
        sa.CheckConstraint(
            "procedure IS NULL OR frame = 'stage_contravention'", name="procedure_frame"
        ),
        sa.CheckConstraint(
            "penalty_set_in_advance IS NULL OR frame = 'peine_stage'", name="penalty_frame"
        ),
        sa.Index("ix_legal_measures_participant_id", "participant_id"),
        sa.Index("ix_legal_measures_authority_status_deadline", "authority_id", "status", "deadline"),
        sa.Index("ix_legal_measures_case_reference", "case_reference"),
        sa.Index("ix_legal_measures_authority_id_deadline", "authority_id", "deadline"),
        sa.Index("ix_legal_measures_handling_status", "handling_organization_id", "status"),
        sa.Index("ix_legal_measures_status_deadline", "status", "deadline"),
        sa.Index("ix_legal_measures_closed_at", "closed_at"),
    )


class EnrollmentStatus(LabelledEnum):
    WAITLISTED = "waitlisted", "Liste d'attente"
    ENROLLED = "enrolled", "Inscrit·e"
    SUMMONED = "summoned", "Convoqué·e"
    CONFIRMED = "confirmed", "Présence confirmée"
    ATTENDED = "attended", "Présent·e à tout le stage"
    PARTLY_ATTENDED = "partly_attended", "Présence partielle"
    ABSENT_EXCUSED = "absent_excused", "Absent·e excusé·e"
    ABSENT_UNEXCUSED = "absent_unexcused", "Absent·e non excusé·e"
    RESCHEDULED = "rescheduled", "Reporté·e sur un autre stage"
    WITHDRAWN = "withdrawn", "Retiré·e"


# Enrollments that hold a seat in their course (counted in ``Course.seats_taken``).
SEAT_HOLDING_STATUSES = (
    EnrollmentStatus.ENROLLED,
    EnrollmentStatus.SUMMONED,
    EnrollmentStatus.CONFIRMED,
    EnrollmentStatus.ATTENDED,
    EnrollmentStatus.PARTLY_ATTENDED,
    EnrollmentStatus.ABSENT_EXCUSED,
    EnrollmentStatus.ABSENT_UNEXCUSED,
)


# A measure's live enrollment: its seat or its waitlist place, at most one per measure.
LIVE_STATUSES = (EnrollmentStatus.WAITLISTED, *SEAT_HOLDING_STATUSES)
LIVE_CONDITION = "status IN (" + ", ".join(f"'{status.value}'" for status in LIVE_STATUSES) + ")"


class Enrollment(db.Model):
    """A measure's place (or waitlist position) in one session."""

    __tablename__ = "enrollments"

    id: Mapped[int] = mapped_column(primary_key=True)
    measure_id: Mapped[int] = mapped_column(sa.ForeignKey("legal_measures.id"))
    course_id: Mapped[int] = mapped_column("session_id", sa.ForeignKey("course_sessions.id"))
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_column_type(EnrollmentStatus, "enrollment_status"), default=EnrollmentStatus.ENROLLED
    )
    waitlist_position: Mapped[int | None]
    # An organizer's decision that overrides the computed outcome, with its reason.
    outcome_override_reason: Mapped[str | None] = mapped_column(sa.String(500))
    convocation_sent_at: Mapped[datetime | None]
    reminder_7d_sent_at: Mapped[datetime | None]
    reminder_1d_sent_at: Mapped[datetime | None]
    # The SEQUENCE of the last calendar invitation (request or cancellation) emailed for this
    # enrollment's UIDs. It only grows, even when the row is reused (a person moved back to a
    # course): calendar applications ignore an invitation whose SEQUENCE is not higher.
    invitation_sequence: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    measure: Mapped[LegalMeasure] = relationship(back_populates="enrollments")
    course: Mapped[Course] = relationship()
    events: Mapped[list["EnrollmentEvent"]] = relationship(
        back_populates="enrollment", order_by="EnrollmentEvent.at"
    )

    __table_args__ = (
        sa.UniqueConstraint("measure_id", "session_id"),
        # At most one live enrollment (seat or waitlist) per measure, even under races.
        sa.Index(
            "uq_enrollments_one_live_per_measure",
            "measure_id",
            unique=True,
            postgresql_where=sa.text(LIVE_CONDITION),
            sqlite_where=sa.text(LIVE_CONDITION),
        ),
        sa.CheckConstraint(
            "(status = 'waitlisted') = (waitlist_position IS NOT NULL)", name="waitlist_position"
        ),
        sa.Index("ix_enrollments_session_id_status", "session_id", "status"),
        sa.Index("ix_enrollments_measure_id", "measure_id"),
    )


# The most an interpreter's booking may cost (a day or two of interpreting), in cents.
MAX_INTERPRETER_COST_CENTS = 500_000


class InterpreterBooking(db.Model):
    """The interpreter booked for a person in one course: booked per enrollment, because an
    interpreter is booked for a date and a place; when the person moves to another course, a new
    booking is made for it, and the old one stays with the course it was for (and its cost)."""

    __tablename__ = "interpreter_bookings"

    enrollment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("enrollments.id", ondelete="CASCADE"), primary_key=True
    )
    interpreter_name: Mapped[str] = mapped_column(sa.String(120))
    cost_cents: Mapped[int | None]
    confirmed: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    enrollment: Mapped["Enrollment"] = relationship()

    __table_args__ = (
        sa.CheckConstraint("interpreter_name <> ''", name="interpreter_name_not_empty"),
        sa.CheckConstraint(
            f"cost_cents IS NULL OR cost_cents BETWEEN 0 AND {MAX_INTERPRETER_COST_CENTS}",
            name="cost_range",
        ),
    )


class EnrollmentEvent(db.Model):
    """One step in an enrollment's history: who moved it from which status to which, and why."""

    __tablename__ = "enrollment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("enrollments.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(default=now_utc)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(sa.String(30))
    to_status: Mapped[str] = mapped_column(sa.String(30))
    note: Mapped[str | None] = mapped_column(sa.String(500))

    enrollment: Mapped[Enrollment] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_enrollment_events_enrollment_id_at", "enrollment_id", "at"),)


class ImportColumnMapping(db.Model):
    """The field an organizer chose for a column of a referral list, remembered for the next list
    of the same referring authority (the parquets each export their own layout)."""

    __tablename__ = "import_column_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    authority_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"))
    # The column's header in the form headers are compared in (importer.columns.header_key).
    header_key: Mapped[str] = mapped_column(sa.String(200))
    # The field it feeds (importer.columns.COLUMNS), or « ignore »: not imported.
    field: Mapped[str] = mapped_column(sa.String(40))
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    __table_args__ = (
        sa.UniqueConstraint("authority_id", "header_key"),
        sa.CheckConstraint("header_key <> ''", name="header_key_not_empty"),
        sa.CheckConstraint("field <> ''", name="field_not_empty"),
    )


class InvitationUpdate(db.Model):
    """A person summoned by email whose course moved and who has not been told yet.

    Written in the same transaction as the move, so that whatever happens to the emails sent
    after the commit, the course page still shows who is left to tell. ``previous_days`` and
    ``previous_venue`` are what the person was told before (kept from the first of several
    moves); ``withdrawn_parts`` the half-days that went away, ``[[part id, start, end], …]``
    with ISO times, cancelled in their calendar by the update.
    """

    __tablename__ = "invitation_updates"

    enrollment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("enrollments.id", ondelete="CASCADE"), primary_key=True
    )
    course_id: Mapped[int] = mapped_column(
        "session_id", sa.ForeignKey("course_sessions.id", ondelete="CASCADE")
    )
    due_since: Mapped[datetime] = mapped_column(default=now_utc)
    previous_days: Mapped[str] = mapped_column(sa.Text)
    previous_venue: Mapped[str] = mapped_column(sa.String(600))
    withdrawn_parts: Mapped[list] = mapped_column(sa.JSON, default=list)

    enrollment: Mapped[Enrollment] = relationship()

    __table_args__ = (sa.Index("ix_invitation_updates_session_id", "session_id"),)



class AssociationSettings(db.Model):
    """What an association's letters and attestations carry (set by an admin): the letterhead's
    mentions and logo, who signs and as what, how to pay. Contact details stay on the
    organization itself."""

    __tablename__ = "association_settings"

    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    letterhead: Mapped[str | None] = mapped_column(sa.String(300))
    logo: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    logo_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    signatory_name: Mapped[str | None] = mapped_column(sa.String(120))
    signatory_title: Mapped[str | None] = mapped_column(sa.String(120))
    payment_instructions: Mapped[str | None] = mapped_column(sa.String(1000))
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class FrameDefault(db.Model):
    """Per organization and legal frame: an association's fee, an authority's usual deadline
    (in days from the decision), used as the defaults of a new measure."""

    __tablename__ = "frame_defaults"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"))
    frame: Mapped[LegalFrame] = mapped_column(enum_column_type(LegalFrame, "legal_frame"))
    fee_cents: Mapped[int | None]
    deadline_days: Mapped[int | None]
    # An authority's mailbox for the reports on this frame's measures (else its general one).
    report_email: Mapped[str | None] = mapped_column(sa.String(254))

    __table_args__ = (
        sa.UniqueConstraint("organization_id", "frame"),
        sa.CheckConstraint("report_email IS NULL OR report_email LIKE '%_@_%'", name="report_email_shape"),
        sa.CheckConstraint(f"fee_cents IS NULL OR fee_cents BETWEEN 0 AND {MAX_FEE_CENTS}", name="fee_range"),
        sa.CheckConstraint("deadline_days IS NULL OR deadline_days BETWEEN 1 AND 730", name="deadline_days_range"),
    )


class ReportFormat(LabelledEnum):
    """The files an authority wants its reports in (one format or both)."""

    PDF = "pdf", "PDF"
    CSV = "csv", "CSV (tableur)"
    BOTH = "both", "PDF et CSV"

    @property
    def extensions(self) -> tuple[str, ...]:
        """« pdf », « csv », or both."""
        return ("pdf", "csv") if self is ReportFormat.BOTH else (self.value,)


DEFAULT_ACKNOWLEDGMENT_DAYS = 10


class AuthorityReporting(db.Model):
    """How a referring authority receives its reports (set by an admin on its « Paramètres »):
    the general mailbox (a greffe or a service), the format, and after how many days a
    transmission not acknowledged is flagged to the organizers. A mailbox per frame, when the
    authority wants one, is on ``FrameDefault.report_email``."""

    __tablename__ = "authority_reporting"

    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    report_email: Mapped[str | None] = mapped_column(sa.String(254))
    report_format: Mapped[ReportFormat] = mapped_column(
        enum_column_type(ReportFormat, "report_format"), default=ReportFormat.PDF
    )
    acknowledgment_days: Mapped[int] = mapped_column(default=DEFAULT_ACKNOWLEDGMENT_DAYS)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.CheckConstraint("acknowledgment_days BETWEEN 1 AND 90", name="acknowledgment_days_range"),
        sa.CheckConstraint("report_email IS NULL OR report_email LIKE '%_@_%'", name="report_email_shape"),
    )


class LetterText(db.Model):
    """One version of a paragraph an association writes into its letters (``slot``); never
    rewritten: a change is a new version, and each letter names the versions it used."""

    __tablename__ = "letter_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"))
    slot: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(sa.String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.UniqueConstraint("organization_id", "slot", "version"),
        sa.CheckConstraint("version >= 1", name="version_positive"),
    )
