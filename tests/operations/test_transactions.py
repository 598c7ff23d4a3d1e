"""Every multi-step write is one transaction: a crash half-way leaves nothing half-done.

Each test makes a function called inside the loop raise on its 2nd or 3rd call, as a crash
would (a bug, a killed worker, a full disk), then checks through a separate connection that
nothing of the action was committed, and through the session once rolled back that nothing
remains. In tests the exception propagates out of the test client (TESTING): the request's
teardown removes its session, which is what a real worker does after a 500.
"""
from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.attendance.models import AttendanceStatus
from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.extensions import db
from stages.scheduling.models import Course, CourseChange, CourseStatus
from stages.auth.models import OrganizationKind
from tests.helpers import login


class Crash(RuntimeError):
    """The failure injected half-way."""


def crash_on_call(monkeypatch, owner, name: str, call: int) -> list:
    """Make ``owner.name`` behave normally, then raise ``Crash`` on its ``call``-th call.

    Returns the list of calls seen, so a test can check the crash really happened mid-way.
    """
    real = getattr(owner, name)
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise Crash(f"panne simulée à l'appel n° {call} de {name}")
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)
    return calls


def committed(model, *where) -> int:
    """Rows of ``model`` visible to another connection, i.e. committed."""
    with db.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def audited(action: str) -> int:
    return committed(AuditEntry, AuditEntry.action == action)


# ---------------------------------------------------------------------------------------------
# Referral import


def referral_csv(count: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(["Nom", "Prénom", "Date de naissance", "Cadre", "Autorité", "N° de parquet",
                     "Date de décision", "Date limite"])
    for i in range(count):
        writer.writerow([f"PERSONNE{i}", "Jean", f"{i + 1:02d}/01/1980", "Composition pénale",
                         "Parquet de Paris", f"25{i:09d}", "06/01/2026", "06/07/2026"])
    return buffer.getvalue().encode("utf-8")


def test_import_that_crashes_half_way_creates_nothing(app, make, monkeypatch):
    from stages.enrollment import importer
    from stages.enrollment.importer import writing

    make.organization(OrganizationKind.PARQUET, name="Parquet de Paris", short_name="Parquet Paris")
    apcars = make.organization(name="APCARS", short_name="APCARS")
    organizer = make.user(Role.ORGANIZER, [apcars])
    db.session.commit()
    table = importer.read_table(referral_csv(5), "liste.csv")
    calls = crash_on_call(monkeypatch, writing, "add_measure", 3)

    with app.test_request_context(), pytest.raises(Crash):
        importer.run_import(table, apcars, by=organizer)

    assert len(calls) == 3  # two measures were created, and flushed, before the crash
    assert committed(Participant) == 0 and committed(LegalMeasure) == 0
    assert audited("referrals.imported") == 0
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Participant)) == 0

    # The same file, without the fault, imports completely: nothing was left to collide with.
    monkeypatch.undo()
    report = importer.run_import(importer.read_table(referral_csv(5), "liste.csv"), apcars, by=organizer)
    db.session.commit()
    assert report.created == 5 and committed(LegalMeasure) == 5


# ---------------------------------------------------------------------------------------------
# Closing a session


@pytest.fixture
def held(make):
    """A held session with three people, attendance taken, and its organizer."""
    c = type("Held", (), {})()
    c.assoc = make.organization(name="APCARS")
    c.organizer = make.user(Role.ORGANIZER, [c.assoc])
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=timezone.utc), tick=False):
        c.course = make.course(organizations=[c.assoc], day=date(2026, 3, 12))
        c.enrollments = [make.enrollment(make.measure(), c.course) for _ in range(3)]
    for enrollment in c.enrollments:
        for part in c.course.parts:
            make.attendance_mark(enrollment, part, AttendanceStatus.PRESENT)
    c.course.status = CourseStatus.HELD
    db.session.commit()
    return c


def test_closing_a_course_that_crashes_half_way_saves_nothing(client, held, monkeypatch):
    from stages.enrollment import services as enrollment_services

    calls = crash_on_call(monkeypatch, enrollment_services, "set_enrollment_status_unchecked", 2)
    with time_machine.travel(datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc), tick=False):
        login(client, held.organizer)
        with pytest.raises(Crash):
            client.post(f"/stages/{held.course.id}/cloture", data={})

    assert len(calls) == 2  # the first person's outcome was written (flushed) before the crash
    assert committed(Course, Course.status == CourseStatus.CLOSED) == 0
    assert committed(Enrollment, Enrollment.status == EnrollmentStatus.SUMMONED) == 3
    assert committed(EnrollmentEvent) == 0
    assert committed(LegalMeasure, LegalMeasure.status != MeasureStatus.REFERRED) == 0
    assert audited("session.closed") == 0
    db.session.expire_all()
    assert db.session.get(Course, held.course.id).status == CourseStatus.HELD

    # Once the fault is gone, closing works and every outcome is written at once.
    monkeypatch.undo()
    with time_machine.travel(datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc), tick=False):
        assert client.post(f"/stages/{held.course.id}/cloture", data={}).status_code == 302
    assert committed(Enrollment, Enrollment.status == EnrollmentStatus.ATTENDED) == 3
    assert audited("session.closed") == 1


# ---------------------------------------------------------------------------------------------
# Issuing the attestations of a session


def test_issuing_certificates_that_crashes_half_way_issues_none(client, make, monkeypatch):
    from stages.certificates import issuing
    from stages.certificates.models import Certificate

    assoc = make.organization(name="APCARS")
    organizer = make.user(Role.ORGANIZER, [assoc])
    with time_machine.travel(datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc), tick=False):
        course, _ = make.closed_course_with(people=3, organizations=[assoc], day=date(2026, 3, 16))
        db.session.commit()
        # The PDF of each attestation is drawn (for its fingerprint) inside the loop.
        calls = crash_on_call(monkeypatch, issuing, "_render", 2)
        login(client, organizer)
        with pytest.raises(Crash):
            client.post(f"/stages/{course.id}/attestations")

        assert len(calls) == 2
        assert committed(Certificate) == 0
        assert committed(LegalMeasure, LegalMeasure.status == MeasureStatus.CERTIFICATE_ISSUED) == 0
        assert audited("certificate.issued") == 0

        monkeypatch.undo()
        assert client.post(f"/stages/{course.id}/attestations").status_code == 302
    # Numbering starts at 1: the crashed attempt consumed no number.
    assert sorted(db.session.scalars(sa.select(Certificate.sequence))) == [1, 2, 3]


# ---------------------------------------------------------------------------------------------
# Creating a series of sessions


def test_series_that_crashes_half_way_creates_no_course(client, make, monkeypatch):
    from stages.scheduling.services import series as scheduling_series

    apcars = make.organization(name="APCARS")
    organizer = make.user(Role.ORGANIZER, [apcars])
    venue = make.venue(name="Préfecture", capacity=16)
    db.session.commit()
    form = {
        "title": "Stage de sensibilisation", "venue": str(venue.id), "capacity": "12",
        "min_participants": "5", "fee": "180", "organizations": [str(apcars.id)],
        "first_day": "2026-03-01", "last_day": "2026-03-31", "weekday": "3",
        "frequency": "weekly", "nth": "2", "morning_start": "09:30", "morning_end": "12:30",
        "afternoon_start": "13:30", "afternoon_end": "16:30", "create": "1",
        "selected": ["2026-03-05", "2026-03-12", "2026-03-19", "2026-03-26"],
    }
    calls = crash_on_call(monkeypatch, scheduling_series, "create_course", 3)
    with time_machine.travel(datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc), tick=False):
        login(client, organizer)
        with pytest.raises(Crash):
            client.post("/stages/serie", data=form)
        assert len(calls) == 3
        assert committed(Course) == 0
        assert committed(CourseChange) == 0
        assert audited("session.series_created") == 0

        monkeypatch.undo()
        assert client.post("/stages/serie", data=form).status_code == 302
    assert committed(Course) == 4
