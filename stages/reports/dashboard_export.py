"""The dashboard's exports: every measure matching its filters, as rows of EXPORT_HEADER.

Streamed from the database in constant memory whatever the size (~200,000 measures at national
scale); the CSV and XLSX files themselves are written by ``stages.reports.exports``.
"""
from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from stages.auth.models import User
from stages.certificates.models import Certificate
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.extensions import db
from stages.reports.dashboard import DashboardFilters, buckets_of, filtered_measures
from stages.scheduling.models import Course
from stages.auth.models import Organization
from stages.timeutil import to_local


# ---------------------------------------------------------------------------------------------
# Dashboard exports


EXPORT_HEADER = (
    "Nom", "Prénoms", "Cadre", "Autorité prescriptrice", "N° de parquet", "Date de la décision",
    "Date limite", "Statut", "Situation", "Date du stage", "N° d'attestation",
)


def count_measures(user: User, filters: DashboardFilters, today: date) -> int:
    """How many measures an export would write."""
    query = filtered_measures(user, filters, today).with_only_columns(
        sa.func.count(), maintain_column_froms=True
    )
    return db.session.scalar(query) or 0


def export_rows(user: User, filters: DashboardFilters, today: date) -> Iterator[tuple]:
    """Every matching measure as a tuple of EXPORT_HEADER values, streamed from the database.

    The query is built now (in the request) and run when the rows are first read. Plain columns
    fetched 1,000 at a time: 200,000 rows stream in constant memory. The course and the
    certificate come from LEFT JOINs, which the database hashes in one pass over a whole
    export (correlated lookups cost one index probe per row: 7 times slower at 200,000 rows).
    """
    seat = aliased(Enrollment)
    query = (
        filtered_measures(user, filters, today)
        .with_only_columns(
            LegalMeasure.id,
            Participant.surname,
            Participant.first_names,
            Participant.anonymized_at,
            LegalMeasure.frame,
            Organization.name,
            LegalMeasure.case_reference,
            LegalMeasure.decision_date,
            LegalMeasure.deadline,
            LegalMeasure.status,
            Course.starts_at,
            Certificate.number,
        )
        .select_from(LegalMeasure)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .join(Organization, Organization.id == LegalMeasure.authority_id)
        .outerjoin(
            seat,
            sa.and_(seat.measure_id == LegalMeasure.id, seat.status.in_(SEAT_HOLDING_STATUSES)),
        )
        .outerjoin(Course, Course.id == seat.course_id)
        .outerjoin(
            Certificate,
            sa.and_(Certificate.enrollment_id == seat.id, Certificate.revoked_at.is_(None)),
        )
        .order_by(LegalMeasure.deadline, LegalMeasure.id, Course.starts_at.desc())
        .execution_options(yield_per=1000)
    )
    return _export_tuples(query, today)


def _export_tuples(query: sa.Select, today: date) -> Iterator[tuple]:
    local_day = functools.lru_cache(maxsize=4096)(lambda moment: to_local(moment).date())
    previous_id = None
    for (measure_id, surname, first_names, anonymized_at, frame, authority, reference, decision,
         deadline, status, starts_at, certificate) in db.session.execute(query):
        # A measure holds one seat at a time; should two ever coexist, the measure is still
        # written once (rows of one measure are adjacent, its latest course first).
        if measure_id == previous_id:
            continue
        previous_id = measure_id
        frame, status = LegalFrame(frame), MeasureStatus(status)
        situation = ", ".join(b.label for b in buckets_of(status, deadline, today))
        if anonymized_at is not None:
            surname, first_names = "Personne anonymisée", ""
        yield (
            surname, first_names, frame.label, authority, reference, decision, deadline,
            status.label, situation, local_day(starts_at) if starts_at else None, certificate,
        )
