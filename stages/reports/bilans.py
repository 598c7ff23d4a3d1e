"""The bilans: reports to the referring authority on the people of a closed session.

One bilan per closed course and authority: who held a seat, what happened in the room, the
certificates; and marking it sent, which closes the measures it reports on. A bilan's queries
are bounded whatever its size, and its totals are computed over its few rows (≤ 15).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stages.attendance.models import AttendanceMark, AttendanceStatus
from stages.attendance.services import PRESENT_STATUSES
from stages.auth.audit import audit
from stages.auth.models import OrganizationKind, Role, User
from stages.certificates.models import Certificate
from stages.enrollment.convocation.delivery import deliveries_by_enrollment, proof_lines
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.reports.models import Bilan
from stages.scheduling.models import Course, CoursePart, CourseStatus
from stages.auth.models import Organization
from stages.timeutil import fr_date, fr_half_day, fr_time, now_utc, to_local

# Final outcomes of a seat in a closed course: the people a bilan reports on.
OUTCOME_STATUSES = (
    EnrollmentStatus.ATTENDED,
    EnrollmentStatus.PARTLY_ATTENDED,
    EnrollmentStatus.ABSENT_EXCUSED,
    EnrollmentStatus.ABSENT_UNEXCUSED,
)
# Each outcome as the bilan (an official document) writes it: nouns, no inclusive-writing dot.
DOCUMENT_OUTCOMES = {
    EnrollmentStatus.ATTENDED: "Stage suivi en entier",
    EnrollmentStatus.PARTLY_ATTENDED: "Stage suivi en partie",
    EnrollmentStatus.ABSENT_EXCUSED: "Absence excusée",
    EnrollmentStatus.ABSENT_UNEXCUSED: "Absence non excusée",
}
# Measure statuses a sent bilan closes: the outcome of the course (mirrored on the measure) or
# the certificate issued after it. A measure already moved on (rescheduled, withdrawn) is left.
# People excused or who attended only part of the course are in the bilan but their measure
# stays open: they are to be rescheduled before their deadline (DOMAIN.md, side paths).
REPORTABLE_MEASURE_STATUSES = (
    MeasureStatus.ATTENDED,
    MeasureStatus.ABSENT_UNEXCUSED,
    MeasureStatus.CERTIFICATE_ISSUED,
)


# ---------------------------------------------------------------------------------------------
# Bilans


@dataclass
class BilanAuthority:
    authority_id: int
    name: str
    people: int
    sent_at: datetime | None
    sent_by: str | None


@dataclass
class BilanRow:
    enrollment_id: int
    participant_id: int
    display_name: str
    surname: str
    first_names: str
    frame: LegalFrame
    case_reference: str
    outcome: EnrollmentStatus
    deadline: date | None = None
    # The half-days the person was not in the room for: « jeudi 11 mars 2027, matin ».
    missed: list[str] = field(default_factory=list)
    lateness: list[str] = field(default_factory=list)
    departures: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    certificate_number: str | None = None
    # The convocation's proofs of delivery, oldest first (« 02/03/2026 à 10 h 00 : Courriel
    # accepté par le serveur de messagerie (Message-ID <…>) »).
    summons: list[str] = field(default_factory=list)


BILAN_HEADER = (
    "Nom", "Prénoms", "Cadre", "N° de parquet", "Issue", "Retards", "Départs anticipés",
    "Incidents", "N° d'attestation", "Demi-journées manquées", "Échéance de la mesure",
    "Signataire", "Preuves d'envoi de la convocation",
)
# What a signatory does, as the bilan says it (plain words: an official document).
SIGNATORY_ROLES = {Role.ORGANIZER: "coordination des stages", Role.ADMIN: "administration des stages"}


def require_closed(course: Course) -> None:
    """A bilan reports final outcomes: only once the course is closed."""
    if course.status != CourseStatus.CLOSED:
        raise DomainError("Le bilan n'est disponible qu'une fois le stage clôturé.")


def bilan_authorities(course: Course) -> list[BilanAuthority]:
    """One line per referring authority of the people who held a seat, with the bilan's state."""
    query = (
        sa.select(
            Organization.id,
            Organization.name,
            sa.func.count(Enrollment.id),
            Bilan.sent_at,
            User.full_name,
        )
        .select_from(Enrollment)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .join(Organization, Organization.id == LegalMeasure.authority_id)
        .outerjoin(
            Bilan, sa.and_(Bilan.course_id == course.id, Bilan.authority_id == Organization.id)
        )
        .outerjoin(User, User.id == Bilan.sent_by_id)
        .where(Enrollment.course_id == course.id, Enrollment.status.in_(SEAT_HOLDING_STATUSES))
        .group_by(Organization.id, Organization.name, Bilan.sent_at, User.full_name)
        .order_by(Organization.name)
    )
    return [BilanAuthority(*row) for row in db.session.execute(query)]


def bilan_rows(course: Course, authority_id: int) -> list[BilanRow]:
    """Every person of ``authority_id`` who held a seat in ``session``, once, with what happened.

    Four queries whatever the size: the people, the course's marks, their certificates, the
    proofs of delivery of their convocations.
    """
    people = db.session.execute(
        sa.select(
            Enrollment.id,
            Enrollment.status,
            Participant.id,
            Participant.surname,
            Participant.first_names,
            Participant.anonymized_at,
            LegalMeasure.frame,
            LegalMeasure.case_reference,
            LegalMeasure.deadline,
        )
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .where(
            Enrollment.course_id == course.id,
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
            LegalMeasure.authority_id == authority_id,
        )
        .order_by(Participant.surname, Participant.first_names, Enrollment.id)
    ).all()
    if not people:
        return []
    enrollment_ids = [row[0] for row in people]
    marks = db.session.execute(
        sa.select(AttendanceMark, CoursePart.starts_at, CoursePart.ends_at)
        .join(CoursePart, CoursePart.id == AttendanceMark.part_id)
        .where(AttendanceMark.enrollment_id.in_(enrollment_ids))
        .order_by(CoursePart.starts_at)
    ).all()
    certificates = dict(
        db.session.execute(
            sa.select(Certificate.enrollment_id, Certificate.number).where(
                Certificate.enrollment_id.in_(enrollment_ids), Certificate.revoked_at.is_(None)
            )
        ).all()
    )
    proofs = deliveries_by_enrollment(enrollment_ids)
    zone = course.venue.timezone
    several_days = len({to_local(p.starts_at, zone).date() for p in course.parts}) > 1
    rows = {}
    for enrollment_id, status, person_id, surname, first_names, anonymized_at, frame, reference, deadline in people:
        anonymous = anonymized_at is not None
        rows[enrollment_id] = BilanRow(
            enrollment_id=enrollment_id,
            participant_id=person_id,
            display_name="Personne anonymisée" if anonymous else f"{surname.upper()} {first_names}",
            surname="Personne anonymisée" if anonymous else surname.upper(),
            first_names="" if anonymous else first_names,
            frame=LegalFrame(frame),
            case_reference=reference,
            outcome=EnrollmentStatus(status),
            deadline=deadline,
            certificate_number=certificates.get(enrollment_id),
            summons=proof_lines(proofs.get(enrollment_id, []), zone),
        )
    present: set[tuple[int, int]] = set()
    excused: set[tuple[int, int]] = set()
    for mark, part_start, part_end in marks:
        row = rows[mark.enrollment_id]
        day = f"le {fr_date(part_start, 'dd/MM', zone)} " if several_days else ""
        # Only what happened in the room is reported: the note on an absence usually gives its
        # reason (often medical), which the referrer does not need and must not receive.
        if mark.status == AttendanceStatus.EXCUSED:
            excused.add((mark.enrollment_id, mark.part_id))
        if mark.status not in PRESENT_STATUSES:
            continue
        present.add((mark.enrollment_id, mark.part_id))
        # Times recorded inside the half-day are reported whatever the status chosen.
        if mark.status == AttendanceStatus.LATE or (
            mark.arrived_at is not None and mark.arrived_at > part_start
        ):
            row.lateness.append(f"retard {day}{_at(mark.arrived_at, zone)}")
        if mark.status == AttendanceStatus.LEFT_EARLY or (
            mark.left_at is not None and mark.left_at < part_end
        ):
            row.departures.append(f"départ {day}{_at(mark.left_at, zone)}")
        if mark.note:
            row.incidents.append(f"{day.strip()} : {mark.note}" if day else mark.note)
    # A half-day without a mark of presence was missed, marked absent or never marked at all.
    for row in rows.values():
        row.missed = [
            missed_half_day(part, zone, excused=(row.enrollment_id, part.id) in excused)
            for part in course.parts
            if (row.enrollment_id, part.id) not in present
        ]
    return list(rows.values())


def missed_half_day(part: CoursePart, zone: str, *, excused: bool = False) -> str:
    """« jeudi 11 mars 2027, matin », with « (absence excusée) » when it was excused."""
    text = f"{fr_date(part.starts_at, zone=zone)}, {fr_half_day(part.starts_at, zone)}"
    return text + " (absence excusée)" if excused else text


# ---------------------------------------------------------------------------------------------
# Who signs


@dataclass(frozen=True)
class Signatory:
    """Who signs a bilan, for which association, and in what capacity."""

    name: str
    role: str
    organization: str

    @property
    def line(self) -> str:
        """« Claire Martin, coordination des stages, APCARS »."""
        return ", ".join(item for item in (self.name, self.role, self.organization) if item)


def bilan_signatory(course: Course, authority_id: int, reader: User | None) -> Signatory | None:
    """The organizer who signs the bilan (DOMAIN.md: the organizer sends the post-course report).

    Once sent, the one who sent it: a copy says what went out. Before, the organizer or admin
    producing it, who is about to send it; for anyone else (a liaison), the course's creator.
    Two queries at most, whatever the size of the bilan.
    """
    signer = db.session.scalar(
        sa.select(User)
        .join(Bilan, Bilan.sent_by_id == User.id)
        .where(Bilan.course_id == course.id, Bilan.authority_id == authority_id, Bilan.sent_at.is_not(None))
    )
    if signer is None and reader is not None and reader.role in SIGNATORY_ROLES:
        signer = reader
    if signer is None and course.created_by_id is not None:
        creator = db.session.get(User, course.created_by_id)
        signer = creator if creator is not None and creator.role in SIGNATORY_ROLES else None
    if signer is None:
        return None
    return Signatory(signer.full_name, SIGNATORY_ROLES.get(signer.role, ""), _signing_association(signer, course))


def _signing_association(signer: User, course: Course) -> str:
    """The signer's association among the course's co-organizers, else the course's first."""
    theirs = signer.organization_ids
    associations = [o for o in course.organizations if o.kind == OrganizationKind.ASSOCIATION]
    for organization in associations:
        if organization.id in theirs:
            return organization.name
    return associations[0].name if associations else ""


def _at(moment: datetime | None, zone: str) -> str:
    return f"à {fr_time(moment, zone)}" if moment else "(heure non notée)"


def bilan_csv_row(row: BilanRow, signatory: Signatory | None = None) -> tuple:
    """A bilan row as the values of BILAN_HEADER (the signatory is repeated on each line, so
    that every line read alone still says who vouches for it)."""
    return (
        row.surname, row.first_names, row.frame.label, row.case_reference,
        DOCUMENT_OUTCOMES[row.outcome],
        " ; ".join(row.lateness), " ; ".join(row.departures), " ; ".join(row.incidents),
        row.certificate_number or "", " ; ".join(row.missed), row.deadline,
        signatory.line if signatory else "", " ; ".join(row.summons),
    )


def bilan_summary(rows: list[BilanRow]) -> dict[str, int]:
    """The bilan's totals, by outcome, with lateness and incidents."""
    summary = {DOCUMENT_OUTCOMES[status]: 0 for status in OUTCOME_STATUSES}
    for row in rows:
        summary[DOCUMENT_OUTCOMES[row.outcome]] += 1
    summary["Retards"] = sum(1 for row in rows if row.lateness)
    summary["Départs anticipés"] = sum(1 for row in rows if row.departures)
    summary["Incidents"] = sum(1 for row in rows if row.incidents)
    return summary


def mark_bilan_sent(course: Course, authority_id: int, *, by: User | None) -> int:
    """Record that the bilan went to the authority and close the measures it reports on.

    Upserts the Bilan row (two organizers clicking at once never fail on the unique constraint)
    and moves each covered measure to « bilan transmis », with ``closed_at`` from which the
    retention period runs. Returns how many measures were closed; the caller commits.
    """
    require_closed(course)
    now = now_utc()
    covered = (
        sa.select(Enrollment.measure_id)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .where(
            Enrollment.course_id == course.id,
            Enrollment.status.in_(OUTCOME_STATUSES),
            LegalMeasure.authority_id == authority_id,
        )
    )
    if db.session.scalar(sa.select(covered.exists())) is not True:
        raise DomainError("Aucune personne de cette autorité n'a participé à ce stage.")
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Bilan).values(
        course_id=course.id, authority_id=authority_id, created_at=now, sent_at=now,
        sent_by_id=by.id if by else None,
    )
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=["session_id", "authority_id"],
            set_={"sent_at": statement.excluded.sent_at, "sent_by_id": statement.excluded.sent_by_id},
        )
    )
    measures = db.session.scalars(
        sa.select(LegalMeasure).where(
            LegalMeasure.id.in_(covered.correlate(None)),
            LegalMeasure.status.in_(REPORTABLE_MEASURE_STATUSES),
        )
    ).all()
    for measure in measures:  # at most one course's worth (≤ capacity)
        measure.status = MeasureStatus.REPORTED
        measure.status_changed_at = now
        measure.closed_at = now
    db.session.flush()
    audit("bilan.sent", course, details=f"autorité n° {authority_id}, {len(measures)} mesures closes", user=by)
    return len(measures)
