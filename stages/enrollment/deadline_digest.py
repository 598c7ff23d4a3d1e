"""The daily digest of deadlines: measures still waiting for a course whose deadline is close
or passed, sent to each association's organizers and to each authority's liaisons.

The digest carries case references and initials, never full names: email is a weaker channel
than the application, which the link leads to.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from stages.auth.models import Role, User, user_organizations
from stages.enrollment.deadlines import DEADLINE_WARNING_DAYS, deadline_condition
from stages.enrollment.models import LegalMeasure
from stages.enrollment.services import has_no_live_enrollment
from stages.extensions import db
from stages.mail import MailError, build_message, send_email
from stages.timeutil import fr_date


def due_measures(today: date) -> list[LegalMeasure]:
    """Measures awaiting a course, with none booked, whose deadline is passed or close."""
    return list(
        db.session.scalars(
            sa.select(LegalMeasure)
            .where(
                deadline_condition(None, today),
                has_no_live_enrollment(),
            )
            .options(selectinload(LegalMeasure.participant))
            .order_by(LegalMeasure.deadline)
        )
    )


def _recipients(role: Role, organization_ids: set[int]) -> dict[int, list[User]]:
    rows = db.session.execute(
        sa.select(user_organizations.c.organization_id, User)
        .join(User, User.id == user_organizations.c.user_id)
        .where(User.active, User.role == role, user_organizations.c.organization_id.in_(organization_ids))
    ).all()
    by_org: dict[int, list[User]] = defaultdict(list)
    for org_id, user in rows:
        by_org[org_id].append(user)
    return by_org


def _line(measure: LegalMeasure, today: date) -> str:
    person = measure.participant
    initials = f"{person.first_names[:1]}. {person.surname[:1]}." if person.surname else "—"
    days = (measure.deadline - today).days
    when = f"dépassée depuis {-days} jour(s)" if days < 0 else f"dans {days} jour(s)"
    return f"- N° {measure.case_reference} ({initials}) : date limite {fr_date(measure.deadline, 'short')}, {when}"


def _body(measures: list[LegalMeasure], today: date) -> str:
    passed = [m for m in measures if m.deadline < today]
    soon = [m for m in measures if m.deadline >= today]
    base = current_app.config["BASE_URL"].rstrip("/")
    parts = ["Bonjour,", "", "Voici les mesures sans stage programmé dont la date limite approche ou est dépassée."]
    if passed:
        parts += ["", f"Date limite dépassée ({len(passed)}) :"] + [_line(m, today) for m in passed]
    if soon:
        parts += ["", f"Date limite dans moins de {DEADLINE_WARNING_DAYS} jours ({len(soon)}) :"] + [_line(m, today) for m in soon]
    parts += ["", f"Le détail est dans l'application : {base}/personnes", "", "— Stages (message automatique)"]
    return "\n".join(parts)


def send_deadline_digests(today: date) -> dict[str, int]:
    """One digest per recipient; a failed send is counted and does not stop the others."""
    measures = due_measures(today)
    by_association: dict[int, list[LegalMeasure]] = defaultdict(list)
    by_authority: dict[int, list[LegalMeasure]] = defaultdict(list)
    for measure in measures:
        if measure.handling_organization_id:
            by_association[measure.handling_organization_id].append(measure)
        by_authority[measure.authority_id].append(measure)
    digests: dict[str, list[LegalMeasure]] = defaultdict(list)
    for role, groups in ((Role.ORGANIZER, by_association), (Role.LIAISON, by_authority)):
        for org_id, users in _recipients(role, set(groups)).items():
            for user in users:
                digests[user.email].extend(groups[org_id])
    sent = failed = 0
    subject = f"Stages : dates limites à surveiller au {fr_date(today, 'medium')}"
    for email, items in digests.items():
        unique = sorted({m.id: m for m in items}.values(), key=lambda m: m.deadline)
        try:
            send_email(build_message(email, subject, _body(unique, today)))
        except MailError:
            failed += 1
        else:
            sent += 1
    return {"mesures signalées": len(measures), "récapitulatifs envoyés": sent, "échecs": failed}
