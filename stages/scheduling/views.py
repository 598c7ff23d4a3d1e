"""Course sessions: the session page."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from stages.auth.audit import audit
from stages.auth.permissions import Permission, can, get_authorized
from stages.enrollment.models import Enrollment, LegalMeasure
from stages.extensions import db
from stages.scheduling.models import CourseSession

bp = Blueprint("scheduling", __name__)


@bp.route("/stages/<int:session_id>")
@login_required
def session_detail(session_id: int):
    """One session: dates, venue, co-organizers, facilitators and the people enrolled."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_VIEW)
    enrollments = db.session.scalars(
        sa.select(Enrollment)
        .where(Enrollment.session_id == session.id)
        .options(selectinload(Enrollment.measure).selectinload(LegalMeasure.participant))
        .join(Enrollment.measure)
        .order_by(Enrollment.status, Enrollment.id)
    ).all()
    page = render_template(
        "scheduling/session_detail.html",
        session=session,
        enrollments=enrollments,
        show_legal=can(current_user, Permission.PARTICIPANT_LEGAL_VIEW),
    )
    # Committing expires every loaded object: audit once the page is rendered.
    if enrollments:
        audit("session.participants_viewed", session, details=f"{len(enrollments)} personnes")
        db.session.commit()
    return page
