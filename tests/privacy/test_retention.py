"""Retention: every end state of a measure starts its clock, and the purge job keeps to it.

Each case walks one person through the real services, time frozen at every step (enrolled,
marked, closed, attestation, bilan, withdrawal...), then runs the nightly purge job one day
before and one day after the moment its retention period ends: kept, then anonymized. Before
the rule covered every end state, only a withdrawal or a sent bilan started the clock: the
people never enrolled, excused or partly attended and never rescheduled, or whose outcome was
never reported, were kept for ever. The job also prunes old backups.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from stages.attendance import services as attendance
from stages.attendance.models import AttendanceMark, AttendanceStatus
from stages.auth.models import OrganizationKind, Role
from stages.backup import default_backup_path
from stages.certificates import issuing
from stages.certificates.models import Certificate
from stages.enrollment.models import Enrollment, LegalMeasure, MeasureStatus, Participant
from stages.enrollment.services import enroll, reschedule, withdraw_measure
from stages.extensions import db
from stages.jobs import runner
from stages.reports.bilans import mark_bilan_sent
from stages.scheduling.models import Course
from stages.scheduling.services import mark_finished_courses_held
from stages.timeutil import local_to_utc

RETENTION = timedelta(days=3 * 365)  # STAGES_RETENTION_MEASURE_DAYS
GRACE = timedelta(days=90)  # STAGES_RETENTION_GRACE_DAYS
DECISION = date(2026, 1, 5)
DEADLINE = date(2026, 7, 5)
# The deadline day is over at midnight, Paris time.
DEADLINE_PASSED = local_to_utc(DEADLINE + timedelta(days=1), time(0, 0))
COURSE_DAY = date(2026, 3, 16)  # a Monday, well before the deadline
LATE_COURSE_DAY = date(2026, 9, 14)  # a Monday after the deadline
P = AttendanceStatus.PRESENT
E = AttendanceStatus.EXCUSED
A = AttendanceStatus.ABSENT


def paris(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return local_to_utc(day, time(hour, minute))


@pytest.fixture
def team(make):
    team = type("Team", (), {})()
    team.association = make.organization(name="APCARS")
    team.authority = make.organization(OrganizationKind.PARQUET, name="Parquet de Paris")
    team.organizer = make.user(Role.ORGANIZER, [team.association])
    return team


class Story:
    """One person's measure walked through the services, each step at its own frozen moment."""

    def __init__(self, make, team, surname: str):
        self.make, self.team = make, team
        with time_machine.travel(paris(DECISION + timedelta(days=3)), tick=False):
            person = make.participant(surname=surname, email=f"{surname.lower()}@example.org")
            self.measure = make.measure(
                person, authority=team.authority, handling=team.association,
                decision_date=DECISION, deadline=DEADLINE,
            )
        self.enrollment: Enrollment | None = None

    def course(self, day: date) -> Course:
        with time_machine.travel(paris(DECISION + timedelta(days=10)), tick=False):
            return self.make.course(organizations=[self.team.association], day=day)

    def enroll(self, course: Course) -> Enrollment:
        with time_machine.travel(paris(course.starts_at.date() - timedelta(days=30)), tick=False):
            self.enrollment = enroll(self.measure, course, by=self.team.organizer).enrollment
        return self.enrollment

    def attend(self, course: Course, *statuses: AttendanceStatus) -> None:
        """The marks of each half-day, taken on the day; the course is then held."""
        for part, status in zip(course.parts, statuses):
            with time_machine.travel(part.ends_at - timedelta(minutes=5), tick=False):
                attendance.record_marks(
                    part, [attendance.MarkInput(self.enrollment.id, status)], by=self.team.organizer
                )
        with time_machine.travel(course.ends_at + timedelta(hours=1), tick=False):
            mark_finished_courses_held()

    def close(self, course: Course) -> None:
        with time_machine.travel(course.ends_at + timedelta(days=1), tick=False):
            attendance.close_course(course, {}, by=self.team.organizer)

    def certify(self) -> None:
        with time_machine.travel(self.enrollment.course.ends_at + timedelta(days=2), tick=False):
            issuing.issue_certificate(self.enrollment, by=self.team.organizer)

    def send_bilan(self, course: Course) -> datetime:
        moment = course.ends_at + timedelta(days=4)
        with time_machine.travel(moment, tick=False):
            mark_bilan_sent(course, self.team.authority.id, by=self.team.organizer)
        return moment

    def withdraw(self, moment: datetime) -> datetime:
        with time_machine.travel(moment, tick=False):
            withdraw_measure(self.measure, "Renvoyé au parquet à sa demande.", by=self.team.organizer)
        return moment


def never_enrolled(story: Story) -> datetime:
    return DEADLINE_PASSED + GRACE


def excused_never_rescheduled(story: Story) -> datetime:
    course = story.course(COURSE_DAY)
    story.enroll(course)
    story.attend(course, E, E)
    story.close(course)
    story.send_bilan(course)  # reported, yet open: a new date was expected, which never came
    assert story.measure.status == MeasureStatus.ABSENT_EXCUSED
    return DEADLINE_PASSED + GRACE


def partly_attended_never_rescheduled(story: Story) -> datetime:
    course = story.course(COURSE_DAY)
    story.enroll(course)
    story.attend(course, P, A)
    story.close(course)
    assert story.measure.status == MeasureStatus.PARTLY_ATTENDED
    return DEADLINE_PASSED + GRACE


def absent_never_reported(story: Story) -> datetime:
    course = story.course(COURSE_DAY)
    story.enroll(course)
    story.attend(course, A, A)
    story.close(course)
    assert story.measure.status == MeasureStatus.ABSENT_UNEXCUSED
    return DEADLINE_PASSED + GRACE


def attestation_never_reported(story: Story) -> datetime:
    course = story.course(COURSE_DAY)
    story.enroll(course)
    story.attend(course, P, P)
    story.close(course)
    story.certify()
    assert story.measure.status == MeasureStatus.CERTIFICATE_ISSUED
    return DEADLINE_PASSED + GRACE


def course_held_never_closed(story: Story) -> datetime:
    course = story.course(COURSE_DAY)
    story.enroll(course)
    story.attend(course, P, P)
    assert story.measure.status == MeasureStatus.ENROLLED
    return DEADLINE_PASSED + GRACE


def enrolled_after_the_deadline(story: Story) -> datetime:
    course = story.course(LATE_COURSE_DAY)
    story.enroll(course)  # the course's end, later than the deadline, starts the clock
    return course.ends_at + GRACE


def rescheduled_after_the_deadline(story: Story) -> datetime:
    first, later = story.course(COURSE_DAY), story.course(LATE_COURSE_DAY)
    story.enroll(first)
    story.attend(first, E, E)
    story.close(first)
    with time_machine.travel(paris(COURSE_DAY + timedelta(days=5)), tick=False):
        story.enrollment = reschedule(story.enrollment, later, by=story.team.organizer).enrollment
    story.attend(later, P, P)
    story.close(later)
    assert story.measure.status == MeasureStatus.ATTENDED
    return later.ends_at + GRACE


def withdrawn(story: Story) -> datetime:
    return story.withdraw(paris(date(2026, 4, 1), 10))


def withdrawn_after_an_absence(story: Story) -> datetime:
    course = story.course(COURSE_DAY)
    story.enroll(course)
    story.attend(course, A, A)
    story.close(course)
    return story.withdraw(paris(date(2026, 3, 25), 15))


def attestation_reported(story: Story) -> datetime:
    course = story.course(COURSE_DAY)
    story.enroll(course)
    story.attend(course, P, P)
    story.close(course)
    story.certify()
    sent = story.send_bilan(course)
    assert story.measure.status == MeasureStatus.REPORTED
    return sent


def absence_reported(story: Story) -> datetime:
    course = story.course(COURSE_DAY)
    story.enroll(course)
    story.attend(course, A, A)
    story.close(course)
    sent = story.send_bilan(course)
    assert story.measure.status == MeasureStatus.REPORTED
    return sent


END_STATES: list[Callable[[Story], datetime]] = [
    never_enrolled, excused_never_rescheduled, partly_attended_never_rescheduled,
    absent_never_reported, attestation_never_reported, course_held_never_closed,
    enrolled_after_the_deadline, rescheduled_after_the_deadline, withdrawn,
    withdrawn_after_an_absence, attestation_reported, absence_reported,
]


def purge_at(moment: datetime):
    db.session.commit()
    with time_machine.travel(moment, tick=False):
        run = runner.run_job("purge_expired_data", manual=True)
    assert run.outcome == "success", run.error
    db.session.expire_all()
    return run


def identity(participant_id: int) -> tuple:
    person = db.session.get(Participant, participant_id)
    return person.surname, person.email, person.anonymized_at is not None


@pytest.mark.parametrize("end_state", END_STATES, ids=lambda f: f.__name__)
def test_each_end_state_starts_the_clock(make, team, end_state):
    story = Story(make, team, "DURAND")
    clock_starts = end_state(story)
    person_id = story.measure.participant_id

    purge_at(clock_starts + RETENTION - timedelta(days=1))
    assert identity(person_id) == ("DURAND", "durand@example.org", False)

    run = purge_at(clock_starts + RETENTION + timedelta(days=1))
    assert "personnes anonymisées : 1" in run.counts_text
    assert identity(person_id) == ("", None, True)
    assert db.session.get(LegalMeasure, story.measure.id).case_reference == ""


def test_a_person_is_kept_while_any_of_their_measures_is_open(make, team):
    story = Story(make, team, "MARTIN")
    story.withdraw(paris(date(2026, 4, 1)))
    with time_machine.travel(paris(date(2027, 1, 4)), tick=False):
        make.measure(  # a second measure, a year later: its own deadline
            story.measure.participant, authority=team.authority, handling=team.association,
            decision_date=date(2027, 1, 4), deadline=date(2027, 7, 4),
        )
    second_closes = local_to_utc(date(2027, 7, 5), time(0, 0)) + GRACE

    purge_at(paris(date(2026, 4, 1)) + RETENTION + timedelta(days=30))
    assert identity(story.measure.participant_id)[2] is False
    purge_at(second_closes + RETENTION + timedelta(days=1))
    assert identity(story.measure.participant_id)[2] is True


def test_a_deadline_pushed_back_moves_the_clock(make, team):
    story = Story(make, team, "PETIT")
    with time_machine.travel(paris(date(2026, 6, 1)), tick=False):
        story.measure.deadline = date(2027, 1, 5)
    purge_at(DEADLINE_PASSED + GRACE + RETENTION + timedelta(days=1))
    assert identity(story.measure.participant_id)[2] is False
    purge_at(local_to_utc(date(2027, 1, 6), time(0, 0)) + GRACE + RETENTION + timedelta(days=1))
    assert identity(story.measure.participant_id)[2] is True


def _statistics() -> list:
    """What the statistics read: frames, authorities, dates, statuses and outcomes."""
    return [
        db.session.execute(
            sa.select(LegalMeasure.frame, LegalMeasure.authority_id, LegalMeasure.decision_date,
                      LegalMeasure.deadline, LegalMeasure.status, LegalMeasure.closed_at)
            .order_by(LegalMeasure.id)
        ).all(),
        db.session.execute(
            sa.select(Enrollment.course_id, Enrollment.status).order_by(Enrollment.id)
        ).all(),
        db.session.execute(
            sa.select(AttendanceMark.part_id, AttendanceMark.status).order_by(AttendanceMark.id)
        ).all(),
        db.session.execute(
            sa.select(Certificate.number, Certificate.hours_attended_minutes).order_by(Certificate.id)
        ).all(),
    ]


def test_anonymous_statistics_stay(make, team):
    for number, end_state in enumerate(END_STATES):
        end_state(Story(make, team, f"PERSONNE{number}"))
    db.session.commit()
    before = _statistics()
    run = purge_at(datetime(2035, 1, 1, tzinfo=timezone.utc))
    assert f"personnes anonymisées : {len(END_STATES)}" in run.counts_text
    assert _statistics() == before
    assert not db.session.scalars(
        sa.select(Participant.surname).where(Participant.surname != "")
    ).all()


# ---------------------------------------------------------------------------------------------
# Backups


def test_the_purge_deletes_backups_older_than_their_retention_period(app):
    folder = Path(app.config["BACKUP_DIR"])  # a temporary folder (tests/conftest.py)
    folder.mkdir(parents=True, exist_ok=True)
    now = paris(date(2027, 6, 1), 3, 30)
    keep_days = app.config["RETENTION_BACKUP_DAYS"]
    assert keep_days == 365  # by default the shorter period: the audit log's
    url = db.engine.url

    def taken(moment: datetime, suffix: str = "") -> Path:
        with time_machine.travel(moment, tick=False):
            path = default_backup_path(folder, url)
        path = path.with_name(f"{path.stem}{suffix}{path.suffix}")
        path.write_bytes(b"backup")
        return path

    old = taken(now - timedelta(days=keep_days, hours=1))
    old_safety = taken(now - timedelta(days=400), "-avant-restauration")
    recent = taken(now - timedelta(days=keep_days) + timedelta(hours=1))
    foreign = folder / "stages-notes.txt"
    foreign.write_text("not a backup")

    run = purge_at(now)
    assert "sauvegardes supprimées : 2" in run.counts_text
    assert not old.exists() and not old_safety.exists()
    assert recent.exists() and foreign.exists()


def test_the_purge_erases_the_free_texts_of_the_fee_ledger_and_of_the_incidents(make, team):
    """The accounts still add up (amounts, dates, receipts' numbers stay); a cheque's number, an
    organizer's reason, an invoice line's case reference and an incident's text about the
    person go."""
    from stages.attendance.models import HalfDayIncident, IncidentKind
    from stages.enrollment.ledger.documents import issue_invoices
    from stages.enrollment.ledger.models import FeeInvoiceLine, LedgerEntry, PaymentMethod
    from stages.enrollment.ledger.services import record_payment, record_refund, set_amount_owed
    from stages.enrollment.models import Payer

    story, court_paid = Story(make, team, "DUPONT"), Story(make, team, "MARTIN")
    court_paid.measure.payer = Payer.AUTHORITY
    course = story.course(COURSE_DAY)
    for person in (story, court_paid):
        person.enroll(course)
    for person in (story, court_paid):
        person.attend(course, P, P)
    with time_machine.travel(paris(COURSE_DAY), tick=False):
        for person in (story, court_paid):
            set_amount_owed(person.measure, 18000)
        record_payment(story.measure, 18000, PaymentMethod.CHEQUE, COURSE_DAY, "Chèque 7654321 de M. DUPONT")
        record_refund(story.measure, 2000, PaymentMethod.TRANSFER, COURSE_DAY, reason="Trop-perçu rendu à M. DUPONT")
        issue_invoices(course, by=team.organizer)
        db.session.add(HalfDayIncident(part_id=course.parts[0].id, enrollment_id=story.enrollment.id,
                                       occurred_at=course.parts[0].starts_at, kind=IncidentKind.OTHER,
                                       text="M. DUPONT a quitté la salle.", recorded_by_id=team.organizer.id))
    story.close(course)
    for person in (story, court_paid):
        person.certify()
    story.send_bilan(course)
    db.session.flush()
    assert db.session.scalar(sa.select(FeeInvoiceLine.case_reference)) == court_paid.measure.case_reference != ""
    balance = db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount_cents)))
    purge_at(datetime(2035, 1, 1, tzinfo=timezone.utc))
    db.session.expire_all()
    entries = db.session.scalars(sa.select(LedgerEntry)).all()
    assert db.session.scalar(sa.select(sa.func.sum(LedgerEntry.amount_cents))) == balance
    assert all("DUPONT" not in (e.reference or "") + (e.reason or "") for e in entries)
    assert any(e.receipt_number for e in entries)
    assert db.session.scalar(sa.select(FeeInvoiceLine.case_reference)) == ""
    assert "DUPONT" not in db.session.scalar(sa.select(HalfDayIncident.text))
