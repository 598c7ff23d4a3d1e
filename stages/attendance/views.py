"""The day of the course: roster, attendance per half-day, and closing the session."""
from __future__ import annotations

from datetime import datetime, time

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.attendance import services
from stages.attendance.models import AttendanceStatus
from stages.attendance.pdf import roster_pdf
from stages.auth.audit import audit
from stages.auth.permissions import Permission, get_authorized
from stages.enrollment.models import EnrollmentStatus
from stages.errors import DomainError
from stages.extensions import db
from stages.forms import BaseForm
from stages.scheduling.models import CourseSession, SessionPart, SessionStatus
from stages.timeutil import local_to_utc, to_local

bp = Blueprint("attendance", __name__)


@bp.route("/stages/<int:session_id>/emargement")
@login_required
def roster(session_id: int):
    """The sign-in sheet as a print-styled page (names only, no legal details)."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_RUN)
    enrollments = services.expected_enrollments(session)
    html = render_template("attendance/roster.html", session=session, enrollments=enrollments)
    audit("roster.viewed", session, details=f"{len(enrollments)} personnes")
    db.session.commit()
    return html


@bp.route("/stages/<int:session_id>/emargement.pdf")
@login_required
def roster_download(session_id: int):
    """The sign-in sheet as a PDF to print."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_RUN)
    enrollments = services.expected_enrollments(session)
    pdf = roster_pdf(session, enrollments)
    audit("roster.downloaded", session, details=f"{len(enrollments)} personnes")
    db.session.commit()
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="emargement-stage-{session_id}.pdf"'},
    )


def _part_of(session_id: int, part_id: int) -> SessionPart:
    session = get_authorized(CourseSession, session_id, Permission.SESSION_RUN)
    part = db.session.get(SessionPart, part_id)
    if part is None or part.session_id != session.id:
        abort(404)
    return part


def _parse_time(raw: str, part: SessionPart) -> datetime | None:
    """A wall-clock HH:MM typed on the day, as UTC on that part's date."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        wall = time.fromisoformat(raw)
    except ValueError:
        raise DomainError(f"Heure invalide : « {raw[:10]} » (format attendu : 09:45).") from None
    zone = part.session.venue.timezone
    return local_to_utc(to_local(part.starts_at, zone).date(), wall, zone)


@bp.route("/stages/<int:session_id>/presence/<int:part_id>", methods=["GET", "POST"])
@login_required
def take_attendance(session_id: int, part_id: int):
    """Record who is present, late, left early, absent or excused for one half-day."""
    part = _part_of(session_id, part_id)
    session = part.session
    form = BaseForm()
    enrollments = services.expected_enrollments(session)
    correction = services.is_correction(part)
    if form.validate_on_submit():
        try:
            inputs = []
            for enrollment in enrollments:
                raw_status = request.form.get(f"status-{enrollment.id}", "")
                if not raw_status:
                    continue
                if raw_status not in {s.value for s in AttendanceStatus}:
                    raise DomainError("Statut de présence inconnu.")
                inputs.append(
                    services.MarkInput(
                        enrollment_id=enrollment.id,
                        status=AttendanceStatus(raw_status),
                        arrived_at=_parse_time(request.form.get(f"arrived-{enrollment.id}", ""), part),
                        left_at=_parse_time(request.form.get(f"left-{enrollment.id}", ""), part),
                        note=(request.form.get(f"note-{enrollment.id}") or "").strip()[:500] or None,
                    )
                )
            changed = services.record_marks(
                part, inputs, by=current_user, reason=request.form.get("reason"), expected=enrollments
            )
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            if changed:
                audit("attendance.recorded", part, details=f"{changed} présence(s)" + (", correction" if correction else ""))
            db.session.commit()
            flash(f"Présence enregistrée ({changed} modification(s)).", "success")
            return redirect(url_for("attendance.take_attendance", session_id=session.id, part_id=part.id))
    marks = services.marks_by_key(session)
    return render_template(
        "attendance/take.html",
        session=session,
        part=part,
        enrollments=enrollments,
        marks=marks,
        statuses=AttendanceStatus,
        editable=services.can_record(part, current_user),
        correction=correction,
        form=form,
    )


@bp.route("/stages/<int:session_id>/cloture", methods=["GET", "POST"])
@login_required
def close(session_id: int):
    """Close a held session: confirm each person's outcome, overriding with a reason."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    if session.status != SessionStatus.HELD:
        flash("Seul un stage tenu peut être clôturé.", "warning")
        return redirect(url_for("scheduling.session_detail", session_id=session.id))
    form = BaseForm()
    if form.validate_on_submit():
        decisions = {}
        for key, value in request.form.items():
            if key.startswith("outcome-") and key[8:].isdigit():
                if value not in {s.value for s in services.OUTCOMES}:
                    abort(400)
                enrollment_id = int(key[8:])
                decisions[enrollment_id] = (
                    EnrollmentStatus(value), request.form.get(f"reason-{enrollment_id}", "")[:500]
                )
        try:
            rows = services.close_session(session, decisions, by=current_user)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            session = db.session.get(CourseSession, session_id)
        else:
            audit("session.closed", session, details=f"{len(rows)} personnes")
            db.session.commit()
            flash("Le stage est clôturé. Les attestations peuvent être délivrées.", "success")
            return redirect(url_for("scheduling.session_detail", session_id=session.id))
    rows = services.outcome_rows(session)
    return render_template(
        "attendance/close.html", session=session, rows=rows, outcomes=services.OUTCOMES,
        submitted=request.form if request.method == "POST" else {}, form=form,
    )
