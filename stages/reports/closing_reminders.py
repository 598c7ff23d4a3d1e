"""Reminders to organizers once a course is over: close it, then send its bilans."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from stages.auth.models import Role, User, user_organizations
from stages.extensions import db
from stages.mail import MailError, build_message, send_email
from stages.reports.models import Bilan
from stages.scheduling.models import Course, CourseStatus, course_organizations
from stages.timeutil import fr_date, now_utc

CLOSE_AFTER = timedelta(days=1)
BILAN_AFTER = timedelta(days=3)


def _organizers(course: Course) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(User.email)
            .join(user_organizations, user_organizations.c.user_id == User.id)
            .join(course_organizations,
                  course_organizations.c.organization_id == user_organizations.c.organization_id)
            .where(course_organizations.c.session_id == course.id, User.active,
                   User.role == Role.ORGANIZER)
            .distinct()
        )
    )


def _remind(course: Course, subject: str, text: str, column: str) -> tuple[int, int]:
    """Send to every organizer of the course; mark it reminded only if all were sent."""
    sent = failed = 0
    for email in _organizers(course):
        try:
            send_email(build_message(email, subject, text))
        except MailError:
            failed += 1
        else:
            sent += 1
    if not failed:
        setattr(course, column, now_utc())
    db.session.commit()
    return sent, failed


def send_closing_reminders() -> dict[str, int]:
    """Held courses not closed a day later; closed courses whose bilans are unsent."""
    now = now_utc()
    base = current_app.config["BASE_URL"].rstrip("/")
    to_close = db.session.scalars(
        sa.select(Course).where(
            Course.status == CourseStatus.HELD,
            Course.ends_at < now - CLOSE_AFTER,
            Course.closing_reminder_sent_at.is_(None),
        ).options(selectinload(Course.venue))
    ).all()
    unsent_bilans = sa.select(Bilan.course_id).where(Bilan.sent_at.is_not(None))
    to_report = db.session.scalars(
        sa.select(Course).where(
            Course.status == CourseStatus.CLOSED,
            Course.ends_at < now - BILAN_AFTER,
            Course.bilan_reminder_sent_at.is_(None),
            Course.id.not_in(unsent_bilans),
        ).options(selectinload(Course.venue))
    ).all()
    totals = {"rappels de clôture": 0, "rappels de bilan": 0, "échecs": 0}
    for course in to_close:
        day = fr_date(course.starts_at)
        sent, failed = _remind(
            course,
            f"Stage du {day} : à clôturer",
            f"Bonjour,\n\nLe stage du {day} ({course.venue.name}) est terminé. Vérifiez la présence "
            f"saisie et clôturez-le pour délivrer les attestations :\n{base}/stages/{course.id}\n\n"
            "— Stages (message automatique)",
            "closing_reminder_sent_at",
        )
        totals["rappels de clôture"] += sent
        totals["échecs"] += failed
    for course in to_report:
        day = fr_date(course.starts_at)
        sent, failed = _remind(
            course,
            f"Stage du {day} : bilans à envoyer",
            f"Bonjour,\n\nLe stage du {day} est clôturé mais ses bilans n'ont pas été envoyés aux "
            f"autorités prescriptrices :\n{base}/stages/{course.id}\n\n— Stages (message automatique)",
            "bilan_reminder_sent_at",
        )
        totals["rappels de bilan"] += sent
        totals["échecs"] += failed
    return totals
