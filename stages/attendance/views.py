"""The day of the course: sign-in sheet, attendance per half-day, and closing the course; and the
attendance shown on the course page and on a person's page."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import generate_csrf
from sqlalchemy.orm import joinedload

from stages.attendance import incidents as incident_service
from stages.attendance import offline, services, signatures
from stages.attendance import sync as sync_service
from stages.attendance.forms import IncidentForm, closing_decisions, incident_form_data, mark_inputs
from stages.attendance.models import AttendanceMark, AttendanceSignature, AttendanceStatus, HalfDayIncident
from stages.attendance.pdf import roster_pdf
from stages.auth.audit import audit
from stages.auth.permissions import Permission, can, get_authorized
from stages.enrollment import needs
from stages.enrollment.queries import participant_sections
from stages.errors import DomainError, json_error, refused
from stages.extensions import db, limiter
from stages.forms import BaseForm
from stages.scheduling.models import Course, CoursePart, CourseStatus
from stages.scheduling.queries import course_sections
from stages.timeutil import now_utc
from stages.wording import ngettext

bp = Blueprint("attendance", __name__)
offline.register(bp)  # the service worker, its list of URLs, « Préparer la journée hors ligne »

DAY_OF_COURSE_STATUSES = (CourseStatus.SCHEDULED, CourseStatus.HELD, CourseStatus.CLOSED)
# What the day's pages read of their course, in the course's own statement (a few rows: its
# associations × facilitators × half-days) rather than one lazy load each: the scope check
# reads the associations, the sign-in sheet's heading the venue and facilitators, the
# attendance page the venue (its zone) and the half-days, among which it finds its own.
COURSE_DAY_LOAD = (
    joinedload(Course.venue), joinedload(Course.organizations), joinedload(Course.facilitators),
    joinedload(Course.parts),
)


def sync_rate_limit() -> str:
    return current_app.config["SYNC_RATE_LIMIT"]


@course_sections.add(template="attendance/_course_day.html", position=10)
def course_day_section(course: Course, can_run: bool, can_edit: bool, **_) -> dict | None:
    """The sign-in sheet, the attendance of each half-day and the closing, for the course's staff."""
    if not can_run or course.status not in DAY_OF_COURSE_STATUSES:
        return None
    return {"can_close": can_edit and course.status == CourseStatus.HELD,
            "course_incidents": incident_service.course_incidents(course.id)}


@participant_sections.add()
def participant_marks(enrollments: list, full_view: bool, **_) -> dict | None:
    """Each half-day's mark of the person's enrollments, keyed by (enrollment, part)."""
    if not full_view:
        return None
    ids = [e.id for e in enrollments]
    marks = db.session.scalars(_MARKS, {"ids": ids}) if ids else []
    return {"marks": {(mark.enrollment_id, mark.part_id): mark for mark in marks}}


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_MARKS = sa.select(AttendanceMark).where(AttendanceMark.enrollment_id.in_(sa.bindparam("ids", expanding=True)))


@bp.route("/stages/<int:course_id>/emargement")
@login_required
def roster(course_id: int):
    """The sign-in sheet as a print-styled page (names only, no legal details)."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN, COURSE_DAY_LOAD)
    enrollments = services.seat_holders(course)
    html = render_template("attendance/roster.html", course=course, enrollments=enrollments,
                           notes=needs.roster_notes(enrollments))
    audit("roster.viewed", course, details=f"{len(enrollments)} personnes")
    db.session.commit()
    return html


@bp.route("/stages/<int:course_id>/emargement.pdf")
@login_required
def roster_download(course_id: int):
    """The sign-in sheet as a PDF: with what was signed on the tablet, or blank (``?vierge=1``)
    to print and sign on paper."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN, COURSE_DAY_LOAD)
    enrollments = services.seat_holders(course)
    blank = request.args.get("vierge") == "1"
    pdf = roster_pdf(course, enrollments, None if blank else signatures.signed_day(course),
                     needs.roster_notes(enrollments))
    audit("roster.downloaded", course, details=f"{len(enrollments)} personnes" + (", feuille vierge" if blank else ""))
    db.session.commit()
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="emargement-stage-{course_id}{"-vierge" if blank else ""}.pdf"'},
    )


def _part_of(course_id: int, part_id: int) -> CoursePart:
    course = get_authorized(Course, course_id, Permission.SESSION_RUN, COURSE_DAY_LOAD)
    part = next((p for p in course.parts if p.id == part_id), None)
    # ``part.course`` read while ``course`` is held: the part then keeps it (the session's map
    # alone would let it go, and the course with its co-organizers be loaded again).
    if part is None or part.course is not course:
        abort(404)
    return part


@bp.route("/stages/<int:course_id>/presence/<int:part_id>", methods=["GET", "POST"])
@login_required
def take_attendance(course_id: int, part_id: int):
    """Record who is present, late, left early, absent or excused for one half-day."""
    part = _part_of(course_id, part_id)
    course, form = part.course, BaseForm()
    enrollments = services.seat_holders(course)
    if form.validate_on_submit():
        with refused() as outcome:
            inputs = mark_inputs(request.form, enrollments, part)
            changed = services.record_marks(
                part, inputs, by=current_user, reason=request.form.get("reason"), expected=enrollments
            )
            db.session.commit()
        if outcome.ok:
            flash(ngettext("Présence enregistrée (%(num)d modification).",
                          "Présence enregistrée (%(num)d modifications).", changed), "success")
            # The URL's own ids: the committed objects would be read again for theirs.
            return redirect(url_for("attendance.take_attendance", course_id=course_id, part_id=part_id))
    sheet = signatures.sheets([part.id])[part.id]
    refusal = services.record_refusal(part, current_user)
    return render_template(
        "attendance/take.html", course=course, part=part, enrollments=enrollments,
        marks=services.marks_by_key(course), statuses=AttendanceStatus, form=form,
        editable=refusal is None, refusal=refusal, correction=services.is_correction(part),
        opens_later=services.opens_later(part, current_user), rendered_at=now_utc(),
        signatures=sheet.live, countersignature=sheet.seal,
        sync_url=url_for("attendance.sync", course_id=course.id),
        token_url=url_for("attendance.token", course_id=course.id),
    )


@bp.route("/stages/<int:course_id>/presence/synchro", methods=["POST"])
@limiter.limit(sync_rate_limit, key_func=lambda: f"sync:{current_user.get_id() or get_remote_address()}")
@login_required
def sync(course_id: int):
    """What a tablet sends: marks, signatures, refusals, countersignatures (JSON, idempotent)."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN)
    payload = request.get_json(silent=True)
    items = payload.get("items") if isinstance(payload, dict) else None
    try:
        results = sync_service.apply_batch(
            course, items, by=current_user, user_agent=request.headers.get("User-Agent", "")
        )
        db.session.commit()
    except DomainError as refusal:  # the whole batch is unreadable: nothing written, no flash
        db.session.rollback()
        return json_error(400, "batch", refusal.message)
    return jsonify(results=[r.as_json() for r in results], synced_at=now_utc().isoformat(),
                   csrf_token=generate_csrf())


@bp.route("/stages/<int:course_id>/presence/jeton")
@login_required
def token(course_id: int):
    """A fresh CSRF token for the tablet's sync, after a new login."""
    get_authorized(Course, course_id, Permission.SESSION_RUN)
    return jsonify(csrf_token=generate_csrf())


@bp.route("/stages/<int:course_id>/presence/<int:part_id>/signatures", methods=["GET", "POST"])
@login_required
def sheet(course_id: int, part_id: int):
    """A half-day's émargement électronique: every entry of its chain, its integrity, and the
    voiding of an entry by an organizer, with a reason."""
    part = _part_of(course_id, part_id)
    form = BaseForm()
    if form.validate_on_submit():
        entry = db.session.get(AttendanceSignature, request.form.get("entry", type=int) or 0)
        if entry is None or entry.part_id != part.id:
            abort(404)
        with refused() as outcome:
            signatures.void(entry, request.form.get("reason", ""), by=current_user, client_id=str(uuid.uuid4()))
            db.session.commit()
        if outcome.ok:
            flash("La signature est annulée ; l'annulation et son motif restent dans la chaîne.", "success")
            return redirect(url_for("attendance.sheet", course_id=course_id, part_id=part_id))
    sheet = signatures.sheets([part.id], authors=True)[part.id]
    names = {e.id: e.measure.participant.display_name for e in services.seat_holders(part.course)}
    audit("signatures.viewed", part, details=f"{len(sheet.entries)} entrées")
    db.session.commit()
    return render_template(
        "attendance/signatures.html", course=part.course, part=part, sheet=sheet, names=names, form=form,
        check=signatures.verify_chain(part.id), can_void=can(current_user, Permission.SESSION_EDIT, part.course),
    )


@bp.route("/stages/<int:course_id>/cloture", methods=["GET", "POST"])
@login_required
def close(course_id: int):
    """Close a held course: confirm each person's outcome, overriding with a reason."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    if course.status != CourseStatus.HELD:
        flash("Seul un stage tenu peut être clôturé.", "warning")
        return redirect(url_for("scheduling.course_detail", course_id=course.id))
    form = BaseForm()
    if form.validate_on_submit():
        decisions = closing_decisions(request.form)
        with refused() as outcome:
            services.close_course(course, decisions, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("Le stage est clôturé. Les attestations peuvent être délivrées.", "success")
            return redirect(url_for("scheduling.course_detail", course_id=course.id))
        course = db.session.get(Course, course_id)
    rows = services.outcome_rows(course)
    return render_template(
        "attendance/close.html", course=course, rows=rows, outcomes=services.OUTCOMES,
        lateness_rules=services.lateness_rules(course, rows),
        submitted=request.form if request.method == "POST" else {}, form=form,
    )


@bp.route("/stages/<int:course_id>/presence/<int:part_id>/incidents", methods=["GET", "POST"])
@login_required
def incidents(course_id: int, part_id: int):
    """A half-day's incidents, and noting a new one (until the course is closed)."""
    part = _part_of(course_id, part_id)
    people = services.seat_holders(part.course)
    form = IncidentForm()
    form.set_people(people)
    if form.validate_on_submit():
        with refused(form) as outcome:
            incident_service.record_incident(part, form.incident_input(part), people, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("Incident noté.", "success")
            return redirect(url_for("attendance.incidents", course_id=course_id, part_id=part_id))
    found = [i for i in incident_service.course_incidents(course_id) if i.part_id == part.id]
    audit("incidents.viewed", part, details=f"{len(found)} incidents")
    db.session.commit()
    return render_template("attendance/incidents.html", course=part.course, part=part, incidents=found, form=form,
                           names={e.id: e.measure.participant.display_name for e in people},
                           editable=part.course.status != CourseStatus.CLOSED), 400 if form.errors else 200


@bp.route("/stages/<int:course_id>/incidents/<int:incident_id>", methods=["GET", "POST"])
@login_required
def incident_edit(course_id: int, incident_id: int):
    """Change or remove an incident while the course is open."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN)
    incident = db.session.get(HalfDayIncident, incident_id)
    if incident is None or incident.part.course_id != course.id:
        abort(404)
    people, part = services.seat_holders(course), incident.part
    form = IncidentForm(data=None if request.method == "POST" else incident_form_data(incident, part))
    form.set_people(people)
    back = url_for("attendance.incidents", course_id=course_id, part_id=part.id)
    if "supprimer" in request.form and BaseForm().validate_on_submit():
        with refused() as outcome:
            incident_service.delete_incident(incident, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("Incident supprimé.", "success")
        return redirect(back)
    if form.validate_on_submit():
        with refused(form) as outcome:
            incident_service.update_incident(incident, form.incident_input(part), people, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("Incident modifié.", "success")
            return redirect(back)
    return render_template("attendance/incident_edit.html", course=course, part=part, incident=incident,
                           form=form, back=back), 400 if form.errors else 200
