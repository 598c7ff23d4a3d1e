"""Convocation pages: download the letter, send it by email or record it as posted, per person
or for a whole session."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.permissions import Permission, can, get_authorized
from stages.enrollment import convocation
from stages.enrollment.models import Enrollment, LegalMeasure
from stages.errors import DomainError
from stages.extensions import db
from stages.mail import MailError
from stages.scheduling.models import CourseSession

bp = Blueprint("convocations", __name__)

SEND_FAILED = "L'envoi a échoué ; la convocation reste à envoyer."


def _editable_enrollment(enrollment_id: int) -> tuple[Enrollment, LegalMeasure]:
    """The enrollment and its measure, if the user may edit the measure; else 403 (404 for admins)."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None:
        abort(404 if can(current_user, Permission.ADMIN) else 403)
    return enrollment, get_authorized(LegalMeasure, enrollment.measure_id, Permission.MEASURE_EDIT)


def _back(enrollment: Enrollment, measure: LegalMeasure):
    """Back to where the action was clicked: the session page or the person's page."""
    if request.form.get("next_page") == "session":
        return redirect(url_for("scheduling.session_detail", session_id=enrollment.session_id))
    return redirect(url_for("enrollment.participant_detail", participant_id=measure.participant_id))


def _pdf_response(body: bytes, filename: str):
    response = current_app.response_class(body, mimetype="application/pdf")
    # A fixed file name: names and case references never reach download folders' listings.
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/inscriptions/<int:enrollment_id>/convocation.pdf")
@login_required
def enrollment_pdf(enrollment_id: int):
    """One person's convocation letter, to read or print."""
    enrollment, measure = _editable_enrollment(enrollment_id)
    try:
        body = convocation.convocation_pdf(enrollment)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("enrollment.participant_detail", participant_id=measure.participant_id))
    audit("convocation.downloaded", enrollment, participant_id=measure.participant_id)
    db.session.commit()
    return _pdf_response(body, "convocation.pdf")


@bp.route("/inscriptions/<int:enrollment_id>/convoquer", methods=["POST"])
@login_required
def send(enrollment_id: int):
    """Email the convocation (letter and calendar invitation) to the person."""
    enrollment, measure = _editable_enrollment(enrollment_id)
    resend = enrollment.convocation_sent_at is not None
    try:
        convocation.send_convocation(enrollment, by=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    except MailError:
        db.session.rollback()
        flash(SEND_FAILED, "error")
    else:
        audit(
            "convocation.sent", enrollment, participant_id=measure.participant_id,
            details="courriel, renvoi" if resend else "courriel",
        )
        db.session.commit()
        flash("La convocation a été renvoyée par courriel." if resend
              else "La convocation a été envoyée par courriel.", "success")
    return _back(enrollment, measure)


@bp.route("/inscriptions/<int:enrollment_id>/convoque-par-courrier", methods=["POST"])
@login_required
def mark_by_post(enrollment_id: int):
    """Record that the printed convocation was sent by post."""
    enrollment, measure = _editable_enrollment(enrollment_id)
    try:
        convocation.mark_summoned_by_post(enrollment, by=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        audit("convocation.sent", enrollment, participant_id=measure.participant_id, details="courrier")
        db.session.commit()
        flash("La convocation est enregistrée comme envoyée par courrier.", "success")
    return _back(enrollment, measure)


@bp.route("/stages/<int:session_id>/convocations", methods=["POST"])
@login_required
def send_all(session_id: int):
    """Email every convocation still to send for a session, in one action."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    user = current_user._get_current_object()

    def after_send(enrollment: Enrollment) -> None:
        # Commit after each email: it cannot be unsent, so the database must already say so.
        audit(
            "convocation.sent", enrollment, participant_id=enrollment.measure.participant_id,
            details="courriel, envoi groupé", user=user,
        )
        db.session.commit()

    try:
        summary = convocation.send_session_convocations(session, by=user, after_send=after_send)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        message = summary.message()
        if summary.failed:
            message += " Les convocations en échec restent à envoyer."
        flash(message, "warning" if summary.failed or summary.without_email else "success")
    return redirect(url_for("scheduling.session_detail", session_id=session_id))


@bp.route("/stages/<int:session_id>/convocations.pdf")
@login_required
def session_pdf(session_id: int):
    """The letters of everyone expected at a session, in one PDF to print.

    ``?sans_courriel=1`` keeps only the people without an email address: the letters to post.
    """
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    enrollments = [
        e for e in convocation.expected_enrollments(session)
        if e.measure.participant.anonymized_at is None
        and not (request.args.get("sans_courriel") == "1" and e.measure.participant.email)
    ]
    try:
        body = convocation.session_convocations_pdf(enrollments)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("scheduling.session_detail", session_id=session_id))
    for enrollment in enrollments:
        audit(
            "convocation.downloaded", enrollment, participant_id=enrollment.measure.participant_id,
            details="impression groupée",
        )
    db.session.commit()
    return _pdf_response(body, "convocations.pdf")
