"""A course's calendar events keep their identity when it moves: the same UIDs in every feed and in
its own .ics, a SEQUENCE that only grows. Checked with two independent parsers (``icalendar``
and Mozilla's ical.js), as calendar applications read them."""
from datetime import date, datetime, time, timezone

import pytest
import time_machine

from stages.auth.models import Role
from stages.extensions import db
from stages.scheduling.models import Course
from stages.timeutil import local_to_utc
from tests.calendar_feeds.parsers import read_both, uid_sequences
from tests.helpers import course_edit_form, login

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DAY = date(2026, 3, 12)  # a Thursday


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def case(make):
    """A course with a person enrolled (so an edit asks for confirmation), its facilitator and
    organizer, and a later course so that the course's ids are not the highest ones."""
    org = make.organization(name="APCARS")
    venue = make.venue(name="MJD du 17e")
    facilitator = make.user(Role.FACILITATOR, [org], full_name="Julien Morel")
    organizer = make.user(Role.ORGANIZER, [org])
    course = make.course(venue, [org], [facilitator], day=DAY)
    make.enrollment(make.measure(), course)
    make.course(make.venue(), day=date(2026, 4, 2))
    return {"org": org, "venue": venue, "facilitator": facilitator, "organizer": organizer,
            "course": course}


def _urls(case) -> list[str]:
    facilitator, organizer = case["facilitator"], case["organizer"]
    course_id, venue_id, org_id = case["course"].id, case["venue"].id, case["org"].id
    return [
        f"/agenda/{facilitator.feed_token}/mes-stages.ics",
        f"/agenda/{organizer.feed_token}/lieu/{venue_id}.ics",
        f"/agenda/{organizer.feed_token}/organisation/{org_id}.ics",
        f"/stages/{course_id}/agenda.ics",  # the organizer is logged in
    ]


def _readings(client, case) -> list[dict]:
    bodies = []
    for url in _urls(case):
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.data)
    return read_both(*bodies)


def _starts(reading: dict) -> list[str]:
    return [event["start"] for event in reading["events"]]


def _iso(day, hour, minute) -> str:
    return local_to_utc(day, time(hour, minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_moving_and_shifting_a_course_keeps_its_uids_and_raises_their_sequence(client, case):
    course = case["course"]
    part_ids = [part.id for part in course.parts]
    login(client, case["organizer"])
    before = _readings(client, case)
    expected_uids = {f"session-part-{part_id}@stages.test" for part_id in part_ids}
    for reading in before:
        assert set(uid_sequences(reading)) == expected_uids
        assert set(uid_sequences(reading).values()) == {0}

    # Another date, same times.
    moved_to = date(2026, 3, 19)
    response = client.post(
        f"/stages/{course.id}/modifier",
        data=course_edit_form(course, [(moved_to, "09:30", "12:30"), (moved_to, "13:30", "16:30")],
                              confirm=True),
    )
    assert response.status_code == 302
    moved = _readings(client, case)
    for reading in moved:
        assert set(uid_sequences(reading)) == expected_uids
        assert set(uid_sequences(reading).values()) == {1}
        assert _starts(reading) == [_iso(moved_to, 9, 30), _iso(moved_to, 13, 30)]

    # Only thirty minutes later.
    course = db.session.get(Course, course.id)
    response = client.post(
        f"/stages/{course.id}/modifier",
        data=course_edit_form(course, [(moved_to, "10:00", "13:00"), (moved_to, "14:00", "17:00")],
                              confirm=True),
    )
    assert response.status_code == 302
    shifted = _readings(client, case)
    for reading in shifted:
        assert set(uid_sequences(reading)) == expected_uids
        assert set(uid_sequences(reading).values()) == {2}
        assert _starts(reading) == [_iso(moved_to, 10, 0), _iso(moved_to, 14, 0)]
