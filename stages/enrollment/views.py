"""Participants: the participant page."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from stages.auth.audit import audit
from stages.auth.permissions import Permission, can, get_authorized, visible_measures
from stages.enrollment.models import Enrollment, LegalMeasure, Participant
from stages.extensions import db

bp = Blueprint("enrollment", __name__)


@bp.route("/personnes/<int:participant_id>")
@login_required
def participant_detail(participant_id: int):
    """A participant's identity, measures and enrollments, as far as the viewer may see."""
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_VIEW)
    measures = []
    # Facilitators see a name and their sessions; legal data is for organizers and liaisons.
    full_view = can(current_user, Permission.PARTICIPANT_LEGAL_VIEW, participant)
    if full_view:
        measures = db.session.scalars(
            visible_measures(current_user)
            .where(LegalMeasure.participant_id == participant.id)
            .options(
                selectinload(LegalMeasure.authority),
                selectinload(LegalMeasure.enrollments).selectinload(Enrollment.session),
            )
            .order_by(LegalMeasure.decision_date)
        ).all()
    page = render_template(
        "enrollment/participant_detail.html",
        participant=participant,
        measures=measures,
        full_view=full_view,
    )
    audit("participant.viewed", participant, participant_id=participant.id)
    db.session.commit()
    return page
