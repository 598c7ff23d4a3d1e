"""The reports area's work list of courses: closed courses whose bilans are not all sent."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from stages.enrollment.models import SEAT_HOLDING_STATUSES, Enrollment, LegalMeasure
from stages.reports.models import Bilan
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.worklists import course_list


@course_list("bilans-a-envoyer", "Bilans à envoyer", "Stages clôturés dont un bilan reste à envoyer", position=30)
def bilans_to_send(now: datetime) -> sa.ColumnElement[bool]:
    """A closed course with a person whose referring authority has not been sent its bilan
    (the course's bilans page lists the same authorities)."""
    sent = sa.exists().where(
        Bilan.course_id == Enrollment.course_id,
        Bilan.authority_id == LegalMeasure.authority_id,
        Bilan.sent_at.is_not(None),
    )
    return sa.and_(
        Course.status == CourseStatus.CLOSED,
        sa.exists(
            sa.select(Enrollment.id)
            .join(LegalMeasure, LegalMeasure.id == Enrollment.measure_id)
            .where(
                Enrollment.course_id == Course.id,
                Enrollment.status.in_(SEAT_HOLDING_STATUSES),
                ~sent,
            )
        ),
    )
