"""A seat frees up: the first person on the waitlist is told by email, with their convocation,
once, and only if the change that freed the seat is committed; they become « convoqué·e » only
once the email is sent."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from stages import mail
from stages.auth.models import AuditEntry, Role
from stages.enrollment import convocation, services
from stages.enrollment.models import Enrollment, EnrollmentEvent, EnrollmentStatus
from stages.extensions import db
from stages.jobs import runner
from stages.mail import MailError
from stages.scheduling.models import CourseStatus
from tests.helpers import login, smtp_server

SESSION_DAY = date(2026, 3, 12)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def mailbox(app):
    app.config["MAIL_BACKEND"] = "memory"
    box = mail.outbox()
    box.clear()
    yield box
    box.clear()


@pytest.fixture
def full(make):
    """A one-seat course: DURAND holds the seat, MARTIN (with an address) waits, then BERNARD."""
    org = make.organization(name="APCARS", email="stages@apcars.test")
    organizer = make.user(Role.ORGANIZER, [org])
    course = make.course(make.venue(name="MJD du 17e"), [org], day=SESSION_DAY, capacity=1)

    def enroll(surname, email):
        person = make.participant(surname=surname, email=email, address="3 rue des Lilas",
                                  postal_code="75011", city="Paris", birth_place="Lyon")
        measure = make.measure(person, handling=org, decision_date=date(2026, 1, 10), deadline=date(2026, 7, 10))
        return services.enroll(measure, course, by=organizer).enrollment

    seated = enroll("DURAND", "durand@example.org")
    waiting = enroll("MARTIN", "martin@example.org")
    last = enroll("BERNARD", "bernard@example.org")
    assert waiting.status == last.status == EnrollmentStatus.WAITLISTED
    db.session.commit()
    return {"organizer": organizer, "course": course, "seated": seated, "waiting": waiting, "last": last}


def _to(box, address):
    return [m for m in box if m["To"] == address]


def _reload(enrollment) -> Enrollment:
    db.session.expire_all()
    return db.session.get(Enrollment, enrollment.id)


def test_a_freed_seat_sends_the_promoted_person_their_convocation_once(client, mailbox, full):
    login(client, full["organizer"])
    response = client.post(f"/mesures/{full['seated'].measure_id}/renvoyer", data={"reason": "Décision annulée"})
    assert response.status_code == 302
    [message] = _to(mailbox, "martin@example.org")
    assert message["Subject"] == "Place libérée : convocation au stage de sensibilisation — jeudi 12 mars 2026"
    assert "MARTIN" not in message["Subject"]
    body = message.get_body(("plain",)).get_content()
    assert "Une place s'est libérée" in body and "vous y avez désormais une place" in body
    assert {p.get_filename() for p in message.iter_attachments()} == {"convocation.pdf", "invitation.ics"}
    promoted = _reload(full["waiting"])
    assert promoted.status == EnrollmentStatus.SUMMONED and promoted.convocation_sent_at is not None
    notes = db.session.scalars(sa.select(EnrollmentEvent.note).where(EnrollmentEvent.enrollment_id == promoted.id)
                               .order_by(EnrollmentEvent.id)).all()
    assert notes[-2:] == ["Place libérée : sortie de la liste d'attente.",
                          "Place libérée : convocation envoyée par courriel"]
    assert db.session.scalar(sa.select(sa.func.count()).where(
        AuditEntry.action == "convocation.sent", AuditEntry.object_id == promoted.id)) == 1
    assert _reload(full["last"]).status == EnrollmentStatus.WAITLISTED
    assert _to(mailbox, "bernard@example.org") == []
    # Later runs send nothing more.
    runner.run_job("deliver_outbox", manual=True)
    runner.run_job("send_convocation_reminders", manual=True)
    assert len(_to(mailbox, "martin@example.org")) == 1


def test_nothing_is_sent_for_a_promotion_rolled_back(mailbox, full):
    services.withdraw_measure(full["seated"].measure, "Décision annulée", by=full["organizer"])
    assert full["waiting"].status == EnrollmentStatus.ENROLLED  # in the transaction…
    db.session.rollback()  # …which is abandoned
    runner.run_job("deliver_outbox", manual=True)
    assert mailbox == []
    assert _reload(full["waiting"]).status == EnrollmentStatus.WAITLISTED
    assert db.session.scalar(sa.text("SELECT count(*) FROM outbox")) == 0


def test_a_refused_email_leaves_the_promoted_person_enrolled_until_it_is_sent(app, client, full, time_machine):
    with smtp_server(app, reply="550 refusé") as server:
        login(client, full["organizer"])
        response = client.post(f"/mesures/{full['seated'].measure_id}/renvoyer", data={"reason": "Décision annulée"})
        assert response.status_code == 302  # the withdrawal stands
        assert [e.rcpt_tos for e in server.envelopes] == [["martin@example.org"]]
        promoted = _reload(full["waiting"])
        assert promoted.status == EnrollmentStatus.ENROLLED and promoted.convocation_sent_at is None
        assert "code 550" in db.session.scalar(sa.text("SELECT last_error FROM outbox"))
        server.reply = "250 OK"
        time_machine.move_to(NOW + timedelta(minutes=30), tick=False)
        runner.run_job("deliver_outbox", manual=True)
        runner.run_job("deliver_outbox", manual=True)
    assert [e.rcpt_tos for e in server.envelopes[1:]] == [["martin@example.org"]]
    assert _reload(full["waiting"]).status == EnrollmentStatus.SUMMONED


def test_a_promoted_person_without_an_address_has_a_letter_to_post(make, mailbox, full):
    full["waiting"].measure.participant.email = None
    db.session.commit()
    services.withdraw_measure(full["seated"].measure, "Décision annulée", by=full["organizer"])
    db.session.commit()
    runner.run_job("deliver_outbox", manual=True)
    assert mailbox == []
    promoted = _reload(full["waiting"])
    assert promoted.status == EnrollmentStatus.ENROLLED
    assert promoted in convocation.letters_to_print(promoted.course, posted_only=True)


def test_a_convocation_sent_by_hand_first_is_not_sent_again(mailbox, full):
    services.withdraw_measure(full["seated"].measure, "Décision annulée", by=full["organizer"])
    db.session.commit()  # queued; not sent yet (no web request to send it at once)
    convocation.send_convocation(full["waiting"], by=full["organizer"])
    db.session.commit()
    runner.run_job("deliver_outbox", manual=True)
    [message] = _to(mailbox, "martin@example.org")
    assert message["Subject"].startswith("Convocation à un stage")


def test_a_promotion_in_a_draft_course_queues_nothing(make, mailbox, full):
    full["course"].status = CourseStatus.DRAFT
    db.session.commit()
    services.withdraw_measure(full["seated"].measure, "Décision annulée", by=full["organizer"])
    db.session.commit()
    assert _reload(full["waiting"]).status == EnrollmentStatus.ENROLLED
    assert db.session.scalar(sa.text("SELECT count(*) FROM outbox")) == 0


def test_a_send_failure_in_the_request_never_breaks_the_page(client, monkeypatch, full):
    def broken(message):
        raise MailError()

    monkeypatch.setitem(mail._BACKENDS, "memory", broken)
    login(client, full["organizer"])
    response = client.post(f"/mesures/{full['seated'].measure_id}/renvoyer", data={"reason": "Décision annulée"})
    assert response.status_code == 302
    assert _reload(full["waiting"]).status == EnrollmentStatus.ENROLLED
