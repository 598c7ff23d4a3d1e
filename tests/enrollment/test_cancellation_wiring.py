"""Cancelling a session or withdrawing a measure withdraws the emailed convocation (METHOD:CANCEL)."""
from datetime import timedelta

import icalendar

from stages.auth.models import Role
from stages.enrollment.models import EnrollmentStatus
from stages.timeutil import now_utc, today_local
from tests.helpers import login


def _summoned(make, course, assoc, email):
    measure = make.measure(participant=make.participant(email=email), handling=assoc)
    return make.enrollment(measure, course, status=EnrollmentStatus.SUMMONED,
                           convocation_sent_at=now_utc())


def _method(message):
    for part in message.iter_attachments():
        if part.get_filename() == "invitation.ics":
            return str(icalendar.Calendar.from_ical(part.get_content())["METHOD"])
    return None


def test_cancelling_a_course_sends_cancellations(app, client, make):
    assoc = make.organization()
    course = make.course(organizations=[assoc], day=today_local() + timedelta(days=10))
    _summoned(make, course, assoc, "a@example.org")
    _summoned(make, course, assoc, "b@example.org")
    login(client, make.user(Role.ORGANIZER, [assoc]))
    client.post(f"/stages/{course.id}/annuler", data={"reason": "Salle indisponible"})
    outbox = app.extensions["mail_outbox"]
    assert sorted(m["To"] for m in outbox) == ["a@example.org", "b@example.org"]
    assert {_method(m) for m in outbox} == {"CANCEL"}


def test_withdrawing_a_measure_sends_a_cancellation(app, client, make):
    assoc = make.organization()
    course = make.course(organizations=[assoc], day=today_local() + timedelta(days=10))
    enrollment = _summoned(make, course, assoc, "c@example.org")
    login(client, make.user(Role.ORGANIZER, [assoc]))
    client.post(f"/mesures/{enrollment.measure_id}/renvoyer", data={"reason": "Décision annulée"})
    outbox = app.extensions["mail_outbox"]
    assert [m["To"] for m in outbox] == ["c@example.org"] and _method(outbox[0]) == "CANCEL"
