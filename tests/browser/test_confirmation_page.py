"""The person's confirmation page in a real browser (issue 17): opened from the letter's link on a
phone, a request for another date, then a confirmation; the organizer finds both on their home
page and marks them handled. axe-core runs on every step, at 390×844 and at 1280×900."""
from __future__ import annotations

import pytest

from stages.auth.models import Role
from stages.enrollment.confirmation.links import format_code, summons_code
from stages.extensions import db
from tests.browser.conftest import DESKTOP, MISSING, SKIP_REASON
from tests.factories import PASSWORD

if MISSING:
    pytest.skip(SKIP_REASON, allow_module_level=True)

SURNAME = "VERCINGETORIX"


def test_a_person_answers_their_summons_and_the_organizer_handles_it(journey, make):
    association = make.organization(name="Association Ariane")
    organizer = make.user(Role.ORGANIZER, organizations=[association])
    venue = make.venue(name="MJD du 17e", address="16 rue Jacques Kellner", postal_code="75017", city="Paris")
    course = make.course(venue, organizations=[association])
    measure = make.measure(make.participant(surname=SURNAME), handling=association)
    enrollment = make.enrollment(measure, course)
    code = format_code(summons_code(enrollment))
    email = organizer.email
    db.session.commit()

    journey.set_viewport(390, 844)
    journey.get(f"/c/{code.lower()}", "page-telephone")
    assert "MJD du 17e" in journey.text() and SURNAME not in journey.text().upper()
    journey.css("#reason-2").click()  # « Autre motif »
    journey.css("#details").send_keys("Hospitalisation prévue")
    journey.click(journey.button("Demander une autre date"), "demande-transmise")
    assert "Votre demande d'une autre date a été transmise" in journey.text()
    journey.click(journey.button("Je confirme ma présence"), "presence-confirmee")
    assert "Vous avez confirmé votre présence" in journey.text()
    journey.set_viewport(*DESKTOP)
    journey.get(f"/c/{code}", "page-bureau")
    journey.get("/c/0000-0000-0000-0000", "lien-inconnu")

    journey.log_in(email, PASSWORD)
    assert "Réponses aux convocations" in journey.text()
    journey.set_viewport(390, 844)
    journey.get("/", "accueil-telephone")
    for _ in range(2):
        journey.click(journey.css("form[action$='/traitee'] button"), "traitee")
    assert "Réponses aux convocations" not in journey.text()
    journey.assert_accessible()


def test_the_page_in_arabic_reads_right_to_left_on_a_phone(journey, make):
    """A person who speaks Arabic: the page in Arabic, right to left, with no overflow and no
    axe-core finding at 390×844; the answer goes through as in French."""
    association = make.organization(name="Association Ariane")
    course = make.course(make.venue(name="MJD du 17e"), organizations=[association])
    person = make.participant(surname=SURNAME)
    person.language = "ar"
    enrollment = make.enrollment(make.measure(person, handling=association), course)
    code = format_code(summons_code(enrollment))
    db.session.commit()

    journey.set_viewport(390, 844)
    journey.get(f"/c/{code}", "page-arabe")
    assert "أؤكد حضوري" in journey.text() and SURNAME not in journey.text().upper()
    assert journey.css("[lang='ar'][dir='rtl']").is_displayed()
    journey.click(journey.button("أؤكد حضوري"), "presence-confirmee-arabe")
    assert "أكّدت حضورك" in journey.text()
    journey.assert_accessible()
