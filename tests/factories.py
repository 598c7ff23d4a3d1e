"""Factories that build valid objects with sensible defaults; each flushes, the test commits."""
from __future__ import annotations

import itertools
from datetime import date, time, timedelta

from stages.auth.models import Role, User
from stages.auth.services import hash_password
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    Participant,
)
from stages.enrollment.ledger.services import sync_with_measure
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart, CourseStatus, Venue
from stages.auth.models import Organization, OrganizationKind
from stages.timeutil import local_to_utc, today_local

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)
# Hashing with argon2 costs ~50 ms: hash the shared test password once.
_PASSWORD_HASH = None


def _password_hash(password: str) -> str:
    global _PASSWORD_HASH
    if password != PASSWORD:
        return hash_password(password)
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password(PASSWORD)
    return _PASSWORD_HASH


def organization(kind=OrganizationKind.ASSOCIATION, name=None, **kw) -> Organization:
    n = next(_counter)
    name = name or f"{kind.label} {n}"
    org = Organization(name=name, short_name=kw.pop("short_name", name[:60]), kind=kind, **kw)
    db.session.add(org)
    db.session.flush()
    return org


def authority(name=None) -> Organization:
    return organization(OrganizationKind.PARQUET, name=name)


def user(role=Role.ORGANIZER, organizations=(), email=None, password=PASSWORD, **kw) -> User:
    n = next(_counter)
    account = User(
        email=email or f"{role.value}{n}@stages.test",
        full_name=kw.pop("full_name", f"{role.label} {n}"),
        role=role,
        password_hash=_password_hash(password),
        organizations=list(organizations),
        **kw,
    )
    db.session.add(account)
    db.session.flush()
    return account


def venue(**kw) -> Venue:
    n = next(_counter)
    data = dict(
        name=f"Salle {n}", address=f"{n} rue de la Paix", postal_code="75002", city="Paris",
        capacity=15,
    )
    data.update(kw)
    place = Venue(**data)
    db.session.add(place)
    db.session.flush()
    return place


def course(
    venue=None,
    organizations=(),
    facilitators=(),
    day: date | None = None,
    parts=((time(9, 30), time(12, 30)), (time(13, 30), time(16, 30))),
    status=CourseStatus.SCHEDULED,
    capacity=12,
    programme=True,
    **kw,
) -> Course:
    venue = venue or globals()["venue"]()
    day = day or today_local() + timedelta(days=14)
    built_parts = [
        CoursePart(starts_at=local_to_utc(day, start), ends_at=local_to_utc(day, end))
        for start, end in parts
    ]
    course = Course(
        title=kw.pop("title", "Stage de sensibilisation"),
        venue=venue,
        status=status,
        capacity=capacity,
        parts=built_parts,
        starts_at=built_parts[0].starts_at,
        ends_at=built_parts[-1].ends_at,
        organizations=list(organizations),
        facilitators=list(facilitators),
        **kw,
    )
    _default_programme(course, programme)
    db.session.add(course)
    db.session.flush()
    return course


def _default_programme(course: Course, wanted: bool) -> None:
    """The co-organizing association's default programme, which covers the décret's contents,
    as a course created through the service starts with (``programme=False``: none)."""
    from stages.scheduling.programme.services import apply_default_programme, catalogue_owner, default_modules

    owner = catalogue_owner(course.organizations, None) if wanted else None
    if owner is not None:
        apply_default_programme(course, default_modules(owner))


def participant(surname=None, first_names="Jean", **kw) -> Participant:
    n = next(_counter)
    surname = surname or f"DUPONT{n}"
    person = Participant(
        surname=surname,
        first_names=first_names,
        birth_date=kw.pop("birth_date", date(1980, 5, 17)),
        search_key=f"{surname} {first_names}".lower(),
        **kw,
    )
    db.session.add(person)
    db.session.flush()
    return person


def measure(participant=None, authority=None, handling=None, **kw) -> LegalMeasure:
    participant = participant or globals()["participant"]()
    authority = authority or globals()["authority"]()
    decision = kw.pop("decision_date", today_local() - timedelta(days=30))
    item = LegalMeasure(
        participant=participant,
        authority=authority,
        handling_organization=handling,
        frame=kw.pop("frame", LegalFrame.COMPOSITION_PENALE),
        case_reference=kw.pop("case_reference", f"24{next(_counter):09d}"),
        decision_date=decision,
        deadline=kw.pop("deadline", decision + timedelta(days=180)),
        **kw,
    )
    db.session.add(item)
    db.session.flush()
    sync_with_measure(item)  # its amount charged in the ledger, as the services do
    return item


def enrollment(measure, course, status=EnrollmentStatus.SUMMONED, **kw) -> Enrollment:
    item = Enrollment(measure=measure, course=course, status=status, **kw)
    db.session.add(item)
    if status in SEAT_HOLDING_STATUSES:  # as the services count them
        course.seats_taken += 1
    db.session.flush()
    return item


def course_at(
    spans,
    venue=None,
    organizations=(),
    facilitators=(),
    status=CourseStatus.SCHEDULED,
    capacity=12,
    programme=True,
    **kw,
) -> Course:
    """A session whose parts are given as aware (start, end) datetimes, e.g. in UTC."""
    venue = venue or globals()["venue"]()
    built_parts = [CoursePart(starts_at=start, ends_at=end) for start, end in spans]
    course = Course(
        title=kw.pop("title", "Stage de sensibilisation"),
        venue=venue,
        status=status,
        capacity=capacity,
        parts=built_parts,
        starts_at=built_parts[0].starts_at,
        ends_at=built_parts[-1].ends_at,
        organizations=list(organizations),
        facilitators=list(facilitators),
        **kw,
    )
    _default_programme(course, programme)
    db.session.add(course)
    db.session.flush()
    return course


# --- Attendance marks and closed sessions (certificates) -------------------------------------


def attendance_mark(enrollment, part, status=None, **kw):
    """The mark of one enrollment for one half-day part (present by default)."""
    from stages.attendance.models import AttendanceMark, AttendanceStatus

    mark = AttendanceMark(
        enrollment=enrollment, part=part, status=status or AttendanceStatus.PRESENT, **kw
    )
    db.session.add(mark)
    db.session.flush()
    return mark


def closed_course_with(
    people=2,
    organizations=(),
    authority=None,
    handling=None,
    day: date | None = None,
    status=EnrollmentStatus.ATTENDED,
    **kw,
):
    """A CLOSED session whose ``people`` enrollments have ``status`` and a present mark on
    every part (none when the status is an absence). Returns (session, enrollments)."""
    from stages.attendance.models import AttendanceStatus
    from stages.enrollment.models import MeasureStatus

    closed = course(
        organizations=organizations, day=day or today_local() - timedelta(days=3),
        status=CourseStatus.CLOSED, **kw,
    )
    measure_status = {
        EnrollmentStatus.ATTENDED: MeasureStatus.ATTENDED,
        EnrollmentStatus.PARTLY_ATTENDED: MeasureStatus.PARTLY_ATTENDED,
        EnrollmentStatus.ABSENT_UNEXCUSED: MeasureStatus.ABSENT_UNEXCUSED,
        EnrollmentStatus.ABSENT_EXCUSED: MeasureStatus.ABSENT_EXCUSED,
    }.get(status, MeasureStatus.ENROLLED)
    enrollments = []
    for _ in range(people):
        item = enrollment(
            measure(authority=authority, handling=handling, status=measure_status), closed,
            status=status,
        )
        if status in (EnrollmentStatus.ATTENDED, EnrollmentStatus.PARTLY_ATTENDED):
            parts = closed.parts if status == EnrollmentStatus.ATTENDED else closed.parts[:1]
            for part in parts:
                attendance_mark(item, part, AttendanceStatus.PRESENT)
        enrollments.append(item)
    return closed, enrollments


# --- Reports: certificates and bulk measures ---------------------------------------------------


def certificate(enrollment, **kw):
    """An attestation for ``enrollment`` (numbered from a counter, no PDF)."""
    from stages.certificates.models import Certificate

    n = next(_counter)
    year = kw.pop("year", today_local().year)
    item = Certificate(
        enrollment=enrollment,
        year=year,
        sequence=kw.pop("sequence", n),
        number=kw.pop("number", f"{year}-{n:05d}"),
        verification_code=kw.pop("verification_code", f"CODE{n:012d}"),
        hours_attended_minutes=kw.pop("hours_attended_minutes", 360),
        **kw,
    )
    db.session.add(item)
    db.session.flush()
    return item


def bulk_measures(count: int, authority, *, handling=None, prefix="MASSE", **kw) -> None:
    """``count`` participants with one measure each, in two bulk INSERTs (fast at 10,000)."""
    import sqlalchemy as sa

    start = next(_counter) * 100_000
    people = [
        {
            "surname": f"{prefix}{start + i}",
            "first_names": "Paul",
            "search_key": f"{prefix.lower()}{start + i} paul",
        }
        for i in range(count)
    ]
    ids = db.session.scalars(sa.insert(Participant).returning(Participant.id), people).all()
    decision = kw.pop("decision_date", today_local() - timedelta(days=30))
    db.session.execute(
        sa.insert(LegalMeasure),
        [
            {
                "participant_id": participant_id,
                "authority_id": authority.id,
                "handling_organization_id": handling.id if handling else None,
                "frame": kw.get("frame", LegalFrame.COMPOSITION_PENALE),
                "case_reference": f"B{start + i:010d}",
                "decision_date": decision,
                "deadline": decision + timedelta(days=180 + i % 200),
            }
            for i, participant_id in enumerate(ids)
        ],
    )


def api_token(user, name="Outil du service", days=30) -> str:
    """A personal access token of ``user``, created by the service; returns its value."""
    from stages.api.tokens import create_token

    return create_token(user, name, today_local() + timedelta(days=days)).value
