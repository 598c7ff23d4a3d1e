"""Scheduled jobs: exactly once per slot, reminders, failures recorded, retention purge."""
import threading
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.attendance.models import AttendanceMark, AttendanceStatus
from stages.auth.models import AuditEntry, Role
from stages.calendar_feeds.models import CachedFeed
from stages.enrollment import services
from stages.enrollment.models import Enrollment, EnrollmentStatus, LegalFrame, LegalMeasure, MeasureStatus, Participant
from stages.extensions import db
from stages.jobs import runner
from stages.jobs.models import JobRun
from stages.jobs.registry import JOBS
from stages import mail
from stages.mail import MailError
from stages.scheduling.models import Course, CourseStatus
from tests.conftest import requires_postgres
from tests.helpers import login

NOW = datetime(2026, 3, 5, 7, 0, tzinfo=timezone.utc)  # Thursday 08:00 in Paris


@pytest.fixture
def outbox(app):
    app.config["MAIL_BACKEND"] = "memory"
    box = app.extensions.setdefault("mail_outbox", [])
    box.clear()
    yield box
    box.clear()


@pytest.fixture
def week_ahead(make):
    """A session in 7 days with three summoned people (one without email) and one waitlisted."""
    assoc = make.organization(name="APCARS")
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        course = make.course(organizations=[assoc], day=date(2026, 3, 12))
    people = []
    for i, email in enumerate(["a@example.org", "b@example.org", None]):
        person = make.participant(surname=f"RAPPEL{i}", email=email)
        people.append(make.enrollment(make.measure(participant=person, handling=assoc), course,
                                      status=EnrollmentStatus.SUMMONED))
    make.enrollment(make.measure(participant=make.participant(email="w@example.org")), course,
                    status=EnrollmentStatus.WAITLISTED, waitlist_position=1)
    db.session.commit()
    return course, people


def test_a_course_in_seven_days_gets_one_reminder_per_person_even_run_twice(outbox, week_ahead):
    with time_machine.travel(NOW, tick=False):
        first = runner.run_job("send_convocation_reminders")
        again = runner.run_job("send_convocation_reminders")
        manual = runner.run_job("send_convocation_reminders", manual=True)
    assert first.outcome == "success" and again is None and manual.outcome == "success"
    assert sorted(m["To"] for m in outbox) == ["a@example.org", "b@example.org"]
    message = outbox[0]
    assert message["Subject"].startswith("Rappel : stage de sensibilisation")
    assert "RAPPEL" not in message["Subject"]
    assert any(part.get_filename() == "invitation.ics" for part in message.iter_attachments())
    db.session.expire_all()
    sent = db.session.scalars(sa.select(Enrollment.reminder_7d_sent_at).where(Enrollment.reminder_7d_sent_at.is_not(None))).all()
    assert len(sent) == 2
    # The day before, the 1-day reminder goes out once too.
    with time_machine.travel(datetime(2026, 3, 11, 7, 0, tzinfo=timezone.utc), tick=False):
        runner.run_job("send_convocation_reminders")
        runner.run_job("send_convocation_reminders", manual=True)
    assert len(outbox) == 4


@requires_postgres
def test_two_scheduler_instances_at_once_send_once(app, outbox, week_ahead):
    barrier = threading.Barrier(2, timeout=20)
    results = []

    def scheduler_instance():
        with app.app_context():
            barrier.wait()
            results.append(runner.run_job("send_convocation_reminders", at=NOW))

    with time_machine.travel(NOW, tick=True):
        threads = [threading.Thread(target=scheduler_instance) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert sum(r is not None for r in results) == 1
    assert len(outbox) == 2


def test_manual_runs_racing_still_send_once(app, outbox, week_ahead):
    """Even two runs with slots of their own claim each reminder before sending it."""
    barrier = threading.Barrier(2, timeout=20)

    def manual_run():
        with app.app_context():
            barrier.wait()
            runner.run_job("send_convocation_reminders", manual=True)

    with time_machine.travel(NOW, tick=True):
        threads = [threading.Thread(target=manual_run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(outbox) == 2


def test_a_refusing_smtp_server_leaves_the_reminder_due(monkeypatch, outbox, week_ahead):
    def refuse(message):
        raise MailError("550 refusé")

    monkeypatch.setitem(mail._BACKENDS, "memory", refuse)
    with time_machine.travel(NOW, tick=False):
        run = runner.run_job("send_convocation_reminders")
    assert run.outcome == "failure" and "retentés" in run.error
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Enrollment.reminder_7d_sent_at.is_not(None))) == 0
    monkeypatch.undo()
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        run = runner.run_job("send_convocation_reminders")
    assert run.outcome == "success" and len(outbox) == 2


def test_a_failing_job_is_recorded_and_the_next_one_runs(monkeypatch, make):
    def boom():
        raise RuntimeError("base indisponible")

    monkeypatch.setattr("stages.jobs.tasks.send_deadline_digests", boom)
    with time_machine.travel(NOW, tick=False):
        failed = runner.run_job("send_deadline_digests")
        ok = runner.run_job("mark_courses_held")
    assert failed.outcome == "failure" and "base indisponible" in failed.error
    assert ok.outcome == "success"
    runs = db.session.scalars(sa.select(JobRun.outcome).order_by(JobRun.id)).all()
    assert runs == ["failure", "success"]


def test_finished_courses_become_held(make):
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        past = make.course(day=date(2026, 3, 2))
        future = make.course(day=date(2026, 3, 20))
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        run = runner.run_job("mark_courses_held")
    assert "1" in run.counts_text
    assert db.session.get(Course, past.id).status == CourseStatus.HELD
    assert db.session.get(Course, future.id).status == CourseStatus.SCHEDULED


def test_deadline_digest_goes_to_organizers_and_liaisons_of_their_scope(outbox, make):
    assoc = make.organization(name="APCARS")
    parquet_a, parquet_b = make.authority(name="Parquet A"), make.authority(name="Parquet B")
    organizer = make.user(Role.ORGANIZER, [assoc])
    liaison_a = make.user(Role.LIAISON, [parquet_a])
    liaison_b = make.user(Role.LIAISON, [parquet_b])
    soon = make.measure(authority=parquet_a, handling=assoc, decision_date=date(2025, 9, 1), deadline=date(2026, 3, 20))
    passed = make.measure(authority=parquet_b, handling=assoc, decision_date=date(2025, 9, 1), deadline=date(2026, 3, 1))
    make.measure(authority=parquet_a, handling=assoc, decision_date=date(2026, 1, 1), deadline=date(2026, 9, 1))
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        run = runner.run_job("send_deadline_digests")
    assert run.outcome == "success"
    by_recipient = {m["To"]: m.get_content() for m in outbox}
    assert set(by_recipient) == {organizer.email, liaison_a.email, liaison_b.email}
    assert soon.case_reference in by_recipient[liaison_a.email]
    assert passed.case_reference not in by_recipient[liaison_a.email]
    assert passed.case_reference in by_recipient[liaison_b.email] and "dépassée" in by_recipient[liaison_b.email]
    assert soon.participant.surname not in by_recipient[organizer.email]
    assert all("DUPONT" not in m["Subject"] for m in outbox)


def test_the_digest_lists_waitlisted_measures_as_on_the_waiting_list(outbox, make):
    """A waitlist place holds no seat: the deadline is as much at risk as with no course at all."""
    assoc, parquet = make.organization(name="APCARS"), make.authority(name="Parquet A")
    organizer, liaison = make.user(Role.ORGANIZER, [assoc]), make.user(Role.LIAISON, [parquet])
    with time_machine.travel(NOW - timedelta(days=20), tick=False):
        course = make.course(organizations=[assoc], day=date(2026, 3, 12), capacity=1)
    seated, waiting, unbooked = (
        make.measure(authority=parquet, handling=assoc, decision_date=date(2025, 9, 1), deadline=day)
        for day in (date(2026, 3, 15), date(2026, 3, 16), date(2026, 3, 17))
    )
    with time_machine.travel(NOW, tick=False):
        assert not services.enroll(seated, course, by=organizer).waitlisted
        assert services.enroll(waiting, course, by=organizer).waitlisted
        db.session.commit()
        run = runner.run_job("send_deadline_digests")
    assert run.outcome == "success"
    for recipient in (organizer, liaison):
        [body] = [m.get_content() for m in outbox if m["To"] == recipient.email]
        lines = {m.case_reference: next((line for line in body.splitlines() if m.case_reference in line), None)
                 for m in (seated, waiting, unbooked)}
        assert lines[seated.case_reference] is None  # a seat: nothing to watch here
        assert lines[waiting.case_reference].endswith("sur liste d'attente")
        assert "liste d'attente" not in lines[unbooked.case_reference]


def test_closing_reminder_once(outbox, make):
    assoc = make.organization()
    organizer = make.user(Role.ORGANIZER, [assoc])
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        make.course(organizations=[assoc], day=date(2026, 3, 2), status=CourseStatus.HELD)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        runner.run_job("send_closing_reminders")
        runner.run_job("send_closing_reminders", manual=True)
    assert [m["To"] for m in outbox] == [organizer.email]
    assert "à clôturer" in outbox[0]["Subject"]


def _closed_measure(make, closed_at, frame, surname):
    person = make.participant(surname=surname, email=f"{surname.lower()}@example.org")
    measure = make.measure(participant=person, frame=frame, decision_date=closed_at.date() - timedelta(days=90),
                           status=MeasureStatus.REPORTED, closed_at=closed_at)
    return measure


def _stats():
    return db.session.execute(
        sa.select(sa.func.count(), LegalMeasure.frame).group_by(LegalMeasure.frame).order_by(LegalMeasure.frame)
    ).all()


def test_retention_purge_anonymizes_exactly_what_is_past_retention(client, make):
    old = _closed_measure(make, datetime(2022, 6, 1, tzinfo=timezone.utc), LegalFrame.COMPOSITION_PENALE, "ANCIEN")
    recent = _closed_measure(make, datetime(2025, 6, 1, tzinfo=timezone.utc), LegalFrame.PEINE_STAGE, "RECENT")
    # A person with an old closed measure and a newer open one keeps their identity.
    mixed = _closed_measure(make, datetime(2022, 1, 1, tzinfo=timezone.utc), LegalFrame.SURSIS_PROBATOIRE, "MIXTE")
    make.measure(participant=mixed.participant)
    course = make.course(day=date(2022, 5, 5))
    enrollment = make.enrollment(old, course, status=EnrollmentStatus.ATTENDED)
    db.session.add(AttendanceMark(enrollment_id=enrollment.id, part_id=course.parts[0].id,
                                  status=AttendanceStatus.LATE, note="Arrivé avec M. ANCIEN père"))
    db.session.add(AuditEntry(action="participant.viewed", at=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    db.session.add(AuditEntry(action="participant.viewed", at=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    db.session.commit()
    before = _stats()
    with time_machine.travel(NOW, tick=False):
        run = runner.run_job("purge_expired_data")
    assert run.outcome == "success"
    assert "personnes anonymisées : 1" in run.counts_text
    assert "entrées du journal supprimées : 1" in run.counts_text
    db.session.expire_all()
    assert db.session.get(Participant, old.participant_id).anonymized_at is not None
    assert db.session.get(Participant, old.participant_id).surname == ""
    assert db.session.get(LegalMeasure, old.id).case_reference == ""
    assert db.session.scalars(sa.select(AttendanceMark.note)).one() is None
    assert db.session.get(Participant, recent.participant_id).surname == "RECENT"
    assert db.session.get(Participant, mixed.participant_id).surname == "MIXTE"
    assert _stats() == before
    login(client, make.user(Role.ADMIN))
    html = client.get(f"/personnes/{old.participant_id}").get_data(as_text=True)
    assert "ANCIEN" not in html and "anonymisée" in html


def test_retention_purge_deletes_the_feed_bodies_no_request_can_be_served(client, make):
    org = make.organization()
    facilitator = make.user(Role.FACILITATOR, [org])
    make.course(facilitators=[facilitator])
    url = f"/agenda/{facilitator.feed_token}/mes-stages.ics"
    with time_machine.travel(NOW - timedelta(days=1), tick=False):
        assert client.get(url).status_code == 200
    with time_machine.travel(NOW, tick=False):
        run = runner.run_job("purge_expired_data")
        assert run.outcome == "success"
        # Built yesterday: its validator held yesterday's window, no request can match it.
        assert "flux d'agenda en cache oubliés : 1" in run.counts_text
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CachedFeed)) == 0
        assert client.get(url).status_code == 200  # built again, today's
        run = runner.run_job("purge_expired_data", manual=True)
        assert "flux d'agenda en cache oubliés : 0" in run.counts_text
        assert db.session.scalar(sa.select(sa.func.count()).select_from(CachedFeed)) == 1


def test_jobs_cli_and_admin_page(client, runner, make):
    result = runner.invoke(args=["stages", "jobs", "list"])
    assert result.exit_code == 0 and all(name in result.output for name in JOBS)
    result = runner.invoke(args=["stages", "jobs", "run", "mark_courses_held"])
    assert result.exit_code == 0 and "réussie" in result.output
    login(client, make.user(Role.ADMIN))
    html = client.get("/admin/taches").get_data(as_text=True)
    assert "mark_courses_held" in html and "Réussie" in html
    client.post("/deconnexion")
    login(client, make.user(Role.ORGANIZER, [make.organization()]))
    assert client.get("/admin/taches").status_code == 403


def test_no_job_runs_between_two_and_three():
    for job in JOBS.values():
        for day in (date(2026, 3, 28), date(2026, 10, 24)):  # the nights the clocks change
            start = datetime.combine(day, time(12, 0), tzinfo=timezone.utc)
            moment = start
            for _ in range(30):
                moment = job.trigger().get_next_fire_time(None, moment)
                local = moment.astimezone(job.trigger().timezone)
                assert not (2 <= local.hour < 3), (job.name, local)
                moment = moment + timedelta(minutes=1)
