"""Participants, measures and enrollment pages."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload, selectinload

from stages.attendance.models import AttendanceMark
from stages.auth.audit import audit, audit_many
from stages.auth.models import AuditEntry, Role
from stages.auth.permissions import Permission, authorize, can, get_authorized, visible_measures
from stages.enrollment import convocation, services
from stages.enrollment.forms import (
    EnrollForm,
    MeasureForm,
    ParticipantForm,
    ReasonForm,
    ReferralForm,
    RescheduleForm,
)
from stages.enrollment.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.forms import select_choices
from stages.mail import MailError
from stages.scheduling.models import (
    AUTHORITY_KINDS,
    CourseSession,
    Organization,
    OrganizationKind,
)
from stages.search import remember_search, search_args, search_submitted, search_term
from stages.timeutil import fr_date, today_local

bp = Blueprint("enrollment", __name__)


# ---------------------------------------------------------------------------------------------
# Lists and the participant page


@bp.route("/personnes", methods=["GET", "POST"])
@login_required
def measures():
    """Measures in the user's scope, searchable by name or case reference, filterable.

    The search form is POSTed so that a name searched never appears in a URL (stages.search).
    """
    authorize(Permission.MEASURE_VIEW)
    if search_submitted():
        return remember_search("measures")
    if request.method == "POST":
        abort(400)
    page = request.args.get("page", 1, type=int)
    q = search_term("measures")
    status = request.args.get("statut", "")
    frame = request.args.get("cadre", "")
    query = visible_measures(current_user).join(LegalMeasure.participant)
    if q:
        query = query.where(services.measure_search_condition(q))
    if status in {m.value for m in MeasureStatus}:
        query = query.where(LegalMeasure.status == status)
    if frame in {f.value for f in LegalFrame}:
        query = query.where(LegalMeasure.frame == frame)
    query = query.options(
        selectinload(LegalMeasure.participant), selectinload(LegalMeasure.authority)
    ).order_by(LegalMeasure.deadline, LegalMeasure.id)
    pagination = db.paginate(
        query, page=page, per_page=current_app.config["ITEMS_PER_PAGE"], error_out=False
    )
    html = render_template(
        "enrollment/measures.html",
        pagination=pagination,
        q=q,
        search_args=search_args(q),
        status=status,
        frame=frame,
        today=today_local(),
        statuses=MeasureStatus,
        frames=LegalFrame,
        can_edit=can(current_user, Permission.MEASURE_EDIT),
    )
    audit("measures.list", details=f"liste, page {pagination.page}" + (", recherche" if q else ""))
    db.session.commit()
    return html


@bp.route("/personnes/<int:participant_id>")
@login_required
def participant_detail(participant_id: int):
    """A participant's identity, measures, enrollments, attendance and who viewed the file."""
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_VIEW)
    # Facilitators see a name and their sessions; legal data is for organizers and liaisons.
    full_view = can(current_user, Permission.PARTICIPANT_LEGAL_VIEW, participant)
    measures, marks, views, live = [], {}, [], {}
    if full_view:
        measures = db.session.scalars(
            visible_measures(current_user)
            .where(LegalMeasure.participant_id == participant.id)
            # One tree of options: many-to-ones joined to their parent's query, collections
            # selected in one query each (the same path repeated costs statements and cache keys).
            .options(
                joinedload(LegalMeasure.authority),
                joinedload(LegalMeasure.handling_organization),
                selectinload(LegalMeasure.enrollments).options(
                    joinedload(Enrollment.session).options(
                        joinedload(CourseSession.venue), selectinload(CourseSession.parts)
                    ),
                    selectinload(Enrollment.events).joinedload(EnrollmentEvent.user),
                ),
            )
            .order_by(LegalMeasure.decision_date)
        ).all()
        enrollment_ids = [e.id for m in measures for e in m.enrollments]
        for mark in db.session.scalars(
            sa.select(AttendanceMark).where(AttendanceMark.enrollment_id.in_(enrollment_ids))
        ):
            marks[(mark.enrollment_id, mark.part_id)] = mark
        live = {
            m.id: next((e for e in m.enrollments if e.status in services.ACTIVE_STATUSES), None)
            for m in measures
        }
    certificates, replaceable = [], set()
    if full_view:
        from stages.certificates.services import certificates_for_enrollments
        from stages.certificates.services import replaceable as replaceable_certificates

        certificates = certificates_for_enrollments([e.id for m in measures for e in m.enrollments])
        replaceable = replaceable_certificates(certificates)
    can_edit = can(current_user, Permission.PARTICIPANT_EDIT, participant)
    if can_edit:
        views = db.session.scalars(
            sa.select(AuditEntry)
            .where(AuditEntry.participant_id == participant.id)
            .options(selectinload(AuditEntry.user))
            .order_by(AuditEntry.at.desc())
            .limit(20)
        ).all()
    page = render_template(
        "enrollment/participant_detail.html",
        participant=participant,
        measures=measures,
        marks=marks,
        live=live,
        views=views,
        full_view=full_view,
        can_edit=can_edit,
        certificates=certificates,
        replaceable=replaceable,
        can_revoke=can(current_user, Permission.MEASURE_EDIT),
        today=today_local(),
        EnrollmentStatus=EnrollmentStatus,
        transitions=services.TRANSITIONS,
    )
    audit("participant.viewed", participant, participant_id=participant.id)
    db.session.commit()
    return page


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
