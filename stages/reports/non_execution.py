"""Rapports de non-exécution: a measure whose deadline passed without a completed course is
reported to its referring authority, with why.

**Completed** means one of the measure's enrollments attended the whole course, or an
attestation (not revoked) was issued for one of them — a partial attendance the organizer
counted as complete has its attestation. A measure « bilan transmis » after an unexcused
absence is *not* completed.

**The reason** (``reason_for``), decided once, when the report is drafted, from the records:

- *renvoyée à l'autorité* (withdrawn): the organizer returned the measure to the authority
  (« Renvoyer à l'autorité ») before any summons reached the person;
- *refus* (refused): the application records no refusal as such; a person refuses when they
  know of the course and the association gives up on them, so a measure returned to the
  authority *after* a summons reached the person (a proof stands: email or SMS accepted and
  not bounced, letter posted, avis de réception, reply on their confirmation page) is a refusal.
  The organizer's own reason for the return is printed in the report, word for word;
- *absence*: the person missed a half-day of a course they were seated in (unexcused or
  excused and never rescheduled in time), or their course ended « absent·e »;
- *injoignable* (unreachable): they were given a seat, but no summons reached them (none sent,
  or each one refused or bounced);
- *jamais inscrit* (never enrolled): no seat in any course (a waitlist place is no seat);
- *stage prévu après la date limite* (late course): summoned and reached, but their course is
  after the deadline (or was cancelled) — the authority must still learn the deadline passed.

**Drafting** (``draft_reports``, the daily job ``draft_non_execution_reports``): every measure
whose deadline fell within the last ``LOOKBACK_DAYS`` days, not completed, not anonymized, and
with no report for that deadline gets one, inserted with ON CONFLICT DO NOTHING on the unique
(measure, deadline): a second scheduler, or a manual run beside the scheduled one, drafts
nothing twice. Before drafting, a report not yet transmitted whose measure got completed or
whose deadline changed is **withdrawn**, never deleted: its status becomes « retiré » with the
reason shown on the list and the report page (« Stage effectué… », « Date limite reportée au
… »); when a new deadline passes without a course, a new report is drafted for it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stages.attendance.models import AttendanceMark, AttendanceStatus
from stages.attendance.services import PRESENT_STATUSES
from stages.auth.audit import audit
from stages.auth.models import Organization, User
from stages.certificates.models import Certificate
from stages.enrollment.convocation.delivery import (
    FAILED_STATUSES,
    PROOF_STATUSES,
    SummonsDelivery,
    deliveries_by_enrollment,
    proof_lines,
)
from stages.enrollment.models import (
    Enrollment,
    EnrollmentStatus,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.reports.bilans import missed_half_day
from stages.reports.models import NonExecutionReason, NonExecutionReport, NonExecutionStatus
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import fr_date, now_utc

# A deadline further back than this is not caught up: the report would come too late to matter,
# and the first run on an old database would draft years of them.
LOOKBACK_DAYS = 60
# Outcomes of a seat that are an absence (partly attended: some half-days missed).
ABSENCE_OUTCOMES = (
    EnrollmentStatus.ABSENT_UNEXCUSED, EnrollmentStatus.ABSENT_EXCUSED, EnrollmentStatus.PARTLY_ATTENDED,
)
# Reports that may still change: not transmitted, not withdrawn.
OPEN_STATUSES = (NonExecutionStatus.DRAFT, NonExecutionStatus.READY)
# What the report says of each reason, in one plain sentence.
REASON_SENTENCES = {
    NonExecutionReason.NEVER_ENROLLED:
        "La personne n'a été inscrite à aucun stage avant la date limite.",
    NonExecutionReason.UNREACHABLE:
        "La personne a été inscrite à un stage, mais aucune convocation ne lui est parvenue "
        "(convocation non envoyée, refusée ou rejetée).",
    NonExecutionReason.ABSENT:
        "La personne, convoquée, ne s'est pas présentée à tout ou partie du stage.",
    NonExecutionReason.REFUSED:
        "La personne, convoquée, n'a pas effectué le stage : la mesure a été renvoyée à "
        "l'autorité prescriptrice après sa convocation.",
    NonExecutionReason.WITHDRAWN:
        "La mesure a été renvoyée à l'autorité prescriptrice avant toute convocation.",
    NonExecutionReason.LATE_COURSE:
        "La personne a été convoquée à un stage prévu après la date limite, ou annulé.",
}
# How the report names each seat's outcome (official document: no inclusive-writing dot).
ENROLLMENT_WORDS = {
    EnrollmentStatus.WAITLISTED: "Sur liste d'attente",
    EnrollmentStatus.ENROLLED: "Inscrit, non convoqué",
    EnrollmentStatus.SUMMONED: "Convoqué",
    EnrollmentStatus.CONFIRMED: "Convoqué, présence confirmée",
    EnrollmentStatus.ATTENDED: "Stage suivi en entier",
    EnrollmentStatus.PARTLY_ATTENDED: "Stage suivi en partie",
    EnrollmentStatus.ABSENT_EXCUSED: "Absence excusée",
    EnrollmentStatus.ABSENT_UNEXCUSED: "Absence non excusée",
    EnrollmentStatus.RESCHEDULED: "Reporté sur un autre stage",
    EnrollmentStatus.WITHDRAWN: "Retiré du stage",
}


# ---------------------------------------------------------------------------------------------
# Completed, and why not


def completed_condition() -> sa.ColumnElement[bool]:
    """SQL: the measure (``LegalMeasure``) is completed — a whole course attended, or an
    attestation not revoked."""
    attended = sa.exists().where(
        Enrollment.measure_id == LegalMeasure.id, Enrollment.status == EnrollmentStatus.ATTENDED
    )
    certified = sa.exists(
        sa.select(Certificate.id)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .where(Enrollment.measure_id == LegalMeasure.id, Certificate.revoked_at.is_(None))
    )
    return sa.or_(attended, certified)


def summons_reached(deliveries: list[SummonsDelivery]) -> bool:
    """Whether a proof of a summons stands: something accepted, posted, delivered or
    acknowledged whose message did not later fail."""
    failed = {d.message_id for d in deliveries if d.status in FAILED_STATUSES and d.message_id}
    return any(
        d.status in PROOF_STATUSES and (d.message_id is None or d.message_id not in failed)
        for d in deliveries
    )


@dataclass
class _Facts:
    """What the reason is decided from, for one measure."""

    measure_status: MeasureStatus
    enrollments: list[tuple[int, EnrollmentStatus]] = field(default_factory=list)
    deliveries: list[SummonsDelivery] = field(default_factory=list)
    missed_half_day: bool = False


def reason_for(facts: _Facts) -> NonExecutionReason:
    """The reason of one measure's non-execution (see the module docstring)."""
    reached = summons_reached(facts.deliveries)
    if facts.measure_status == MeasureStatus.WITHDRAWN:
        return NonExecutionReason.REFUSED if reached else NonExecutionReason.WITHDRAWN
    if facts.missed_half_day or any(status in ABSENCE_OUTCOMES for _, status in facts.enrollments):
        return NonExecutionReason.ABSENT
    if not any(status != EnrollmentStatus.WAITLISTED for _, status in facts.enrollments):
        return NonExecutionReason.NEVER_ENROLLED
    if not reached:
        return NonExecutionReason.UNREACHABLE
    return NonExecutionReason.LATE_COURSE


def _facts(measures: list[tuple[int, MeasureStatus]]) -> dict[int, _Facts]:
    """Each measure's facts, in three queries whatever their number."""
    facts = {measure_id: _Facts(MeasureStatus(status)) for measure_id, status in measures}
    if not facts:
        return facts
    enrollments = db.session.execute(
        sa.select(Enrollment.id, Enrollment.measure_id, Enrollment.status)
        .where(Enrollment.measure_id.in_(list(facts)))
    ).all()
    measure_of = {}
    for enrollment_id, measure_id, status in enrollments:
        facts[measure_id].enrollments.append((enrollment_id, EnrollmentStatus(status)))
        measure_of[enrollment_id] = measure_id
    for enrollment_id, deliveries in deliveries_by_enrollment(measure_of).items():
        facts[measure_of[enrollment_id]].deliveries += deliveries
    if measure_of:
        missed = db.session.scalars(
            sa.select(AttendanceMark.enrollment_id).where(
                AttendanceMark.enrollment_id.in_(list(measure_of)),
                AttendanceMark.status.in_((AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED)),
            )
        ).all()
        for enrollment_id in missed:
            facts[measure_of[enrollment_id]].missed_half_day = True
    return facts


# ---------------------------------------------------------------------------------------------
# The daily job


def _insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


def withdraw_outdated_reports(now=None) -> int:
    """Withdraw the open reports (not transmitted) whose measure was completed since, or whose
    deadline changed; each keeps the reason. Returns how many. Flushes."""
    now = now or now_utc()
    completed = completed_condition()
    rows = db.session.execute(
        sa.select(NonExecutionReport, LegalMeasure.deadline, completed.label("completed"))
        .join(LegalMeasure, LegalMeasure.id == NonExecutionReport.measure_id)
        .where(
            NonExecutionReport.status.in_(OPEN_STATUSES),
            untransmitted_condition(),
            sa.or_(LegalMeasure.deadline != NonExecutionReport.deadline, completed),
        )
    ).all()
    for report, deadline, done in rows:
        if done:
            why = "Stage effectué : la mesure est exécutée, le rapport n'a plus lieu d'être."
        elif deadline > report.deadline:
            why = (f"Date limite reportée au {fr_date(deadline)} : un nouveau rapport sera établi "
                   "si elle passe sans stage effectué.")
        else:
            why = f"Date limite modifiée (désormais le {fr_date(deadline)}) : un rapport est établi pour celle-ci."
        report.status, report.withdrawn_at, report.withdrawn_reason = NonExecutionStatus.WITHDRAWN, now, why
    db.session.flush()
    return len(rows)


def transmitted_condition() -> sa.ColumnElement[bool]:
    """SQL: the report (``NonExecutionReport``) has been transmitted to its authority (a
    transmission accepted by its mail server)."""
    return NonExecutionReport.transmitted_at.is_not(None)


def untransmitted_condition() -> sa.ColumnElement[bool]:
    """SQL: the report (``NonExecutionReport``) has not been transmitted."""
    return ~transmitted_condition()


def due_measures(today: date) -> sa.Select:
    """The measures a report is due for on ``today``: deadline passed (within the look-back),
    not completed, the person not anonymized, no report yet for this deadline."""
    reported = sa.exists().where(
        NonExecutionReport.measure_id == LegalMeasure.id,
        NonExecutionReport.deadline == LegalMeasure.deadline,
    )
    return (
        sa.select(LegalMeasure.id, LegalMeasure.status, LegalMeasure.authority_id, LegalMeasure.deadline)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .where(
            LegalMeasure.deadline < today,
            LegalMeasure.deadline >= today - timedelta(days=LOOKBACK_DAYS),
            Participant.anonymized_at.is_(None),
            ~completed_condition(),
            ~reported,
        )
        .order_by(LegalMeasure.id)
    )


def draft_reports(today: date, *, batch: int = 500) -> dict[str, int]:
    """Withdraw what no longer applies, then draft every report due on ``today``; once per
    measure and deadline even when two processes run it at once. The caller commits."""
    withdrawn = withdraw_outdated_reports()
    drafted = 0
    due = db.session.execute(due_measures(today)).all()
    for start in range(0, len(due), batch):
        chunk = due[start:start + batch]
        facts = _facts([(row.id, row.status) for row in chunk])
        now = now_utc()
        values = [
            {
                "measure_id": row.id, "authority_id": row.authority_id, "deadline": row.deadline,
                "reason": reason_for(facts[row.id]), "status": NonExecutionStatus.DRAFT, "drafted_at": now,
            }
            for row in chunk
        ]
        statement = _insert()(NonExecutionReport).values(values)
        inserted = db.session.scalars(
            statement.on_conflict_do_nothing(index_elements=["measure_id", "deadline"])
            .returning(NonExecutionReport.id)
        ).all()
        drafted += len(inserted)
    db.session.flush()
    return {"rapports de non-exécution établis": drafted, "rapports retirés": withdrawn}


# ---------------------------------------------------------------------------------------------
# Review


def mark_reviewed(report: NonExecutionReport, *, by: User) -> None:
    """The organizer has read the draft: it is ready to transmit. Audited; flushes."""
    if report.status != NonExecutionStatus.DRAFT:
        raise DomainError("Seul un rapport en brouillon peut être marqué comme relu.")
    report.status, report.reviewed_at, report.reviewed_by_id = NonExecutionStatus.READY, now_utc(), by.id
    db.session.flush()
    audit("non_execution.reviewed", report, participant_id=report.measure.participant_id, user=by)


# ---------------------------------------------------------------------------------------------
# What the report says


@dataclass
class CourseLine:
    """One seat (or waitlist place) of the measure, as the report states it."""

    course: str  # « Stage du jeudi 11 mars 2027, Préfecture … »
    outcome: str
    summons: list[str]
    absences: list[str]


@dataclass
class ReportContent:
    report: NonExecutionReport
    measure: LegalMeasure
    participant: Participant
    authority: Organization
    reason_sentence: str
    courses: list[CourseLine]


def report_content(report: NonExecutionReport) -> ReportContent:
    """Everything the report states: the person, the measure, each course with its summons'
    proofs and each half-day missed. Five queries whatever the number of courses."""
    measure, participant, authority = db.session.execute(
        sa.select(LegalMeasure, Participant, Organization)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .join(Organization, Organization.id == LegalMeasure.authority_id)
        .where(LegalMeasure.id == report.measure_id)
    ).one()
    enrollments = db.session.execute(
        sa.select(Enrollment, Course)
        .join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.measure_id == measure.id)
        .order_by(Course.starts_at, Enrollment.id)
        .options(sa.orm.selectinload(Course.parts), sa.orm.joinedload(Course.venue))
    ).unique().all()
    ids = [enrollment.id for enrollment, _ in enrollments]
    proofs = deliveries_by_enrollment(ids)
    marks = {
        (enrollment_id, part_id): status
        for enrollment_id, part_id, status in db.session.execute(
            sa.select(AttendanceMark.enrollment_id, AttendanceMark.part_id, AttendanceMark.status)
            .where(AttendanceMark.enrollment_id.in_(ids))
        )
    } if ids else {}
    courses = [_course_line(e, c, proofs.get(e.id, []), marks) for e, c in enrollments]
    return ReportContent(report, measure, participant, authority, REASON_SENTENCES[report.reason], courses)


def _course_line(enrollment: Enrollment, course: Course, deliveries, marks) -> CourseLine:
    zone = course.venue.timezone
    title = f"Stage du {fr_date(course.starts_at, zone=zone)}, {course.venue.name}"
    if course.status == CourseStatus.CANCELLED:
        title += " (stage annulé)"
    absences = []
    seated = enrollment.status not in (EnrollmentStatus.WAITLISTED, EnrollmentStatus.WITHDRAWN)
    if seated and course.status in (CourseStatus.HELD, CourseStatus.CLOSED):
        for part in course.parts:
            status = marks.get((enrollment.id, part.id))
            if status in PRESENT_STATUSES:
                continue
            if status is None and course.status != CourseStatus.CLOSED:
                continue  # not marked yet on a course still open: nothing to state
            excused = status == AttendanceStatus.EXCUSED
            absences.append(missed_half_day(part, zone) + (" (absence excusée)" if excused else " (absence non excusée)"))
    return CourseLine(title, ENROLLMENT_WORDS[enrollment.status], proof_lines(deliveries, zone), absences)



# ---------------------------------------------------------------------------------------------
# The list


@dataclass(frozen=True)
class ListFilters:
    authority_id: int | None = None
    reason: NonExecutionReason | None = None
    status: NonExecutionStatus | None = None

    def args(self) -> dict[str, str]:
        """The filters as the list's query string (pagination links keep them)."""
        values = {"autorite": self.authority_id, "motif": self.reason, "statut": self.status}
        return {key: str(value) for key, value in values.items() if value is not None}


def parse_list_filters(args, authority_ids: set[int]) -> ListFilters:
    """The list's filters from the query string; DomainError (French) on a value not offered."""
    def one(name: str) -> str:
        values = [v for v in args.getlist(name) if v != ""]
        if len(values) > 1:
            raise DomainError("Un seul choix par filtre.")
        return values[0] if values else ""

    authority, reason, status = one("autorite"), one("motif"), one("statut")
    try:
        filters = ListFilters(
            authority_id=int(authority) if authority else None,
            reason=NonExecutionReason(reason) if reason else None,
            status=NonExecutionStatus(status) if status else None,
        )
    except ValueError:
        raise DomainError("Filtre inconnu : choisissez une valeur de la liste.") from None
    if filters.authority_id is not None and filters.authority_id not in authority_ids:
        raise DomainError("Filtre inconnu : choisissez une autorité de la liste.")
    return filters


def filtered_reports(visible_reports: sa.Select, filters: ListFilters) -> sa.Select:
    """``visible_reports`` filtered, latest deadline first, with the measure, the person and
    the authority loaded in the same query (a page costs two queries whatever its size)."""
    query = visible_reports.options(
        sa.orm.joinedload(NonExecutionReport.measure).joinedload(LegalMeasure.participant),
        sa.orm.joinedload(NonExecutionReport.authority),
    )
    if filters.authority_id is not None:
        query = query.where(NonExecutionReport.authority_id == filters.authority_id)
    if filters.reason is not None:
        query = query.where(NonExecutionReport.reason == filters.reason)
    if filters.status is not None:
        query = query.where(NonExecutionReport.status == filters.status)
    return query.order_by(NonExecutionReport.deadline.desc(), NonExecutionReport.id.desc())
