"""Seats of a course reserved for a referring authority: on the course page, and the page where
an organizer sets them."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from stages.auth.models import Organization
from stages.auth.permissions import Permission, get_authorized
from stages.enrollment import queries
from stages.enrollment.forms import ReservationForm
from stages.enrollment.views.blueprint import bp
from stages.errors import refused
from stages.extensions import db
from stages.scheduling.models import Course
from stages.scheduling.queries import course_sections
from stages.scheduling.services.reservations import DEFAULT_RELEASE_DAYS, set_reservation


@course_sections.add(template="enrollment/_course_reservations.html", position=35)
def course_reservations_section(course: Course, can_edit: bool, **_) -> dict | None:
    """The seats held for each authority, and how many its people fill, for the organizers."""
    if not can_edit:
        return None
    return {"reservations": queries.reservation_rows(course)}


@bp.route("/stages/<int:course_id>/places-reservees", methods=["GET", "POST"])
@login_required
def course_reservations(course_id: int):
    """Reserve seats of a course for a parquet (or change, or lift, a reservation)."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    form = ReservationForm(release_days=DEFAULT_RELEASE_DAYS)
    form.fill_choices()
    if form.validate_on_submit():
        authority = db.session.get(Organization, form.authority.data)
        with refused(form) as outcome:
            set_reservation(course, authority, form.seats.data, form.release_days.data, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("Les places réservées sont enregistrées.", "success")
            return redirect(url_for("enrollment.course_reservations", course_id=course.id))
    return render_template("enrollment/reservations.html", course=course, form=form,
                           reservations=queries.reservation_rows(course))
