"""Answering: by the person's link on a phone, and on the facilitator's tablet; once per person
and moment, even when the same answer is sent twice at once; the questionnaire's versions."""
from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient

from stages.enrollment.confirmation.links import format_code
from stages.enrollment.models import EnrollmentStatus
from stages.evaluation import answering
from stages.evaluation.models import (
    EvaluationAnswer,
    EvaluationMarker,
    EvaluationResponse,
    ItemKind,
    Moment,
    Questionnaire,
)
from stages.evaluation.questionnaires import ItemInput, save_questionnaire
from stages.extensions import db
from stages.scheduling.models import CourseStatus
from tests.evaluation.helpers import EVENING, MORNING, code_of, course_with_people, form_for, questionnaire_of
from tests.helpers import login


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_phone_page_shows_the_questions_and_no_personal_data(client, make):
    course, (enrollment, *_), _o, _f = course_with_people(make)
    code = format_code(code_of(enrollment))
    with time_machine.travel(MORNING, tick=False):
        response = client.get(f"/e/{code}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Je sais pourquoi je participe à ce stage." in page
    for personal in ("DURAND0", "Jean", "p0@example.org", course.venue.name, course.venue.address):
        assert personal not in page
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_an_answer_by_phone_is_recorded_once(client, make):
    course, (enrollment, *_), _o, _f = course_with_people(make)
    questionnaire = questionnaire_of(course)
    code = format_code(code_of(enrollment))
    data = form_for(questionnaire, value=5)
    with time_machine.travel(MORNING, tick=False):
        first = client.post(f"/e/{code}", data=data)
        again = client.post(f"/e/{code}", data=form_for(questionnaire, value=1))
        thanks = client.get(f"/e/{code}")
    assert first.status_code == 303
    assert again.status_code == 200 and "Vos réponses sont enregistrées" in again.get_data(as_text=True)
    assert "Vos réponses sont enregistrées" in thanks.get_data(as_text=True)
    assert _count(EvaluationResponse) == 1 and _count(EvaluationMarker) == 1
    values = set(db.session.scalars(sa.select(EvaluationAnswer.value).where(EvaluationAnswer.value.is_not(None))))
    assert values == {5}
    assert db.session.scalar(sa.select(EvaluationResponse.course_id)) == course.id


def test_an_incomplete_answer_is_refused_in_french_and_writes_nothing(client, make):
    course, (enrollment, *_), _o, _f = course_with_people(make)
    questionnaire = questionnaire_of(course)
    data = form_for(questionnaire)
    first_scale = next(i for i in questionnaire.items if i.kind == ItemKind.LIKERT)
    data[f"item-{first_scale.id}"] = "9"
    with time_machine.travel(MORNING, tick=False):
        response = client.post(f"/e/{format_code(code_of(enrollment))}", data=data)
    assert response.status_code == 400
    assert "Répondez à chaque question" in response.get_data(as_text=True)
    assert _count(EvaluationMarker) == 0 and _count(EvaluationResponse) == 0


def test_the_link_needs_the_csrf_token(client, make, csrf_enabled):
    course, (enrollment, *_), _o, _f = course_with_people(make)
    with time_machine.travel(MORNING, tick=False):
        response = client.post(f"/e/{format_code(code_of(enrollment))}", data=form_for(questionnaire_of(course)))
    assert response.status_code == 400
    assert _count(EvaluationMarker) == 0


def test_closed_and_unknown_links(client, make):
    course, (enrollment, other, third), _o, _f = course_with_people(make)
    before, after = format_code(code_of(enrollment)), format_code(code_of(enrollment, Moment.AFTER))
    with time_machine.travel(EVENING, tick=False):
        assert client.get(f"/e/{before}").status_code == 410  # « avant » closes after the first half-day
        assert client.get(f"/e/{after}").status_code == 200
    with time_machine.travel(EVENING + timedelta(days=31), tick=False):
        assert client.get(f"/e/{after}").status_code == 410
    assert client.get("/e/0000-0000-0000-0000").status_code == 404
    assert client.get("/e/pas-un-code").status_code == 404
    other.status = EnrollmentStatus.WITHDRAWN
    code = format_code(code_of(other))
    course_two = format_code(code_of(third))
    with time_machine.travel(MORNING, tick=False):
        assert client.get(f"/e/{code}").status_code == 410
        course.status = CourseStatus.CANCELLED
        db.session.commit()
        assert client.get(f"/e/{course_two}").status_code == 410


def test_the_same_answer_sent_twice_at_once_is_recorded_once(app, make, monkeypatch):
    """Both requests pass the « already answered? » check before either writes: the marker's
    primary key lets one through (PostgreSQL and SQLite)."""
    course, (enrollment, *_), _o, _f = course_with_people(make)
    questionnaire = questionnaire_of(course)
    url, data = f"/e/{format_code(code_of(enrollment))}", form_for(questionnaire)
    db.session.commit()
    barrier, calls = threading.Barrier(2, timeout=20), threading.local()
    original = answering.answered

    def check_then_wait(*args):
        found = original(*args)
        calls.n = getattr(calls, "n", 0) + 1
        if calls.n == 2:  # the check in record_response (the first is the page's)
            barrier.wait()
        return found

    monkeypatch.setattr(answering, "answered", check_then_wait)
    codes = []

    def answer():
        with time_machine.travel(MORNING, tick=False):
            response = FlaskClient(app, app.response_class).post(url, data=data)
            codes.append((response.status_code, response.get_data(as_text=True)))

    threads = [threading.Thread(target=answer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # The loser's transaction is refused whole; its page says the questionnaire is answered.
    assert sorted(code for code, _ in codes) == [200, 303], [(c, b[:300]) for c, b in codes]
    assert "Vos réponses sont enregistrées" in next(body for code, body in codes if code == 200)
    db.session.expire_all()
    assert _count(EvaluationMarker) == 1 and _count(EvaluationResponse) == 1


def test_the_tablet_shows_numbers_not_names_and_comes_back_to_a_neutral_screen(client, make):
    course, people, _organizer, facilitator = course_with_people(make, people=3)
    questionnaire = questionnaire_of(course)
    start = f"/stages/{course.id}/questionnaire/avant"
    with time_machine.travel(MORNING, tick=False):
        login(client, facilitator)
        page = client.get(start + "/repondre").get_data(as_text=True)
        assert '<option value="2">2</option>' in page
        assert not any(f"DURAND{i}" in page for i in range(3))
        response = client.post(start + "/repondre", data={"numero": "2", **form_for(questionnaire)})
        assert response.status_code == 302 and response.headers["Location"].endswith(start)
        neutral = client.get(start).get_data(as_text=True)
        again = client.get(start + "/repondre").get_data(as_text=True)
        twice = client.post(start + "/repondre", data={"numero": "2", **form_for(questionnaire)})
    assert "Merci, votre réponse est enregistrée" in neutral and "Commencer le questionnaire" in neutral
    assert not any(f"DURAND{i}" in neutral for i in range(3))
    assert '<option value="2">' not in again and '<option value="1">1</option>' in again
    assert twice.status_code == 400
    # Number 2 on the sign-in sheet is the second seat holder by name.
    markers = db.session.scalars(sa.select(EvaluationMarker.enrollment_id)).all()
    assert markers == [people[1].id]


def test_the_tablet_is_for_the_courses_staff(client, make):
    course, _people, _organizer, _facilitator = course_with_people(make)
    _c, _p, _o2, stranger = course_with_people(make, association=make.organization(name="Autre"))
    with time_machine.travel(MORNING, tick=False):
        login(client, stranger)
        assert client.get(f"/stages/{course.id}/questionnaire/avant/repondre").status_code == 403


def test_an_edit_after_answers_makes_a_new_version_and_answers_keep_theirs(make):
    course, (enrollment, *_), organizer, _f = course_with_people(make)
    association = course.organizations[0]
    first = questionnaire_of(course)
    save_questionnaire(association, Moment.BEFORE, [ItemInput(ItemKind.LIKERT, "Question reformulée.")], by=organizer)
    assert first.version == 1 and [i.text for i in first.items] == ["Question reformulée."]  # in place
    with time_machine.travel(MORNING, tick=False):
        answering.record_response(course, enrollment, first, {first.items[0].id: 3})
    second = save_questionnaire(association, Moment.BEFORE, [ItemInput(ItemKind.LIKERT, "Nouvelle question."),
                                                             ItemInput(ItemKind.TEXT, "Un mot ?")], by=organizer)
    db.session.commit()
    assert second.version == 2 and second.id != first.id
    assert db.session.scalar(sa.select(EvaluationResponse.questionnaire_id)) == first.id
    assert [i.text for i in db.session.get(Questionnaire, first.id).items] == ["Question reformulée."]
    assert questionnaire_of(course).id == second.id


def test_the_questionnaire_editor_saves_in_the_order_asked(client, make):
    course, _people, organizer, _f = course_with_people(make)
    association = course.organizations[0]
    login(client, organizer)
    url = f"/organisations/{association.id}/questionnaires/apres"
    assert client.get(url).status_code == 200
    response = client.post(url, data={"texte-1": "Deuxième", "nature-1": "text", "ordre-1": "2",
                                      "texte-2": "Première", "nature-2": "likert", "ordre-2": "1",
                                      "texte-3": "", "nature-3": "likert"})
    assert response.status_code == 302
    saved = questionnaire_of(course, Moment.AFTER)
    assert [(i.position, i.kind, i.text) for i in saved.items] == [(1, ItemKind.LIKERT, "Première"), (2, ItemKind.TEXT, "Deuxième")]
    refused = client.post(url, data={"texte-1": "Seulement du texte", "nature-1": "text"})
    assert refused.status_code == 400 and "au moins une question sur une échelle" in refused.get_data(as_text=True)
