"""The course rules of ``stages.scheduling.services.acceptance``, on the service and through a view:
a date in the past needs the organizer's confirmation, and a status is only offered where it can
be reached."""
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling import services
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.services import CourseData, PartSpec
from tests.helpers import login
from tests.scheduling.test_courses import form_data

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # Monday 2 March 2026, 10:00 in Paris


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def course_data(staff, day: date, confirmed: bool = False) -> CourseData:
    return CourseData(
        title="Stage", venue=staff.venue, capacity=10, min_participants=0, fee_cents=0,
        parts=[PartSpec(day, time(9, 30), time(12, 30))], organizations=[staff.apcars],
        past_confirmed=confirmed,
    )


def test_a_course_in_the_past_needs_a_confirmation(staff):
    with pytest.raises(DomainError, match="une date passée : cochez"):
        services.create_course(course_data(staff, date(2026, 2, 20)), by=staff.organizer)
    course = services.create_course(course_data(staff, date(2026, 2, 20), confirmed=True), by=staff.organizer)
    assert course.starts_at < NOW
    # A future date needs nothing.
    services.create_course(course_data(staff, date(2026, 3, 20)), by=staff.organizer)


def test_the_form_offers_the_confirmation_and_saves_with_it(client, staff):
    login(client, staff.organizer)
    past = form_data(staff, day="2026-02-20")
    page = client.post("/stages/nouveau", data=past).get_data(as_text=True)
    assert "Je confirme cette date passée" in page and "une date passée : cochez" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Course)) == 0
    response = client.post("/stages/nouveau", data={**past, "confirm_past": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Course)) == 1


def test_moving_a_course_into_the_past_needs_the_confirmation_but_editing_a_past_one_does_not(staff, make):
    course = make.course(venue=staff.venue, organizations=[staff.apcars], day=date(2026, 3, 20))
    db.session.flush()
    with pytest.raises(DomainError, match="une date passée"):
        services.update_course(course, course_data(staff, date(2026, 2, 27)), by=staff.organizer)
    held = make.course(venue=staff.venue, organizations=[staff.apcars], day=date(2026, 2, 10),
                       parts=((time(9, 30), time(12, 30)),))
    renamed = course_data(staff, date(2026, 2, 10))
    renamed.title = "Stage du 10 février"
    assert services.update_course(held, renamed, by=staff.organizer)  # same dates: no question


def test_held_is_offered_only_once_the_course_has_ended(staff, make, client):
    future = make.course(venue=staff.venue, organizations=[staff.apcars], day=date(2026, 3, 12))
    ended = make.course(venue=staff.venue, organizations=[staff.apcars], day=date(2026, 2, 26))
    draft = Course(title="Vide", venue=staff.venue, status=CourseStatus.DRAFT, capacity=5,
                   organizations=[staff.apcars])
    db.session.add(draft)
    db.session.flush()
    assert CourseStatus.HELD not in services.possible_transitions(future)
    assert CourseStatus.HELD in services.possible_transitions(ended)
    assert CourseStatus.SCHEDULED not in services.possible_transitions(draft)  # no half-day yet
    assert CourseStatus.CANCELLED in services.possible_transitions(draft)
    with pytest.raises(DomainError, match="qu'après sa dernière demi-journée"):
        services.change_status(future, CourseStatus.HELD, by=staff.organizer)
    db.session.commit()
    login(client, staff.organizer)
    assert 'value="held"' not in client.get(f"/stages/{future.id}").get_data(as_text=True)
    assert 'value="held"' in client.get(f"/stages/{ended.id}").get_data(as_text=True)
    draft_page = client.get(f"/stages/{draft.id}").get_data(as_text=True)
    assert 'value="scheduled"' not in draft_page and "Annuler le stage" in draft_page


def test_a_series_starts_today_or_later(staff):
    with pytest.raises(DomainError, match="Une série commence aujourd'hui ou plus tard"):
        services.check_series_day(
            course_data(staff, date(2026, 3, 2)), [(0, time(9, 30), time(12, 30))],
            date(2026, 3, 1), today=date(2026, 3, 2),
        )
    services.check_series_day(
        course_data(staff, date(2026, 3, 2)), [(0, time(9, 30), time(12, 30))],
        date(2026, 3, 2) + timedelta(days=7), today=date(2026, 3, 2),
    )
