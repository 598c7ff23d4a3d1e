"""Session pages: one session, creating, editing and duplicating it, its status, cancelling it."""
from __future__ import annotations

from datetime import time
from decimal import Decimal

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from stages.auth.audit import audit
from stages.auth.models import Role, User
from stages.auth.permissions import Permission, authorize, can, get_authorized
from stages.enrollment.models import Enrollment, LegalMeasure
from stages.errors import DomainError
from stages.extensions import db
from stages.forms import select_choices
from stages.scheduling import services
from stages.scheduling.forms import CancelForm, SessionForm
from stages.scheduling.models import (
    CourseSession,
    Organization,
    OrganizationKind,
    SessionChange,
    SessionStatus,
    Venue,
)
from stages.scheduling.views import bp
from stages.timeutil import to_local

FACILITATOR_ROLES = (Role.FACILITATOR, Role.ORGANIZER)


# ---------------------------------------------------------------------------------------------
# Session page


@bp.route("/stages/<int:session_id>")
@login_required
def session_detail(session_id: int):
    """One session: dates, venue, co-organizers, facilitators, the people enrolled, history."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_VIEW)
    enrollments = db.session.scalars(
        sa.select(Enrollment)
        .where(Enrollment.session_id == session.id)
        .options(selectinload(Enrollment.measure).selectinload(LegalMeasure.participant))
        .join(Enrollment.measure)
        .order_by(Enrollment.id)
    ).all()
    can_edit = can(current_user, Permission.SESSION_EDIT, session)
    history = []
    if can_edit:
        history = db.session.scalars(
            sa.select(SessionChange)
            .where(SessionChange.session_id == session.id)
            .options(selectinload(SessionChange.user))
            .order_by(SessionChange.at.desc())
            .limit(50)
        ).all()
    # The session page gathers what later areas hold about the session.
    from stages.certificates.loaders import certificates_for_session, count_due

    certificates = certificates_for_session(session.id) if session.status == SessionStatus.CLOSED else {}
    page = render_template(
        "scheduling/session_detail.html",
        session=session,
        enrollments=enrollments,
        certificates=certificates,
        certificates_due=count_due(enrollments, certificates),
        show_legal=can(current_user, Permission.PARTICIPANT_LEGAL_VIEW),
        can_edit=can_edit,
        can_run=can(current_user, Permission.SESSION_RUN, session),
        history=history,
        transitions=services.ALLOWED_TRANSITIONS[session.status],
        SessionStatus=SessionStatus,
        last_day=session.last_day,
    )
    # Committing expires every loaded object: audit once the page is rendered.
    if enrollments:
        audit("session.participants_viewed", session, details=f"{len(enrollments)} personnes")
        db.session.commit()
    return page


# ---------------------------------------------------------------------------------------------
# Create, edit, duplicate


def _fill_choices(form, session: CourseSession | None = None) -> None:
    """Venues in service, associations, and facilitators of the associations concerned."""
    venues = db.session.scalars(
        sa.select(Venue)
        .where(sa.or_(Venue.archived_at.is_(None), Venue.id == (session.venue_id if session else 0)))
        .order_by(Venue.name)
    ).all()
    form.venue.choices = select_choices(
        (v.id, f"{v.name} — {v.room or v.city} ({v.capacity} places)") for v in venues
    )
    associations = db.session.scalars(
        sa.select(Organization)
        .where(Organization.kind == OrganizationKind.ASSOCIATION, Organization.archived_at.is_(None))
        .order_by(Organization.name)
    ).all()
    form.organizations.choices = select_choices((o.id, o.name) for o in associations)
    # Courses are co-run: any active facilitator may be asked, shown with their association.
    facilitators = db.session.scalars(
        sa.select(User)
        .where(User.active, User.role.in_(FACILITATOR_ROLES))
        .options(selectinload(User.organizations))
        .order_by(User.full_name)
    ).all()
    form.facilitators.choices = select_choices(
        (u.id, f"{u.full_name} ({', '.join(o.short_name for o in u.organizations) or '—'})")
        for u in facilitators
    )


def _settings(form) -> services.SessionData:
    """The parsed settings shared by the session and series forms."""
    venue = db.session.get(Venue, form.venue.data)
    if venue is None:
        raise DomainError("Choisissez un lieu.")
    organizations = db.session.scalars(
        sa.select(Organization).where(Organization.id.in_(form.organizations.data or []))
    ).all()
    facilitators = db.session.scalars(
        sa.select(User).where(User.id.in_(form.facilitators.data or []))
    ).all()
    if current_user.role != Role.ADMIN and not (
        {o.id for o in organizations} & current_user.organization_ids
    ):
        raise DomainError("Votre association doit figurer parmi les co-organisatrices du stage.")
    return services.SessionData(
        title=form.title.data or "",
        venue=venue,
        capacity=form.capacity.data,
        min_participants=form.min_participants.data,
        fee_cents=int((form.fee.data or Decimal(0)) * 100),
        parts=[],
        organizations=list(organizations),
        facilitators=list(facilitators),
        notes=form.notes.data or None,
    )


def _session_data(form: SessionForm) -> services.SessionData:
    data = _settings(form)
    data.parts = [
        services.PartSpec(row.day.data, row.start.data, row.end.data)
        for row in form.parts
        if not row.is_blank
    ]
    return data


def _load_form(form: SessionForm, session: CourseSession) -> None:
    """Fill an edit form from the session (times in the venue's zone)."""
    form.title.data = session.title
    form.venue.data = session.venue_id
    form.capacity.data = session.capacity
    form.min_participants.data = session.min_participants
    form.fee.data = Decimal(session.fee_cents) / 100
    form.organizations.data = [o.id for o in session.organizations]
    form.facilitators.data = [u.id for u in session.facilitators]
    form.notes.data = session.notes
    for row, part in zip(form.parts, session.parts):
        start = to_local(part.starts_at, session.venue.timezone)
        end = to_local(part.ends_at, session.venue.timezone)
        row.day.data, row.start.data, row.end.data = start.date(), start.time(), end.time()


@bp.route("/stages/nouveau", methods=["GET", "POST"])
@login_required
def session_create():
    """Create a session (draft or scheduled); ``?depuis=ID`` duplicates another one's settings."""
    authorize(Permission.SCHEDULE)
    form = SessionForm()
    source = None
    if request.method == "GET" and request.args.get("depuis", type=int):
        source = get_authorized(CourseSession, request.args.get("depuis", type=int), Permission.SESSION_VIEW)
        _load_form(form, source)
        for row in form.parts:
            row.day.data = None  # same times, new dates
    _fill_choices(form, source)
    if form.validate_on_submit():
        status = SessionStatus.SCHEDULED if form.schedule.data else SessionStatus.DRAFT
        try:
            session = services.create_session(_session_data(form), by=current_user, status=status)
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            audit("session.created", session)
            db.session.commit()
            flash("Le stage a été créé." if status == SessionStatus.DRAFT else "Le stage est programmé.", "success")
            return redirect(url_for("scheduling.session_detail", session_id=session.id))
    if source is None and request.method == "GET":
        _default_parts(form)
    return render_template("scheduling/session_form.html", form=form, session=None, source=source)


def _default_parts(form: SessionForm) -> None:
    """Suggest the usual day: 9 h 30 – 12 h 30 and 13 h 30 – 16 h 30."""
    for row, (start, end) in zip(form.parts, [(time(9, 30), time(12, 30)), (time(13, 30), time(16, 30))]):
        row.start.data, row.end.data = start, end


@bp.route("/stages/<int:session_id>/modifier", methods=["GET", "POST"])
@login_required
def session_edit(session_id: int):
    """Edit a session; with people enrolled, changes are listed for confirmation first."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    if session.status in (SessionStatus.CLOSED, SessionStatus.CANCELLED):
        flash("Un stage clôturé ou annulé ne peut plus être modifié.", "warning")
        return redirect(url_for("scheduling.session_detail", session_id=session.id))
    form = SessionForm()
    if request.method == "GET":
        _load_form(form, session)
    _fill_choices(form, session)
    pending_changes = []
    if form.validate_on_submit():
        try:
            data = _session_data(form)
            pending_changes = services.describe_changes(session, data)
            needs_confirmation = session.seats_taken > 0 and session.status == SessionStatus.SCHEDULED
            if pending_changes and needs_confirmation and form.confirm.data != "1":
                form.confirm.data = "1"
                return render_template(
                    "scheduling/session_form.html", form=form, session=session, changes=pending_changes
                )
            changes = services.update_session(session, data, by=current_user)
        except DomainError as error:
            form.confirm.data = ""
            form.form_errors.append(error.message)
        else:
            if changes:
                audit("session.updated", session, details="; ".join(changes))
                db.session.commit()
                flash("Les modifications ont été enregistrées.", "success")
            else:
                flash("Aucune modification à enregistrer.", "info")
            return redirect(url_for("scheduling.session_detail", session_id=session.id))
    return render_template("scheduling/session_form.html", form=form, session=session, changes=None)


@bp.route("/stages/<int:session_id>/statut", methods=["POST"])
@login_required
def session_status(session_id: int):
    """Schedule a draft, return it to draft, or mark a session as held."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    wanted = request.form.get("status", "")
    if wanted not in {SessionStatus.SCHEDULED, SessionStatus.DRAFT, SessionStatus.HELD}:
        abort(400)
    try:
        services.change_status(session, SessionStatus(wanted), by=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        audit("session.status_changed", session, details=wanted)
        db.session.commit()
        flash(f"Statut du stage : {SessionStatus(wanted).label}.", "success")
    return redirect(url_for("scheduling.session_detail", session_id=session_id))


@bp.route("/stages/<int:session_id>/annuler", methods=["GET", "POST"])
@login_required
def session_cancel(session_id: int):
    """Cancel a session, with a reason; it stays in calendars marked as cancelled."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            services.change_status(
                session, SessionStatus.CANCELLED, by=current_user, reason=form.reason.data
            )
        except DomainError as error:
            db.session.rollback()
            form.reason.errors = [*form.reason.errors, error.message]
        else:
            audit("session.cancelled", session)
            db.session.commit()
            flash("Le stage est annulé.", "success")
            _cancel_convocations(session)
            return redirect(url_for("scheduling.session_detail", session_id=session.id))
    return render_template("scheduling/session_cancel.html", form=form, session=session)


def _cancel_convocations(session: CourseSession) -> None:
    """Tell the people summoned that the session is cancelled (their calendars too)."""
    # Enrollment builds on scheduling: imported here, where the page needs both.
    from stages.enrollment.convocation import send_cancellations_for_session

    result = send_cancellations_for_session(session, by=current_user)
    db.session.commit()
    if result.failed:
        flash(f"{result.failed} annulation(s) n'ont pas pu être envoyées par courriel : "
              "prévenez ces personnes.", "warning")
