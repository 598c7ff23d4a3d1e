"""The outbox: every job's email goes out exactly once — across a crash between the claim and the
send, two schedulers at once, a refusing mail server — and the admin sees it without personal data.
"""
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from stages import create_app, mail
from stages.auth.models import Role
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.extensions import db
from stages.jobs import runner
from stages.mail import MailError
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import today_local
from tests import factories
from tests.conftest import requires_postgres
from tests.helpers import free_port, login, smtp_server

NOW = datetime(2026, 3, 5, 7, 0, tzinfo=timezone.utc)  # Thursday 08:00 in Paris
ROOT = Path(__file__).resolve().parents[2]


class Crash(BaseException):
    """The process dies here (killed, host lost): no ``except Exception`` catches it."""


@pytest.fixture
def mailbox(app):
    app.config["MAIL_BACKEND"] = "memory"
    box = mail.outbox()
    box.clear()
    yield box
    box.clear()


def _reminders(make) -> list[str]:
    """A course in 7 days with two summoned people who have an address (one has none)."""
    assoc = make.organization(name="APCARS")
    with time_machine.travel(NOW - timedelta(days=30), tick=False):
        course = make.course(organizations=[assoc], day=date(2026, 3, 12))
    for i, email in enumerate(["a@example.org", "b@example.org", None]):
        person = make.participant(surname=f"RAPPEL{i}", email=email)
        make.enrollment(make.measure(participant=person, handling=assoc), course,
                        status=EnrollmentStatus.SUMMONED)
    return ["a@example.org", "b@example.org"]


def _digests(make) -> list[str]:
    """Deadlines close or passed: one organizer and two liaisons have a digest to receive."""
    assoc = make.organization()
    parquet_a, parquet_b = make.authority(name="Parquet A"), make.authority(name="Parquet B")
    users = [make.user(Role.ORGANIZER, [assoc]), make.user(Role.LIAISON, [parquet_a]),
             make.user(Role.LIAISON, [parquet_b])]
    make.measure(authority=parquet_a, handling=assoc, decision_date=date(2025, 9, 1), deadline=date(2026, 3, 20))
    make.measure(authority=parquet_b, handling=assoc, decision_date=date(2025, 9, 1), deadline=date(2026, 3, 1))
    return [user.email for user in users]


def _closing(make) -> list[str]:
    """A course held four days ago, not closed: its association has two organizers."""
    assoc = make.organization()
    organizers = [make.user(Role.ORGANIZER, [assoc]), make.user(Role.ORGANIZER, [assoc])]
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        make.course(organizations=[assoc], day=date(2026, 3, 1), status=CourseStatus.HELD)
    return [user.email for user in organizers]


SENDING_JOBS = {
    "send_convocation_reminders": _reminders,
    "send_deadline_digests": _digests,
    "send_closing_reminders": _closing,
}


def _crash_on_second_send(box):
    def backend(message):
        if box:
            raise Crash()
        box.append(message)

    return backend


def _process_dies():
    """What a dead process leaves: its last commit, nothing of its open transaction."""
    db.session.rollback()
    db.session.remove()


@pytest.mark.parametrize("job", SENDING_JOBS)
def test_a_crash_between_claim_and_send_loses_nothing_and_sends_nothing_twice(
    monkeypatch, mailbox, make, job
):
    expected = SENDING_JOBS[job](make)
    db.session.commit()
    monkeypatch.setitem(mail._BACKENDS, "memory", _crash_on_second_send(mailbox))
    with time_machine.travel(NOW, tick=False), pytest.raises(Crash):
        runner.run_job(job)
    _process_dies()
    monkeypatch.undo()
    assert len(mailbox) == 1
    # A minute later, the message being sent when the process died is still held by its claim
    # (that process could still be talking to the mail server); the others go.
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        runner.run_job(job, manual=True)
    assert len(mailbox) == len(expected) - 1
    # Once the claim is older than a few minutes, a later run sends it; later runs send nothing.
    for minutes in (15, 16, 90):
        with time_machine.travel(NOW + timedelta(minutes=minutes), tick=False):
            runner.run_job(job, manual=True)
    assert sorted(m["To"] for m in mailbox) == sorted(expected)


def test_the_hourly_outbox_job_sends_what_a_crash_left(monkeypatch, mailbox, make):
    expected = _reminders(make)
    db.session.commit()
    monkeypatch.setitem(mail._BACKENDS, "memory", _crash_on_second_send(mailbox))
    with time_machine.travel(NOW, tick=False), pytest.raises(Crash):
        runner.run_job("send_convocation_reminders")
    _process_dies()
    monkeypatch.undo()
    with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
        run = runner.run_job("deliver_outbox")
        runner.run_job("deliver_outbox", manual=True)
    assert run.outcome == "success" and "courriels envoyés : 1" in run.counts_text
    assert sorted(m["To"] for m in mailbox) == sorted(expected)
    # The reminders are recorded as sent: the next day's run does not queue them again.
    sent = db.session.scalars(sa.select(Enrollment.reminder_7d_sent_at).where(
        Enrollment.reminder_7d_sent_at.is_not(None))).all()
    assert len(sent) == 2
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        runner.run_job("send_convocation_reminders")
    assert len(mailbox) == 2


class _KillingCollector:
    """An SMTP server that accepts messages, except that it kills the sending process when the
    second one arrives — before answering, so that message was never accepted."""

    def __init__(self):
        self.accepted = []
        self.victim = None
        self.seen = 0

    async def handle_DATA(self, server, session, envelope):
        self.seen += 1
        if self.victim is not None and self.seen == 2:
            os.kill(self.victim, signal.SIGKILL)
            time.sleep(0.5)
            return "451 aborted"
        self.accepted.append(envelope)
        return "250 OK"


def test_a_scheduler_killed_after_the_claim_loses_no_reminder(tmp_path):
    """The real thing: ``flask stages jobs run`` killed (SIGKILL) while the mail server holds the
    second reminder; a later run on the same database sends it, and nothing twice."""
    from aiosmtpd.controller import Controller

    url = f"sqlite:///{tmp_path / 'killed.sqlite3'}"
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with other.app_context():
        from flask_migrate import upgrade

        upgrade()
        assoc = factories.organization(name="APCARS")
        course = factories.course(organizations=[assoc], day=today_local() + timedelta(days=7))
        for email in ("un@example.org", "deux@example.org"):
            factories.enrollment(factories.measure(participant=factories.participant(email=email), handling=assoc),
                                 course, status=EnrollmentStatus.SUMMONED)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    collector = _KillingCollector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    smtp = {"STAGES_MAIL_BACKEND": "smtp", "STAGES_SMTP_HOST": "127.0.0.1", "STAGES_SMTP_PORT": str(controller.port)}
    env = {**os.environ, "DATABASE_URL": url, "STAGES_INSTANCE_DIR": str(tmp_path), "SECRET_KEY": "kill-test", **smtp}
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "stages", "jobs", "run", "send_convocation_reminders"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        collector.victim = process.pid
        output = process.communicate(timeout=60)[0].decode(errors="replace")
        assert process.returncode == -signal.SIGKILL, output
        assert len(collector.accepted) == 1
        later = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "MAIL_BACKEND": "smtp",
                            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": controller.port, "SECRET_KEY": "kill-test"})
        with later.app_context(), time_machine.travel(datetime.now(timezone.utc) + timedelta(minutes=15)):
            runner.run_job("send_convocation_reminders", manual=True)
            runner.run_job("send_convocation_reminders", manual=True)
            db.session.remove()
            db.engine.dispose()
    finally:
        controller.stop()
    recipients = sorted(rcpt for envelope in collector.accepted for rcpt in envelope.rcpt_tos)
    assert recipients == ["deux@example.org", "un@example.org"]


@requires_postgres
def test_two_schedulers_running_every_sending_job_at_once_send_each_message_once(app, monkeypatch, mailbox, make):
    expected = [email for build in SENDING_JOBS.values() for email in build(make)]
    db.session.commit()
    lock = threading.Lock()

    def slow_backend(message):  # keeps both schedulers sending at the same time
        time.sleep(0.05)
        with lock:
            mailbox.append(message)

    monkeypatch.setitem(mail._BACKENDS, "memory", slow_backend)
    barrier = threading.Barrier(2, timeout=20)
    errors = []

    def scheduler():
        with app.app_context():
            try:
                barrier.wait()
                for job in SENDING_JOBS:
                    runner.run_job(job, manual=True)  # a slot of its own: both run every job
            except Exception as error:  # noqa: BLE001
                errors.append(error)

    with time_machine.travel(NOW, tick=True):
        threads = [threading.Thread(target=scheduler) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert errors == []
    assert sorted(m["To"] for m in mailbox) == sorted(expected)


@requires_postgres
def test_two_outbox_runs_at_once_send_each_due_message_once(app, monkeypatch, mailbox, make):
    expected = _reminders(make)
    db.session.commit()

    def refuse(message):
        raise MailError()

    monkeypatch.setitem(mail._BACKENDS, "memory", refuse)
    with time_machine.travel(NOW, tick=False):
        runner.run_job("send_convocation_reminders")  # both refused: both due again later
    monkeypatch.undo()
    monkeypatch.setitem(mail._BACKENDS, "memory", lambda message: (time.sleep(0.05), mailbox.append(message)))
    barrier = threading.Barrier(2, timeout=20)

    def outbox_run():
        with app.app_context():
            barrier.wait()
            runner.run_job("deliver_outbox", manual=True)

    with time_machine.travel(NOW + timedelta(minutes=30), tick=True):
        threads = [threading.Thread(target=outbox_run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert sorted(m["To"] for m in mailbox) == sorted(expected)


def test_a_refused_send_stays_due_is_retried_and_its_error_shown_to_admins(app, client, make):
    expected = _reminders(make)
    db.session.commit()
    with smtp_server(app, reply="550 refusé") as server:
        with time_machine.travel(NOW, tick=False):
            run = runner.run_job("send_convocation_reminders")
        assert run.outcome == "failure" and "retentés" in run.error
        assert len(server.envelopes) == 2  # both tried, both refused
        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count()).where(Enrollment.reminder_7d_sent_at.is_not(None))) == 0
        # The error is recorded without the address or the server's words, and shown to admins.
        errors = db.session.scalars(sa.text("SELECT last_error FROM outbox")).all()
        assert len(errors) == 2 and all("code 550" in e and "@" not in e and "refusé" not in e for e in errors)
        with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
            login(client, make.user(Role.ADMIN))
            html = client.get("/admin/taches").get_data(as_text=True)
        assert "Rappels de convocation" in html and "2 en échec" in html and "code 550" in html
        assert "example.org" not in html and "RAPPEL" not in html
        # Not hammered: the next attempt waits for its back-off.
        with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
            runner.run_job("deliver_outbox", manual=True)
        assert len(server.envelopes) == 2
        server.reply = "250 OK"
        with time_machine.travel(NOW + timedelta(minutes=20), tick=False):
            run = runner.run_job("deliver_outbox")
            runner.run_job("deliver_outbox", manual=True)
    assert run.outcome == "success"
    assert sorted(rcpt for e in server.envelopes[2:] for rcpt in e.rcpt_tos) == sorted(expected)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(Enrollment.reminder_7d_sent_at.is_not(None))) == 2
    assert db.session.scalars(sa.text("SELECT last_error FROM outbox")).all() == [None, None]
    with time_machine.travel(NOW + timedelta(minutes=21), tick=False):
        login(client, make.user(Role.ADMIN))
        html = client.get("/admin/taches").get_data(as_text=True)
    assert "2 en échec" not in html and "code 550" not in html


def test_a_message_that_no_longer_applies_is_dropped_not_sent(monkeypatch, mailbox, make):
    _reminders(make)
    db.session.commit()
    monkeypatch.setitem(mail._BACKENDS, "memory", lambda message: (_ for _ in ()).throw(MailError()))
    with time_machine.travel(NOW, tick=False):
        runner.run_job("send_convocation_reminders")
    monkeypatch.undo()
    course = db.session.scalars(sa.select(Course)).one()
    course.status = CourseStatus.CANCELLED
    db.session.commit()
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        run = runner.run_job("deliver_outbox")
    assert mailbox == []
    assert "courriels devenus sans objet : 2" in run.counts_text
    assert db.session.scalar(sa.text("SELECT count(*) FROM outbox")) == 0


def test_a_late_reminder_says_when_the_course_really_is(monkeypatch, mailbox, make):
    _reminders(make)
    db.session.commit()
    monkeypatch.setitem(mail._BACKENDS, "memory", lambda message: (_ for _ in ()).throw(MailError()))
    with time_machine.travel(NOW, tick=False):
        runner.run_job("send_convocation_reminders")  # « dans 7 jours », refused
    monkeypatch.undo()
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        runner.run_job("deliver_outbox")
    assert len(mailbox) == 2
    assert all("a lieu dans 5 jours" in m.get_body(("plain",)).get_content() for m in mailbox)


def test_each_logical_message_keeps_one_message_id(monkeypatch, mailbox, make):
    """A repeat after an unrecorded acceptance carries the same Message-ID: mail clients can tell."""
    _reminders(make)
    db.session.commit()
    seen = []

    def accept_then_lose_it(message):
        seen.append(message["Message-ID"])
        raise Crash()

    monkeypatch.setitem(mail._BACKENDS, "memory", accept_then_lose_it)
    with time_machine.travel(NOW, tick=False), pytest.raises(Crash):
        runner.run_job("send_convocation_reminders")
    _process_dies()
    monkeypatch.undo()
    with time_machine.travel(NOW + timedelta(minutes=15), tick=False):
        runner.run_job("deliver_outbox")
    assert seen[0] in {m["Message-ID"] for m in mailbox}
    assert len({m["Message-ID"] for m in mailbox}) == 2


def test_sent_messages_are_purged_after_thirty_days(mailbox, make):
    _reminders(make)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        runner.run_job("send_convocation_reminders")
    assert db.session.scalar(sa.text("SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL")) == 2
    with time_machine.travel(NOW + timedelta(days=29), tick=False):
        runner.run_job("purge_expired_data")
    assert db.session.scalar(sa.text("SELECT count(*) FROM outbox")) == 2
    with time_machine.travel(NOW + timedelta(days=31), tick=False):
        run = runner.run_job("purge_expired_data")
    assert "courriels envoyés oubliés : 2" in run.counts_text
    assert db.session.scalar(sa.text("SELECT count(*) FROM outbox")) == 0


def test_the_outbox_stores_no_personal_data(mailbox, make):
    _reminders(make)
    _digests(make)
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        runner.run_job("send_convocation_reminders")
        runner.run_job("send_deadline_digests")
    rows = db.session.execute(sa.text("SELECT * FROM outbox")).all()
    assert len(rows) == 5
    stored = " ".join(str(value) for row in rows for value in row)
    assert "@" not in stored and "RAPPEL" not in stored and "DUPONT" not in stored


def test_every_kind_of_message_is_registered_in_the_web_app():
    from stages.outbox import KINDS

    assert set(KINDS) == {
        "convocation_reminder", "deadline_digest", "closing_reminder", "bilan_reminder",
        "waitlist_promotion", "sms_convocation", "sms_reminder", "report_transmission",
        "evaluation_after",
    }
