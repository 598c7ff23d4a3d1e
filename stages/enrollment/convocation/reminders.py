"""Convocation reminders by email, 7 days and 1 day before the session.

Each reminder is claimed on its enrollment (``reminder_7d_sent_at`` set by a conditional
UPDATE and committed) before it is sent, so two schedulers — or a manual run beside the
scheduled one — never send it twice; a refused send clears the claim, so it stays due.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.enrollment.convocation.emails import reminder_email
from stages.enrollment.models import Enrollment, LegalMeasure, Participant
from stages.enrollment.statuses import SUMMONED_STATUSES
from stages.extensions import db
from stages.mail import MailError, send_email
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import local_to_utc, to_local

# (days before, the column marking that reminder as sent)
REMINDERS = (
    (7, Enrollment.reminder_7d_sent_at),
    (1, Enrollment.reminder_1d_sent_at),
)


def _midnight(now: datetime, days_ahead: int) -> datetime:
    """Local midnight (Europe/Paris) ``days_ahead`` days after today, in UTC."""
    day = to_local(now).date() + timedelta(days=days_ahead)
    return local_to_utc(day, time(0, 0))


def due_reminders(now: datetime, days: int, column) -> list[Enrollment]:
    """Summoned people of scheduled courses at most ``days`` days away, not yet reminded.

    Days are counted on the calendar: on the 5th, the 7-day reminder covers courses up to
    the 12th. It is skipped for a course tomorrow or today: the 1-day reminder covers it.
    """
    window_start = _midnight(now, 2) if days > 1 else now
    return list(
        db.session.scalars(
            sa.select(Enrollment)
            .join(Enrollment.course)
            .join(Enrollment.measure)
            .join(LegalMeasure.participant)
            .where(
                Enrollment.status.in_(SUMMONED_STATUSES),
                column.is_(None),
                Course.status == CourseStatus.SCHEDULED,
                Course.starts_at > window_start,
                Course.starts_at < _midnight(now, days + 1),
                Participant.email.is_not(None),
                Participant.email != "",
            )
            .options(
                selectinload(Enrollment.course).selectinload(Course.venue),
                selectinload(Enrollment.course).selectinload(Course.parts),
                selectinload(Enrollment.measure).selectinload(LegalMeasure.participant),
            )
        )
    )


def _claim(enrollment_id: int, column, now: datetime) -> bool:
    result = db.session.execute(
        sa.update(Enrollment)
        .where(Enrollment.id == enrollment_id, column.is_(None))
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _release(enrollment_id: int, column) -> None:
    db.session.execute(
        sa.update(Enrollment).where(Enrollment.id == enrollment_id)
        .values({column.key: None}).execution_options(synchronize_session=False)
    )
    db.session.commit()


def send_reminders(now: datetime) -> dict[str, int]:
    """Send every reminder due at ``now``; returns how many were sent and refused."""
    sent = failed = 0
    for days, column in REMINDERS:
        for enrollment in due_reminders(now, days, column):
            message = reminder_email(enrollment, days)
            enrollment_id = enrollment.id
            if not _claim(enrollment_id, column, now):
                continue  # another process took it
            try:
                send_email(message)
            except MailError:
                _release(enrollment_id, column)
                failed += 1
            else:
                sent += 1
    return {"rappels envoyés": sent, "rappels non envoyés": failed}
