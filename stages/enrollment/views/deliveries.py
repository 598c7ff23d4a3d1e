"""Proofs of delivery of the convocations: their history on a person's page, and what an
organizer types in for a registered letter (its number, then the date of its avis de réception)."""
from __future__ import annotations

import re
from datetime import date

from flask import flash, request
from flask_login import current_user, login_required

from stages.auth.permissions import Permission, get_authorized
from stages.enrollment.convocation import delivery, registered_letters
from stages.enrollment.models import Enrollment
from stages.enrollment.queries import participant_sections
from stages.enrollment.views.blueprint import bp
from stages.enrollment.views.convocations import back_from
from stages.errors import DomainError, refused
from stages.extensions import db
from stages.forms import database_id

_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{2})/(\d{2})/(\d{4})")


@participant_sections.add()
def participant_deliveries(enrollments: list, full_view: bool, **_) -> dict | None:
    """Each enrollment's delivery proofs, oldest first (one statement)."""
    if not full_view:
        return None
    found = delivery.deliveries_by_enrollment(e.id for e in enrollments)
    return {
        "deliveries": found,
        "open_letters": {eid: delivery.open_registered_letters(rows) for eid, rows in found.items()},
        "delivery_failures": {eid: delivery.last_failure(rows) for eid, rows in found.items()},
    }


def parse_day(raw: str | None) -> date:
    """« 2026-03-05 » (a date field) or « 05/03/2026 »; DomainError in French otherwise."""
    match = _DAY.fullmatch((raw or "").strip())
    try:
        if match is None:
            raise ValueError
        year, month, day = match.groups()[:3] if match.group(1) else reversed(match.groups()[3:])
        return date(int(year), int(month), int(day))
    except ValueError:
        raise DomainError("Indiquez la date de l'avis de réception (jj/mm/aaaa).") from None


@bp.route("/inscriptions/<int:enrollment_id>/lettre-recommandee", methods=["POST"])
@login_required
def registered_letter_record(enrollment_id: int):
    """Record that the convocation went by registered letter with AR, with its number."""
    enrollment = get_authorized(Enrollment, enrollment_id, Permission.MEASURE_EDIT)
    with refused() as outcome:
        registered_letters.record_registered_letter(
            enrollment, request.form.get("numero", ""), by=current_user._get_current_object()
        )
        db.session.commit()
    if outcome.ok:
        flash("La lettre recommandée avec AR est enregistrée.", "success")
    return back_from(enrollment)


@bp.route("/inscriptions/<int:enrollment_id>/avis-de-reception", methods=["POST"])
@login_required
def acknowledgement_record(enrollment_id: int):
    """Record the date printed on the avis de réception of a registered letter."""
    enrollment = get_authorized(Enrollment, enrollment_id, Permission.MEASURE_EDIT)
    with refused() as outcome:
        received_on = parse_day(request.form.get("date_avis"))
        registered_letters.record_acknowledgement(
            enrollment, database_id(request.form.get("lettre")), received_on,
            by=current_user._get_current_object(),
        )
        db.session.commit()
    if outcome.ok:
        flash("L'avis de réception est enregistré.", "success")
    return back_from(enrollment)
