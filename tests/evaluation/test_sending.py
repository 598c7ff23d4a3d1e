"""The « après » link by email after the course: once per person however often it is asked,
nothing for those who answered, a subject that names nobody, a link that works."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
import time_machine

from stages import outbox
from stages.evaluation import sending
from stages.evaluation.models import Moment
from stages.extensions import db
from stages.mail import outbox as sent_mail
from stages.outbox import OutboxMessage
from tests.evaluation.helpers import EVENING, MORNING, course_with_people, form_for, questionnaire_of
from tests.helpers import login


def test_the_after_link_is_emailed_once_to_those_who_have_not_answered(app, client, make):
    course, people, organizer, _f = course_with_people(make, people=3)
    questionnaire = questionnaire_of(course, Moment.AFTER)
    with time_machine.travel(EVENING, tick=False):
        from stages.evaluation import answering

        answering.record_response(course, people[0], questionnaire,
                                  answering.read_answers(questionnaire, form_for(questionnaire)))
        db.session.commit()
        login(client, organizer)
        for _ in range(2):
            assert client.post(f"/stages/{course.id}/questionnaire/apres/envoyer").status_code == 302
        outbox.deliver(kinds=[sending.KIND])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 2
    messages = [m for m in sent_mail() if m["Subject"] == sending.SUBJECT]
    assert sorted(m["To"] for m in messages) == ["p1@example.org", "p2@example.org"]
    body = messages[0].get_content()
    link = next(line for line in body.splitlines() if "/e/" in line)
    assert "DURAND" not in body and "DURAND" not in messages[0]["Subject"]
    with time_machine.travel(EVENING + timedelta(hours=1), tick=False):
        person = app.test_client()  # the person's phone: no login
        assert person.get(link.replace("http://stages.test", "")).status_code == 200


def test_the_link_is_not_sent_before_the_course_is_over(client, make):
    course, _people, organizer, _f = course_with_people(make)
    with time_machine.travel(MORNING, tick=False):
        login(client, organizer)
        response = client.post(f"/stages/{course.id}/questionnaire/apres/envoyer", follow_redirects=True)
    assert "une fois le stage terminé" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
