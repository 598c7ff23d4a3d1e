"""Reminders to organizers once a session is over: close it, then send its bilans.

One message per session and organizer goes through the outbox (``stages.outbox``); the session
is marked reminded (``closing_reminder_sent_at``, ``bilan_reminder_sent_at``) when the first of
them is sent, and a refused or interrupted one is sent later. Each is written when sent: once the
session is closed (or its bilans sent), a reminder still waiting is dropped.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage

import sqlalchemy as sa

from stages import outbox
from stages.auth.models import Role, User, user_organizations
from stages.extensions import db
from stages.mail import build_message
from stages.public_url import public_base_url
from stages.reports.models import Bilan
from stages.scheduling.models import Course, CourseStatus, course_organizations
from stages.timeutil import fr_date, now_utc

CLOSE_AFTER = timedelta(days=1)
BILAN_AFTER = timedelta(days=3)
CLOSING_KIND = "closing_reminder"
BILAN_KIND = "bilan_reminder"


def _organizers() -> sa.Select:
    """(course id, user id) of the active organizers of each course's associations."""
    return (
        sa.select(course_organizations.c.session_id, User.id)
        .join(user_organizations,
              user_organizations.c.organization_id == course_organizations.c.organization_id)
        .join(User, User.id == user_organizations.c.user_id)
        .where(User.active, User.role == Role.ORGANIZER)
        .distinct()
    )


def _bilans_unsent() -> sa.ColumnElement[bool]:
    return Course.id.not_in(sa.select(Bilan.course_id).where(Bilan.sent_at.is_not(None)))


def _to_close(now) -> sa.ColumnElement[bool]:
    """Held sessions not closed a day after they ended, not reminded yet."""
    return sa.and_(
        Course.status == CourseStatus.HELD,
        Course.ends_at < now - CLOSE_AFTER,
        Course.closing_reminder_sent_at.is_(None),
    )


def _to_report(now) -> sa.ColumnElement[bool]:
    """Closed sessions whose bilans are unsent three days after they ended, not reminded yet."""
    return sa.and_(
        Course.status == CourseStatus.CLOSED,
        Course.ends_at < now - BILAN_AFTER,
        Course.bilan_reminder_sent_at.is_(None),
        _bilans_unsent(),
    )


def _queue(kind: str, condition: sa.ColumnElement[bool]) -> int:
    """One message per session matching ``condition`` and organizer of it; how many sessions."""
    courses = sa.select(Course.id).where(condition)
    pairs = db.session.execute(
        _organizers().where(course_organizations.c.session_id.in_(courses))
    ).all()
    outbox.enqueue(kind, ((f"{kind}:{c}:{u}", {"course": c, "user": u}) for c, u in pairs))
    return len({course_id for course_id, _ in pairs})


def send_closing_reminders() -> dict[str, int]:
    """Queue the reminders due (sessions to close, bilans to send) and send them."""
    now = now_utc()
    to_close = _queue(CLOSING_KIND, _to_close(now))
    to_report = _queue(BILAN_KIND, _to_report(now))
    db.session.commit()
    delivery = outbox.deliver(kinds=[CLOSING_KIND, BILAN_KIND])
    return {
        "stages à clôturer": to_close,
        "stages aux bilans non envoyés": to_report,
        "rappels envoyés": delivery.sent,
        "échecs": delivery.failed,
    }


CLOSING_SUBJECT = "Stage du {day} : à clôturer"
CLOSING_TEXT = (
    "Bonjour,\n\nLe stage du {day} ({venue}) est terminé. Vérifiez la présence saisie et "
    "clôturez-le pour délivrer les attestations :\n{url}\n\n— Stages (message automatique)"
)
BILAN_SUBJECT = "Stage du {day} : bilans à envoyer"
BILAN_TEXT = (
    "Bonjour,\n\nLe stage du {day} est clôturé mais ses bilans n'ont pas été envoyés aux "
    "autorités prescriptrices :\n{url}\n\n— Stages (message automatique)"
)


def _reminder(refs: dict, still_due: sa.ColumnElement[bool], subject: str, text: str):
    """The reminder of ``refs``, if its session still calls for it (``still_due``) and the
    person is still one of its active organizers; None otherwise."""
    course = db.session.scalar(sa.select(Course).where(Course.id == refs["course"], still_due))
    organizer = course is not None and db.session.execute(
        _organizers().where(course_organizations.c.session_id == course.id, User.id == refs["user"])
    ).first()
    if not organizer:
        return None
    day = fr_date(course.starts_at)
    url = f"{public_base_url()}/stages/{course.id}"
    return build_message(
        db.session.get(User, refs["user"]).email,
        subject.format(day=day),
        text.format(day=day, venue=course.venue.name, url=url),
    )


def build_closing_reminder(refs: dict) -> EmailMessage | None:
    """« Stage du … : à clôturer », while the session is held and not closed."""
    return _reminder(refs, Course.status == CourseStatus.HELD, CLOSING_SUBJECT, CLOSING_TEXT)


def build_bilan_reminder(refs: dict) -> EmailMessage | None:
    """« Stage du … : bilans à envoyer », while no bilan of the closed session is sent."""
    return _reminder(
        refs, sa.and_(Course.status == CourseStatus.CLOSED, _bilans_unsent()), BILAN_SUBJECT, BILAN_TEXT
    )


def _mark_reminded(column: str) -> Callable[[dict], None]:
    def record(refs: dict) -> None:
        course = db.session.get(Course, refs["course"])
        if course is not None and getattr(course, column) is None:
            setattr(course, column, now_utc())

    return record


outbox.register_kind(CLOSING_KIND, "Rappels de clôture de stage", build_closing_reminder,
                     _mark_reminded("closing_reminder_sent_at"))
outbox.register_kind(BILAN_KIND, "Rappels d'envoi des bilans", build_bilan_reminder,
                     _mark_reminded("bilan_reminder_sent_at"))
