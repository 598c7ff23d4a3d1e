"""Attendance marks, their times and notes, corrections, and closing decisions are saved.

Each field of a mark is changed alone through the attendance sheet, then read back from the
database with the revision that records it; each outcome chosen at closing, with the reason of
an override, is read back from the enrollment, its measure and its history.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.attendance.models import AttendanceMark, AttendanceRevision, AttendanceStatus
from stages.auth.models import Role
from stages.enrollment.models import Enrollment, EnrollmentEvent, EnrollmentStatus, MeasureStatus
from stages.extensions import db
from stages.scheduling.models import CourseStatus
from stages.timeutil import to_local
from tests.helpers import FieldChange, assert_saved, form_with, fresh, login

DAY = date(2026, 3, 12)  # a Thursday: 09:30–12:30 and 13:30–16:30
ON_THE_DAY = datetime(2026, 3, 12, 11, 0, tzinfo=timezone.utc)
NEXT_DAY = datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def world(make):
    w = type("World", (), {})()
    w.assoc = make.organization(name="APCARS")
    w.facilitator = make.user(Role.FACILITATOR, [w.assoc])
    w.organizer = make.user(Role.ORGANIZER, [w.assoc])
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=timezone.utc), tick=False):
        w.course = make.course(organizations=[w.assoc], facilitators=[w.facilitator], day=DAY)
        w.enrollment = make.enrollment(make.measure(), w.course)
    w.morning = w.course.parts[0]
    db.session.commit()
    return w


def _local(moment: datetime | None) -> str | None:
    return f"{to_local(moment):%H:%M}" if moment else None


def _mark_fields(enrollment_id: int) -> list[FieldChange]:
    return [
        FieldChange(f"status-{enrollment_id}", "present", "late", lambda m: m.status,
                    AttendanceStatus.PRESENT, AttendanceStatus.LATE),
        FieldChange(f"arrived-{enrollment_id}", "09:35", "09:50", lambda m: _local(m.arrived_at),
                    "09:35", "09:50"),
        FieldChange(f"left-{enrollment_id}", "12:25", "12:10", lambda m: _local(m.left_at),
                    "12:25", "12:10"),
        FieldChange(f"note-{enrollment_id}", "RAS", "Bouchons sur le périphérique",
                    lambda m: m.note, "RAS", "Bouchons sur le périphérique"),
    ]


def _mark(enrollment_id: int) -> AttendanceMark:
    db.session.expire_all()
    return db.session.scalars(
        sa.select(AttendanceMark).where(AttendanceMark.enrollment_id == enrollment_id)
    ).one()


def _last_revision(mark_id: int) -> AttendanceRevision:
    return db.session.scalars(
        sa.select(AttendanceRevision).where(AttendanceRevision.mark_id == mark_id)
        .order_by(AttendanceRevision.id.desc()).limit(1)
    ).one()


@pytest.mark.parametrize("field", ["status", "arrived", "left", "note", "*"])
def test_each_field_of_a_mark_is_saved_with_its_revision(client, world, field):
    enrollment_id = world.enrollment.id
    fields = _mark_fields(enrollment_id)
    changed = {"*": "*"}.get(field, f"{field}-{enrollment_id}")
    url = f"/stages/{world.course.id}/presence/{world.morning.id}"
    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, world.facilitator)
        assert client.post(url, data=form_with(fields)).status_code == 302
        assert_saved(_mark(enrollment_id), fields, None)
        assert client.post(url, data=form_with(fields, changed)).status_code == 302
    mark = _mark(enrollment_id)
    assert_saved(mark, fields, changed)
    assert (mark.updated_by_id, mark.updated_at) == (world.facilitator.id, ON_THE_DAY)
    revision = _last_revision(mark.id)
    assert_saved(revision, fields, changed)  # the history holds what was typed
    assert (revision.changed_by_id, revision.changed_at, revision.reason) == (
        world.facilitator.id, ON_THE_DAY, None,
    )


@pytest.mark.parametrize("status", [s.value for s in AttendanceStatus])
def test_each_attendance_status_is_saved(client, world, status):
    enrollment_id = world.enrollment.id
    data = {
        f"status-{enrollment_id}": status,
        f"arrived-{enrollment_id}": "09:50" if status == "late" else "",
        f"left-{enrollment_id}": "11:45" if status == "left_early" else "",
    }
    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, world.facilitator)
        response = client.post(f"/stages/{world.course.id}/presence/{world.morning.id}", data=data)
    assert response.status_code == 302
    mark = _mark(enrollment_id)
    assert mark.status == AttendanceStatus(status)
    assert (_local(mark.arrived_at), _local(mark.left_at)) == (
        "09:50" if status == "late" else None, "11:45" if status == "left_early" else None,
    )


def test_a_correction_is_saved_with_its_reason(client, world):
    enrollment_id = world.enrollment.id
    fields = _mark_fields(enrollment_id)
    url = f"/stages/{world.course.id}/presence/{world.morning.id}"
    with time_machine.travel(ON_THE_DAY, tick=False):
        login(client, world.facilitator)
        client.post(url, data=form_with(fields))
        client.post("/deconnexion")
    with time_machine.travel(NEXT_DAY, tick=False):
        login(client, world.organizer)
        response = client.post(url, data=form_with(fields, "*", reason="Heure d'arrivée relevée sur la feuille"))
    assert response.status_code == 302
    mark = _mark(enrollment_id)
    assert_saved(mark, fields, "*")
    assert (mark.updated_by_id, mark.updated_at) == (world.organizer.id, NEXT_DAY)
    revision = _last_revision(mark.id)
    assert (revision.reason, revision.changed_by_id, revision.changed_at) == (
        "Heure d'arrivée relevée sur la feuille", world.organizer.id, NEXT_DAY,
    )


# ---------------------------------------------------------------------------------------------
# Closing: the outcome of each person, and the reason of an override

P, A, E = AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED


@pytest.mark.parametrize(
    ("marks", "chosen", "reason", "measure_status"),
    [
        ((P, P), EnrollmentStatus.ATTENDED, None, MeasureStatus.ATTENDED),
        ((P, P), EnrollmentStatus.PARTLY_ATTENDED, "Parti à 15 h sans prévenir",
         MeasureStatus.PARTLY_ATTENDED),
        ((P, A), EnrollmentStatus.ATTENDED, "Absence de 30 minutes rattrapée",
         MeasureStatus.ATTENDED),
        ((A, A), EnrollmentStatus.ABSENT_EXCUSED, "Hospitalisation, certificat reçu le 13 mars",
         MeasureStatus.ABSENT_EXCUSED),
        ((E, E), EnrollmentStatus.ABSENT_UNEXCUSED, "Justificatif refusé par le parquet",
         MeasureStatus.ABSENT_UNEXCUSED),
    ],
)
def test_each_outcome_chosen_at_closing_is_saved_with_its_reason(
    client, world, marks, chosen, reason, measure_status
):
    enrollment = world.enrollment
    for part, status in zip(world.course.parts, marks):
        db.session.add(AttendanceMark(enrollment_id=enrollment.id, part_id=part.id, status=status))
    world.course.status = CourseStatus.HELD
    db.session.commit()
    with time_machine.travel(NEXT_DAY, tick=False):
        login(client, world.organizer)
        response = client.post(f"/stages/{world.course.id}/cloture", data={
            f"outcome-{enrollment.id}": chosen.value,
            # Typed even when it confirms the computed outcome: kept only for an override.
            f"reason-{enrollment.id}": reason or "Conforme à la feuille",
        })
    assert response.status_code == 302
    saved = fresh(Enrollment, enrollment.id)
    assert (saved.status, saved.outcome_override_reason, saved.measure.status) == (
        chosen, reason, measure_status,
    )
    assert saved.course.status == CourseStatus.CLOSED
    event = db.session.scalars(
        sa.select(EnrollmentEvent).where(EnrollmentEvent.enrollment_id == enrollment.id)
    ).one()
    assert (event.to_status, event.user_id) == (chosen.value, world.organizer.id)
    assert event.note == (f"Clôture du stage — {reason}." if reason else "Clôture du stage.")
