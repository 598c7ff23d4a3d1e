"""The measures list (searchable, filterable) and the participant page."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, render_template, request
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, selectinload

from stages.attendance.models import AttendanceMark
from stages.auth.audit import audit
from stages.auth.models import AuditEntry
from stages.auth.permissions import Permission, authorize, can, get_authorized, visible_measures
from stages.enrollment import services
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
)
from stages.enrollment.views import bp
from stages.extensions import db
from stages.scheduling.models import CourseSession
from stages.search import remember_search, search_args, search_submitted, search_term
from stages.timeutil import today_local


# ---------------------------------------------------------------------------------------------
# Lists and the participant page


@bp.route("/personnes", methods=["GET", "POST"])
@login_required
def measures():
    """Measures in the user's scope, searchable by name or case reference, filterable.

    The search form is POSTed so that a name searched never appears in a URL (stages.search).
    """
    authorize(Permission.MEASURE_VIEW)
    if search_submitted():
        return remember_search("measures")
    if request.method == "POST":
        abort(400)
    page = request.args.get("page", 1, type=int)
    q = search_term("measures")
    status = request.args.get("statut", "")
    frame = request.args.get("cadre", "")
    query = visible_measures(current_user).join(LegalMeasure.participant)
    if q:
        query = query.where(services.measure_search_condition(q))
    if status in {m.value for m in MeasureStatus}:
        query = query.where(LegalMeasure.status == status)
    if frame in {f.value for f in LegalFrame}:
        query = query.where(LegalMeasure.frame == frame)
    query = query.options(
        selectinload(LegalMeasure.participant), selectinload(LegalMeasure.authority)
    ).order_by(LegalMeasure.deadline, LegalMeasure.id)
    pagination = db.paginate(
        query, page=page, per_page=current_app.config["ITEMS_PER_PAGE"], error_out=False
    )
    html = render_template(
        "enrollment/measures.html",
        pagination=pagination,
        q=q,
        search_args=search_args(q),
        status=status,
        frame=frame,
        today=today_local(),
        statuses=MeasureStatus,
        frames=LegalFrame,
        can_edit=can(current_user, Permission.MEASURE_EDIT),
    )
    audit("measures.list", details=f"liste, page {pagination.page}" + (", recherche" if q else ""))
    db.session.commit()
    return html


@bp.route("/personnes/<int:participant_id>")
@login_required
def participant_detail(participant_id: int):
    """A participant's identity, measures, enrollments, attendance and who viewed the file."""
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_VIEW)
    # Facilitators see a name and their sessions; legal data is for organizers and liaisons.
    full_view = can(current_user, Permission.PARTICIPANT_LEGAL_VIEW, participant)
    measures, marks, views, live = [], {}, [], {}
    if full_view:
        measures = db.session.scalars(
            visible_measures(current_user)
            .where(LegalMeasure.participant_id == participant.id)
            # One tree of options: many-to-ones joined to their parent's query, collections
            # selected in one query each (the same path repeated costs statements and cache keys).
            .options(
                joinedload(LegalMeasure.authority),
                joinedload(LegalMeasure.handling_organization),
                selectinload(LegalMeasure.enrollments).options(
                    joinedload(Enrollment.session).options(
                        joinedload(CourseSession.venue), selectinload(CourseSession.parts)
                    ),
                    selectinload(Enrollment.events).joinedload(EnrollmentEvent.user),
                ),
            )
            .order_by(LegalMeasure.decision_date)
        ).all()
        enrollment_ids = [e.id for m in measures for e in m.enrollments]
        for mark in db.session.scalars(
            sa.select(AttendanceMark).where(AttendanceMark.enrollment_id.in_(enrollment_ids))
        ):
            marks[(mark.enrollment_id, mark.part_id)] = mark
        live = {
            m.id: next((e for e in m.enrollments if e.status in services.ACTIVE_STATUSES), None)
            for m in measures
        }
    certificates, replaceable = [], set()
    if full_view:
        from stages.certificates.loaders import certificates_for_enrollments
        from stages.certificates.loaders import replaceable as replaceable_certificates

        certificates = certificates_for_enrollments([e.id for m in measures for e in m.enrollments])
        replaceable = replaceable_certificates(certificates)
    can_edit = can(current_user, Permission.PARTICIPANT_EDIT, participant)
    if can_edit:
        views = db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.participant_id == participant.id)
            .options(selectinload(AuditEntry.user))
            .order_by(AuditEntry.at.desc())
            .limit(20)
        ).all()
    page = render_template(
        "enrollment/participant_detail.html",
        participant=participant,
        measures=measures,
        marks=marks,
        live=live,
        views=views,
        full_view=full_view,
        can_edit=can_edit,
        certificates=certificates,
        replaceable=replaceable,
        can_revoke=can(current_user, Permission.MEASURE_EDIT),
        today=today_local(),
        EnrollmentStatus=EnrollmentStatus,
        transitions=services.TRANSITIONS,
    )
    audit("participant.viewed", participant, participant_id=participant.id)
    db.session.commit()
    return page
