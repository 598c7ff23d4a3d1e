"""Enrollment actions: enroll, change status, reschedule, withdraw a measure, enroll in bulk."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from stages.auth.audit import audit, audit_many
from stages.auth.permissions import Permission, can, get_authorized, visible_measures
from stages.enrollment import convocation, services
from stages.enrollment.forms import EnrollForm, ReasonForm, RescheduleForm
from stages.enrollment.models import (
    Enrollment,
    EnrollmentStatus,
    LegalMeasure,
    MeasureStatus,
)
from stages.enrollment.views import bp
from stages.errors import DomainError
from stages.extensions import db
from stages.forms import select_choices
from stages.mail import MailError
from stages.scheduling.models import CourseSession
from stages.search import remember_search, search_args, search_submitted, search_term
from stages.timeutil import fr_date


# ---------------------------------------------------------------------------------------------
# Enrollment actions


def _session_choices(form, measure: LegalMeasure, exclude_id: int | None = None) -> list:
    """Upcoming sessions with seats and whether each ends after the measure's deadline."""
    sessions = db.session.scalars(services.upcoming_sessions_query(current_user).limit(60)).all()
    sessions = [s for s in sessions if s.id != exclude_id]
    proposals = services.proposed_sessions(measure, sessions)
    form.session.choices = select_choices(
        (
            s.id,
            f"{fr_date(s.starts_at)} — {s.venue.name} — "
            + (f"{s.seats_left} place(s)" if s.seats_left else "complet : liste d'attente")
            + (" — APRÈS LA DATE LIMITE" if late else ""),
        )
        for s, late in proposals
    )
    return proposals


@bp.route("/mesures/<int:measure_id>/inscrire", methods=["GET", "POST"])
@login_required
def measure_enroll(measure_id: int):
    """Enroll a measure into a session, seeing each session against the deadline."""
    measure = get_authorized(LegalMeasure, measure_id, Permission.MEASURE_EDIT)
    form = EnrollForm()
    proposals = _session_choices(form, measure)
    if form.validate_on_submit():
        session = get_authorized(CourseSession, form.session.data, Permission.SESSION_EDIT)
        try:
            result = services.enroll(measure, session, by=current_user)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            audit("enrollment.created", result.enrollment, participant_id=measure.participant_id)
            db.session.commit()
            _flash_result(result)
            return redirect(url_for("enrollment.participant_detail", participant_id=measure.participant_id))
    return render_template(
        "enrollment/enroll_form.html", form=form, measure=measure, proposals=proposals
    )


def _cancel_convocation(enrollment: Enrollment) -> None:
    """Withdraw an emailed convocation once the change is committed; the change stands anyway."""
    try:
        if convocation.send_cancellation(enrollment, by=current_user):
            db.session.commit()
    except MailError:
        db.session.rollback()
        flash("L'annulation de la convocation n'a pas pu être envoyée par courriel : "
              "prévenez la personne.", "warning")


def _flash_result(result: services.EnrollResult) -> None:
    if result.waitlisted:
        flash("Le stage est complet : la personne est placée sur liste d'attente.", "warning")
    else:
        flash("La personne est inscrite au stage.", "success")
    if result.after_deadline:
        flash("Attention : ce stage se termine après la date limite de la mesure.", "warning")


def _editable_enrollment(enrollment_id: int) -> tuple[Enrollment, LegalMeasure]:
    """The enrollment and its measure, if the user may edit the measure (else 403)."""
    enrollment = db.session.get(Enrollment, enrollment_id)
    if enrollment is None:
        abort(404 if can(current_user, Permission.ADMIN) else 403)
    return enrollment, get_authorized(LegalMeasure, enrollment.measure_id, Permission.MEASURE_EDIT)


@bp.route("/inscriptions/<int:enrollment_id>/statut", methods=["POST"])
@login_required
def enrollment_status(enrollment_id: int):
    """Confirm, mark as summoned, or excuse an enrollment."""
    enrollment, measure = _editable_enrollment(enrollment_id)
    wanted = request.form.get("status", "")
    allowed = {EnrollmentStatus.CONFIRMED, EnrollmentStatus.SUMMONED, EnrollmentStatus.ABSENT_EXCUSED}
    if wanted not in {s.value for s in allowed}:
        abort(400)
    try:
        services.change_enrollment_status(
            enrollment, EnrollmentStatus(wanted), by=current_user, note=request.form.get("note", "")[:500] or None
        )
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        audit("enrollment.status_changed", enrollment, participant_id=measure.participant_id, details=wanted)
        db.session.commit()
        flash(f"Inscription : {EnrollmentStatus(wanted).label}.", "success")
    if request.form.get("next_page") == "session":
        return redirect(url_for("scheduling.session_detail", session_id=enrollment.session_id))
    return redirect(url_for("enrollment.participant_detail", participant_id=measure.participant_id))


@bp.route("/inscriptions/<int:enrollment_id>/reporter", methods=["GET", "POST"])
@login_required
def enrollment_reschedule(enrollment_id: int):
    """Move a person to another session, keeping their measure and deadline."""
    enrollment, measure = _editable_enrollment(enrollment_id)
    form = RescheduleForm()
    proposals = _session_choices(form, measure, exclude_id=enrollment.session_id)
    if form.validate_on_submit():
        session = get_authorized(CourseSession, form.session.data, Permission.SESSION_EDIT)
        try:
            result = services.reschedule(enrollment, session, by=current_user, note=form.note.data)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            audit("enrollment.rescheduled", result.enrollment, participant_id=measure.participant_id)
            db.session.commit()
            _flash_result(result)
            _cancel_convocation(enrollment)
            return redirect(url_for("enrollment.participant_detail", participant_id=measure.participant_id))
    return render_template(
        "enrollment/reschedule_form.html", form=form, enrollment=enrollment, measure=measure, proposals=proposals
    )


@bp.route("/mesures/<int:measure_id>/renvoyer", methods=["GET", "POST"])
@login_required
def measure_withdraw(measure_id: int):
    """Return a measure to the referring authority, with the reason."""
    measure = get_authorized(LegalMeasure, measure_id, Permission.MEASURE_EDIT)
    form = ReasonForm()
    if form.validate_on_submit():
        current = services.live_enrollment(measure)
        try:
            services.withdraw_measure(measure, form.reason.data, by=current_user)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            audit("measure.withdrawn", measure, participant_id=measure.participant_id)
            db.session.commit()
            flash("La mesure est renvoyée à l'autorité prescriptrice.", "success")
            if current is not None:
                _cancel_convocation(current)
            return redirect(url_for("enrollment.participant_detail", participant_id=measure.participant_id))
    return render_template("enrollment/withdraw_form.html", form=form, measure=measure)


@bp.route("/stages/<int:session_id>/inscrire", methods=["GET", "POST"])
@login_required
def session_bulk_enroll(session_id: int):
    """Enroll several referred people into one session at once."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    if search_submitted():  # the search form (names stay out of URLs: stages.search)
        return remember_search(f"bulk-enroll-{session.id}")
    q = search_term(f"bulk-enroll-{session.id}") if request.method == "GET" else ""
    waiting = (
        visible_measures(current_user)
        .join(LegalMeasure.participant)
        .where(
            LegalMeasure.status.in_([MeasureStatus.REFERRED, MeasureStatus.ABSENT_EXCUSED]),
            services.has_no_live_enrollment(),
        )
    )
    if q:
        waiting = waiting.where(services.measure_search_condition(q))
    if request.method == "POST":
        ids = [int(v) for v in request.form.getlist("measure") if v.isdigit()][:200]
        chosen = db.session.scalars(
            waiting.where(LegalMeasure.id.in_(ids)).order_by(LegalMeasure.deadline)
        ).all() if ids else []
        if not chosen:
            flash("Cochez au moins une personne à inscrire.", "error")
        else:
            try:
                results = services.enroll_many(chosen, session, by=current_user)
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "error")
            else:
                audit_many("enrollment.created", [
                    (r.enrollment, r.enrollment.measure.participant_id) for r in results
                ])
                db.session.commit()
                seated = sum(not r.waitlisted for r in results)
                message = f"{seated} personne(s) inscrite(s)"
                if len(results) > seated:
                    message += f", {len(results) - seated} sur liste d'attente"
                flash(message + ".", "success")
                late = sum(r.after_deadline for r in results)
                if late:
                    flash(f"Attention : pour {late} personne(s), ce stage se termine après la date limite.", "warning")
                return redirect(url_for("scheduling.session_detail", session_id=session.id))
    pagination = db.paginate(
        waiting.options(selectinload(LegalMeasure.participant), selectinload(LegalMeasure.authority))
        .order_by(LegalMeasure.deadline, LegalMeasure.id),
        page=request.args.get("page", 1, type=int),
        per_page=50,
        error_out=False,
    )
    html = render_template(
        "enrollment/bulk_enroll.html", session=session, pagination=pagination, q=q,
        search_args=search_args(q),
        last_day=session.last_day,
    )
    audit("measures.list", session, details=f"inscription groupée, page {pagination.page}")
    db.session.commit()
    return html
