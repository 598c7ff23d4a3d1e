"""Convocation reminders by email, 7 days and 1 day before the session, through the outbox.

The job queues one message per reminder due (``stages.outbox``: its unique key makes two
schedulers, or a manual run beside the scheduled one, queue it once), then sends them. The
enrollment's ``reminder_7d_sent_at`` is set in the transaction that records the message as
sent: a refused send or a crash before that leaves the reminder due, and it is sent later.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from email.message import EmailMessage

import sqlalchemy as sa

from stages import outbox
from stages.enrollment.convocation.emails import reminder_email
from stages.enrollment.models import Enrollment, LegalMeasure, Participant
from stages.enrollment.statuses import SUMMONED_STATUSES
from stages.extensions import db
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import local_to_utc, now_utc, to_local, today_local

KIND = "convocation_reminder"
# (days before, the column marking that reminder as sent)
REMINDERS = (
    (7, Enrollment.reminder_7d_sent_at),
    (1, Enrollment.reminder_1d_sent_at),
)
_COLUMNS = {days: column for days, column in REMINDERS}


def _midnight(now: datetime, days_ahead: int) -> datetime:
    """Local midnight (Europe/Paris) ``days_ahead`` days after today, in UTC."""
    day = to_local(now).date() + timedelta(days=days_ahead)
    return local_to_utc(day, time(0, 0))


def due_reminders(now: datetime, days: int, column) -> list[int]:
    """The ids of the enrollments to remind: summoned people of scheduled sessions at most
    ``days`` days away, with an address, not reminded yet.

    Days are counted on the calendar: on the 5th, the 7-day reminder covers sessions up to
    the 12th. It is skipped for a session tomorrow or today: the 1-day reminder covers it.
    """
    window_start = _midnight(now, 2) if days > 1 else now
    return list(
        db.session.scalars(
            sa.select(Enrollment.id)
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
        )
    )


def queue_reminders(now: datetime) -> int:
    """Queue every reminder due at ``now`` (flushes); how many are due."""
    due = 0
    for days, column in REMINDERS:
        ids = due_reminders(now, days, column)
        outbox.enqueue(KIND, ((f"{KIND}:{days}:{i}", {"enrollment": i, "days": days}) for i in ids))
        due += len(ids)
    return due


def send_reminders(now: datetime) -> dict[str, int]:
    """Queue the reminders due at ``now`` and send every reminder due (earlier refusals and
    interrupted sends too); returns how many were sent and refused."""
    due = queue_reminders(now)
    db.session.commit()
    delivery = outbox.deliver(kinds=[KIND])
    return {
        "rappels dus": due,
        "rappels envoyés": delivery.sent,
        "rappels non envoyés": delivery.failed,
        "rappels devenus sans objet": delivery.dropped,
    }


def _reminded(refs: dict) -> Enrollment | None:
    """The enrollment a queued reminder is for, if it still calls for one."""
    enrollment = db.session.get(Enrollment, refs["enrollment"])
    if enrollment is None or enrollment.status not in SUMMONED_STATUSES:
        return None
    course, participant = enrollment.course, enrollment.measure.participant
    if course.status != CourseStatus.SCHEDULED or course.starts_at <= now_utc():
        return None
    if not participant.email or participant.anonymized_at is not None:
        return None
    return enrollment


def build_reminder(refs: dict) -> EmailMessage | None:
    """The reminder, from today's data: « dans 3 jours » or « demain », as it is when sent."""
    enrollment = _reminded(refs)
    if enrollment is None:
        return None
    course = enrollment.course
    zone = course.venue.timezone
    days_left = (to_local(course.starts_at, zone).date() - today_local(zone)).days
    if refs["days"] > 1 and days_left <= 1:
        return None  # sent late: the 1-day reminder covers it
    return reminder_email(enrollment, days_left)


def record_reminder_sent(refs: dict) -> None:
    """Mark the enrollment reminded (in the transaction recording the message as sent)."""
    enrollment = db.session.get(Enrollment, refs["enrollment"])
    if enrollment is not None:
        setattr(enrollment, _COLUMNS[refs["days"]].key, now_utc())


outbox.register_kind(KIND, "Rappels de convocation", build_reminder, record_reminder_sent)
