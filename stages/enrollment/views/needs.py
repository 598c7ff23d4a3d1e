"""A person's language and needs, and the interpreter booked for one of their courses."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.permissions import Permission, get_authorized
from stages.enrollment import needs
from stages.enrollment.models import Enrollment, InterpreterBooking, Participant
from stages.enrollment.needs_forms import InterpreterBookingForm, NeedsForm
from stages.enrollment.views.blueprint import bp
from stages.errors import refused
from stages.extensions import db
from stages.scheduling.models import Course
from stages.scheduling.queries import course_sections


def _to_person(participant_id: int):
    return redirect(url_for("enrollment.participant_detail", participant_id=participant_id))


@bp.route("/personnes/<int:participant_id>/langue-et-besoins", methods=["GET", "POST"])
@login_required
def participant_needs(participant_id: int):
    """Record the language a person speaks, whether they need an interpreter, their
    accessibility needs."""
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_EDIT)
    form = NeedsForm(obj=participant)
    if form.validate_on_submit():
        with refused(form) as outcome:
            needs.save_needs(participant, form.needs_data(), by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("La langue et les besoins sont enregistrés.", "success")
            return _to_person(participant.id)
    return render_template("enrollment/needs_form.html", form=form, participant=participant)


@bp.route("/inscriptions/<int:enrollment_id>/interprete", methods=["GET", "POST"])
@login_required
def interpreter_booking(enrollment_id: int):
    """Book the interpreter of a person's course: name, cost, confirmed or not."""
    enrollment = get_authorized(Enrollment, enrollment_id, Permission.MEASURE_EDIT)
    booking = db.session.get(InterpreterBooking, enrollment.id)
    form = InterpreterBookingForm()
    if request.method == "GET":
        form.load(booking)
    if form.validate_on_submit():
        with refused(form) as outcome:
            needs.save_booking(enrollment, form.interpreter_name.data, form.cost.cents,
                               form.confirmed.data, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("La réservation de l'interprète est enregistrée.", "success")
            return _to_person(enrollment.measure.participant_id)
    return render_template("enrollment/interpreter_form.html", form=form, enrollment=enrollment,
                           participant=enrollment.measure.participant)


@course_sections.add(template="enrollment/_course_needs.html", position=45)
def course_needs_section(course: Course, people=None, **_) -> dict | None:
    """The seated people with a language or needs to prepare for, on the course page, with what
    the venue does not say it offers and the interpreters not confirmed (one query)."""
    if people is None:
        return None
    return {"needs_rows": needs.course_needs(people.seated)} if people.seated else None
