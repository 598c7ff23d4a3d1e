"""The attestations shown on the course and participant pages, loaded in one query each.

Also what those pages compute from them without a query: which revoked attestations may still
be replaced, and how many people of a course are still due one.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, joinedload

from stages.certificates.models import Certificate
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.extensions import db
from stages.scheduling.models import Course


# ---------------------------------------------------------------------------------------------
# Loaders for the course and participant pages (one query each)


def certificates_for_course(course_id: int) -> dict[int, Certificate]:
    """Each enrollment's latest attestation (valid, or revoked and not replaced), in one query."""
    rows = db.session.scalars(
        sa.select(Certificate)
        .join(Certificate.enrollment)
        .where(Enrollment.course_id == course_id)
        .options(contains_eager(Certificate.enrollment))
        .order_by(Certificate.id)
    )
    return {certificate.enrollment_id: certificate for certificate in rows}


def certificates_for_enrollments(enrollment_ids) -> list[Certificate]:
    """Every attestation of these enrollments, replaced ones included, in issue order (one query)."""
    ids = list(enrollment_ids)
    if not ids:
        return []
    return list(db.session.scalars(_OF_ENROLLMENTS, {"ids": ids}))


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_OF_ENROLLMENTS = (
    sa.select(Certificate)
    .where(Certificate.enrollment_id.in_(sa.bindparam("ids", expanding=True)))
    .options(joinedload(Certificate.enrollment).joinedload(Enrollment.course).joinedload(Course.venue))
    .order_by(Certificate.id)
)


def replaceable(certificates: list[Certificate]) -> set[int]:
    """Ids of the revoked attestations that are their enrollment's latest (no query)."""
    latest: dict[int, Certificate] = {}
    for certificate in certificates:
        current = latest.get(certificate.enrollment_id)
        if current is None or certificate.id > current.id:
            latest[certificate.enrollment_id] = certificate
    return {c.id for c in latest.values() if c.revoked_at is not None}


def count_due(enrollments, certificates: dict[int, Certificate]) -> int:
    """How many of ``enrollments`` are ATTENDED without an attestation (no query)."""
    return sum(
        1 for e in enrollments if e.status == EnrollmentStatus.ATTENDED and e.id not in certificates
    )
