"""Enrollment actions: enroll, change status, reschedule, withdraw a measure, enroll in bulk; and
the people of a course on the course page."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from stages.auth.audit import audit
from stages.auth.permissions import Permission, can, get_authorized
from stages.enrollment import needs, queries, services
from stages.enrollment.convocation import delivery
from stages.enrollment.forms import EnrollForm, ReasonForm, RescheduleForm, course_choices
from stages.enrollment.models import Enrollment, EnrollmentStatus, LegalMeasure
from stages.enrollment.statuses import TO_ATTEND_STATUSES
from stages.enrollment.views.blueprint import bp
from stages.enrollment.views.convocations import back_from, cancel_convocation
from stages.errors import refused
from stages.extensions import db
from stages.forms import database_id
from stages.pages import paginate
from stages.scheduling.models import Course
from stages.scheduling.queries import course_sections
from stages.scheduling.services import enrollment_refusal
from stages.auth.search_terms import remember_search, search_args, search_submitted, search_term
from stages.timeutil import today_local
from stages.wording import ngettext

BULK_PAGE_SIZE = 50
BULK_MAX_CHOSEN = 200
# Read with the course: its co-organizers (the permission rule) and venue (people's needs).
BULK_ENROLL_LOAD = (joinedload(Course.organizations), joinedload(Course.venue))


@course_sections.add(template="enrollment/_course_people.html", position=40)
def course_people_section(course: Course, user, can_edit: bool = False, **_) -> dict:
    """The people of a course, seated, waiting and former, on the course page, with why a
    convocation is still to send when the mail server refused it or it bounced."""
    people = queries.course_people(course)
    found = delivery.deliveries_by_enrollment(e.id for e in people.seated) if can_edit else {}
    return {
        "delivery_failures": {eid: delivery.last_failure(rows) for eid, rows in found.items()},
        "people": people,
        "enrollments": people.enrollments,
        "show_legal": can(user, Permission.PARTICIPANT_LEGAL_VIEW),
        "to_attend_statuses": TO_ATTEND_STATUSES,
        "updates_due": queries.updates_due(course),
        "enrollment_refusal": enrollment_refusal(course),
    }


def _flash_result(result: services.EnrollResult) -> None:
    if result.waitlisted:
        flash("Le stage est complet : la personne est placée sur liste d'attente.", "warning")
    else:
        flash("La personne est inscrite au stage.", "success")
    if result.after_deadline:
        flash("Attention : ce stage se termine après la date limite de la mesure.", "warning")
    for warning in needs.needs_warnings(result.enrollment, None):
        flash(f"Attention : {warning}", "warning")


def _to_person(measure: LegalMeasure):
    return redirect(url_for("enrollment.participant_detail", participant_id=measure.participant_id))


@bp.route("/mesures/<int:measure_id>/inscrire", methods=["GET", "POST"])
@login_required
def measure_enroll(measure_id: int):
    """Enroll a measure into a course, seeing each course against the deadline."""
    measure = get_authorized(LegalMeasure, measure_id, Permission.MEASURE_EDIT)
    form = EnrollForm()
    proposals = course_choices(form, measure, current_user)
    if form.validate_on_submit():
        course = get_authorized(Course, form.course.data, Permission.SESSION_EDIT)
        with refused(form) as outcome:
            result = services.enroll(measure, course, by=current_user)
            db.session.commit()
        if outcome.ok:
            _flash_result(result)
            return _to_person(measure)
    return render_template("enrollment/enroll_form.html", form=form, measure=measure, proposals=proposals)


@bp.route("/inscriptions/<int:enrollment_id>/statut", methods=["POST"])
@login_required
def enrollment_status(enrollment_id: int):
    """Confirm, mark as summoned, or excuse an enrollment."""
    enrollment = get_authorized(Enrollment, enrollment_id, Permission.MEASURE_EDIT)
    wanted = request.form.get("status", "")
    if wanted not in services.MANUAL_STATUSES:
        abort(400)
    note = request.form.get("note", "")[:500] or None
    with refused() as outcome:
        services.mark_enrollment(enrollment, EnrollmentStatus(wanted), by=current_user, note=note)
        db.session.commit()
    if outcome.ok:
        flash(f"Inscription : {EnrollmentStatus(wanted).label}.", "success")
    return back_from(enrollment)


@bp.route("/inscriptions/<int:enrollment_id>/reporter", methods=["GET", "POST"])
@login_required
def enrollment_reschedule(enrollment_id: int):
    """Move a person to another course, keeping their measure and deadline."""
    enrollment = get_authorized(Enrollment, enrollment_id, Permission.MEASURE_EDIT)
    measure, form = enrollment.measure, RescheduleForm()
    proposals = course_choices(form, measure, current_user, exclude_id=enrollment.course_id)
    if form.validate_on_submit():
        course = get_authorized(Course, form.course.data, Permission.SESSION_EDIT)
        with refused(form) as outcome:
            result = services.reschedule(enrollment, course, by=current_user, note=form.note.data)
            db.session.commit()
        if outcome.ok:
            _flash_result(result)
            cancel_convocation(enrollment)
            return _to_person(measure)
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
        with refused(form) as outcome:
            services.withdraw_measure(measure, form.reason.data, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("La mesure est renvoyée à l'autorité prescriptrice.", "success")
            if current is not None:
                cancel_convocation(current)
            return _to_person(measure)
    return render_template("enrollment/withdraw_form.html", form=form, measure=measure)


def _enroll_chosen(chosen: list[LegalMeasure], course: Course) -> bool:
    """Enroll the people ticked, all or none; says how it went."""
    with refused() as outcome:
        results = services.enroll_many(chosen, course, by=current_user)
        # Read before the commit expires them: the people's needs against the course's venue.
        unmet = needs.enrollments_with_warnings([r.enrollment for r in results])
        db.session.commit()
    if not outcome.ok:
        return False
    seated = sum(not r.waitlisted for r in results)
    message = ngettext("%(num)d personne inscrite", "%(num)d personnes inscrites", seated)
    if len(results) > seated:
        message += f", {len(results) - seated} sur liste d'attente"
    flash(message + ".", "success")
    if unmet:
        flash(ngettext("Attention : pour %(num)d personne, le lieu ne signale pas ce que demandent "
                       "ses besoins, ou un interprète est à réserver (voir la page du stage).",
                       "Attention : pour %(num)d personnes, le lieu ne signale pas ce que demandent "
                       "leurs besoins, ou un interprète est à réserver (voir la page du stage).",
                       unmet), "warning")
    late = sum(r.after_deadline for r in results)
    if late:
        flash(ngettext("Attention : pour %(num)d personne, ce stage se termine après la date limite.",
                       "Attention : pour %(num)d personnes, ce stage se termine après la date limite.",
                       late), "warning")
    return True


@bp.route("/stages/<int:course_id>/inscrire", methods=["GET", "POST"])
@login_required
def course_bulk_enroll(course_id: int):
    """Enroll several referred people into one course at once."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT, BULK_ENROLL_LOAD)
    refusal = enrollment_refusal(course)
    if refusal:  # the same rule as enrolling one person: nothing to tick on a course begun
        flash(refusal, "warning")
        return redirect(url_for("scheduling.course_detail", course_id=course.id))
    scope = f"bulk-enroll-{course.id}"
    if search_submitted():  # the search form (names stay out of URLs: stages.auth.search_terms)
        return remember_search(scope)
    q = search_term(scope) if request.method == "GET" else ""
    waiting = queries.measures_to_enroll(current_user, q)
    if request.method == "POST":
        ids = [i for i in map(database_id, request.form.getlist("measure")) if i][:BULK_MAX_CHOSEN]
        chosen = queries.chosen_measures(waiting, ids)
        if not chosen:
            flash("Cochez au moins une personne à inscrire.", "error")
        elif _enroll_chosen(chosen, course):  # the URL's id: the committed course would be read again
            return redirect(url_for("scheduling.course_detail", course_id=course_id))
    pagination = paginate(queries.with_people(waiting), per_page=BULK_PAGE_SIZE)
    html = render_template(
        "enrollment/bulk_enroll.html", course=course, pagination=pagination, q=q, search_args=search_args(q),
        today=today_local(),
    )
    audit("measures.list", course, details=f"inscription groupée, page {pagination.page}")
    db.session.commit()
    return html
