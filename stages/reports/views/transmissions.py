"""« Transmettre » a bilan by email, the list of transmissions (sent or received), and their
acknowledgment: in the application by the authority's liaison, or through the signed link of
the email (a public page: GET shows, only POST acknowledges)."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, selectinload

from stages.auth.models import Organization, Role
from stages.auth.permissions import Permission, get_authorized, visible
from stages.errors import DomainError, refused, render_error
from stages.extensions import db
from stages.forms import BaseForm
from stages.pages import paginate
from stages.reports.bilan_sending import transmit_bilan
from stages.reports.models import AcknowledgmentChannel, ReportTransmission, TransmissionStatus
from stages.reports.transmissions import (
    acknowledge,
    OVERDUE,
    deliver_transmission,
    overdue_transmissions,
    transmission_from_token,
)
from stages.reports.views.blueprint import bp
from stages.scheduling.models import Course

NUMBER_MAX = 10_000


def _number() -> int | None:
    """Which transmission the page offered (« numero »): two identical clicks send once."""
    raw = request.form.get("numero", "")
    return int(raw) if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= NUMBER_MAX else None


@bp.route("/stages/<int:course_id>/bilans/<int:authority_id>/transmettre", methods=["POST"])
@login_required
def bilan_transmit(course_id: int, authority_id: int):
    """Email the bilan to the authority now; the measures are reported once it is accepted."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    authority, number = db.session.get(Organization, authority_id), _number()
    if authority is None:
        abort(404)
    if number is None or not BaseForm().validate_on_submit():
        return render_error(400, "Numéro de transmission invalide : rechargez la page des bilans.")
    with refused() as outcome:
        transmission = transmit_bilan(course, authority, by=current_user, number=number)
        db.session.commit()
    if outcome.ok:
        transmission = deliver_transmission(transmission)
        flash(*_outcome_message(transmission))
    return redirect(url_for("reports.bilans", course_id=course_id))


def _outcome_message(transmission: ReportTransmission) -> tuple[str, str]:
    if transmission.status == TransmissionStatus.SENT:
        return (f"Bilan transmis à {transmission.authority.name} (transmission {transmission.reference}, "
                f"adresse {transmission.recipients}).", "success")
    if transmission.status == TransmissionStatus.FAILED:
        return (f"La transmission a échoué : {transmission.refusal} Le bilan reste à transmettre.", "error")
    return ("La transmission est en cours d'envoi : elle sera réessayée automatiquement.", "warning")


@bp.route("/transmissions")
@login_required
def transmissions():
    """Transmissions to the user's authorities (a liaison) or from their association."""
    if current_user.role not in (Role.ADMIN, Role.ORGANIZER, Role.LIAISON):
        abort(403)
    overdue = request.args.get("etat") == OVERDUE
    query = visible(ReportTransmission, current_user)
    query = overdue_transmissions(query) if overdue else query
    query = query.options(joinedload(ReportTransmission.authority), selectinload(ReportTransmission.files))
    page = paginate(query.order_by(ReportTransmission.requested_at.desc(), ReportTransmission.id.desc()))
    return render_template("reports/transmissions.html", pagination=page, overdue=overdue,
                           can_acknowledge=current_user.role == Role.LIAISON)


@bp.route("/transmissions/<int:transmission_id>/accuse-reception", methods=["POST"])
@login_required
def transmission_acknowledge(transmission_id: int):
    """The authority's liaison acknowledges receipt in the application."""
    transmission = db.session.get(ReportTransmission, transmission_id)
    if (transmission is None or current_user.role != Role.LIAISON
            or transmission.authority_id not in current_user.organization_ids):
        abort(403)
    if not BaseForm().validate_on_submit():
        return render_error(400, "Formulaire expiré : rechargez la page.")
    with refused() as outcome:
        done = acknowledge(transmission, by=current_user, via=AcknowledgmentChannel.APP)
        db.session.commit()
    if outcome.ok:
        flash("Réception confirmée." if done else "La réception était déjà confirmée.", "success")
    return redirect(url_for("reports.transmissions"))


@bp.route("/transmissions/accuse-reception/<signed>", methods=["GET", "POST"])
def transmission_acknowledge_link(signed: str):
    """The signed link of the email: shows the document's number, date and authority; only the
    POST button acknowledges (mail scanners follow links)."""
    try:
        transmission = transmission_from_token(signed)
    except DomainError as error:
        db.session.commit()  # the refusal's audit entry
        return _public(render_template("reports/transmission_acknowledgment.html", error=error.message,
                                       transmission=None, done=False), 400)
    done = None
    form = BaseForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_error(400, "Formulaire expiré : rechargez la page et recommencez.")
        with refused() as outcome:
            done = acknowledge(transmission, by=None, via=AcknowledgmentChannel.LINK)
            db.session.commit()
        if not outcome.ok:
            done = None
    return _public(render_template("reports/transmission_acknowledgment.html", transmission=transmission,
                                   error=None, done=done, form=form))


def _public(body: str, status: int = 200) -> Response:
    response = Response(body, status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


