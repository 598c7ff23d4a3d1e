"""Referrals: a new person (or one on file) and their measure; correcting an identity, a measure."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.models import Role
from stages.auth.permissions import Permission, authorize, get_authorized, visible_measures
from stages.enrollment import services
from stages.enrollment.forms import MeasureForm, ParticipantForm, ReferralForm
from stages.enrollment.models import (
    LegalFrame,
    LegalMeasure,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.enrollment.views import bp
from stages.errors import DomainError
from stages.extensions import db
from stages.forms import select_choices
from stages.scheduling.models import (
    AUTHORITY_KINDS,
    Organization,
    OrganizationKind,
)


# ---------------------------------------------------------------------------------------------
# Referrals: a new person and their measure


def _measure_choices(form) -> None:
    authorities = db.session.scalars(
        sa.select(Organization)
        .where(Organization.kind.in_(AUTHORITY_KINDS), Organization.archived_at.is_(None))
        .order_by(Organization.name)
    ).all()
    form.authority.choices = select_choices((o.id, o.name) for o in authorities)
    query = sa.select(Organization).where(
        Organization.kind == OrganizationKind.ASSOCIATION, Organization.archived_at.is_(None)
    )
    if current_user.role != Role.ADMIN:
        query = query.where(Organization.id.in_(current_user.organization_ids))
    associations = db.session.scalars(query.order_by(Organization.name)).all()
    form.handling_organization.choices = select_choices((o.id, o.name) for o in associations)


def _measure_data(form) -> services.MeasureData:
    authority = db.session.get(Organization, form.authority.data)
    handling = db.session.get(Organization, form.handling_organization.data)
    return services.MeasureData(
        frame=LegalFrame(form.frame.data),
        authority=authority,
        handling_organization=handling,
        case_reference=form.case_reference.data or "",
        facts_date=form.facts_date.data,
        decision_date=form.decision_date.data,
        final_date=form.final_date.data,
        deadline=form.deadline.data,
        fee_cents=int((form.fee.data or Decimal(0)) * 100),
        payer=Payer(form.payer.data),
        payment_status=PaymentStatus(form.payment_status.data),
        certificate_recipient=form.certificate_recipient.data or None,
    )


def _participant_data(form) -> services.ParticipantData:
    return services.ParticipantData(
        surname=form.surname.data or "",
        first_names=form.first_names.data or "",
        birth_date=form.birth_date.data,
        birth_place=form.birth_place.data,
        address=form.address.data,
        postal_code=form.postal_code.data,
        city=form.city.data,
        phone=form.phone.data,
        email=form.email.data,
    )


@bp.route("/personnes/nouvelle", methods=["GET", "POST"])
@login_required
def referral_create():
    """Record a referral: the person (or an existing one) and their legal measure."""
    authorize(Permission.MEASURE_EDIT)
    form = ReferralForm()
    _measure_choices(form)
    duplicates = []
    if form.validate_on_submit():
        try:
            data = _measure_data(form)
            person = None
            if form.attach_to.data:
                if not form.attach_to.data.isdigit():
                    abort(400)
                person = get_authorized(
                    Participant, int(form.attach_to.data), Permission.PARTICIPANT_EDIT
                )
            elif form.confirm_new.data != "1":
                duplicates = services.find_duplicates(
                    form.surname.data, form.first_names.data, form.birth_date.data,
                    within=visible_measures(current_user).with_only_columns(LegalMeasure.participant_id),
                )
            if not duplicates:
                if person is None:
                    person = services.create_participant(_participant_data(form))
                measure = services.add_measure(person, data)
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            if not duplicates:
                audit("measure.created", measure, participant_id=person.id)
                db.session.commit()
                flash("La mesure est enregistrée.", "success")
                return redirect(url_for("enrollment.participant_detail", participant_id=person.id))
    return render_template("enrollment/referral_form.html", form=form, duplicates=duplicates)


@bp.route("/personnes/<int:participant_id>/modifier", methods=["GET", "POST"])
@login_required
def participant_edit(participant_id: int):
    """Rectify a person's identity."""
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_EDIT)
    form = ParticipantForm(obj=participant)
    if form.validate_on_submit():
        try:
            services.update_participant(participant, _participant_data(form))
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            audit("participant.rectified", participant, participant_id=participant.id)
            db.session.commit()
            flash("L'identité est mise à jour.", "success")
            return redirect(url_for("enrollment.participant_detail", participant_id=participant.id))
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
        form.frame.data = measure.frame.value
        form.authority.data = measure.authority_id
        form.handling_organization.data = measure.handling_organization_id
        form.fee.data = Decimal(measure.fee_cents) / 100
        form.payer.data, form.payment_status.data = measure.payer.value, measure.payment_status.value
    _measure_choices(form)
    if form.validate_on_submit():
        try:
            if measure is None:
                measure = services.add_measure(participant, _measure_data(form))
            else:
                services.update_measure(measure, _measure_data(form))
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
        else:
            audit("measure.saved", measure, participant_id=participant.id)
            db.session.commit()
            flash("La mesure est enregistrée.", "success")
            return redirect(url_for("enrollment.participant_detail", participant_id=participant.id))
    return render_template("enrollment/measure_form.html", form=form, participant=participant, measure=measure)
