"""The daily digest of deadlines: measures holding no seat in a course — none booked, or only a
waitlist place — whose deadline is close or passed, sent to each association's organizers and to
each authority's liaisons, through the outbox (one message per person and day).

The digest carries case references and initials, never full names: email is a weaker channel
than the application, which the link leads to. It is written when sent, from the data of that
moment; a digest not sent on its day is dropped, the next day's replaces it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages import outbox
from stages.auth.models import Role, User, user_organizations
from stages.enrollment.deadlines import DEADLINE_WARNING_DAYS, deadline_condition
from stages.enrollment.models import LegalMeasure
from stages.enrollment.services import has_no_seat, is_waitlisted
from stages.extensions import db
from stages.mail import build_message
from stages.public_url import public_base_url
from stages.timeutil import fr_date, today_local
from stages.wording import ngettext

KIND = "deadline_digest"
WAITLISTED_MARK = "sur liste d'attente"


@dataclass(frozen=True)
class DueMeasure:
    measure: LegalMeasure
    waitlisted: bool


def _due_condition(today: date) -> sa.ColumnElement[bool]:
    return sa.and_(deadline_condition(None, today), has_no_seat())


def due_measures(today: date, scope: sa.ColumnElement[bool] | None = None) -> list[DueMeasure]:
    """Measures holding no seat whose deadline is passed or close (within ``scope``), each
    with whether it waits on a waitlist."""
    rows = db.session.execute(
        sa.select(LegalMeasure, is_waitlisted().label("waitlisted"))
        .where(_due_condition(today), sa.true() if scope is None else scope)
        .options(selectinload(LegalMeasure.participant))
        .order_by(LegalMeasure.deadline, LegalMeasure.id)
    ).all()
    return [DueMeasure(measure, bool(waitlisted)) for measure, waitlisted in rows]


def _scope(user: User) -> sa.ColumnElement[bool] | None:
    """What a digest tells ``user``: the measures their association handles (organizers) or
    their authority referred (liaisons)."""
    organizations = sa.select(user_organizations.c.organization_id).where(
        user_organizations.c.user_id == user.id
    )
    if user.role == Role.ORGANIZER:
        return LegalMeasure.handling_organization_id.in_(organizations)
    if user.role == Role.LIAISON:
        return LegalMeasure.authority_id.in_(organizations)
    return None


def _recipients(today: date) -> set[int]:
    """The active organizers and liaisons with at least one measure in their digest."""
    due = sa.select(LegalMeasure).where(_due_condition(today)).subquery()
    found: set[int] = set()
    for role, organization in ((Role.ORGANIZER, due.c.handling_organization_id),
                               (Role.LIAISON, due.c.authority_id)):
        found.update(db.session.scalars(
            sa.select(User.id)
            .join(user_organizations, user_organizations.c.user_id == User.id)
            .where(User.active, User.role == role,
                   user_organizations.c.organization_id.in_(sa.select(organization)))
        ))
    return found


def _line(item: DueMeasure, today: date) -> str:
    measure, person = item.measure, item.measure.participant
    initials = f"{person.first_names[:1]}. {person.surname[:1]}." if person.surname else "—"
    days = (measure.deadline - today).days
    when = (ngettext("dépassée depuis %(num)d jour", "dépassée depuis %(num)d jours", -days) if days < 0
            else ngettext("dans %(num)d jour", "dans %(num)d jours", days))
    waiting = f" — {WAITLISTED_MARK}" if item.waitlisted else ""
    return (f"- N° {measure.case_reference} ({initials}) : date limite "
            f"{fr_date(measure.deadline, 'short')}, {when}{waiting}")


def _body(items: list[DueMeasure], today: date) -> str:
    passed = [item for item in items if item.measure.deadline < today]
    soon = [item for item in items if item.measure.deadline >= today]
    base = public_base_url()
    parts = [
        "Bonjour,",
        "",
        "Voici les mesures sans place dans un stage dont la date limite approche ou est dépassée.",
    ]
    if any(item.waitlisted for item in items):
        parts.append(f"« {WAITLISTED_MARK.capitalize()} » : la personne attend qu'une place se "
                     "libère dans un stage, elle n'en a pas encore.")
    if passed:
        parts += ["", f"Date limite dépassée ({len(passed)}) :"] + [_line(i, today) for i in passed]
    if soon:
        parts += ["", f"Date limite dans moins de {DEADLINE_WARNING_DAYS} jours ({len(soon)}) :"]
        parts += [_line(i, today) for i in soon]
    parts += ["", f"Le détail est dans l'application : {base}/personnes", "",
              "— Stages (message automatique)"]
    return "\n".join(parts)


def build_digest(refs: dict) -> EmailMessage | None:
    """One person's digest of ``refs["day"]``, from the data of now; None once the day is past
    (the next digest replaces it) or when nothing is left to tell."""
    day = date.fromisoformat(refs["day"])
    user = db.session.get(User, refs["user"])
    if day != today_local() or user is None or not user.active:
        return None
    scope = _scope(user)
    items = due_measures(day, scope) if scope is not None else []
    if not items:
        return None
    subject = f"Stages : dates limites à surveiller au {fr_date(day, 'medium')}"
    return build_message(user.email, subject, _body(items, day))


def send_deadline_digests(today: date) -> dict[str, int]:
    """Queue today's digest of each organizer and liaison concerned, and send the digests due."""
    day = today.isoformat()
    users = sorted(_recipients(today))
    outbox.enqueue(KIND, ((f"{KIND}:{day}:{user}", {"user": user, "day": day}) for user in users))
    measures = db.session.scalar(
        sa.select(sa.func.count()).select_from(LegalMeasure).where(_due_condition(today))
    )
    db.session.commit()
    delivery = outbox.deliver(kinds=[KIND])
    return {
        "mesures signalées": measures,
        "destinataires": len(users),
        "récapitulatifs envoyés": delivery.sent,
        "échecs": delivery.failed,
    }


outbox.register_kind(KIND, "Récapitulatifs des dates limites", build_digest)
