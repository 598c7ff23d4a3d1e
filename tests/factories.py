"""Factories that build valid objects with sensible defaults; each flushes, the test commits."""
from __future__ import annotations

import itertools
from datetime import date, time, timedelta

from stages.auth.models import Role, User
from stages.auth.services import hash_password
from stages.enrollment.models import (
    Enrollment,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    Participant,
)
from stages.extensions import db
from stages.scheduling.models import (
    CourseSession,
    Organization,
    OrganizationKind,
    SessionPart,
    SessionStatus,
    Venue,
)
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


def session(
    venue=None,
    organizations=(),
    facilitators=(),
    day: date | None = None,
    parts=((time(9, 30), time(12, 30)), (time(13, 30), time(16, 30))),
    status=SessionStatus.SCHEDULED,
    capacity=12,
    **kw,
) -> CourseSession:
    venue = venue or globals()["venue"]()
    day = day or today_local() + timedelta(days=14)
    built_parts = [
        SessionPart(starts_at=local_to_utc(day, start), ends_at=local_to_utc(day, end))
        for start, end in parts
    ]
    course = CourseSession(
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
    db.session.add(course)
    db.session.flush()
    return course


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
    return item


def enrollment(measure, session, status=EnrollmentStatus.SUMMONED, **kw) -> Enrollment:
    item = Enrollment(measure=measure, session=session, status=status, **kw)
    db.session.add(item)
    session.seats_taken += 1
    db.session.flush()
    return item


def session_at(
    spans,
    venue=None,
    organizations=(),
    facilitators=(),
    status=SessionStatus.SCHEDULED,
    capacity=12,
    **kw,
) -> CourseSession:
    """A session whose parts are given as aware (start, end) datetimes, e.g. in UTC."""
    venue = venue or globals()["venue"]()
    built_parts = [SessionPart(starts_at=start, ends_at=end) for start, end in spans]
    course = CourseSession(
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
    db.session.add(course)
    db.session.flush()
    return course
