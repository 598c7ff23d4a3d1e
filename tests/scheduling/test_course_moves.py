"""Moving a course keeps its half-days: the same part rows, so the same calendar UIDs and the same
attendance marks. Parts are matched by their place in the course (which day, which half of it),
not by identical times."""
from datetime import date, datetime, time, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.attendance.models import AttendanceMark
from stages.auth.models import Role
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart, FacilitatorBooking
from stages.scheduling.services import CourseData, PartSpec, update_course
from stages.timeutil import local_to_utc

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
DAY = date(2026, 3, 12)  # a Thursday


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def setting(make):
    org = make.organization(name="APCARS")
    organizer = make.user(Role.ORGANIZER, [org])
    julien = make.user(Role.FACILITATOR, [org], full_name="Julien Morel")
    venue = make.venue(name="MJD du 17e")
    return org, organizer, julien, venue


def _newer_rows(make) -> None:
    """Another course saved after the one under test: SQLite reuses the highest ids freed, so
    without rows above them a deleted and re-created part could get its old id back."""
    make.course(make.venue(), day=date(2026, 4, 2))



def _data(course: Course, parts, venue=None) -> CourseData:
    """The course's own settings with other half-days: ``parts`` as (day, "HH:MM", "HH:MM")."""
    return CourseData(
        title=course.title,
        venue=venue or course.venue,
        capacity=course.capacity,
        min_participants=course.min_participants,
        fee_cents=course.fee_cents,
        parts=[PartSpec(day, time.fromisoformat(s), time.fromisoformat(e)) for day, s, e in parts],
        organizations=list(course.organizations),
        facilitators=list(course.facilitators),
        notes=course.notes,
    )


def _spans(course: Course) -> list[tuple[int, datetime, datetime]]:
    db.session.expire_all()
    parts = db.session.scalars(
        sa.select(CoursePart).where(CoursePart.course_id == course.id).order_by(CoursePart.starts_at)
    ).all()
    return [(p.id, p.starts_at, p.ends_at) for p in parts]


def test_moving_to_another_date_keeps_each_half_day(make, setting):
    org, organizer, julien, venue = setting
    course = make.course(venue, [org], [julien], day=DAY)
    _newer_rows(make)
    ids = [p.id for p in course.parts]

    update_course(course, _data(course, [(date(2026, 3, 19), "09:30", "12:30"),
                                         (date(2026, 3, 19), "13:30", "16:30")]), by=organizer)
    db.session.commit()

    assert _spans(course) == [
        (ids[0], local_to_utc(date(2026, 3, 19), time(9, 30)), local_to_utc(date(2026, 3, 19), time(12, 30))),
        (ids[1], local_to_utc(date(2026, 3, 19), time(13, 30)), local_to_utc(date(2026, 3, 19), time(16, 30))),
    ]
    course = db.session.get(Course, course.id)
    assert course.ical_sequence == 1
    assert course.starts_at == local_to_utc(date(2026, 3, 19), time(9, 30))
    bookings = db.session.scalars(
        sa.select(FacilitatorBooking).where(FacilitatorBooking.part_id.in_(ids))
        .order_by(FacilitatorBooking.part_id)
    ).all()
    assert [(b.part_id, b.starts_at, b.is_active) for b in bookings] == [
        (ids[0], local_to_utc(date(2026, 3, 19), time(9, 30)), True),
        (ids[1], local_to_utc(date(2026, 3, 19), time(13, 30)), True),
    ]


def test_a_30_minute_shift_keeps_the_half_days_and_their_attendance(make, setting):
    org, organizer, julien, venue = setting
    course = make.course(venue, [org], [julien], day=DAY)
    _newer_rows(make)
    enrollment = make.enrollment(make.measure(), course)
    marks = [make.attendance_mark(enrollment, part).id for part in course.parts]
    ids = [p.id for p in course.parts]

    update_course(course, _data(course, [(DAY, "10:00", "13:00"), (DAY, "14:00", "17:00")]),
                  by=organizer)
    db.session.commit()

    assert [span[0] for span in _spans(course)] == ids
    kept = db.session.scalars(sa.select(AttendanceMark).order_by(AttendanceMark.id)).all()
    assert [(m.id, m.part_id) for m in kept] == list(zip(marks, ids))


def test_a_shift_onto_the_old_times_of_the_next_half_day_passes_the_database_guard(make, setting):
    """The morning moves onto the old afternoon: written one row at a time, the database must
    never see the two half-days (or the facilitator's two bookings) overlap."""
    org, organizer, julien, venue = setting
    course = make.course(venue, [org], [julien], day=DAY)
    _newer_rows(make)
    ids = [p.id for p in course.parts]

    update_course(course, _data(course, [(DAY, "12:00", "15:00"), (DAY, "15:30", "17:30")]),
                  by=organizer)
    db.session.commit()

    assert [span[0] for span in _spans(course)] == ids
    assert _spans(course)[0][1] == local_to_utc(DAY, time(12, 0))
    # And back again, the afternoon now moving onto the morning's old times.
    course = db.session.get(Course, course.id)
    update_course(course, _data(course, [(DAY, "09:00", "12:00"), (DAY, "12:30", "15:30")]),
                  by=organizer)
    db.session.commit()
    assert [(span[0], span[1]) for span in _spans(course)] == [
        (ids[0], local_to_utc(DAY, time(9, 0))), (ids[1], local_to_utc(DAY, time(12, 30))),
    ]


def test_half_days_are_matched_by_their_place_not_by_identical_times(make, setting):
    """Day 2 loses its afternoon and its morning moves: day 1 keeps both rows, day 2 keeps its
    morning's row, and only the afternoon that went away is deleted."""
    org, organizer, julien, venue = setting
    second = date(2026, 3, 13)
    course = make.course(venue, [org], [julien], day=DAY)
    course.parts.append(CoursePart(starts_at=local_to_utc(second, time(9, 30)),
                                   ends_at=local_to_utc(second, time(12, 30))))
    course.parts.append(CoursePart(starts_at=local_to_utc(second, time(13, 30)),
                                   ends_at=local_to_utc(second, time(16, 30))))
    db.session.flush()
    _newer_rows(make)
    ids = [p.id for p in sorted(course.parts, key=lambda p: p.starts_at)]

    update_course(course, _data(course, [(DAY, "09:30", "12:30"), (DAY, "13:30", "16:30"),
                                         (date(2026, 3, 20), "10:00", "13:00")]), by=organizer)
    db.session.commit()

    assert [span[0] for span in _spans(course)] == ids[:3]
    assert _spans(course)[2][1] == local_to_utc(date(2026, 3, 20), time(10, 0))
    assert db.session.get(CoursePart, ids[3]) is None


def test_moving_to_another_venue_keeps_the_half_days(make, setting):
    org, organizer, julien, venue = setting
    course = make.course(venue, [org], [julien], day=DAY)
    _newer_rows(make)
    ids = [p.id for p in course.parts]
    elsewhere = make.venue(name="Préfecture")

    update_course(course, _data(course, [(DAY, "09:30", "12:30"), (DAY, "13:30", "16:30")],
                                venue=elsewhere), by=organizer)
    db.session.commit()

    parts = db.session.scalars(
        sa.select(CoursePart).where(CoursePart.course_id == course.id).order_by(CoursePart.starts_at)
    ).all()
    assert [(p.id, p.venue_id) for p in parts] == [(ids[0], elsewhere.id), (ids[1], elsewhere.id)]
