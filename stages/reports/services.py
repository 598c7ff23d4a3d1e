"""The liaison dashboard, bilans and statistics: aggregate SQL, scoped by the permission helper.

Everything here must stay fast at national scale (~200,000 measures): filters run in SQL on
indexed columns, counts come from one grouped query, pages are LIMIT/OFFSET slices, and the few
figures computed in Python are computed over bounded aggregates (a histogram, ≤ 15 rows of a
bilan), never over every row.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from stages.attendance.models import AttendanceMark, AttendanceStatus
from stages.attendance.services import PRESENT_STATUSES
from stages.auth.models import User
from stages.auth.permissions import Permission, can, visible_measures, visible_sessions
from stages.certificates.models import Certificate
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.enrollment.services import measure_search_condition
from stages.enums import LabelledEnum
from stages.errors import DomainError
from stages.extensions import db
from stages.reports.models import Bilan
from stages.scheduling.models import CourseSession, Organization, SessionPart, SessionStatus
from stages.timeutil import fr_date, fr_time, local_to_utc, local_zone, now_utc, to_local

# A measure "still waiting for a course": the deadline matters only for these (the same rule as
# the measures list and the liaison's home page).
AWAITING_COURSE = (
    MeasureStatus.REFERRED,
    MeasureStatus.ENROLLED,
    MeasureStatus.SUMMONED,
    MeasureStatus.CONFIRMED,
    MeasureStatus.ABSENT_EXCUSED,
)
SOON_DAYS = 30

# Final outcomes of a seat in a closed session: the people a bilan reports on.
OUTCOME_STATUSES = (
    EnrollmentStatus.ATTENDED,
    EnrollmentStatus.PARTLY_ATTENDED,
    EnrollmentStatus.ABSENT_EXCUSED,
    EnrollmentStatus.ABSENT_UNEXCUSED,
)
# Measure statuses a sent bilan closes: the outcome of the session (mirrored on the measure) or
# the certificate issued after it. A measure already moved on (rescheduled, withdrawn) is left.
# People excused or who attended only part of the course are in the bilan but their measure
# stays open: they are to be rescheduled before their deadline (DOMAIN.md, side paths).
REPORTABLE_MEASURE_STATUSES = (
    MeasureStatus.ATTENDED,
    MeasureStatus.ABSENT_UNEXCUSED,
    MeasureStatus.CERTIFICATE_ISSUED,
)
# Sessions that count in the statistics: planned or held, not drafts nor cancelled ones.
COUNTED_SESSION_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.HELD, SessionStatus.CLOSED)

MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


# ---------------------------------------------------------------------------------------------
# Dashboard: buckets and filters


class Bucket(LabelledEnum):
    """What a liaison asks of a measure; the value is the URL slug of the filter."""

    TO_SUMMON = "a-convoquer", "À convoquer"
    SUMMONED = "convoque", "Convoqué·e"
    ATTENDED = "effectue", "Stage effectué"
    ABSENT = "absent", "Absent·e ou stage incomplet"
    CERTIFICATE = "attestation", "Attestation délivrée"
    REPORTED = "bilan-transmis", "Bilan transmis"
    WITHDRAWN = "renvoye", "Renvoyé·e à l'autorité"
    DEADLINE_PASSED = "echeance-depassee", "Échéance dépassée"
    DEADLINE_SOON = "echeance-30-jours", "Échéance dans moins de 30 jours"


# Every measure status falls in exactly one of these; the two deadline buckets cut across them.
STATUS_BUCKETS = {
    Bucket.TO_SUMMON: (MeasureStatus.REFERRED, MeasureStatus.ENROLLED),
    Bucket.SUMMONED: (MeasureStatus.SUMMONED, MeasureStatus.CONFIRMED),
    Bucket.ATTENDED: (MeasureStatus.ATTENDED,),
    # A partial attendance is not a completed course: for the referrer it is a failure to attend.
    Bucket.ABSENT: (
        MeasureStatus.PARTLY_ATTENDED, MeasureStatus.ABSENT_EXCUSED, MeasureStatus.ABSENT_UNEXCUSED,
    ),
    Bucket.CERTIFICATE: (MeasureStatus.CERTIFICATE_ISSUED,),
    Bucket.REPORTED: (MeasureStatus.REPORTED,),
    Bucket.WITHDRAWN: (MeasureStatus.WITHDRAWN,),
}
BUCKET_OF_STATUS = {status: bucket for bucket, statuses in STATUS_BUCKETS.items() for status in statuses}
BUCKET_TONES = {
    Bucket.TO_SUMMON: "info",
    Bucket.SUMMONED: "info",
    Bucket.ATTENDED: "success",
    Bucket.ABSENT: "warning",
    Bucket.CERTIFICATE: "success",
    Bucket.REPORTED: "neutral",
    Bucket.WITHDRAWN: "neutral",
    Bucket.DEADLINE_PASSED: "danger",
    Bucket.DEADLINE_SOON: "warning",
}


@dataclass(frozen=True)
class DashboardFilters:
    """The dashboard's filters, already validated (the view parses the query string)."""

    bucket: Bucket | None = None
    frame: LegalFrame | None = None
    authority_id: int | None = None
    deadline_from: date | None = None
    deadline_to: date | None = None
    q: str = ""

    def describe(self) -> str:
        """The filters for the audit log: which ones were used, never the searched name."""
        parts = []
        if self.bucket:
            parts.append(f"situation {self.bucket.value}")
        if self.frame:
            parts.append(f"cadre {self.frame.value}")
        if self.authority_id:
            parts.append(f"autorité n° {self.authority_id}")
        if self.deadline_from or self.deadline_to:
            parts.append("échéance bornée")
        if self.q:
            parts.append("recherche")
        return ", ".join(parts) or "sans filtre"


def deadline_passed(today: date) -> sa.ColumnElement[bool]:
    """A course is still awaited and the deadline is behind us."""
    return sa.and_(LegalMeasure.status.in_(AWAITING_COURSE), LegalMeasure.deadline < today)


def deadline_soon(today: date) -> sa.ColumnElement[bool]:
    """A course is still awaited and the deadline falls within the next 30 days."""
    return sa.and_(
        LegalMeasure.status.in_(AWAITING_COURSE),
        LegalMeasure.deadline >= today,
        LegalMeasure.deadline < today + timedelta(days=SOON_DAYS),
    )


def bucket_condition(bucket: Bucket, today: date) -> sa.ColumnElement[bool]:
    """The SQL condition of a bucket, against ``today`` (the local date, Europe/Paris)."""
    if bucket == Bucket.DEADLINE_PASSED:
        return deadline_passed(today)
    if bucket == Bucket.DEADLINE_SOON:
        return deadline_soon(today)
    return LegalMeasure.status.in_(STATUS_BUCKETS[bucket])


def buckets_of(status: MeasureStatus, deadline: date, today: date) -> list[Bucket]:
    """The badges of one row: its status bucket, then its deadline bucket if any."""
    buckets = [BUCKET_OF_STATUS[status]]
    if status in AWAITING_COURSE:
        if deadline < today:
            buckets.append(Bucket.DEADLINE_PASSED)
        elif deadline < today + timedelta(days=SOON_DAYS):
            buckets.append(Bucket.DEADLINE_SOON)
    return buckets


def filtered_measures(
    user: User, filters: DashboardFilters, today: date, *, with_bucket: bool = True
) -> sa.Select:
    """``visible_measures(user)`` narrowed by the filters (the bucket too unless told not to)."""
    query = visible_measures(user)
    if with_bucket and filters.bucket:
        query = query.where(bucket_condition(filters.bucket, today))
    if filters.frame:
        query = query.where(LegalMeasure.frame == filters.frame)
    if filters.authority_id:
        query = query.where(LegalMeasure.authority_id == filters.authority_id)
    if filters.deadline_from:
        query = query.where(LegalMeasure.deadline >= filters.deadline_from)
    if filters.deadline_to:
        query = query.where(LegalMeasure.deadline <= filters.deadline_to)
    if filters.q:
        query = query.where(measure_search_condition(filters.q))
    return query


def bucket_counts(user: User, filters: DashboardFilters, today: date) -> dict[Bucket, int]:
    """How many measures fall in each bucket, under every filter but the bucket: ONE query.

    Grouped by status (≤ 11 rows), with the two deadline buckets summed alongside.
    """
    query = (
        filtered_measures(user, filters, today, with_bucket=False)
        .with_only_columns(
            LegalMeasure.status,
            sa.func.count(),
            sa.func.sum(sa.case((deadline_passed(today), 1), else_=0)),
            sa.func.sum(sa.case((deadline_soon(today), 1), else_=0)),
        )
        .group_by(LegalMeasure.status)
    )
    counts = dict.fromkeys(Bucket, 0)
    for status, total, passed, soon in db.session.execute(query):
        counts[BUCKET_OF_STATUS[MeasureStatus(status)]] += total
        counts[Bucket.DEADLINE_PASSED] += passed or 0
        counts[Bucket.DEADLINE_SOON] += soon or 0
    return counts


def total_of(counts: dict[Bucket, int], bucket: Bucket | None) -> int:
    """The number of measures matching the filters, read off the grouped counts (no COUNT)."""
    if bucket is not None:
        return counts[bucket]
    return sum(counts[b] for b in STATUS_BUCKETS)


def _current_session_start():
    """The start of the session where the measure holds a seat (correlated, one per row)."""
    return (
        sa.select(sa.func.max(CourseSession.starts_at))
        .join(Enrollment, Enrollment.session_id == CourseSession.id)
        .where(
            Enrollment.measure_id == LegalMeasure.id,
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
        )
        .scalar_subquery()
    )


def _certificate_column(column):
    """The measure's valid certificate (the latest if ever several): its ``column``."""
    return (
        sa.select(column)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .where(Enrollment.measure_id == LegalMeasure.id, Certificate.revoked_at.is_(None))
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        .limit(1)
        .scalar_subquery()
    )


@dataclass
class DashboardRow:
    measure: LegalMeasure
    participant: Participant
    authority: Organization
    session_starts_at: datetime | None
    certificate_id: int | None
    certificate_number: str | None
    buckets: list[Bucket]


@dataclass
class Page:
    """What the pagination macro reads (the same attributes as Flask-SQLAlchemy's)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.total else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def dashboard_page(
    user: User, filters: DashboardFilters, today: date, *, page: int, per_page: int, total: int
) -> Page:
    """One page of measures, with person, authority, session and certificate: ONE query.

    The page's ids are chosen first in a derived table (narrow rows, LIMIT/OFFSET); only those
    25 rows are then joined and get their session and certificate looked up. Otherwise
    PostgreSQL would evaluate the lookups for every row skipped by a deep OFFSET.
    """
    pages = max(math.ceil(total / per_page), 1)
    page = min(max(page, 1), pages)
    page_ids = (
        filtered_measures(user, filters, today)
        .with_only_columns(LegalMeasure.id)
        .order_by(LegalMeasure.deadline, LegalMeasure.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page_ids")
    )
    query = (
        sa.select(LegalMeasure)
        .join(page_ids, page_ids.c.id == LegalMeasure.id)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .join(Organization, Organization.id == LegalMeasure.authority_id)
        .add_columns(
            Participant,
            Organization,
            _current_session_start(),
            _certificate_column(Certificate.id),
            _certificate_column(Certificate.number),
        )
        .order_by(LegalMeasure.deadline, LegalMeasure.id)
    )
    items = [
        DashboardRow(
            measure, person, authority, starts_at, certificate_id, number,
            buckets_of(measure.status, measure.deadline, today),
        )
        for measure, person, authority, starts_at, certificate_id, number in db.session.execute(query)
    ]
    return Page(items, page, per_page, total)


def recent_bilans(authority_ids: set[int], limit: int = 10) -> list[tuple[Bilan, datetime | None, str]]:
    """The last bilans sent to these authorities (a liaison's inbox), with session start."""
    if not authority_ids:
        return []
    query = (
        sa.select(Bilan, CourseSession.starts_at, Organization.short_name)
        .join(CourseSession, CourseSession.id == Bilan.session_id)
        .join(Organization, Organization.id == Bilan.authority_id)
        .where(Bilan.authority_id.in_(authority_ids), Bilan.sent_at.is_not(None))
        .order_by(Bilan.sent_at.desc())
        .limit(limit)
    )
    return [tuple(row) for row in db.session.execute(query)]


# ---------------------------------------------------------------------------------------------
# Dashboard exports


EXPORT_HEADER = (
    "Nom", "Prénoms", "Cadre", "Autorité prescriptrice", "N° de parquet", "Date de la décision",
    "Date limite", "Statut", "Situation", "Date du stage", "N° d'attestation",
)


def count_measures(user: User, filters: DashboardFilters, today: date) -> int:
    """How many measures an export would write."""
    query = filtered_measures(user, filters, today).with_only_columns(
        sa.func.count(), maintain_column_froms=True
    )
    return db.session.scalar(query) or 0


def export_rows(user: User, filters: DashboardFilters, today: date) -> Iterator[tuple]:
    """Every matching measure as a tuple of EXPORT_HEADER values, streamed from the database.

    The query is built now (in the request) and run when the rows are first read. Plain columns
    fetched 1,000 at a time: 200,000 rows stream in constant memory. The session and the
    certificate come from LEFT JOINs, which the database hashes in one pass over a whole
    export (correlated lookups cost one index probe per row: 7 times slower at 200,000 rows).
    """
    seat = aliased(Enrollment)
    query = (
        filtered_measures(user, filters, today)
        .with_only_columns(
            LegalMeasure.id,
            Participant.surname,
            Participant.first_names,
            Participant.anonymized_at,
            LegalMeasure.frame,
            Organization.name,
            LegalMeasure.case_reference,
            LegalMeasure.decision_date,
            LegalMeasure.deadline,
            LegalMeasure.status,
            CourseSession.starts_at,
            Certificate.number,
        )
        .select_from(LegalMeasure)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .join(Organization, Organization.id == LegalMeasure.authority_id)
        .outerjoin(
            seat,
            sa.and_(seat.measure_id == LegalMeasure.id, seat.status.in_(SEAT_HOLDING_STATUSES)),
        )
        .outerjoin(CourseSession, CourseSession.id == seat.session_id)
        .outerjoin(
            Certificate,
            sa.and_(Certificate.enrollment_id == seat.id, Certificate.revoked_at.is_(None)),
        )
        .order_by(LegalMeasure.deadline, LegalMeasure.id, CourseSession.starts_at.desc())
        .execution_options(yield_per=1000)
    )
    return _export_tuples(query, today)


def _export_tuples(query: sa.Select, today: date) -> Iterator[tuple]:
    local_day = functools.lru_cache(maxsize=4096)(lambda moment: to_local(moment).date())
    previous_id = None
    for (measure_id, surname, first_names, anonymized_at, frame, authority, reference, decision,
         deadline, status, starts_at, certificate) in db.session.execute(query):
        # A measure holds one seat at a time; should two ever coexist, the measure is still
        # written once (rows of one measure are adjacent, its latest session first).
        if measure_id == previous_id:
            continue
        previous_id = measure_id
        frame, status = LegalFrame(frame), MeasureStatus(status)
        situation = ", ".join(b.label for b in buckets_of(status, deadline, today))
        if anonymized_at is not None:
            surname, first_names = "Personne anonymisée", ""
        yield (
            surname, first_names, frame.label, authority, reference, decision, deadline,
            status.label, situation, local_day(starts_at) if starts_at else None, certificate,
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
    lateness: list[str] = field(default_factory=list)
    departures: list[str] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    certificate_number: str | None = None


BILAN_HEADER = (
    "Nom", "Prénoms", "Cadre", "N° de parquet", "Issue", "Retards", "Départs anticipés",
    "Incidents", "N° d'attestation",
)


def require_closed(session: CourseSession) -> None:
    """A bilan reports final outcomes: only once the session is closed."""
    if session.status != SessionStatus.CLOSED:
        raise DomainError("Le bilan n'est disponible qu'une fois le stage clôturé.")


def bilan_authorities(session: CourseSession) -> list[BilanAuthority]:
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
            Bilan, sa.and_(Bilan.session_id == session.id, Bilan.authority_id == Organization.id)
        )
        .outerjoin(User, User.id == Bilan.sent_by_id)
        .where(Enrollment.session_id == session.id, Enrollment.status.in_(SEAT_HOLDING_STATUSES))
        .group_by(Organization.id, Organization.name, Bilan.sent_at, User.full_name)
        .order_by(Organization.name)
    )
    return [BilanAuthority(*row) for row in db.session.execute(query)]


def bilan_rows(session: CourseSession, authority_id: int) -> list[BilanRow]:
    """Every person of ``authority_id`` who held a seat in ``session``, once, with what happened.

    Three queries whatever the size: the people, the session's marks, their certificates.
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
        )
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .where(
            Enrollment.session_id == session.id,
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
            LegalMeasure.authority_id == authority_id,
        )
        .order_by(Participant.surname, Participant.first_names, Enrollment.id)
    ).all()
    if not people:
        return []
    enrollment_ids = [row[0] for row in people]
    marks = db.session.execute(
        sa.select(AttendanceMark, SessionPart.starts_at, SessionPart.ends_at)
        .join(SessionPart, SessionPart.id == AttendanceMark.part_id)
        .where(AttendanceMark.enrollment_id.in_(enrollment_ids))
        .order_by(SessionPart.starts_at)
    ).all()
    certificates = dict(
        db.session.execute(
            sa.select(Certificate.enrollment_id, Certificate.number).where(
                Certificate.enrollment_id.in_(enrollment_ids), Certificate.revoked_at.is_(None)
            )
        ).all()
    )
    zone = session.venue.timezone
    several_days = len({to_local(p.starts_at, zone).date() for p in session.parts}) > 1
    rows = {}
    for enrollment_id, status, person_id, surname, first_names, anonymized_at, frame, reference in people:
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
            certificate_number=certificates.get(enrollment_id),
        )
    for mark, part_start, part_end in marks:
        row = rows[mark.enrollment_id]
        day = f"le {fr_date(part_start, 'dd/MM', zone)} " if several_days else ""
        # Only what happened in the room is reported: the note on an absence usually gives its
        # reason (often medical), which the referrer does not need and must not receive.
        if mark.status not in PRESENT_STATUSES:
            continue
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
    return list(rows.values())


def _at(moment: datetime | None, zone: str) -> str:
    return f"à {fr_time(moment, zone)}" if moment else "(heure non notée)"


def bilan_csv_row(row: BilanRow) -> tuple:
    """A bilan row as the values of BILAN_HEADER."""
    return (
        row.surname, row.first_names, row.frame.label, row.case_reference, row.outcome.label,
        " ; ".join(row.lateness), " ; ".join(row.departures), " ; ".join(row.incidents),
        row.certificate_number or "",
    )


def bilan_summary(rows: list[BilanRow]) -> dict[str, int]:
    """The bilan's totals, by outcome, with lateness and incidents."""
    summary = {status.label: 0 for status in OUTCOME_STATUSES}
    for row in rows:
        summary[row.outcome.label] = summary.get(row.outcome.label, 0) + 1
    summary["Retards"] = sum(1 for row in rows if row.lateness)
    summary["Départs anticipés"] = sum(1 for row in rows if row.departures)
    summary["Incidents"] = sum(1 for row in rows if row.incidents)
    return summary


def mark_bilan_sent(session: CourseSession, authority_id: int, *, by: User) -> int:
    """Record that the bilan went to the authority and close the measures it reports on.

    Upserts the Bilan row (two organizers clicking at once never fail on the unique constraint)
    and moves each covered measure to « bilan transmis », with ``closed_at`` from which the
    retention period runs. Returns how many measures were closed; the caller commits.
    """
    require_closed(session)
    now = now_utc()
    covered = (
        sa.select(Enrollment.measure_id)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .where(
            Enrollment.session_id == session.id,
            Enrollment.status.in_(OUTCOME_STATUSES),
            LegalMeasure.authority_id == authority_id,
        )
    )
    if db.session.scalar(sa.select(covered.exists())) is not True:
        raise DomainError("Aucune personne de cette autorité n'a participé à ce stage.")
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Bilan).values(
        session_id=session.id, authority_id=authority_id, created_at=now, sent_at=now,
        sent_by_id=by.id,
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
    for measure in measures:  # at most one session's worth (≤ capacity)
        measure.status = MeasureStatus.REPORTED
        measure.status_changed_at = now
        measure.closed_at = now
    db.session.flush()
    return len(measures)


# ---------------------------------------------------------------------------------------------
# Statistics


@dataclass
class DelayStats:
    count: int
    median: float | None
    q1: float | None
    q3: float | None
    histogram: list[tuple[str, int]]


@dataclass
class Statistics:
    year: int
    years: list[tuple[int, int]]
    months: list[tuple[str, int]]
    frames: list[tuple[str, int]]
    outcomes: list[tuple[str, int]]
    seats: int
    attended: int
    certificates: int
    delays: DelayStats

    @property
    def attendance_rate(self) -> float | None:
        """Attended the whole course / every final outcome."""
        return self.attended / self.seats if self.seats else None

    @property
    def completion_rate(self) -> float | None:
        """Certificates issued / every final outcome."""
        return self.certificates / self.seats if self.seats else None


def _session_scope(user: User):
    """A condition on CourseSession.id limiting the statistics to what ``user`` may see.

    Staff see their sessions (``visible_sessions``); liaisons, who see no sessions as such, see
    those where people of their authorities held a seat (``visible_measures``).
    """
    if can(user, Permission.ADMIN):
        return sa.true()
    if can(user, Permission.SESSION_VIEW):
        # correlate(None): the outer query also reads course_sessions, yet this subquery stands alone.
        return CourseSession.id.in_(
            visible_sessions(user).with_only_columns(CourseSession.id).correlate(None)
        )
    # EXISTS per session (an index probe on enrollments by session) rather than IN over every
    # measure of the authority: a year holds ~2,000 sessions, an authority ~100,000 measures.
    return (
        visible_measures(user)
        .join(Enrollment, Enrollment.measure_id == LegalMeasure.id)
        .where(
            Enrollment.session_id == CourseSession.id,
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
        )
        .exists()
    )


def _measure_ids(user: User) -> sa.Select:
    return visible_measures(user).with_only_columns(LegalMeasure.id).correlate(None)


def _enrollment_scope(user: User):
    """A condition on an enrollment joined to its session and measure, for ``user``'s scope."""
    if can(user, Permission.ADMIN):
        return sa.true()
    if can(user, Permission.SESSION_VIEW):
        return _session_scope(user)
    return Enrollment.measure_id.in_(_measure_ids(user))


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    """The local year as UTC instants: an index range on ``starts_at``."""
    return local_to_utc(date(year, 1, 1), time()), local_to_utc(date(year + 1, 1, 1), time())


def _period_index(column, bounds: list[datetime]):
    """A CASE giving the index of the period [bounds[i], bounds[i+1]) holding ``column``.

    Local month and year boundaries are computed in Python (Europe/Paris, DST included) and
    compared as UTC instants: exact on every database, where SQLite has no time zones.
    """
    whens = [(column < bound, index) for index, bound in enumerate(bounds[1:])]
    return sa.case(*whens, else_=None)


def sessions_per_year(user: User) -> list[tuple[int, int]]:
    """Counted sessions per local year, from the first to the last year with a session."""
    base = sa.select(CourseSession.starts_at).where(
        CourseSession.status.in_(COUNTED_SESSION_STATUSES),
        CourseSession.starts_at.is_not(None),
        _session_scope(user),
    )
    first, last = db.session.execute(
        base.with_only_columns(
            sa.func.min(CourseSession.starts_at), sa.func.max(CourseSession.starts_at),
            maintain_column_froms=True,
        )
    ).one()
    if first is None:
        return []
    years = list(range(to_local(first).year, to_local(last).year + 1))
    bounds = [_year_bounds(y)[0] for y in years] + [_year_bounds(years[-1])[1]]
    index = _period_index(CourseSession.starts_at, bounds)
    counts = dict(
        db.session.execute(
            base.with_only_columns(index, sa.func.count()).where(
                CourseSession.starts_at >= bounds[0]
            ).group_by(index)
        ).all()
    )
    return [(year, counts.get(i, 0)) for i, year in enumerate(years)]


def sessions_per_month(user: User, year: int) -> list[tuple[str, int]]:
    """Counted sessions per local month of ``year`` (12 rows, zeros included)."""
    bounds = [local_to_utc(date(year, m, 1), time()) for m in range(1, 13)]
    bounds.append(_year_bounds(year)[1])
    index = _period_index(CourseSession.starts_at, bounds)
    counts = dict(
        db.session.execute(
            sa.select(index, sa.func.count())
            .where(
                CourseSession.status.in_(COUNTED_SESSION_STATUSES),
                CourseSession.starts_at >= bounds[0],
                CourseSession.starts_at < bounds[-1],
                _session_scope(user),
            )
            .group_by(index)
        ).all()
    )
    return [(MONTHS[i], counts.get(i, 0)) for i in range(12)]


def _seats_in_year(user: User, year: int, session_statuses) -> sa.Select:
    """Seat-holding enrollments in ``year``'s sessions, joined to session and measure."""
    start, end = _year_bounds(year)
    return (
        sa.select()
        .select_from(Enrollment)
        .join(CourseSession, CourseSession.id == Enrollment.session_id)
        .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
        .where(
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
            CourseSession.status.in_(session_statuses),
            CourseSession.starts_at >= start,
            CourseSession.starts_at < end,
            _enrollment_scope(user),
        )
    )


def participants_per_frame(user: User, year: int) -> list[tuple[str, int]]:
    """People who held a seat in ``year``'s sessions, per legal frame (each person once a frame)."""
    counts = dict(
        db.session.execute(
            _seats_in_year(user, year, COUNTED_SESSION_STATUSES)
            .add_columns(LegalMeasure.frame, sa.func.count(sa.distinct(LegalMeasure.participant_id)))
            .group_by(LegalMeasure.frame)
        ).all()
    )
    return [(frame.label, counts.get(frame, 0)) for frame in LegalFrame]


def outcome_counts(user: User, year: int) -> tuple[dict[EnrollmentStatus, int], int]:
    """Final outcomes in ``year``'s closed sessions, and the certificates issued for them."""
    rows = db.session.execute(
        _seats_in_year(user, year, (SessionStatus.CLOSED,))
        .outerjoin(
            Certificate,
            sa.and_(Certificate.enrollment_id == Enrollment.id, Certificate.revoked_at.is_(None)),
        )
        .add_columns(Enrollment.status, sa.func.count(Enrollment.id), sa.func.count(Certificate.id))
        .where(Enrollment.status.in_(OUTCOME_STATUSES))
        .group_by(Enrollment.status)
    ).all()
    outcomes = {status: 0 for status in OUTCOME_STATUSES}
    certificates = 0
    for status, seats, issued in rows:
        outcomes[EnrollmentStatus(status)] = seats
        certificates += issued
    return outcomes, certificates


DELAY_BINS = ((0, 30, "0 à 30 jours"), (31, 60, "31 à 60 jours"), (61, 90, "61 à 90 jours"),
              (91, 180, "91 à 180 jours"), (181, 365, "181 à 365 jours"), (366, None, "plus d'un an"))


def _days_between(decision, starts_at):
    """Days from the decision date to the session's local start date, in SQL.

    PostgreSQL converts to Europe/Paris before taking the date; SQLite has no zones and takes the
    UTC date, the same day for every course held in daytime.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        local_day = sa.cast(sa.func.timezone(local_zone().key, starts_at), sa.Date)
        return local_day - decision
    return sa.cast(
        sa.func.julianday(sa.func.date(starts_at)) - sa.func.julianday(decision), sa.Integer
    )


def decision_delays(user: User, year: int) -> DelayStats:
    """Median and quartiles of the days between decision and course, for ``year``'s seats.

    SQL returns a histogram (one row per distinct number of days, a few hundred at most) from
    which the quartiles are read: portable, and bounded whatever the number of people.
    """
    days = _days_between(LegalMeasure.decision_date, CourseSession.starts_at)
    histogram = sorted(
        (int(d), n)
        for d, n in db.session.execute(
            _seats_in_year(user, year, COUNTED_SESSION_STATUSES)
            .add_columns(days.label("days"), sa.func.count())
            .group_by(days)
        ).all()
        if d is not None
    )
    total = sum(n for _, n in histogram)
    bins = []
    for low, high, label in DELAY_BINS:
        bins.append((label, sum(n for d, n in histogram if d >= low and (high is None or d <= high))))
    if any(d < 0 for d, _ in histogram):
        bins.insert(0, ("avant la décision", sum(n for d, n in histogram if d < 0)))
    return DelayStats(
        total,
        _percentile(histogram, total, 0.5),
        _percentile(histogram, total, 0.25),
        _percentile(histogram, total, 0.75),
        bins,
    )


def _percentile(histogram: list[tuple[int, int]], total: int, fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont`` (linear interpolation) over a histogram of values."""
    if not total:
        return None
    position = fraction * (total - 1)
    lower, upper = math.floor(position), math.ceil(position)

    def value_at(rank: int) -> int:
        seen = 0
        for value, n in histogram:
            seen += n
            if rank < seen:
                return value
        return histogram[-1][0]

    low_value, high_value = value_at(lower), value_at(upper)
    return low_value + (high_value - low_value) * (position - lower)


def statistics(user: User, year: int) -> Statistics:
    """Every figure of the statistics page for ``year``, in ``user``'s scope (6 queries)."""
    outcomes, certificates = outcome_counts(user, year)
    return Statistics(
        year=year,
        years=sessions_per_year(user),
        months=sessions_per_month(user, year),
        frames=participants_per_frame(user, year),
        outcomes=[(status.label, outcomes[status]) for status in OUTCOME_STATUSES],
        seats=sum(outcomes.values()),
        attended=outcomes[EnrollmentStatus.ATTENDED],
        certificates=certificates,
        delays=decision_delays(user, year),
    )
