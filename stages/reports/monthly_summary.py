"""The monthly summary per referring authority: what became of its measures last month.

For a calendar month in Europe/Paris (``month_bounds``) and an authority, counted straight from
the tables (``month_figures``, one grouped query per figure for every authority at once):

- **reçues** (received): measures recorded in the month;
- **convoquées** (summoned): measures with a seat that became « convoqué·e » in the month (the
  enrollment's history), each measure once;
- **stages effectués** (completed): measures whose whole course was attended, or whose
  attestation was issued, in the month, each once;
- **non exécutées** (not executed): measures whose deadline fell in the month and that are not
  completed (as ``stages.reports.non_execution`` defines it) — the people the liaison must act
  on, listed by name in the PDF;
- **en cours** (pending): measures recorded before the month ended, whose deadline is after it,
  not completed and not returned to the authority.

``make_summaries`` (the daily job ``send_monthly_summaries``) makes the previous month's summary
of every authority that has measures, once: the row is inserted with ON CONFLICT DO NOTHING on
the unique (authority, month), and only the process whose insert went through sends it. The
figures are kept on the row as they were counted; the PDF is drawn from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stages.auth.models import AUTHORITY_KINDS, Organization
from stages.certificates.models import Certificate
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.extensions import db
from stages.reports.models import MonthlySummary
from stages.reports.non_execution import completed_condition
from stages.timeutil import local_to_utc, now_utc

FIGURES = ("received", "summoned", "completed", "not_executed", "pending")
FIGURE_LABELS = {
    "received": "Mesures reçues",
    "summoned": "Mesures convoquées",
    "completed": "Stages effectués",
    "not_executed": "Mesures non exécutées (date limite passée)",
    "pending": "Mesures en cours",
}
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre")


def previous_month(today: date) -> date:
    """The first day of the month before ``today``'s."""
    return date(today.year - 1, 12, 1) if today.month == 1 else date(today.year, today.month - 1, 1)


def next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def month_label(month: date) -> str:
    """« novembre 2026 »."""
    return f"{MONTHS[month.month - 1]} {month.year}"


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month's start and end (exclusive) in UTC, from midnight in Paris."""
    return local_to_utc(month, datetime.min.time()), local_to_utc(next_month(month), datetime.min.time())


def month_figures(month: date) -> dict[int, dict[str, int]]:
    """Per authority id: the month's five figures (absent authorities: all zero). Six queries."""
    start, end = month_bounds(month)
    first, after = month, next_month(month)
    figures: dict[int, dict[str, int]] = {}

    def put(name: str, query: sa.Select) -> None:
        for authority_id, count in db.session.execute(query):
            figures.setdefault(authority_id, dict.fromkeys(FIGURES, 0))[name] = count

    by_authority = (LegalMeasure.authority_id,)
    put("received", sa.select(*by_authority, sa.func.count(LegalMeasure.id))
        .where(LegalMeasure.created_at >= start, LegalMeasure.created_at < end).group_by(*by_authority))
    summoned = (
        sa.select(Enrollment.measure_id)
        .join(EnrollmentEvent, EnrollmentEvent.enrollment_id == Enrollment.id)
        .where(EnrollmentEvent.to_status == EnrollmentStatus.SUMMONED.value,
               EnrollmentEvent.at >= start, EnrollmentEvent.at < end)
    )
    put("summoned", _count_measures(summoned))
    attended = (
        sa.select(Enrollment.measure_id)
        .join(EnrollmentEvent, EnrollmentEvent.enrollment_id == Enrollment.id)
        .where(EnrollmentEvent.to_status == EnrollmentStatus.ATTENDED.value,
               EnrollmentEvent.at >= start, EnrollmentEvent.at < end)
    )
    certified = (
        sa.select(Enrollment.measure_id)
        .join(Certificate, Certificate.enrollment_id == Enrollment.id)
        .where(Certificate.issued_at >= start, Certificate.issued_at < end, Certificate.revoked_at.is_(None))
    )
    put("completed", _count_measures(sa.union(attended, certified)))
    put("not_executed", sa.select(*by_authority, sa.func.count(LegalMeasure.id))
        .where(*_not_executed(first, after)).group_by(*by_authority))
    put("pending", sa.select(*by_authority, sa.func.count(LegalMeasure.id))
        .where(LegalMeasure.created_at < end, LegalMeasure.deadline >= after,
               LegalMeasure.status != MeasureStatus.WITHDRAWN, ~completed_condition())
        .group_by(*by_authority))
    return figures


def _count_measures(ids: sa.Select | sa.CompoundSelect) -> sa.Select:
    subquery = ids.subquery()
    measure_id = list(subquery.c)[0]
    return (
        sa.select(LegalMeasure.authority_id, sa.func.count(sa.distinct(LegalMeasure.id)))
        .where(LegalMeasure.id.in_(sa.select(measure_id)))
        .group_by(LegalMeasure.authority_id)
    )


def _not_executed(first: date, after: date) -> tuple:
    return (LegalMeasure.deadline >= first, LegalMeasure.deadline < after, ~completed_condition())


def to_act_on(month: date) -> dict[int, list[int]]:
    """Per authority id: the ids of the measures not executed in the month, by deadline."""
    found: dict[int, list[int]] = {}
    rows = db.session.execute(
        sa.select(LegalMeasure.authority_id, LegalMeasure.id)
        .where(*_not_executed(month, next_month(month)))
        .order_by(LegalMeasure.deadline, LegalMeasure.id)
    )
    for authority_id, measure_id in rows:
        found.setdefault(authority_id, []).append(measure_id)
    return found


def make_summaries(today: date) -> list[int]:
    """The previous month's summary of every authority with measures, made once: the ids of
    the rows this call inserted (another process's are not returned). The caller commits."""
    month = previous_month(today)
    authorities = db.session.scalars(
        sa.select(Organization.id)
        .where(Organization.kind.in_(AUTHORITY_KINDS), Organization.archived_at.is_(None),
               sa.exists().where(LegalMeasure.authority_id == Organization.id))
        .order_by(Organization.id)
    ).all()
    if not authorities:
        return []
    figures, people, now = month_figures(month), to_act_on(month), now_utc()
    values = [
        {"authority_id": authority_id, "month": month, "created_at": now,
         **figures.get(authority_id, dict.fromkeys(FIGURES, 0)),
         "to_act_on": people.get(authority_id, [])}
        for authority_id in authorities
    ]
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(MonthlySummary).values(values).on_conflict_do_nothing(
        index_elements=["authority_id", "month"]
    ).returning(MonthlySummary.id)
    return list(db.session.scalars(statement))


@dataclass
class PersonToActOn:
    measure_id: int
    name: str
    frame: LegalFrame
    case_reference: str
    deadline: date


def people_to_act_on(summary: MonthlySummary) -> list[PersonToActOn]:
    """The summary's people, as they are now (an anonymized one says so). One query."""
    if not summary.to_act_on:
        return []
    rows = db.session.execute(
        sa.select(LegalMeasure.id, Participant.surname, Participant.first_names, Participant.anonymized_at,
                  LegalMeasure.frame, LegalMeasure.case_reference, LegalMeasure.deadline)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .where(LegalMeasure.id.in_(summary.to_act_on))
        .order_by(LegalMeasure.deadline, Participant.surname, LegalMeasure.id)
    )
    return [
        PersonToActOn(mid, "Personne anonymisée" if gone else f"{surname.upper()} {first}", frame,
                      "—" if gone else reference, deadline)
        for mid, surname, first, gone, frame, reference, deadline in rows
    ]
