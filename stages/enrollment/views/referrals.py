"""Referrals: a new person (or one on file) and their measure; correcting an identity, a measure."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.permissions import Permission, authorize, get_authorized, visible
from stages.enrollment import services
from stages.enrollment.forms import MeasureForm, ParticipantForm, ReferralForm
from stages.enrollment.models import LegalMeasure, Participant
from stages.enrollment.views.blueprint import bp
from stages.errors import refused
from stages.extensions import db


def _to_person(participant_id: int):
    return redirect(url_for("enrollment.participant_detail", participant_id=participant_id))


def _person_to_attach(form: ReferralForm) -> Participant | None:
    """The person on file the organizer chose after seeing the possible duplicates."""
    if not form.attach_to.data:
        return None
    if not form.attach_to.data.isdigit():
        abort(400)
    return get_authorized(Participant, int(form.attach_to.data), Permission.PARTICIPANT_EDIT)


@bp.route("/personnes/nouvelle", methods=["GET", "POST"])
@login_required
def referral_create():
    """Record a referral: the person (or an existing one) and their legal measure.

    A new person who looks like someone on file is shown the possible duplicates first."""
    authorize(Permission.MEASURE_EDIT)
    form, duplicates = ReferralForm(), []
    form.fill_choices(current_user)
    if form.validate_on_submit():
        person = _person_to_attach(form)
        with refused(form) as outcome:
            data = form.measure_data()
            if person is None and form.confirm_new.data != "1":
                duplicates = services.find_duplicates(
                    form.surname.data, form.first_names.data, form.birth_date.data,
                    within=visible(LegalMeasure, current_user).with_only_columns(LegalMeasure.participant_id),
                )
            if not duplicates:
                person = person or services.create_participant(form.participant_data())
                services.add_measure(person, data)
                db.session.commit()
        if outcome.ok and not duplicates:
            flash("La mesure est enregistrée.", "success")
            return _to_person(person.id)
    return render_template("enrollment/referral_form.html", form=form, duplicates=duplicates)


@bp.route("/personnes/<int:participant_id>/modifier", methods=["GET", "POST"])
@login_required
def participant_edit(participant_id: int):
    """Rectify a person's identity."""
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_EDIT)
    form = ParticipantForm(obj=participant)
    if form.validate_on_submit():
        with refused(form) as outcome:
            services.update_participant(participant, form.participant_data())
            db.session.commit()
        if outcome.ok:
            flash("L'identité est mise à jour.", "success")
            return _to_person(participant.id)
    return render_template("enrollment/participant_form.html", form=form, participant=participant)


@bp.route("/personnes/<int:participant_id>/mesures/nouvelle", methods=["GET", "POST"], defaults={"measure_id": None})
@bp.route("/mesures/<int:measure_id>/modifier", methods=["GET", "POST"], defaults={"participant_id": None})
@login_required
def measure_form(participant_id: int | None, measure_id: int | None):
    """Add a measure to a person on file, or correct one."""
    measure = get_authorized(LegalMeasure, measure_id, Permission.MEASURE_EDIT) if measure_id else None
    participant = measure.participant if measure else get_authorized(
        Participant, participant_id, Permission.PARTICIPANT_EDIT
    )
    form = MeasureForm(obj=measure)
    if measure is not None and request.method == "GET":
        form.load(measure)
    form.fill_choices(current_user)
    if form.validate_on_submit():
        with refused(form) as outcome:
            if measure is None:
                measure = services.add_measure(participant, form.measure_data())
            else:
                services.update_measure(measure, form.measure_data())
            db.session.commit()
        if outcome.ok:
            flash("La mesure est enregistrée.", "success")
            return _to_person(participant.id)
    return render_template("enrollment/measure_form.html", form=form, participant=participant, measure=measure)
