"""Creating, editing, cancelling and duplicating sessions through the UI, and what they refuse."""
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.extensions import db
from stages.scheduling.models import (
    Course,
    FacilitatorBooking,
    CourseChange,
    CoursePart,
    CourseStatus,
)
from stages.timeutil import to_local
from tests.helpers import login

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a Monday


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def form_data(staff, day="2026-03-12", parts=(("09:30", "12:30"), ("13:30", "16:30")), **overrides):
    data = {
        "title": "Stage de sensibilisation",
        "venue": str(staff.venue.id),
        "capacity": "12",
        "min_participants": "5",
        "fee": "180.00",
        "organizations": [str(staff.apcars.id), str(staff.scelles.id)],
        "facilitators": [str(staff.julien.id), str(staff.lea.id)],
        "notes": "",
        "schedule": "1",
    }
    for i in range(4):
        start, end = parts[i] if i < len(parts) else ("", "")
        data[f"parts-{i}-day"] = day if i < len(parts) else ""
        data[f"parts-{i}-start"] = start
        data[f"parts-{i}-end"] = end
    data.update(overrides)
    return data


def count_courses():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Course))


def test_organizer_creates_a_scheduled_course(client, staff):
    login(client, staff.organizer)
    response = client.post("/stages/nouveau", data=form_data(staff))
    assert response.status_code == 302, response.get_data(as_text=True)
    course = db.session.scalars(sa.select(Course)).one()
    assert course.status == CourseStatus.SCHEDULED
    assert course.fee_cents == 18000
    local = [(to_local(p.starts_at).time().isoformat(), to_local(p.ends_at).time().isoformat()) for p in course.parts]
    assert local == [("09:30:00", "12:30:00"), ("13:30:00", "16:30:00")]
    assert course.starts_at == course.parts[0].starts_at
    assert {p.venue_id for p in course.parts} == {staff.venue.id}
    bookings = db.session.scalars(sa.select(FacilitatorBooking)).all()
    assert len(bookings) == 4  # two facilitators × two half-days
    assert "Stage créé" in db.session.scalars(sa.select(CourseChange.summary)).one()
    page = client.get(f"/stages/{course.id}").get_data(as_text=True)
    assert "jeudi 12 mars 2026" in page and "9\u00a0h\u00a030" in page


def test_save_as_draft(client, staff):
    login(client, staff.organizer)
    data = form_data(staff)
    del data["schedule"]
    data["save_draft"] = "1"
    client.post("/stages/nouveau", data=data)
    assert db.session.scalars(sa.select(Course.status)).one() == CourseStatus.DRAFT


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"parts-0-start": "12:30", "parts-0-end": "09:30"}, "doit suivre"),
        ({"parts-0-start": "08:00", "parts-0-end": "12:00", "parts-1-start": "13:00", "parts-1-end": "16:30"}, "6 heures"),
        ({"capacity": "20"}, "dépasse celle du lieu"),
        ({"parts-0-day": "2026-02-27", "parts-1-day": "2026-02-27"}, "une date passée : cochez"),
        ({"parts-1-day": "2026-03-13", "parts-2-day": "2026-03-14", "parts-2-start": "09:00", "parts-2-end": "10:00"}, "deux jours au plus"),
        ({"parts-0-start": "", "parts-1-start": ""}, "une date, une heure de début"),
        ({"fee": "451"}, "entre 0 et 450"),
        ({"min_participants": "13"}, "minimum de participants"),
        ({"venue": "999999"}, "choix valide"),
        ({"capacity": "abc"}, "entier"),
        ({"parts-0-day": "31/02/2026"}, "date"),
        ({"organizations": [], "facilitators": []}, "Votre association"),
    ],
)
def test_bad_input_gets_a_french_message_and_saves_nothing(client, staff, overrides, message):
    login(client, staff.organizer)
    response = client.post("/stages/nouveau", data=form_data(staff, **overrides))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html, html[html.find("error-summary"):][:800]
    assert count_courses() == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CoursePart)) == 0


def test_venue_conflict_names_the_other_course(client, make, staff):
    other = make.course(venue=staff.venue, organizations=[staff.apcars], day=date(2026, 3, 12),
                         title="Stage du jeudi")
    login(client, staff.organizer)
    response = client.post(
        "/stages/nouveau", data=form_data(staff, facilitators=[], parts=(("11:00", "13:00"),))
    )
    html = response.get_data(as_text=True)
    assert "MJD du 17e" in html and "déjà réservé" in html
    assert f"stage n° {other.id}" in html and "Stage du jeudi" in html
    assert count_courses() == 1


def test_facilitator_conflict_names_the_facilitator(client, make, staff):
    make.course(organizations=[staff.scelles], facilitators=[staff.lea], day=date(2026, 3, 12))
    login(client, staff.organizer)
    html = client.post("/stages/nouveau", data=form_data(staff)).get_data(as_text=True)
    assert "Léa Fabre intervient déjà" in html
    assert count_courses() == 1


def test_cancelled_courses_do_not_conflict(client, make, staff):
    make.course(venue=staff.venue, facilitators=[staff.lea], day=date(2026, 3, 12),
                 status=CourseStatus.CANCELLED, cancel_reason="Salle indisponible")
    login(client, staff.organizer)
    assert client.post("/stages/nouveau", data=form_data(staff)).status_code == 302
    assert count_courses() == 2


def test_adjacent_parts_do_not_conflict(client, make, staff):
    make.course(venue=staff.venue, day=date(2026, 3, 12), parts=[(_t("08:00"), _t("09:30"))])
    login(client, staff.organizer)
    assert client.post("/stages/nouveau", data=form_data(staff)).status_code == 302


def _t(text):
    from datetime import time

    return time.fromisoformat(text)


def test_editing_a_course_with_participants_asks_for_confirmation(client, make, staff):
    course = make.course(venue=staff.venue, organizations=[staff.apcars], facilitators=[staff.julien],
                           day=date(2026, 3, 12))
    make.enrollment(make.measure(), course)
    login(client, staff.organizer)
    data = form_data(staff, day="2026-03-19", facilitators=[str(staff.julien.id)], save="1")
    del data["schedule"]
    response = client.post(f"/stages/{course.id}/modifier", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Confirmez les modifications" in html and "horaires" in html
    assert db.session.get(Course, course.id).starts_at.day == 12  # nothing saved yet
    data["confirm"] = "1"
    response = client.post(f"/stages/{course.id}/modifier", data=data)
    assert response.status_code == 302
    course = db.session.get(Course, course.id)
    assert to_local(course.starts_at).date() == date(2026, 3, 19)
    assert course.ical_sequence == 1
    summaries = db.session.scalars(sa.select(CourseChange.summary)).all()
    assert any("horaires" in s and "12/03/2026" in s and "19/03/2026" in s for s in summaries)
    assert "Historique des modifications" in client.get(f"/stages/{course.id}").get_data(as_text=True)


def test_capacity_cannot_drop_below_seats_taken(client, make, staff):
    course = make.course(venue=staff.venue, organizations=[staff.apcars], day=date(2026, 3, 12))
    for _ in range(3):
        make.enrollment(make.measure(), course)
    login(client, staff.organizer)
    data = form_data(staff, capacity="2", confirm="1", facilitators=[], save="1")
    del data["schedule"]
    html = client.post(f"/stages/{course.id}/modifier", data=data).get_data(as_text=True)
    assert "places occupées (3)" in html
    assert db.session.get(Course, course.id).capacity == 12


def test_cancel_requires_a_reason_and_frees_the_room(client, make, staff):
    course = make.course(venue=staff.venue, organizations=[staff.apcars], day=date(2026, 3, 12))
    login(client, staff.organizer)
    html = client.post(f"/stages/{course.id}/annuler", data={"reason": "  "}).get_data(as_text=True)
    assert "motif" in html
    assert db.session.get(Course, course.id).status == CourseStatus.SCHEDULED
    response = client.post(f"/stages/{course.id}/annuler", data={"reason": "Salle réquisitionnée"})
    assert response.status_code == 302
    course = db.session.get(Course, course.id)
    assert course.status == CourseStatus.CANCELLED
    assert course.cancel_reason == "Salle réquisitionnée"
    assert all(not p.is_active for p in course.parts)
    assert client.post("/stages/nouveau", data=form_data(staff)).status_code == 302


def test_duplicate_keeps_settings_but_not_dates(client, make, staff):
    course = make.course(venue=staff.venue, organizations=[staff.apcars], facilitators=[staff.julien],
                           day=date(2026, 3, 12), title="Stage spécial")
    login(client, staff.organizer)
    html = client.get(f"/stages/nouveau?depuis={course.id}").get_data(as_text=True)
    assert 'value="Stage spécial"' in html
    assert 'value="09:30"' in html
    assert 'value="2026-03-12"' not in html


def test_status_transitions(client, make, staff):
    course = make.course(venue=staff.venue, organizations=[staff.apcars], day=date(2026, 3, 12),
                           status=CourseStatus.DRAFT)
    login(client, staff.organizer)
    client.post(f"/stages/{course.id}/statut", data={"status": "scheduled"})
    assert db.session.get(Course, course.id).status == CourseStatus.SCHEDULED
    response = client.post(f"/stages/{course.id}/statut", data={"status": "held"}, follow_redirects=True)
    assert "après sa dernière demi-journée" in response.get_data(as_text=True)
    assert client.post(f"/stages/{course.id}/statut", data={"status": "closed"}).status_code == 400
    with time_machine.travel(datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc), tick=False):
        login(client, staff.organizer)  # the login session lasts 8 hours
        client.post(f"/stages/{course.id}/statut", data={"status": "held"})
    assert db.session.get(Course, course.id).status == CourseStatus.HELD


def test_other_association_cannot_edit(client, make, staff):
    course = make.course(venue=staff.venue, organizations=[staff.scelles], day=date(2026, 3, 12))
    login(client, staff.organizer)
    assert client.get(f"/stages/{course.id}/modifier").status_code == 403
    assert client.post(f"/stages/{course.id}/annuler", data={"reason": "x"}).status_code == 403
    assert client.post(f"/stages/{course.id}/statut", data={"status": "draft"}).status_code == 403
    assert db.session.get(Course, course.id).status == CourseStatus.SCHEDULED


def test_facilitators_cannot_schedule(client, staff):
    login(client, staff.julien)
    assert client.get("/stages/nouveau").status_code == 403
    assert client.post("/stages/nouveau", data=form_data(staff)).status_code == 403
    assert client.get("/lieux").status_code == 403
