"""Non-execution reports (organizers review and transmit; liaisons read those sent to them) and
the monthly summaries (liaisons and admins)."""
from __future__ import annotations

import re

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import joinedload

from stages.auth.audit import audit
from stages.auth.permissions import Permission, authorize, can, get_authorized, visible
from stages.errors import DomainError, refused
from stages.extensions import db
from stages.pages import paginate
from stages.reports.models import (
    MonthlySummary,
    NonExecutionReason,
    NonExecutionReport,
    NonExecutionStatus,
    TransmissionKind,
    TransmissionStatus,
)
from stages.reports.monthly_summary import FIGURE_LABELS, FIGURES, month_label, people_to_act_on
from stages.reports.non_execution import filtered_reports, mark_reviewed, parse_list_filters, report_content
from stages.reports.non_execution_pdf import report_pdf, summary_pdf
from stages.reports.non_execution_sending import report_refs, transmit_report
from stages.reports.rules import SUMMARY_LIST
from stages.reports.transmissions import deliver_transmission, report_address, transmission_history
from stages.reports.views.transmissions import NUMBER_MAX
from stages.reports.views.blueprint import bp
from stages.timeutil import now_utc

NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _pdf(content: bytes, filename: str) -> Response:
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"', **NO_STORE})


@bp.route("/rapports-non-execution")
@login_required
def non_execution_reports():
    """The reports the user may see, filtered by authority, reason and status, paginated."""
    authorize(Permission.MEASURE_VIEW)
    authorities = list(db.session.scalars(visible("report_authorities", current_user)))
    try:
        filters = parse_list_filters(request.args, {a.id for a in authorities})
    except DomainError as error:
        abort(400, error.message)
    page = paginate(filtered_reports(visible(NonExecutionReport, current_user), filters))
    audit("measures.list", details=f"rapports de non-exécution, page {page.page}, {len(page.items)} lignes")
    page_html = render_template(  # before the commit, which would expire the rows it shows
        "reports/non_execution_reports.html", page=page, filters=filters, authorities=authorities,
        reasons=list(NonExecutionReason), statuses=list(NonExecutionStatus),
    )
    db.session.commit()
    return page_html


@bp.route("/rapports-non-execution/<int:report_id>")
@login_required
def non_execution_report(report_id: int):
    """One report as it will be (or was) transmitted; the read is audited."""
    report = get_authorized(NonExecutionReport, report_id, Permission.MEASURE_VIEW)
    content = report_content(report)
    history = transmission_history(report.authority_id, TransmissionKind.NON_EXECUTION, report_refs(report))
    audit("non_execution.viewed", report, participant_id=report.measure.participant_id)
    page_html = render_template(
        "reports/non_execution_report.html", content=content, report=report, history=history,
        can_edit=can(current_user, Permission.MEASURE_EDIT, report), address=report_address(report.authority),
    )
    db.session.commit()
    return page_html


@bp.route("/rapports-non-execution/<int:report_id>.pdf")
@login_required
def non_execution_report_pdf(report_id: int):
    """The report as a PDF; the download is audited."""
    report = get_authorized(NonExecutionReport, report_id, Permission.MEASURE_VIEW)
    content = report_pdf(report_content(report), now_utc())
    audit("export.downloaded", report, participant_id=report.measure.participant_id,
          details="rapport de non-exécution, pdf")
    db.session.commit()
    return _pdf(content, f"rapport-non-execution-{report.id}.pdf")


@bp.route("/rapports-non-execution/<int:report_id>/relu", methods=["POST"])
@login_required
def non_execution_report_reviewed(report_id: int):
    """The organizer has read the draft: it becomes « prêt à transmettre »."""
    report = get_authorized(NonExecutionReport, report_id, Permission.MEASURE_EDIT)
    with refused() as outcome:
        mark_reviewed(report, by=current_user)
        db.session.commit()
    if outcome.ok:
        flash("Le rapport est relu : il est prêt à transmettre.", "success")
    return redirect(url_for("reports.non_execution_report", report_id=report_id))


@bp.route("/rapports-non-execution/<int:report_id>/transmettre", methods=["POST"])
@login_required
def non_execution_report_transmit(report_id: int):
    """Email the reviewed report to its authority now: « transmis » or the French error."""
    report = get_authorized(NonExecutionReport, report_id, Permission.MEASURE_EDIT)
    number = request.form.get("numero", "")
    if not re.fullmatch(r"[0-9]{1,6}", number) or not 1 <= int(number) <= NUMBER_MAX:
        abort(400, "Numéro de transmission invalide : rechargez la page du rapport.")
    with refused() as outcome:
        transmission = transmit_report(report, by=current_user, number=int(number))
        db.session.commit()
    if outcome.ok:
        transmission = deliver_transmission(transmission)
        if transmission.status == TransmissionStatus.SENT:
            flash(f"Rapport transmis à {transmission.authority.name} (transmission {transmission.reference}).", "success")
        elif transmission.status == TransmissionStatus.FAILED:
            flash(f"La transmission a échoué : {transmission.refusal} Le rapport reste à transmettre.", "error")
        else:
            flash("La transmission est en cours d'envoi : elle sera réessayée automatiquement.", "warning")
    return redirect(url_for("reports.non_execution_report", report_id=report_id))


@bp.route("/syntheses-mensuelles")
@login_required
def monthly_summaries():
    """The monthly summaries of the liaison's authorities (every one for an admin)."""
    authorize(Permission.MEASURE_VIEW, SUMMARY_LIST)
    query = visible(MonthlySummary, current_user).options(joinedload(MonthlySummary.authority))
    page = paginate(query.order_by(MonthlySummary.month.desc(), MonthlySummary.id))
    return render_template("reports/monthly_summaries.html", page=page, figures=FIGURES,
                           labels=FIGURE_LABELS, month_label=month_label)


@bp.route("/syntheses-mensuelles/<int:summary_id>.pdf")
@login_required
def monthly_summary_pdf(summary_id: int):
    """One summary as sent (its figures as counted), with the people to act on; audited."""
    summary = get_authorized(MonthlySummary, summary_id, Permission.MEASURE_VIEW)
    content = summary_pdf(summary, summary.authority, people_to_act_on(summary), now_utc())
    audit("monthly_summary.viewed", summary, details=f"{len(summary.to_act_on)} personnes")
    db.session.commit()
    return _pdf(content, f"synthese-{summary.month:%Y-%m}-autorite-{summary.authority_id}.pdf")
