"""Convocation pages: download the letter, send it by email or record it as posted, per person
or for a whole course; the people told when a course moves (listed on the confirmation, emailed
after it); and the withdrawal of convocations when a course is cancelled."""
from __future__ import annotations

from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit, audit_many
from stages.auth.permissions import Permission, get_authorized
from stages.enrollment import convocation
from stages.enrollment.models import Enrollment
from stages.enrollment.views.blueprint import bp
from stages.errors import DomainError, refused
from stages.extensions import db
from stages.mail import MailError
from stages.scheduling.models import Course
from stages.scheduling.queries import course_change_sections
from stages.scheduling.services import course_cancelled, course_changed
from stages.wording import ngettext

SEND_FAILED = (
    "L'envoi a échoué ; la convocation reste à envoyer (le motif est noté dans les preuves "
    "d'envoi de la convocation)."
)
CANCELLATION_FAILED = (
    "L'annulation de la convocation n'a pas pu être envoyée par courriel : prévenez la personne."
)


def back_from(enrollment: Enrollment):
    """Back to where the action was clicked: the course page or the person's page."""
    if request.form.get("next_page") == "session":
        return redirect(url_for("scheduling.course_detail", course_id=enrollment.course_id))
    return redirect(url_for("enrollment.participant_detail", participant_id=enrollment.measure.participant_id))


def cancel_convocation(enrollment: Enrollment) -> None:
    """Withdraw an emailed convocation once the change is committed; the change stands anyway."""
    with refused(also={MailError: CANCELLATION_FAILED}):
        if convocation.send_cancellation(enrollment, by=current_user):
            db.session.commit()


@course_cancelled.register
def withdraw_course_convocations(course: Course, *, by) -> str | None:
    """Tell the people summoned to a cancelled course (their calendars too)."""
    result = convocation.send_cancellations_for_course(course, by=by)
    db.session.commit()
    if result.failed:
        return ngettext(
            "%(num)d annulation n'a pas pu être envoyée par courriel : prévenez cette personne.",
            "%(num)d annulations n'ont pas pu être envoyées par courriel : prévenez ces personnes.",
            result.failed,
        )
    return None


@course_change_sections.add(template="enrollment/_people_to_tell.html", slot="confirm")
def people_to_tell_section(course: Course, moving: bool, **_) -> dict | None:
    """On the confirmation of a move: the people summoned, told by email once it is confirmed,
    or to send the new letter to by post."""
    if not moving:
        return None
    summoned = convocation.summoned_people(course)
    return {
        "told_by_email": [e for e in summoned if convocation.can_be_emailed(e)],
        "told_by_post": [e for e in summoned if not convocation.can_be_emailed(e)],
        "people_listed": len(summoned),
    }


@course_changed.register
def send_course_updates(course: Course, *, by) -> tuple[str, str] | None:
    """Once a move is committed: email the people summoned, one at a time (the confirmation
    page listed them)."""
    return _send_updates(course, by).message()


def _send_updates(course: Course, user) -> convocation.UpdateSummary:
    def after_send(_enrollment: Enrollment) -> None:
        # Commit after each email: it cannot be unsent, so the database must already say so.
        db.session.commit()

    summary = convocation.send_invitation_updates(course, by=user, after_send=after_send)
    db.session.commit()  # the SEQUENCE numbers taken by the failed ones, too
    return summary


@bp.route("/stages/<int:course_id>/modifications", methods=["POST"])
@login_required
def course_updates_send(course_id: int):
    """Send the updates of a moved course that could not be sent (the mail server refused)."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    with refused() as outcome:
        summary = _send_updates(course, current_user._get_current_object())
    if outcome.ok:
        flash(*(summary.message() or ("Aucune modification à envoyer.", "info")))
    return redirect(url_for("scheduling.course_detail", course_id=course_id))


def _pdf_response(body: bytes, filename: str):
    response = current_app.response_class(body, mimetype="application/pdf")
    # A fixed file name: names and case references never reach download folders' listings.
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/inscriptions/<int:enrollment_id>/convocation.pdf")
@login_required
def convocation_pdf(enrollment_id: int):
    """One person's convocation letter, to read or print."""
    enrollment = get_authorized(Enrollment, enrollment_id, Permission.MEASURE_EDIT)
    with refused() as outcome:
        body = convocation.convocation_pdf(enrollment)
        audit("convocation.downloaded", enrollment, participant_id=enrollment.measure.participant_id)
        db.session.commit()
    if not outcome.ok:
        return redirect(url_for("enrollment.participant_detail", participant_id=enrollment.measure.participant_id))
    return _pdf_response(body, "convocation.pdf")


@bp.route("/inscriptions/<int:enrollment_id>/convoquer", methods=["POST"])
@login_required
def convocation_send(enrollment_id: int):
    """Email the convocation (letter and calendar invitation) to the person."""
    enrollment = get_authorized(Enrollment, enrollment_id, Permission.MEASURE_EDIT)
    resend = enrollment.convocation_sent_at is not None
    with refused() as outcome:
        try:
            convocation.send_convocation(enrollment, by=current_user)
        except MailError:
            db.session.commit()  # the refusal, recorded as the summons's delivery proof
            raise DomainError(SEND_FAILED) from None
        db.session.commit()
    if outcome.ok:
        flash("La convocation a été renvoyée par courriel." if resend
              else "La convocation a été envoyée par courriel.", "success")
    return back_from(enrollment)


@bp.route("/inscriptions/<int:enrollment_id>/convoque-par-courrier", methods=["POST"])
@login_required
def convocation_by_post(enrollment_id: int):
    """Record that the printed convocation was sent by post."""
    enrollment = get_authorized(Enrollment, enrollment_id, Permission.MEASURE_EDIT)
    with refused() as outcome:
        convocation.mark_summoned_by_post(enrollment, by=current_user)
        db.session.commit()
    if outcome.ok:
        flash("La convocation est enregistrée comme envoyée par courrier.", "success")
    return back_from(enrollment)


@bp.route("/stages/<int:course_id>/convocations", methods=["POST"])
@login_required
def course_convocations_send(course_id: int):
    """Email every convocation still to send for a course, in one action."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    user = current_user._get_current_object()

    def after_send(_enrollment: Enrollment) -> None:
        # Commit after each email: it cannot be unsent, so the database must already say so.
        db.session.commit()

    with refused() as outcome:
        summary = convocation.send_course_convocations(course, by=user, after_send=after_send)
        db.session.commit()
    if outcome.ok:
        failed = " Les convocations en échec restent à envoyer." if summary.failed else ""
        flash(summary.message() + failed, "warning" if summary.failed or summary.without_email else "success")
    return redirect(url_for("scheduling.course_detail", course_id=course_id))


@bp.route("/stages/<int:course_id>/convocations.pdf")
@login_required
def course_convocations_pdf(course_id: int):
    """The letters of everyone expected at a course, in one PDF to print.

    ``?sans_courriel=1`` keeps only the people without an email address: the letters to post.
    """
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    enrollments = convocation.letters_to_print(course, posted_only=request.args.get("sans_courriel") == "1")
    with refused() as outcome:
        body = convocation.course_convocations_pdf(enrollments)
        audit_many("convocation.downloaded", [(e, e.measure.participant_id) for e in enrollments],
                   details="impression groupée")
        db.session.commit()
    if not outcome.ok:
        return redirect(url_for("scheduling.course_detail", course_id=course_id))
    return _pdf_response(body, "convocations.pdf")
