"""Results: small counts suppressed (no figure, not even the count, under 5 answers), free texts
for the course's organizers only, the same number of queries at two sizes, and the yearly
function the activity report reads."""
from __future__ import annotations

from datetime import timedelta

import time_machine

from stages.evaluation import answering
from stages.evaluation.models import Moment
from stages.evaluation.results import MIN_ANSWERS, evaluation_results
from stages.extensions import db
from tests.evaluation.helpers import MORNING, course_with_people, form_for, questionnaire_of
from tests.conftest import IsolatedClient
from tests.helpers import login, queries_for


def _answer(course, people, value=4, text="Très utile.", moment=Moment.BEFORE):
    questionnaire = questionnaire_of(course, moment)
    with time_machine.travel(MORNING, tick=False):
        for enrollment in people:
            answering.record_response(course, enrollment, questionnaire,
                                      answering.read_answers(questionnaire, form_for(questionnaire, value, text)))
    db.session.commit()


def test_fewer_than_five_answers_show_no_figure(client, make):
    course, people, organizer, _f = course_with_people(make, people=MIN_ANSWERS)
    _answer(course, people[:4], value=2, text="Texte numéro quatre")
    with time_machine.travel(MORNING, tick=False):
        login(client, organizer)
        page = client.get(f"/stages/{course.id}/evaluation").get_data(as_text=True)
    assert "Moins de 5 réponses : aucun résultat" in page
    assert "4 réponses" not in page and "Moyenne" not in page and "Texte numéro quatre" not in page
    result = evaluation_results(course.organizations[0].id, 2026)
    assert result.moments[0].responses is None and result.moments[0].items == []

    _answer(course, people[4:], value=5, text="Texte numéro cinq")
    with time_machine.travel(MORNING, tick=False):
        page = client.get(f"/stages/{course.id}/evaluation").get_data(as_text=True)
    assert "5 réponses." in page and "Texte numéro cinq" in page and "Texte numéro quatre" in page
    before = evaluation_results(course.organizations[0].id, 2026).moments[0]
    scale = before.items[0]
    assert before.responses == 5 and scale.answers == 5
    assert scale.distribution == {1: 0, 2: 4, 3: 0, 4: 0, 5: 1} and scale.mean == (4 * 2 + 5) / 5
    # The yearly results never carry free texts (they go into the activity report).
    assert all(item.texts == [] for item in before.items)
    # « après » has no answer at all: suppressed too.
    assert evaluation_results(course.organizations[0].id, 2026).moments[1].suppressed


def test_an_item_answered_by_fewer_than_five_is_suppressed_alone(make):
    course, people, _o, _f = course_with_people(make, people=6)
    _answer(course, people[:2], text="Un texte")
    _answer(course, people[2:], text="")  # 4 people leave the free text blank
    moment = evaluation_results(course.organizations[0].id, 2026).moments[0]
    free = next(i for i in moment.items if i.kind.value == "text")
    assert moment.responses == 6 and free.suppressed and free.answers == 0 and free.texts == []


def test_the_year_and_the_association_filter_the_results(make):
    association = make.organization(name="APCARS")
    course, people, _o, _f = course_with_people(make, people=5, association=association)
    _answer(course, people)
    assert evaluation_results(association.id, 2026).moments[0].responses == 5
    assert evaluation_results(association.id, 2025).moments[0].suppressed
    assert evaluation_results(make.organization(name="Autre").id, 2026).moments[0].suppressed


def test_results_pages_send_as_many_queries_for_5_and_for_15_answers(client, make):
    course, people, organizer, _f = course_with_people(make, people=15)
    association = course.organizations[0]
    _answer(course, people[:5])
    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        login(client, organizer)
        small = (queries_for(client, f"/stages/{course.id}/evaluation"),
                 queries_for(client, f"/organisations/{association.id}/evaluation?annee=2026"))
    _answer(course, people[5:])
    with time_machine.travel(MORNING + timedelta(hours=1), tick=False):
        large = (queries_for(client, f"/stages/{course.id}/evaluation"),
                 queries_for(client, f"/organisations/{association.id}/evaluation?annee=2026"))
    assert small == large


def test_the_results_pages_are_for_organizers_of_the_association(client, make):
    """Facilitators run the questionnaire but do not read the answers (liaisons: see the
    access matrix, tests/test_access_matrix.py)."""
    course, _people, organizer, facilitator = course_with_people(make, people=5)
    with time_machine.travel(MORNING, tick=False):
        login(client, facilitator)
        assert client.get(f"/stages/{course.id}/evaluation").status_code == 403
        assert client.get(f"/organisations/{course.organizations[0].id}/evaluation").status_code == 403


def test_the_course_page_leads_to_the_tablet_the_slips_and_the_results(app, client, make):
    course, _people, organizer, facilitator = course_with_people(make)
    with time_machine.travel(MORNING, tick=False):
        login(client, organizer)
        page = client.get(f"/stages/{course.id}").get_data(as_text=True)
        assert "Faire remplir le questionnaire avant le stage" in page
        assert f"/stages/{course.id}/questionnaire/avant/liens" in page
        assert f"/organisations/{course.organizations[0].id}/evaluation" in page
        assert "Faire remplir le questionnaire après le stage" not in page  # not before the last half-day
        slips = client.get(f"/stages/{course.id}/questionnaire/avant/liens").get_data(as_text=True)
        assert slips.count("<svg") == 3 and "/e/" in slips
        tablet = IsolatedClient(app, app.response_class, use_cookies=True)
        login(tablet, facilitator)
        page = tablet.get(f"/stages/{course.id}").get_data(as_text=True)
    assert "Faire remplir le questionnaire avant le stage" in page
    assert "Résultats de l'évaluation" not in page
