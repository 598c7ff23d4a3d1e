"""The bilans of a closed course: one per referring authority, to download and mark as sent."""
from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.models import Organization
from stages.auth.permissions import Permission, authorize, get_authorized, get_or_refuse
from stages.errors import refused
from stages.extensions import db
from stages.reports.bilans import (
    BILAN_HEADER,
    bilan_authorities,
    bilan_csv_row,
    bilan_rows,
    bilan_signatory,
    bilan_summary,
    mark_bilan_sent,
)
from stages.reports.bilan_sending import course_transmissions, report_addresses
from stages.reports.pdf import bilan_pdf
from stages.reports.rules import BilanOf
from stages.reports.views.blueprint import bp
from stages.scheduling.models import Course, CourseStatus
from stages.scheduling.queries import course_sections
from stages.spreadsheets import csv_bytes
from stages.timeutil import now_utc
from stages.wording import ngettext

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@course_sections.add(template="reports/_course_bilans.html", position=30)
def course_bilans_link(course: Course, can_edit: bool, **_) -> dict | None:
    """The way to a closed course's bilans, for its organizers."""
    return {} if can_edit and course.status == CourseStatus.CLOSED else None


@bp.route("/stages/<int:course_id>/bilans")
@login_required
def bilans(course_id: int):
    """The bilans of a closed course: one per referring authority, to download and mark sent."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    if course.status != CourseStatus.CLOSED:
        flash("Les bilans sont disponibles une fois le stage clôturé.", "warning")
        return redirect(url_for("scheduling.course_detail", course_id=course.id))
    authorities = bilan_authorities(course)
    return render_template("reports/bilans.html", course=course, authorities=authorities,
                           transmissions=course_transmissions(course),
                           addresses=report_addresses([a.authority_id for a in authorities]))


def _readable_bilan(course_id: int, authority_id: int) -> Course:
    """The course, if the user may read its bilan for ``authority_id``; 403 otherwise, a missing
    course included, so that ids cannot be probed."""
    course = get_or_refuse(Course, course_id)
    authorize(Permission.MEASURE_VIEW, BilanOf(course, authority_id))
    return course


@bp.route("/stages/<int:course_id>/bilans/<int:authority_id>.<any(pdf, csv):fmt>")
@login_required
def bilan_download(course_id: int, authority_id: int, fmt: str):
    """The bilan of one closed course for one authority, as PDF or CSV."""
    course = _readable_bilan(course_id, authority_id)
    authority = db.session.get(Organization, authority_id)
    rows = bilan_rows(course, authority_id) if authority and course.status == CourseStatus.CLOSED else []
    if not rows:
        abort(404)
    signatory = bilan_signatory(course, authority_id, current_user)
    if fmt == "pdf":
        content = bilan_pdf(course, authority, rows, bilan_summary(rows), now_utc(), signatory)
    else:
        content = csv_bytes(BILAN_HEADER, (bilan_csv_row(row, signatory) for row in rows))
    audit("export.downloaded", course, details=f"bilan, {fmt}, autorité n° {authority_id}, {len(rows)} lignes")
    db.session.commit()
    disposition = "inline" if fmt == "pdf" else "attachment"
    filename = f"bilan-stage-{course_id}-autorite-{authority_id}.{fmt}"
    return Response(
        content,
        mimetype="application/pdf" if fmt == "pdf" else "text/csv",
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"', **NO_STORE},
    )


@bp.route("/stages/<int:course_id>/bilans/<int:authority_id>/envoye", methods=["POST"])
@login_required
def bilan_mark_sent(course_id: int, authority_id: int):
    """Record that the bilan was handed over otherwise than by « Transmettre » (by hand, by the
    court's own platform); the measures it reports on become « bilan transmis » (audited)."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    with refused() as outcome:
        closed = mark_bilan_sent(course, authority_id, by=current_user)
        db.session.commit()
    if outcome.ok:
        passed = ngettext("%(num)d mesure passée", "%(num)d mesures passées", closed)
        flash("Le bilan est marqué comme remis"
              + (f" ; {passed} en « bilan transmis »." if closed else "."), "success")
    return redirect(url_for("reports.bilans", course_id=course_id))
