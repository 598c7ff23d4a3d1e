"""The measures list (searchable, filterable) and a person's page."""
from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.permissions import Permission, authorize, can, get_authorized
from stages.enrollment import queries
from stages.enrollment.models import LegalFrame, MeasureStatus, Participant
from stages.enrollment.views.blueprint import bp
from stages.extensions import db
from stages.pages import paginate
from stages.auth.search_terms import remember_search, search_args, search_submitted, search_term
from stages.timeutil import today_local

SEARCH_SCOPE = "measures"


@bp.route("/personnes", methods=["GET", "POST"])
@login_required
def measures():
    """Measures in the user's scope, searchable by name or case reference, filterable.

    The search form is POSTed so that a name searched never appears in a URL
    (``stages.auth.search_terms``).
    """
    authorize(Permission.MEASURE_VIEW)
    if search_submitted():
        return remember_search(SEARCH_SCOPE)
    if request.method == "POST":
        abort(400)
    q, status, frame = search_term(SEARCH_SCOPE), request.args.get("statut", ""), request.args.get("cadre", "")
    pagination = paginate(queries.measures_list(current_user, q, status, frame))
    html = render_template(
        "enrollment/measures.html",
        pagination=pagination, q=q, search_args=search_args(q), status=status, frame=frame,
        today=today_local(), statuses=MeasureStatus, frames=LegalFrame,
        can_edit=can(current_user, Permission.MEASURE_EDIT),
    )
    audit("measures.list", details=f"liste, page {pagination.page}" + (", recherche" if q else ""))
    db.session.commit()
    return html


@bp.route("/personnes/<int:participant_id>")
@login_required
def participant_detail(participant_id: int):
    """A person's identity, measures, enrollments, attendance and who viewed the file."""
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_VIEW)
    context = queries.participant_file(participant, current_user)
    page = render_template("enrollment/participant_detail.html", today=today_local(), **context)
    audit("participant.viewed", participant, participant_id=participant.id)
    db.session.commit()
    return page
