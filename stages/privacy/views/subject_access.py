"""Right of access (GDPR art. 15): download everything held on one person, as JSON or PDF.

For admins and for organizers who may edit the person (``Permission.PARTICIPANT_EDIT``). An
organizer's export holds the measures their association may see; an admin's holds every one.
Each download is audited (``participant.exported``). The file is named by the person's id,
never by their name, and is not cached. The rectification flow is
``enrollment.participant_edit`` (/personnes/<id>/modifier).
"""
from __future__ import annotations

from flask import Response
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.enrollment.models import LegalMeasure
from stages.auth.permissions import Permission, can, get_authorized, visible
from stages.privacy import subject_export
from stages.enrollment.models import Participant
from stages.enrollment.queries import participant_sections
from stages.extensions import db
from stages.privacy.views.blueprint import bp

NO_STORE = {"Cache-Control": "no-store"}


@participant_sections.add(template="privacy/_participant_actions.html", slot="actions")
def export_buttons(can_edit: bool, **_) -> dict | None:
    """« Exporter ses données » on a person's page, for those who may edit the person."""
    return {} if can_edit else None


def _export(participant_id: int) -> tuple[Participant, dict]:
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_EDIT)
    data = subject_export.build_export(
        participant,
        visible(LegalMeasure, current_user),
        complete=can(current_user, Permission.ADMIN),
    )
    return participant, data


def _download(participant: Participant, content: bytes, extension: str, mimetype: str) -> Response:
    # Audited once the file is built: an export that failed is not an export that happened.
    audit("participant.exported", participant, participant_id=participant.id, details=f"droit d'accès, {extension}")
    db.session.commit()
    filename = f"export-personne-{participant.id}.{extension}"
    return Response(
        content,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE},
    )


@bp.route("/personnes/<int:participant_id>/export.json")
@login_required
def subject_export_json(participant_id: int):
    """Everything held on the person, as JSON with stable English keys."""
    participant, data = _export(participant_id)
    return _download(participant, subject_export.export_json(data), "json", "application/json")


@bp.route("/personnes/<int:participant_id>/export.pdf")
@login_required
def subject_export_pdf(participant_id: int):
    """Everything held on the person, as a PDF in French to hand or send to them."""
    participant, data = _export(participant_id)
    return _download(participant, subject_export.export_pdf(data), "pdf", "application/pdf")
