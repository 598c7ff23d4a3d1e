"""Where a measure stands against its deadline: one threshold, one rule, for every list, badge,
dashboard bucket and digest."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from stages.enrollment.models import LegalMeasure, MeasureStatus
from stages.enrollment.statuses import AWAITING_COURSE
from stages.enums import LabelledEnum
from stages.scheduling.models import Course

# « Date limite dans moins de 30 jours »: how far ahead a deadline starts to be watched.
DEADLINE_WARNING_DAYS = 30


class DeadlineState(LabelledEnum):
    PASSED = "passed", "Date limite dépassée"
    SOON = "soon", f"Date limite dans moins de {DEADLINE_WARNING_DAYS} jours"

    @property
    def tone(self) -> str:
        return "danger" if self == DeadlineState.PASSED else "warning"


def deadline_state(status: MeasureStatus, deadline: date, today: date) -> DeadlineState | None:
    """PASSED or SOON for a measure still awaiting its course; None otherwise."""
    if status not in AWAITING_COURSE:
        return None
    if deadline < today:
        return DeadlineState.PASSED
    if deadline < today + timedelta(days=DEADLINE_WARNING_DAYS):
        return DeadlineState.SOON
    return None


def measure_deadline_state(measure: LegalMeasure, today: date) -> DeadlineState | None:
    """``deadline_state`` of one measure (templates call it as ``deadline_state``)."""
    return deadline_state(measure.status, measure.deadline, today)


def deadline_condition(state: DeadlineState | None, today: date) -> sa.ColumnElement[bool]:
    """The same rule in SQL, on the indexed (status, deadline) columns: the measures in
    ``state``, or in either state when ``state`` is None."""
    awaiting = LegalMeasure.status.in_(AWAITING_COURSE)
    window_end = LegalMeasure.deadline < today + timedelta(days=DEADLINE_WARNING_DAYS)
    if state is None:
        return sa.and_(awaiting, window_end)
    if state == DeadlineState.PASSED:
        return sa.and_(awaiting, LegalMeasure.deadline < today)
    return sa.and_(awaiting, LegalMeasure.deadline >= today, window_end)


def is_after_deadline(measure: LegalMeasure, course: Course) -> bool:
    """Whether ``course`` would end after the measure's legal deadline."""
    return bool(course.last_day and course.last_day > measure.deadline)
