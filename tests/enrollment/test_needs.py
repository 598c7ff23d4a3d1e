"""A person's language and needs: recorded (French errors, audited), the interpreter booked per
enrollment (cost read strictly), checked against the venue at enrollment and on the course
page, shown on the person's page and on the sign-in sheet (HTML and PDF), in a fixed number of
queries."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from stages.attendance.pdf import roster_pdf
from stages.attendance.services import seat_holders
from stages.auth.models import AuditEntry, Role
from stages.enrollment import needs
from stages.enrollment.models import InterpreterBooking, Participant
from stages.extensions import db
from stages.timeutil import today_local
from tests.helpers import flashes, login, pdftotext, queries_for


@pytest.fixture
def world(make):
    """An association, its organizer and facilitator, a course in a venue without accessibility
    flags, and a person who speaks Arabic, needs an interpreter and uses a wheelchair."""
    org = make.organization(name="APCARS")
    organizer = make.user(Role.ORGANIZER, [org])
    facilitator = make.user(Role.FACILITATOR, [org])
    venue = make.venue(name="MJD du 17e")
    course = make.course(venue=venue, organizations=[org], facilitators=[facilitator],
                         day=today_local() + timedelta(days=10))
    person = make.participant(surname="HADDAD", first_names="Karim", language="ar",
                              interpreter_needed=True, needs_reduced_mobility=True)
    measure = make.measure(person, handling=org)
    enrollment = make.enrollment(measure, course)
    return {"org": org, "organizer": organizer, "facilitator": facilitator, "venue": venue,
            "course": course, "person": person, "measure": measure, "enrollment": enrollment}


def _needs_form(**values) -> dict:
    form = {"language": "fr", "needs_other": ""}
    form.update(values)
    return {k: v for k, v in form.items() if v is not False}


# --- The rules -------------------------------------------------------------------------------


def test_a_need_the_venue_does_not_flag_is_a_warning(world):
    person, venue = world["person"], world["venue"]
    assert needs.unmet_needs(person, venue) == [
        "Mobilité réduite ou fauteuil roulant : le lieu n'est pas signalé accessible en fauteuil roulant."
    ]
    venue.step_free_access = True
    assert needs.unmet_needs(person, venue) == []
    person.needs_hearing, person.needs_other = True, "Chien d'assistance"
    assert needs.unmet_needs(person, venue) == [
        "Personne malentendante : le lieu ne signale pas de boucle magnétique.",
        "Autre besoin à vérifier avec le lieu : Chien d'assistance",
    ]
    venue.hearing_loop = True
    assert needs.venue_lacks(person, venue) == []


def test_an_interpreter_needed_and_not_confirmed_is_a_warning(world):
    person, enrollment = world["person"], world["enrollment"]
    assert needs.interpreter_warning(person, None) == "Interprète en arabe nécessaire : aucun n'est réservé."
    booking = needs.save_booking(enrollment, "Samir Benali", 18050, False, by=world["organizer"])
    assert needs.interpreter_warning(person, booking) == (
        "Interprète en arabe réservé (Samir Benali), pas encore confirmé.")
    booking = needs.save_booking(enrollment, "Samir Benali", 18050, True, by=world["organizer"])
    assert needs.interpreter_warning(person, booking) is None
    person.interpreter_needed = False
    assert needs.interpreter_warning(person, None) is None


# --- The forms -------------------------------------------------------------------------------


def test_the_person_s_language_and_needs_are_recorded_and_audited(client, world):
    person = world["person"]
    login(client, world["organizer"])
    response = client.post(f"/personnes/{person.id}/langue-et-besoins", data=_needs_form(
        language="ro", needs_hearing="y", needs_other="Arrive accompagné"))
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Participant, person.id)
    assert (saved.language, saved.interpreter_needed, saved.needs_reduced_mobility,
            saved.needs_hearing, saved.needs_other) == ("ro", False, False, True, "Arrive accompagné")
    entry = db.session.scalars(sa.select(AuditEntry).where(
        AuditEntry.action == "participant.needs_changed")).one()
    assert entry.participant_id == person.id and entry.details is None  # no health data in the log


@pytest.mark.parametrize("language", ["xx", "FR", "", "fr' OR 1=1"])
def test_an_unknown_language_is_refused_in_french(client, world, language):
    login(client, world["organizer"])
    response = client.post(f"/personnes/{world['person'].id}/langue-et-besoins",
                           data=_needs_form(language=language))
    assert response.status_code == 200
    assert "N&#39;est pas un choix valide." in response.get_data(as_text=True)
    assert db.session.get(Participant, world["person"].id).language == "ar"


@pytest.mark.parametrize("typed, cents", [("180", 18000), ("180,50", 18050), ("1 200 €", 120000),
                                          ("0", 0), ("", None)])
def test_the_interpreter_s_cost_is_read_as_euros(client, world, typed, cents):
    login(client, world["organizer"])
    response = client.post(f"/inscriptions/{world['enrollment'].id}/interprete",
                           data={"interpreter_name": "Samir Benali", "cost": typed, "confirmed": "y"})
    assert response.status_code == 302
    booking = db.session.get(InterpreterBooking, world["enrollment"].id)
    assert (booking.interpreter_name, booking.cost_cents, booking.confirmed) == ("Samir Benali", cents, True)


@pytest.mark.parametrize("typed", ["1e3", "inf", "NaN", "-5", "12,345", "abc", "9999999", "6000"])
def test_a_cost_that_is_not_an_amount_gets_a_french_error(client, world, typed):
    login(client, world["organizer"])
    response = client.post(f"/inscriptions/{world['enrollment'].id}/interprete",
                           data={"interpreter_name": "Samir Benali", "cost": typed})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Indiquez un montant en euros" in page or "Le coût doit être compris entre 0 et 5000 €" in page
    assert db.session.get(InterpreterBooking, world["enrollment"].id) is None


def test_an_empty_name_cancels_the_booking(client, world):
    needs.save_booking(world["enrollment"], "Samir Benali", None, False, by=world["organizer"])
    db.session.commit()
    login(client, world["organizer"])
    assert client.post(f"/inscriptions/{world['enrollment'].id}/interprete",
                       data={"interpreter_name": ""}).status_code == 302
    db.session.expire_all()
    assert db.session.get(InterpreterBooking, world["enrollment"].id) is None
    actions = db.session.scalars(sa.select(AuditEntry.action)).all()
    assert "interpreter.cancelled" in actions


def test_the_venue_form_keeps_its_accessibility_flags(client, make, world):
    venue = world["venue"]
    login(client, make.user(Role.ADMIN))  # a venue no association manages: admins edit it
    response = client.post(f"/lieux/{venue.id}/modifier", data={
        "name": venue.name, "address": venue.address, "postal_code": venue.postal_code,
        "city": venue.city, "capacity": "15", "timezone": "Europe/Paris", "manager": "0",
        "step_free_access": "y", "visual_aids": "y", "accessibility": "Rampe côté cour",
    })
    assert response.status_code == 302
    db.session.expire_all()
    assert (venue.step_free_access, venue.hearing_loop, venue.visual_aids, venue.accessibility) == (
        True, False, True, "Rampe côté cour")


# --- Where they show -------------------------------------------------------------------------


def test_enrolling_someone_whose_needs_the_venue_does_not_meet_warns(client, make, world):
    person = make.participant(needs_reduced_mobility=True)
    measure = make.measure(person, handling=world["org"])
    login(client, world["organizer"])
    page = client.get(f"/mesures/{measure.id}/inscrire").get_data(as_text=True)
    assert "Lieu à vérifier : mobilité réduite ou fauteuil roulant" in page
    response = client.post(f"/mesures/{measure.id}/inscrire", data={"course": world["course"].id})
    assert response.status_code == 302
    assert ("Attention : Mobilité réduite ou fauteuil roulant : le lieu n'est pas signalé "
            "accessible en fauteuil roulant.") in flashes(client)


def test_the_course_page_warns_of_unmet_needs_and_an_unconfirmed_interpreter(client, world):
    login(client, world["organizer"])
    page = client.get(f"/stages/{world['course'].id}").get_data(as_text=True)
    assert "Langues et besoins" in page
    assert "1 personne a un besoin que le lieu ne signale pas" in page
    assert "le lieu n&#39;est pas signalé accessible en fauteuil roulant" in page
    assert "Interprète en arabe nécessaire : aucun n&#39;est réservé." in page
    needs.save_booking(world["enrollment"], "Samir Benali", None, False, by=world["organizer"])
    db.session.commit()
    page = client.get(f"/stages/{world['course'].id}").get_data(as_text=True)
    assert "Interprète en arabe réservé (Samir Benali), pas encore confirmé." in page


def test_the_person_s_page_shows_the_language_and_needs_to_a_facilitator_too(client, world):
    login(client, world["facilitator"])
    page = client.get(f"/personnes/{world['person'].id}").get_data(as_text=True)
    assert "Arabe — interprète nécessaire" in page
    assert "Mobilité réduite ou fauteuil roulant" in page
    assert "langue-et-besoins" not in page  # a facilitator does not edit them


def test_the_person_s_page_shows_the_booking_and_the_venue_s_lacks(client, world):
    needs.save_booking(world["enrollment"], "Samir Benali", 18050, True, by=world["organizer"])
    db.session.commit()
    login(client, world["organizer"])
    page = client.get(f"/personnes/{world['person'].id}").get_data(as_text=True)
    assert "Samir Benali, 180,50" in page and "Confirmé" in page
    assert "le lieu n&#39;est pas signalé accessible en fauteuil roulant" in page


def test_the_sign_in_sheet_tells_the_facilitator_the_language_and_needs(client, world):
    needs.save_booking(world["enrollment"], "Samir Benali", None, True, by=world["organizer"])
    db.session.commit()
    note = "Arabe ; interprète : Samir Benali (confirmé) ; Mobilité réduite ou fauteuil roulant"
    login(client, world["facilitator"])
    assert note in client.get(f"/stages/{world['course'].id}/emargement").get_data(as_text=True)
    pdf = client.get(f"/stages/{world['course'].id}/emargement.pdf").data
    text = pdftotext(pdf)
    assert note in " ".join(text.split())


def test_a_french_speaker_without_needs_has_no_note(world, make):
    plain = make.enrollment(make.measure(handling=world["org"]), world["course"])
    notes = needs.roster_notes(seat_holders(world["course"]))
    assert plain.id not in notes and world["enrollment"].id in notes
    assert roster_pdf(world["course"], seat_holders(world["course"]), None, notes)[:5] == b"%PDF-"


# --- No query per row ------------------------------------------------------------------------


def _people_with_needs(make, world, count: int) -> None:
    for n in range(count):
        person = make.participant(language=("ar", "ro", "en")[n % 3], interpreter_needed=n % 2 == 0,
                                  needs_hearing=n % 3 == 0, needs_other="Canne" if n % 4 == 0 else None)
        enrollment = make.enrollment(make.measure(person, handling=world["org"]), world["course"])
        if n % 4 == 0:
            make_booking = InterpreterBooking(enrollment_id=enrollment.id, interpreter_name=f"Interprète {n}",
                                              confirmed=n % 8 == 0)
            db.session.add(make_booking)
    db.session.commit()


@pytest.mark.parametrize("url", ["/stages/{id}", "/stages/{id}/emargement", "/stages/{id}/emargement.pdf"])
def test_the_course_page_and_the_sign_in_sheet_do_not_query_per_person(client, make, world, url):
    world["course"].capacity = 40
    db.session.commit()
    login(client, world["organizer"])
    page = url.format(id=world["course"].id)
    _people_with_needs(make, world, 2)
    small = queries_for(client, page)
    _people_with_needs(make, world, 14)
    assert queries_for(client, page) == small
