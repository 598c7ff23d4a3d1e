"""Course pages: one course, creating, editing and duplicating it, its status, cancelling it."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.permissions import Permission, authorize, can, get_authorized
from stages.errors import DomainError, refused
from stages.extensions import db
from stages.scheduling import queries, services
from stages.scheduling.forms import CancelForm, CourseForm
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.services import CourseData, course_cancelled, course_changed
from stages.scheduling.views.blueprint import bp

NOT_CO_ORGANIZER = "Votre association doit figurer parmi les co-organisatrices du stage."
MANUAL_STATUSES = {CourseStatus.SCHEDULED, CourseStatus.DRAFT, CourseStatus.HELD}


@bp.route("/stages/<int:course_id>")
@login_required
def course_detail(course_id: int):
    """One course: dates, venue, co-organizers, facilitators, the people enrolled, history."""
    course = get_authorized(Course, course_id, Permission.SESSION_VIEW, queries.COURSE_PAGE_LOAD)
    context = queries.course_page(course, current_user)
    page = render_template("scheduling/course_detail.html", **context)
    # Committing expires every loaded object: the read is audited once the page is rendered.
    if context.get("enrollments"):
        audit("session.participants_viewed", course, details=f"{len(context['enrollments'])} personnes")
        db.session.commit()
    return page


def check_co_organizer(data: CourseData) -> CourseData:
    """The course (or series) must be co-organized by one of the user's associations."""
    if not can(current_user, Permission.SCHEDULE, data):
        raise DomainError(NOT_CO_ORGANIZER)
    return data


@bp.route("/stages/nouveau", methods=["GET", "POST"])
@login_required
def course_create():
    """Create a course (draft or scheduled); ``?depuis=ID`` duplicates another one's settings."""
    authorize(Permission.SCHEDULE)
    form, source = CourseForm(), None
    if request.method == "GET" and request.args.get("depuis", type=int):
        source = get_authorized(Course, request.args.get("depuis", type=int), Permission.SESSION_VIEW)
        form.load(source)
        for row in form.parts:
            row.day.data = None  # same times, new dates
    elif request.method == "GET":
        form.suggest_usual_day()
    queries.fill_course_choices(form, source)
    if form.validate_on_submit():
        status = CourseStatus.SCHEDULED if form.schedule.data else CourseStatus.DRAFT
        with refused(form) as outcome:
            course = services.create_course(check_co_organizer(form.course_data()), by=current_user, status=status)
            db.session.commit()
        if outcome.ok:
            flash("Le stage est programmé." if status == CourseStatus.SCHEDULED else "Le stage a été créé.", "success")
            return redirect(url_for("scheduling.course_detail", course_id=course.id))
    return render_template("scheduling/course_form.html", form=form, course=None, source=source)


@bp.route("/stages/<int:course_id>/modifier", methods=["GET", "POST"])
@login_required
def course_edit(course_id: int):
    """Edit a course; with people enrolled, the changes (and who will be told of them) are listed
    for confirmation first, and nothing is saved or sent before."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    if course.status in (CourseStatus.CLOSED, CourseStatus.CANCELLED):
        flash("Un stage clôturé ou annulé ne peut plus être modifié.", "warning")
        return redirect(url_for("scheduling.course_detail", course_id=course.id))
    form = CourseForm()
    if request.method == "GET":
        form.load(course)
    queries.fill_course_choices(form, course)
    to_confirm = saved = None
    if form.validate_on_submit():
        with refused(form) as outcome:
            data = form.course_data()
            if form.confirm.data != "1" and services.needs_confirmation(course, data):
                to_confirm = queries.course_change_page(course, data)
            else:
                saved = services.update_course(course, data, by=current_user)
                if saved:
                    db.session.commit()
        if outcome.ok and to_confirm is None:
            return _after_edit(course, saved)
        form.confirm.data = "1" if outcome.ok else ""
    page = render_template("scheduling/course_form.html", form=form, **(to_confirm or {"course": course}))
    _audit_people_listed(course, to_confirm)
    return page


def _after_edit(course: Course, saved: list[str] | None):
    """Once a change is committed: the higher areas follow it up (updated invitations sent)."""
    flash("Les modifications ont été enregistrées." if saved else "Aucune modification à enregistrer.",
          "success" if saved else "info")
    if saved:
        for message, category in course_changed.run(course, by=current_user._get_current_object()):
            flash(message, category)
    return redirect(url_for("scheduling.course_detail", course_id=course.id))


def _audit_people_listed(course: Course, page: dict | None) -> None:
    # Committing expires every loaded object: the read is audited once the page is rendered.
    listed = (page or {}).get("people_listed", 0)
    if listed:
        audit("session.participants_viewed", course,
              details=f"confirmation d'une modification, {listed} personnes")
        db.session.commit()


@bp.route("/stages/<int:course_id>/statut", methods=["POST"])
@login_required
def course_status(course_id: int):
    """Schedule a draft, return it to draft, or mark a course as held."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    wanted = request.form.get("status", "")
    if wanted not in MANUAL_STATUSES:
        abort(400)
    with refused() as outcome:
        services.change_status(course, CourseStatus(wanted), by=current_user)
        db.session.commit()
    if outcome.ok:
        flash(f"Statut du stage : {CourseStatus(wanted).label}.", "success")
    return redirect(url_for("scheduling.course_detail", course_id=course_id))


@bp.route("/stages/<int:course_id>/annuler", methods=["GET", "POST"])
@login_required
def course_cancel(course_id: int):
    """Cancel a course, with a reason; it stays in calendars marked as cancelled, and the higher
    areas follow up (the people summoned are told)."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    form = CancelForm()
    if form.validate_on_submit():
        with refused(field=form.reason) as outcome:
            services.change_status(course, CourseStatus.CANCELLED, by=current_user, reason=form.reason.data)
            db.session.commit()
        if outcome.ok:
            flash("Le stage est annulé.", "success")
            for warning in course_cancelled.run(course, by=current_user._get_current_object()):
                flash(warning, "warning")
            return redirect(url_for("scheduling.course_detail", course_id=course.id))
    return render_template("scheduling/course_cancel.html", form=form, course=course)
