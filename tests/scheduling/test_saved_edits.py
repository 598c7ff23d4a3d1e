"""Edits of a course and of a venue are saved, field by field.

Each field is changed alone through the form a user posts, then read back from the database:
it must hold its new value and every other field its old one. A field the service forgets to
copy, or a change it does not see (``describe_changes`` deciding there is nothing to save),
fails here.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.auth.models import Role
from stages.extensions import db
from stages.scheduling.forms import CourseForm, VenueForm
from stages.scheduling.models import Course, Venue
from stages.timeutil import local_to_utc, to_local
from tests.helpers import FieldChange, assert_saved, form_with, fresh, login

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a Monday


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(make, client):
    w = type("World", (), {})()
    w.apcars = make.organization(name="APCARS")
    w.scelles = make.organization(name="Fondation Scelles")
    w.organizer = make.user(Role.ORGANIZER, [w.apcars])
    w.julien = make.user(Role.FACILITATOR, [w.apcars], full_name="Julien Morel")
    w.lea = make.user(Role.FACILITATOR, [w.scelles], full_name="Léa Fabre")
    w.mjd = make.venue(name="MJD du 17e", capacity=14)
    w.prefecture = make.venue(name="Préfecture de la Région Île-de-France", capacity=20)
    login(client, w.organizer)
    return w


def _attr(name, before, after, stored_before=None, stored_after=None):
    return FieldChange(
        name, before, after, lambda o: getattr(o, name),
        before if stored_before is None else stored_before,
        after if stored_after is None else stored_after,
    )


# ---------------------------------------------------------------------------------------------
# A course (« Modifier le stage »)


def _spans(course: Course) -> list[str]:
    return [
        f"{to_local(p.starts_at):%Y-%m-%d %H:%M}–{to_local(p.ends_at):%H:%M}" for p in course.parts
    ]


def _course_fields(w) -> list[FieldChange]:
    return [
        _attr("title", "Stage de sensibilisation", "Stage de sensibilisation — session de mars"),
        FieldChange("venue", str(w.mjd.id), str(w.prefecture.id), lambda c: c.venue_id,
                    w.mjd.id, w.prefecture.id),
        _attr("capacity", "12", "10", 12, 10),
        _attr("min_participants", "5", "6", 5, 6),
        FieldChange("fee", "180.00", "95.50", lambda c: c.fee_cents, 18000, 9550),
        FieldChange("organizations", [str(w.apcars.id)], [str(w.apcars.id), str(w.scelles.id)],
                    lambda c: sorted(o.id for o in c.organizations),
                    [w.apcars.id], sorted([w.apcars.id, w.scelles.id])),
        FieldChange("facilitators", [str(w.julien.id)], [str(w.lea.id)],
                    lambda c: [u.id for u in c.facilitators], [w.julien.id], [w.lea.id]),
        _attr("notes", "Prévoir la clé de la salle.", "Clé à l'accueil ; vidéoprojecteur réservé."),
        # The half-days: the second one moved to the next day (a course on two days).
        FieldChange(
            "parts", None, None, _spans,
            ["2026-03-12 09:30–12:30", "2026-03-12 13:30–16:30"],
            ["2026-03-12 09:30–12:30", "2026-03-13 13:30–16:30"],
        ),
    ]


COURSE_FIELD_NAMES = [
    "title", "venue", "capacity", "min_participants", "fee", "organizations", "facilitators",
    "notes", "parts",
]


def _course_form(w, changed: str) -> dict:
    fields = [f for f in _course_fields(w) if f.name != "parts"]
    data = form_with(fields, changed, save="1")
    second_day = "2026-03-13" if changed in ("parts", "*") else "2026-03-12"
    for i, (day, start, end) in enumerate(
        [("2026-03-12", "09:30", "12:30"), (second_day, "13:30", "16:30"), ("", "", ""), ("", "", "")]
    ):
        data.update({f"parts-{i}-day": day, f"parts-{i}-start": start, f"parts-{i}-end": end})
    return data


@pytest.mark.parametrize("field", COURSE_FIELD_NAMES + ["*"])
def test_each_course_field_is_saved(client, make, world, field):
    course = make.course(
        venue=world.mjd, organizations=[world.apcars], facilitators=[world.julien],
        day=date(2026, 3, 12), fee_cents=18000, min_participants=5,
        notes="Prévoir la clé de la salle.",
    )
    response = client.post(f"/stages/{course.id}/modifier", data=_course_form(world, field))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert_saved(fresh(Course, course.id), _course_fields(world), field)


def test_with_people_enrolled_a_confirmed_edit_is_saved(client, make, world):
    course = make.course(
        venue=world.mjd, organizations=[world.apcars], facilitators=[world.julien],
        day=date(2026, 3, 12), fee_cents=18000, min_participants=5,
        notes="Prévoir la clé de la salle.",
    )
    make.enrollment(make.measure(), course)
    data = _course_form(world, "*")
    assert client.post(f"/stages/{course.id}/modifier", data=data).status_code == 200  # to confirm
    assert_saved(fresh(Course, course.id), _course_fields(world), None)
    response = client.post(f"/stages/{course.id}/modifier", data={**data, "confirm": "1"})
    assert response.status_code == 302
    assert_saved(fresh(Course, course.id), _course_fields(world), "*")
    assert fresh(Course, course.id).starts_at == local_to_utc(date(2026, 3, 12), time(9, 30))


# ---------------------------------------------------------------------------------------------
# A venue (« Nouveau lieu », « Modifier le lieu »)

VENUE = [
    _attr("name", "Espace Kellner", "Espace associatif Jacques Kellner"),
    _attr("room", "Salle 2", "Salle polyvalente"),
    _attr("address", "16 rue Jacques Kellner", "18 rue Jacques Kellner"),
    _attr("postal_code", "75017", "75018"),
    _attr("city", "Paris", "Paris 17e"),
    _attr("capacity", "14", "16", 14, 16),
    _attr("timezone", "Europe/Paris", "America/Cayenne"),
    _attr("opening_hours", "9 h – 17 h", "8 h 30 – 18 h"),
    _attr("accessibility", "Rampe d'accès.", "Ascenseur et rampe d'accès."),
    # Ticks: None is a box left unticked.
    _attr("step_free_access", None, "y", False, True),
    _attr("hearing_loop", "y", None, True, False),
    _attr("visual_aids", None, "y", False, True),
    _attr("access_instructions", "Métro Guy Môquet.", "Métro Guy Môquet, sortie 2 ; sonner à l'interphone."),
]


@pytest.mark.parametrize("field", [f.name for f in VENUE] + ["*"])
def test_each_venue_field_is_saved(client, make, world, field):
    venue = make.venue(**{f.name: f.stored_before for f in VENUE})
    venue.owner = world.apcars  # managed by the organizer's association, who may edit it
    response = client.post(f"/lieux/{venue.id}/modifier", data=form_with(VENUE, field))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert_saved(fresh(Venue, venue.id), VENUE, field)


def test_a_new_venue_is_saved_with_every_field(client, world):
    response = client.post("/lieux/nouveau", data=form_with(VENUE, "*"))
    assert response.status_code == 302, response.get_data(as_text=True)
    venue_id = db.session.scalars(
        sa.select(Venue.id).where(Venue.name == "Espace associatif Jacques Kellner")
    ).one()
    assert_saved(fresh(Venue, venue_id), VENUE, "*")


def test_who_manages_a_venue_is_saved(client, make, world):
    """An admin hands a shared venue to an association, then shares it again."""
    client.post("/deconnexion")
    login(client, make.user(Role.ADMIN))
    venue = make.venue(**{f.name: f.stored_before for f in VENUE})
    db.session.commit()
    for manager, owner_id in ((str(world.scelles.id), world.scelles.id), ("0", None)):
        response = client.post(f"/lieux/{venue.id}/modifier", data=form_with(VENUE, None, manager=manager))
        assert response.status_code == 302, response.get_data(as_text=True)
        saved = fresh(Venue, venue.id)
        assert (saved.owner.id if saved.owner else None) == owner_id
        assert_saved(saved, VENUE, None)


def test_these_tests_cover_every_field_of_the_two_forms(app):
    """A field added to a form must be added here, so that its saving is tested too."""
    with app.test_request_context():
        course = {f.name for f in CourseForm()} - {"csrf_token", "confirm", "confirm_past", "save_draft", "schedule", "save"}  # confirm_past: tests/scheduling/test_acceptance.py
        venue = {f.name for f in VenueForm()} - {"csrf_token"}
    assert course == set(COURSE_FIELD_NAMES)
    assert venue == {f.name for f in VENUE} | {"manager"}  # the manager: its own test above
