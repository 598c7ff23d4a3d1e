"""The yearly activity report (on screen, PDF, CSV), an association's consent to the open
statistics, and the public open statistics page and CSV."""
from __future__ import annotations

import re

from flask import Response, abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.models import Organization, OrganizationKind
from stages.enrollment.models import LegalFrame
from stages.auth.permissions import (
    Permission, authorize, can, exists, get_authorized, get_or_refuse, visible,
)
from stages.extensions import db
from stages.reports.charts import bar_chart, percent
from stages.reports.open_statistics import (
    CACHE_SECONDS, CSV_HEADER, csv_rows, open_statistics, set_open_statistics,
)
from stages.reports.views.blueprint import bp
from stages.reports.yearly import compute_yearly_report
from stages.reports.yearly_documents import FIGURES, FRAME_SHORT, yearly_csv, yearly_pdf
from stages.spreadsheets import csv_bytes
from stages.timeutil import today_local

FORMATS = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8"}
FIRST_YEAR = 2016


def _year(value: int | None) -> int:
    """The year asked for, or last year (the last complete one) when missing or out of range."""
    this_year = today_local().year
    return value if value is not None and FIRST_YEAR <= value <= this_year else this_year - 1


def _reportable(organization_id: int | None) -> Organization:
    """The organization, if the user may produce its report (403 otherwise, as if missing)."""
    organization = get_or_refuse(Organization, organization_id)
    scope = visible("yearly_report_organizations", current_user)
    if not exists(scope.where(Organization.id == organization.id)):
        abort(403)
    return organization


@bp.route("/rapports/annuel")
@login_required
def yearly_report():
    """The yearly activity report of an association or an authority the user may report on."""
    authorize(Permission.MEASURE_VIEW)
    choices = db.session.scalars(visible("yearly_report_organizations", current_user)).all()
    year = _year(request.args.get("annee", type=int))
    wanted = request.args.get("organisation", type=int)
    organization = _reportable(wanted) if wanted else (choices[0] if len(choices) == 1 else None)
    report = compute_yearly_report(organization, year) if organization else None
    if report:
        audit("yearly_report.viewed", organization, details=str(year))
        db.session.commit()
    chart = report and bar_chart("stages-tenus", f"Stages tenus par mois en {year}", report.courses_per_month)
    return render_template(
        "reports/yearly.html", report=report, choices=choices, year=year, chart=chart,
        organization=organization, figures=FIGURES, percent=percent,
        years=range(today_local().year, FIRST_YEAR - 1, -1),
        may_opt_in=bool(organization) and organization.kind == OrganizationKind.ASSOCIATION
        and can(current_user, Permission.SCHEDULE, organization),
    )


@bp.route("/rapports/annuel/<int:organization_id>/rapport.<fmt>")
@login_required
def yearly_report_download(organization_id: int, fmt: str):
    """The yearly activity report as a PDF with charts or as a CSV (audited)."""
    authorize(Permission.MEASURE_VIEW)
    if fmt not in FORMATS:
        abort(404)
    organization = _reportable(organization_id)
    year = _year(request.args.get("annee", type=int))
    report = compute_yearly_report(organization, year)
    body = yearly_pdf(report) if fmt == "pdf" else yearly_csv(report)
    audit("yearly_report.exported", organization, details=f"{year} ({fmt.upper()})")
    db.session.commit()
    name = re.sub(r"[^a-z0-9]+", "-", organization.short_name.lower()).strip("-") or "organisation"
    return Response(body, mimetype=FORMATS[fmt], headers={
        "Content-Disposition": f'attachment; filename="rapport-activite-{year}-{name}.{fmt}"',
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    })


@bp.route("/organisations/<int:organization_id>/statistiques-ouvertes", methods=["POST"])
@login_required
def open_statistics_optin(organization_id: int):
    """An association joins or leaves the open statistics (its admin or its organizers)."""
    organization = get_authorized(Organization, organization_id, Permission.SCHEDULE)
    if organization.kind != OrganizationKind.ASSOCIATION:
        abort(404)
    opted_in = request.form.get("participer") == "oui"
    set_open_statistics(organization, opted_in, by=current_user)
    db.session.commit()
    flash("L'association participe aux statistiques ouvertes." if opted_in
          else "L'association ne participe plus aux statistiques ouvertes.", "success")
    return redirect(url_for("reports.yearly_report", organisation=organization.id))


@bp.route("/statistiques-ouvertes")
def open_statistics_page():
    """The public, anonymized national figures, with the method in plain French."""
    tables = open_statistics()
    wanted = request.args.get("annee", type=int)
    shown = next((t for t in tables if t.year == wanted), tables[0] if tables else None)
    response = make_response(render_template(
        "reports/open_statistics.html", tables=tables, shown=shown, frames=list(LegalFrame),
        short=FRAME_SHORT,
    ))
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response


@bp.route("/statistiques-ouvertes.csv")
def open_statistics_csv():
    """The open statistics as CSV: every settled year, « s » for a suppressed count."""
    return Response(csv_bytes(CSV_HEADER, csv_rows(open_statistics())), mimetype=FORMATS["csv"], headers={
        "Content-Disposition": 'attachment; filename="statistiques-ouvertes-stages.csv"',
        "Cache-Control": f"public, max-age={CACHE_SECONDS}",
    })
