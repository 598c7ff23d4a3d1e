"""What a benchmark opens: real objects of a generated database, the same at every scale."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from stages.auth.models import Role
from stages.enrollment.models import MeasureStatus
from stages.errors import DomainError
from stages.extensions import db
from bench.generate.plan import BENCH_ORGANIZER
from stages.scheduling.models import CourseStatus
from stages.timeutil import to_local


# ---------------------------------------------------------------------------------------------
# What a benchmark opens


@dataclass(frozen=True)
class BenchTargets:
    """Real objects of a generated database, the same kind at every scale (the Paris cluster)."""

    course_id: int  # a busy course, held or scheduled, begun, this month if there is one
    part_id: int  # its first half-day
    participant_id: int  # one of its people (the one with the most measures)
    search_prefix: str  # the first letters of that person's name, as a liaison would type them
    certificate_code: str  # a valid attestation's code, as its QR code writes it
    organizer_token: str  # the benchmark organizer's calendar feed token
    enroll_course_id: int  # a scheduled course with at least 12 free seats
    measure_ids: tuple[int, ...]  # 12 referrals waiting for a course, in the organizer's scope
    busiest_token: str  # feed token of an organizer of the association with the most courses
    api_token: str = ""  # an API token of the Parquet de Paris's liaison (``bench_api_token``)


def bench_targets() -> BenchTargets:
    """Pick the benchmark's objects in a database made by ``generate``."""
    from stages.auth.models import User, user_organizations
    from stages.certificates.models import Certificate
    from stages.certificates.codes import format_code
    from stages.enrollment.models import Enrollment, LegalMeasure, Participant
    from stages.enrollment.statuses import LIVE_STATUSES
    from stages.scheduling.models import Course, CoursePart, course_organizations
    from stages.auth.models import Organization
    from stages.timeutil import now_utc

    def one(query):
        value = db.session.scalar(query)
        if value is None:
            raise DomainError("Base non générée par « flask stages generate » : objet introuvable.")
        return value

    apcars = one(sa.select(Organization.id).where(Organization.name == "APCARS"))
    paris = Course.id.in_(
        sa.select(course_organizations.c.session_id)
        .where(course_organizations.c.organization_id == apcars)
    )
    now = now_utc()
    this_month = to_local(now).strftime("%Y-%m")
    candidates = db.session.execute(
        sa.select(Course.id, Course.starts_at).where(
            paris,
            Course.status.in_([CourseStatus.HELD, CourseStatus.SCHEDULED]),
            Course.seats_taken >= 8,
        )
    ).all()
    if not candidates:
        raise DomainError("Aucun stage parisien tenu ou programmé avec au moins 8 personnes.")
    # One that has begun, if any: attendance is refused before a half-day starts.
    course_id = min(
        candidates,
        key=lambda row: (row.starts_at > now, to_local(row.starts_at).strftime("%Y-%m") != this_month,
                         abs((row.starts_at - now).total_seconds()), row.id),
    ).id
    part_id = one(sa.select(CoursePart.id).where(CoursePart.course_id == course_id)
                  .order_by(CoursePart.starts_at).limit(1))
    measures_per_person = (
        sa.select(sa.func.count()).where(LegalMeasure.participant_id == Participant.id)
        .correlate(Participant).scalar_subquery()
    )
    person = db.session.execute(
        sa.select(Participant.id, Participant.search_key)
        .join(LegalMeasure, LegalMeasure.participant_id == Participant.id)
        .join(Enrollment, Enrollment.measure_id == LegalMeasure.id)
        .where(Enrollment.course_id == course_id, Enrollment.status.in_(LIVE_STATUSES))
        .order_by(measures_per_person.desc(), Participant.id)
        .limit(1)
    ).one()
    code = one(
        sa.select(Certificate.verification_code)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .where(Enrollment.course_id.in_(sa.select(Course.id).where(paris)),
               Certificate.revoked_at.is_(None))
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        .limit(1)
    )
    organizer_token = one(sa.select(User.feed_token).where(User.email == BENCH_ORGANIZER))
    enroll_course_id = one(
        sa.select(Course.id).where(
            paris,
            Course.status == CourseStatus.SCHEDULED,
            Course.starts_at > now + timedelta(days=7),
            Course.capacity - Course.seats_taken >= 12,
        ).order_by(Course.starts_at).limit(1)
    )
    measure_ids = tuple(db.session.scalars(
        sa.select(LegalMeasure.id).where(
            LegalMeasure.handling_organization_id == apcars,
            LegalMeasure.status.in_([MeasureStatus.REFERRED, MeasureStatus.ABSENT_EXCUSED]),
            LegalMeasure.id.not_in(
                sa.select(Enrollment.measure_id).where(Enrollment.status.in_(LIVE_STATUSES))
            ),
        ).order_by(LegalMeasure.deadline.desc(), LegalMeasure.id).limit(12)
    ))
    if len(measure_ids) < 12:
        raise DomainError("Moins de 12 personnes en attente d'un stage à Paris.")
    busiest = one(
        sa.select(course_organizations.c.organization_id)
        .group_by(course_organizations.c.organization_id)
        .order_by(sa.func.count().desc(), course_organizations.c.organization_id)
        .limit(1)
    )
    busiest_token = one(
        sa.select(User.feed_token)
        .join(user_organizations, user_organizations.c.user_id == User.id)
        .where(user_organizations.c.organization_id == busiest, User.role == Role.ORGANIZER)
        .order_by(User.id).limit(1)
    )
    return BenchTargets(
        course_id=course_id, part_id=part_id, participant_id=person.id,
        search_prefix=person.search_key[:3], certificate_code=format_code(code),
        organizer_token=organizer_token, enroll_course_id=enroll_course_id,
        measure_ids=measure_ids, busiest_token=busiest_token,
    )


BENCH_API_TOKEN_NAME = "Banc d'essai"


def bench_api_token() -> str:
    """A fresh API token of the benchmark's liaison (Parquet de Paris), made by the service as
    « Mon compte » makes it; the previous runs' tokens are revoked first (a user holds at most
    20). Commits."""
    from stages.api.models import ApiToken
    from stages.api.tokens import create_token, revoke_token
    from stages.auth.models import User
    from stages.timeutil import today_local
    from bench.generate.plan import BENCH_LIAISON

    liaison = db.session.scalar(sa.select(User).where(User.email == BENCH_LIAISON))
    if liaison is None:
        raise DomainError("Base non générée par « flask stages generate » : référent introuvable.")
    for token in db.session.scalars(sa.select(ApiToken).where(
            ApiToken.user_id == liaison.id, ApiToken.name == BENCH_API_TOKEN_NAME, ApiToken.revoked_at.is_(None))):
        revoke_token(liaison, token)
    value = create_token(liaison, BENCH_API_TOKEN_NAME, today_local() + timedelta(days=1)).value
    db.session.commit()
    return value
