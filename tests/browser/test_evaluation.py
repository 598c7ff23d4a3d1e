"""Evaluation in a real browser: a person answers on their phone through their link, then the
facilitator's tablet runs the questionnaire for the next person; and every evaluation and
incident page of the demo, as each role sees it, at 390×844 and at 1280×900 (axe-core clean,
no horizontal overflow: the checks of test_every_page, on these pages alone)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from selenium.webdriver.support.ui import Select

from stages.auth.models import Role
from stages.demo import load_demo
from stages.enrollment.confirmation.links import format_code
from stages.evaluation.answering import link_codes
from stages.evaluation.models import EvaluationMarker, EvaluationResponse, ItemKind, Moment
from stages.evaluation.questionnaires import ensure_questionnaire
from stages.extensions import db
from tests.browser.conftest import DESKTOP, MISSING, SKIP_REASON
from tests.factories import PASSWORD

if MISSING:
    pytest.skip(SKIP_REASON, allow_module_level=True)

SURNAME = "VERCINGETORIX"
PHONE = (390, 844)
# The pages this area adds, and those it adds a section or a link to (the course page, the
# attendance of a half-day).
EVALUATION_PAGES = ("/e/", "/evaluation", "/questionnaire", "/incidents", "/presence/")
COURSE_PAGE = re.compile(r"^/stages/\d+$")


def _resize(journey, size) -> None:
    """``journey.set_viewport``, tried again when a busy machine's window has not settled yet."""
    for attempt in range(3):
        try:
            journey.set_viewport(*size)
            return
        except AssertionError:
            if attempt == 2:
                raise


def test_a_person_answers_on_their_phone_then_another_on_the_tablet(journey, make):
    association = make.organization(name="Association Ariane")
    facilitator = make.user(Role.FACILITATOR, organizations=[association])
    course = make.course(make.venue(name="MJD du 17e"), organizations=[association], facilitators=[facilitator])
    first = make.enrollment(make.measure(make.participant(surname=SURNAME), handling=association), course)
    make.enrollment(make.measure(make.participant(surname="ASTERIX"), handling=association), course)
    questionnaire = ensure_questionnaire(association.id, Moment.BEFORE)
    scales = [item.id for item in questionnaire.items if item.kind == ItemKind.LIKERT]
    text = next(item.id for item in questionnaire.items if item.kind == ItemKind.TEXT)
    code = format_code(link_codes([first], Moment.BEFORE)[first.id])
    email, course_id = facilitator.email, course.id
    db.session.commit()

    _resize(journey, PHONE)
    journey.get(f"/e/{code.lower()}", "questionnaire-telephone")
    assert SURNAME not in journey.text().upper() and "MJD" not in journey.text()
    for item_id in scales:
        journey.css(f"label[for='item-{item_id}-4']").click()
    journey.css(f"#item-{text}").send_keys("Comprendre la loi.")
    journey.click(journey.button("Envoyer mes réponses"), "reponses-enregistrees")
    assert "Vos réponses sont enregistrées" in journey.text()
    journey.get(f"/e/{code}", "lien-deja-utilise")
    assert "Envoyer mes réponses" not in journey.text()

    _resize(journey, DESKTOP)
    journey.log_in(email, PASSWORD)
    _resize(journey, PHONE)
    journey.get(f"/stages/{course_id}/questionnaire/avant", "tablette-accueil")
    journey.click(journey.link("Commencer le questionnaire"), "tablette-questionnaire")
    assert SURNAME not in journey.text().upper() and "ASTERIX" not in journey.text().upper()
    numbers = [o.get_attribute("value") for o in journey.all("#numero option") if o.get_attribute("value")]
    assert numbers == ["1"]  # n° 2 (VERCINGETORIX, by name) answered on the phone
    Select(journey.css("#numero")).select_by_value("1")
    for item_id in scales:
        journey.css(f"label[for='item-{item_id}-2']").click()
    journey.click(journey.button("Envoyer mes réponses"), "tablette-retour-accueil")
    assert journey.path() == f"/stages/{course_id}/questionnaire/avant"
    assert "Toutes les personnes présentes ont répondu" in journey.text()
    journey.assert_accessible()

    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EvaluationResponse)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(EvaluationMarker)) == 2


def test_evaluation_pages_on_a_phone_and_a_desktop(journey, app):
    from tests.browser.test_every_page import ROLES, SIZES, Demo, _check_page, _log_in, _plan

    load_demo()
    db.session.commit()
    plan, _unvisited = _plan(app, Demo())
    journey.driver.get(journey.base_url + "/connexion")  # a page of the app, not about:blank
    problems, opened = [], 0
    for role in ROLES:
        urls = [url for url in plan[role]
                if any(part in url for part in EVALUATION_PAGES) or COURSE_PAGE.match(url)]
        if role == "anonymous":
            journey.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        else:
            _resize(journey, DESKTOP)
            _log_in(journey, role)
        for size in SIZES:
            _resize(journey, size)
            for url in urls:
                problems += [f"[{role}] {p}" for p in _check_page(journey, role, url, size)]
                opened += 1
    assert opened >= 30, opened
    assert problems == [], "\n".join(problems)
