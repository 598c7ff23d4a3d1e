"""The liaison dashboard: measures by situation and deadline, filtered, counted and paged.

Aggregate SQL, scoped by the permission helper. Everything here must stay fast at national scale
(~200,000 measures): filters run in SQL on indexed columns, counts come from one grouped query,
pages are LIMIT/OFFSET slices. Also the liaison's inbox: the last bilans sent to their authorities.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from stages.auth.models import User
from stages.auth.permissions import visible
from stages.certificates.models import Certificate
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.enrollment.deadlines import (
    DEADLINE_WARNING_DAYS,
    DeadlineState,
    deadline_condition,
    deadline_state,
)
from stages.enrollment.services import measure_search_condition
from stages.enums import LabelledEnum
from stages.extensions import db
from stages.auth.search_terms import search_args
from stages.reports.models import Bilan
from stages.scheduling.models import Course
from stages.auth.models import Organization



# ---------------------------------------------------------------------------------------------
# Dashboard: buckets and filters


class Bucket(LabelledEnum):
    """What a liaison asks of a measure; the value is the URL slug of the filter."""

    TO_SUMMON = "a-convoquer", "À convoquer"
    SUMMONED = "convoque", "Convoqué·e"
    ATTENDED = "effectue", "Stage effectué"
    ABSENT = "absent", "Absent·e ou stage incomplet"
    CERTIFICATE = "attestation", "Attestation délivrée"
    REPORTED = "bilan-transmis", "Bilan transmis"
    WITHDRAWN = "renvoye", "Renvoyé·e à l'autorité"
    DEADLINE_PASSED = "echeance-depassee", "Échéance dépassée"
    DEADLINE_SOON = "echeance-30-jours", f"Échéance dans moins de {DEADLINE_WARNING_DAYS} jours"


# Every measure status falls in exactly one of these; the two deadline buckets cut across them.
STATUS_BUCKETS = {
    Bucket.TO_SUMMON: (MeasureStatus.REFERRED, MeasureStatus.ENROLLED),
    Bucket.SUMMONED: (MeasureStatus.SUMMONED, MeasureStatus.CONFIRMED),
    Bucket.ATTENDED: (MeasureStatus.ATTENDED,),
    # A partial attendance is not a completed course: for the referrer it is a failure to attend.
    Bucket.ABSENT: (
        MeasureStatus.PARTLY_ATTENDED, MeasureStatus.ABSENT_EXCUSED, MeasureStatus.ABSENT_UNEXCUSED,
    ),
    Bucket.CERTIFICATE: (MeasureStatus.CERTIFICATE_ISSUED,),
    Bucket.REPORTED: (MeasureStatus.REPORTED,),
    Bucket.WITHDRAWN: (MeasureStatus.WITHDRAWN,),
}
BUCKET_OF_STATUS = {status: bucket for bucket, statuses in STATUS_BUCKETS.items() for status in statuses}
# The deadline buckets are the deadline states of ``stages.enrollment.deadlines``.
DEADLINE_BUCKETS = {Bucket.DEADLINE_PASSED: DeadlineState.PASSED, Bucket.DEADLINE_SOON: DeadlineState.SOON}
BUCKET_OF_DEADLINE = {state: bucket for bucket, state in DEADLINE_BUCKETS.items()}
BUCKET_TONES = {
    Bucket.TO_SUMMON: "info",
    Bucket.SUMMONED: "info",
    Bucket.ATTENDED: "success",
    Bucket.ABSENT: "warning",
    Bucket.CERTIFICATE: "success",
    Bucket.REPORTED: "neutral",
    Bucket.WITHDRAWN: "neutral",
    Bucket.DEADLINE_PASSED: "danger",
    Bucket.DEADLINE_SOON: "warning",
}


@dataclass(frozen=True)
class DashboardFilters:
    """The dashboard's filters, already validated (the view parses the query string)."""

    bucket: Bucket | None = None
    frame: LegalFrame | None = None
    authority_id: int | None = None
    deadline_from: date | None = None
    deadline_to: date | None = None
    q: str = ""

    def args(self, **overrides) -> dict:
        """The filters as query-string arguments, for links that keep them (never the searched
        name: ``search_args`` marks that a search is on)."""
        args = {
            "statut": self.bucket.value if self.bucket else None,
            "cadre": self.frame.value if self.frame else None,
            "autorite": self.authority_id,
            "echeance_du": self.deadline_from.isoformat() if self.deadline_from else None,
            "echeance_au": self.deadline_to.isoformat() if self.deadline_to else None,
            **search_args(self.q),
            **overrides,
        }
        return {key: value for key, value in args.items() if value not in (None, "")}

    def describe(self) -> str:
        """The filters for the audit log: which ones were used, never the searched name."""
        parts = []
        if self.bucket:
            parts.append(f"situation {self.bucket.value}")
        if self.frame:
            parts.append(f"cadre {self.frame.value}")
        if self.authority_id:
            parts.append(f"autorité n° {self.authority_id}")
        if self.deadline_from or self.deadline_to:
            parts.append("échéance bornée")
        if self.q:
            parts.append("recherche")
        return ", ".join(parts) or "sans filtre"


def bucket_condition(bucket: Bucket, today: date) -> sa.ColumnElement[bool]:
    """The SQL condition of a bucket, against ``today`` (the local date, Europe/Paris)."""
    if bucket in DEADLINE_BUCKETS:
        return deadline_condition(DEADLINE_BUCKETS[bucket], today)
    return LegalMeasure.status.in_(STATUS_BUCKETS[bucket])


def buckets_of(status: MeasureStatus, deadline: date, today: date) -> list[Bucket]:
    """The badges of one row: its status bucket, then its deadline bucket if any."""
    buckets = [BUCKET_OF_STATUS[status]]
    state = deadline_state(status, deadline, today)
    if state is not None:
        buckets.append(BUCKET_OF_DEADLINE[state])
    return buckets


def filtered_measures(
    user: User, filters: DashboardFilters, today: date, *, with_bucket: bool = True
) -> sa.Select:
    """``visible(LegalMeasure, user)`` narrowed by the filters (the bucket too unless told not to)."""
    query = visible(LegalMeasure, user)
    if with_bucket and filters.bucket:
        query = query.where(bucket_condition(filters.bucket, today))
    if filters.frame:
        query = query.where(LegalMeasure.frame == filters.frame)
    if filters.authority_id:
        query = query.where(LegalMeasure.authority_id == filters.authority_id)
    if filters.deadline_from:
        query = query.where(LegalMeasure.deadline >= filters.deadline_from)
    if filters.deadline_to:
        query = query.where(LegalMeasure.deadline <= filters.deadline_to)
    if filters.q:
        query = query.where(measure_search_condition(filters.q))
    return query


def bucket_counts(user: User, filters: DashboardFilters, today: date) -> dict[Bucket, int]:
    """How many measures fall in each bucket, under every filter but the bucket: ONE query.

    Grouped by status (≤ 11 rows), with the two deadline buckets summed alongside.
    """
    query = (
        filtered_measures(user, filters, today, with_bucket=False)
        .with_only_columns(
            LegalMeasure.status,
            sa.func.count(),
            sa.func.sum(sa.case((deadline_condition(DeadlineState.PASSED, today), 1), else_=0)),
            sa.func.sum(sa.case((deadline_condition(DeadlineState.SOON, today), 1), else_=0)),
        )
        .group_by(LegalMeasure.status)
    )
    counts = dict.fromkeys(Bucket, 0)
    for status, total, passed, soon in db.session.execute(query):
        counts[BUCKET_OF_STATUS[MeasureStatus(status)]] += total
        counts[Bucket.DEADLINE_PASSED] += passed or 0
        counts[Bucket.DEADLINE_SOON] += soon or 0
    return counts


def total_of(counts: dict[Bucket, int], bucket: Bucket | None) -> int:
    """The number of measures matching the filters, read off the grouped counts (no COUNT)."""
    if bucket is not None:
        return counts[bucket]
    return sum(counts[b] for b in STATUS_BUCKETS)


def _current_course_start():
    """The start of the course where the measure holds a seat (correlated, one per row)."""
    return (
        sa.select(sa.func.max(Course.starts_at))
        .join(Enrollment, Enrollment.course_id == Course.id)
        .where(
            Enrollment.measure_id == LegalMeasure.id,
            Enrollment.status.in_(SEAT_HOLDING_STATUSES),
        )
        .scalar_subquery()
    )


def _certificate_column(column):
    """The measure's valid certificate (the latest if ever several): its ``column``."""
    return (
        sa.select(column)
        .join(Enrollment, Enrollment.id == Certificate.enrollment_id)
        .where(Enrollment.measure_id == LegalMeasure.id, Certificate.revoked_at.is_(None))
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
        .limit(1)
        .scalar_subquery()
    )


@dataclass
class DashboardRow:
    measure: LegalMeasure
    participant: Participant
    authority: Organization
    course_starts_at: datetime | None
    certificate_id: int | None
    certificate_number: str | None
    buckets: list[Bucket]


@dataclass
class Page:
    """What the pagination macro reads (the same attributes as Flask-SQLAlchemy's)."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.total else 0

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def dashboard_page(
    user: User, filters: DashboardFilters, today: date, *, page: int, per_page: int, total: int
) -> Page:
    """One page of measures, with person, authority, course and certificate: ONE query.

    The page's ids are chosen first in a derived table (narrow rows, LIMIT/OFFSET); only those
    25 rows are then joined and get their course and certificate looked up. Otherwise
    PostgreSQL would evaluate the lookups for every row skipped by a deep OFFSET.
    """
    pages = max(math.ceil(total / per_page), 1)
    page = min(max(page, 1), pages)
    page_ids = (
        filtered_measures(user, filters, today)
        .with_only_columns(LegalMeasure.id)
        .order_by(LegalMeasure.deadline, LegalMeasure.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery("page_ids")
    )
    query = (
        sa.select(LegalMeasure)
        .join(page_ids, page_ids.c.id == LegalMeasure.id)
        .join(Participant, Participant.id == LegalMeasure.participant_id)
        .join(Organization, Organization.id == LegalMeasure.authority_id)
        .add_columns(
            Participant,
            Organization,
            _current_course_start(),
            _certificate_column(Certificate.id),
            _certificate_column(Certificate.number),
        )
        .order_by(LegalMeasure.deadline, LegalMeasure.id)
    )
    items = [
        DashboardRow(
            measure, person, authority, starts_at, certificate_id, number,
            buckets_of(measure.status, measure.deadline, today),
        )
        for measure, person, authority, starts_at, certificate_id, number in db.session.execute(query)
    ]
    return Page(items, page, per_page, total)


def recent_bilans(user: User, limit: int = 10) -> list[tuple[Bilan, datetime | None, str]]:
    """The last bilans sent that ``user`` may read (a liaison's inbox), with the course's start."""
    query = (
        visible(Bilan, user)
        .add_columns(Course.starts_at, Organization.short_name)
        .join(Course, Course.id == Bilan.course_id)
        .join(Organization, Organization.id == Bilan.authority_id)
        .where(Bilan.sent_at.is_not(None))
        .order_by(Bilan.sent_at.desc())
        .limit(limit)
    )
    return [tuple(row) for row in db.session.execute(query)]


# ---------------------------------------------------------------------------------------------
# Reading the filters of a query string


def _date_arg(args, name: str, errors: list[str]) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"Date invalide ignorée : « {raw[:12]} » (format attendu : AAAA-MM-JJ).")
        return None


def parse_filters(args, authority_ids: set[int], q: str) -> tuple[DashboardFilters, list[str]]:
    """The filters of a query string and a French message for each value ignored. An authority
    outside ``authority_ids`` (the user's choices) raises ``PermissionError``: guessing another
    jurisdiction's id must not even confirm that it exists."""
    errors: list[str] = []
    bucket, frame = args.get("statut", ""), args.get("cadre", "")
    authority_id = args.get("autorite", type=int)
    if authority_id is not None and authority_id not in authority_ids:
        raise PermissionError(authority_id)
    filters = DashboardFilters(
        bucket=Bucket(bucket) if bucket in {b.value for b in Bucket} else None,
        frame=LegalFrame(frame) if frame in {f.value for f in LegalFrame} else None,
        authority_id=authority_id,
        deadline_from=_date_arg(args, "echeance_du", errors),
        deadline_to=_date_arg(args, "echeance_au", errors),
        q=q,
    )
    return filters, errors
