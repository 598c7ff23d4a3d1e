"""Scheduling pages: sessions (create, edit, cancel, duplicate, series), venues, organizations."""
from __future__ import annotations

import dataclasses
from datetime import date, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
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
from stages.scheduling.forms import (
    CancelForm,
    OrganizationForm,
    SeriesForm,
    SessionForm,
    VenueForm,
)
from stages.scheduling.models import (
    CourseSession,
    Organization,
    OrganizationKind,
    SessionChange,
    SessionStatus,
    Venue,
)
from stages.timeutil import to_local, today_local

bp = Blueprint("scheduling", __name__)

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
    from stages.certificates.services import certificates_for_session, count_due

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


# ---------------------------------------------------------------------------------------------
# Series


def _series_parts(form: SeriesForm) -> list[tuple[int, object, object]]:
    halves = [(form.morning_start.data, form.morning_end.data)]
    if form.afternoon_start.data and form.afternoon_end.data:
        halves.append((form.afternoon_start.data, form.afternoon_end.data))
    days = (0, 1) if form.two_days.data else (0,)
    return [(offset, start, end) for offset in days for start, end in halves]


def _series_rule(form: SeriesForm) -> services.SeriesRule:
    frequency = form.frequency.data
    return services.SeriesRule(
        first_day=form.first_day.data,
        last_day=form.last_day.data,
        weekday=form.weekday.data,
        every_weeks={"weekly": 1, "biweekly": 2}.get(frequency),
        nth_of_month=form.nth.data if frequency == "monthly" else None,
    )


@bp.route("/stages/serie", methods=["GET", "POST"])
@login_required
def series_create():
    """Plan several sessions at once: preview the dates, untick some, create the rest."""
    authorize(Permission.SCHEDULE)
    form = SeriesForm()
    _fill_choices(form)
    candidates = None
    if request.method == "GET":
        form.morning_start.data, form.morning_end.data = time(9, 30), time(12, 30)
        form.afternoon_start.data, form.afternoon_end.data = time(13, 30), time(16, 30)
    if request.method == "POST":
        # The date checkboxes come from the preview: accept any ISO date, validate below.
        form.selected.choices = select_choices((v, v) for v in request.form.getlist("selected"))
    if form.validate_on_submit():
        try:
            template = _settings(form)
            parts = _series_parts(form)
            # Validate the day's shape once, on the first date, with the session rules.
            first = [
                services.PartSpec(form.first_day.data + timedelta(days=offset), start, end)
                for offset, start, end in parts
            ]
            errors = services.validate_session_data(
                dataclasses.replace(template, parts=first), is_new=True, today=today_local()
            )
            if errors:
                raise DomainError(" ".join(errors))
            if form.create.data:
                try:
                    chosen = [date.fromisoformat(v) for v in form.selected.data]
                    created = services.create_series(chosen, template, parts, by=current_user)
                except DomainError as error:
                    db.session.rollback()
                    form.form_errors.append(error.message)
                else:
                    audit("session.series_created", details=f"{len(created)} stages")
                    db.session.commit()
                    flash(f"{len(created)} stages ont été programmés.", "success")
                    return redirect(url_for("calendar.list"))
            candidates = services.preview_series(_series_rule(form), template, parts)
            if not candidates:
                form.form_errors.append("Aucune date ne correspond à cette règle sur la période.")
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
    return render_template("scheduling/series_form.html", form=form, candidates=candidates, today=today_local())


# ---------------------------------------------------------------------------------------------
# Venues


def _page(query):
    """One page of a list, by the ``page`` argument."""
    return db.paginate(
        query, page=request.args.get("page", 1, type=int),
        per_page=current_app.config["ITEMS_PER_PAGE"], error_out=False,
    )


@bp.route("/lieux")
@login_required
def venues():
    """Venues, in service first; archived ones on request."""
    authorize(Permission.SCHEDULE)
    show_archived = request.args.get("archives") == "1"
    pagination = _page(services.archivable_query(Venue, show_archived).order_by(Venue.name))
    return render_template("scheduling/venues.html", pagination=pagination, show_archived=show_archived)


@bp.route("/lieux/nouveau", methods=["GET", "POST"], defaults={"venue_id": None})
@bp.route("/lieux/<int:venue_id>/modifier", methods=["GET", "POST"])
@login_required
def venue_form(venue_id: int | None):
    """Create or edit a venue."""
    authorize(Permission.SCHEDULE)
    venue = db.session.get(Venue, venue_id) if venue_id else None
    if venue_id and venue is None:
        abort(404)
    form = VenueForm(obj=venue)
    if form.validate_on_submit():
        try:
            if venue is not None:
                services.check_venue_capacity(venue, form.capacity.data)
            services.check_name_free(Venue, form.name.data, venue_id)
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            if venue is None:
                venue = Venue()
                db.session.add(venue)
            form.populate_obj(venue)
            db.session.flush()
            audit("venue.saved", venue)
            db.session.commit()
            flash("Le lieu est enregistré.", "success")
            return redirect(url_for("scheduling.venues"))
    return render_template("scheduling/venue_form.html", form=form, venue=venue)


@bp.route("/lieux/<int:venue_id>/archiver", methods=["POST"])
@login_required
def venue_archive(venue_id: int):
    """Archive or restore a venue (sessions keep referring to it)."""
    authorize(Permission.SCHEDULE)
    venue = db.session.get(Venue, venue_id) or abort(404)
    archived = request.form.get("archive") == "1"
    services.set_archived(venue, archived)
    audit("venue.archived" if archived else "venue.restored", venue)
    db.session.commit()
    flash("Le lieu est archivé." if archived else "Le lieu est de nouveau proposé.", "success")
    return redirect(url_for("scheduling.venues"))


# ---------------------------------------------------------------------------------------------
# Organizations


@bp.route("/organisations")
@login_required
def organizations():
    """Associations and referring authorities."""
    authorize(Permission.ADMIN)
    show_archived = request.args.get("archives") == "1"
    pagination = _page(
        services.archivable_query(Organization, show_archived).order_by(
            Organization.kind, Organization.name
        )
    )
    return render_template(
        "scheduling/organizations.html", pagination=pagination, show_archived=show_archived
    )


@bp.route("/organisations/nouvelle", methods=["GET", "POST"], defaults={"organization_id": None})
@bp.route("/organisations/<int:organization_id>/modifier", methods=["GET", "POST"])
@login_required
def organization_form(organization_id: int | None):
    """Create or edit an association or a referring authority."""
    authorize(Permission.ADMIN)
    organization = db.session.get(Organization, organization_id) if organization_id else None
    if organization_id and organization is None:
        abort(404)
    form = OrganizationForm(obj=organization)
    if form.validate_on_submit():
        try:
            services.check_name_free(Organization, form.name.data, organization_id)
        except DomainError as error:
            form.name.errors = [*form.name.errors, error.message]
        else:
            if organization is None:
                organization = Organization()
                db.session.add(organization)
            form.populate_obj(organization)
            organization.email = organization.email or None
            db.session.flush()
            audit("organization.saved", organization)
            db.session.commit()
            flash("L'organisation est enregistrée.", "success")
            return redirect(url_for("scheduling.organizations"))
    return render_template("scheduling/organization_form.html", form=form, organization=organization)


@bp.route("/organisations/<int:organization_id>/archiver", methods=["POST"])
@login_required
def organization_archive(organization_id: int):
    """Archive or restore an organization."""
    authorize(Permission.ADMIN)
    organization = db.session.get(Organization, organization_id) or abort(404)
    archived = request.form.get("archive") == "1"
    services.set_archived(organization, archived)
    audit("organization.archived" if archived else "organization.restored", organization)
    db.session.commit()
    flash("L'organisation est archivée." if archived else "L'organisation est rétablie.", "success")
    return redirect(url_for("scheduling.organizations"))
