"""The liaison dashboard and its exports."""
from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.models import Organization, Role
from stages.auth.permissions import Permission, authorize, visible
from stages.enrollment.models import LegalFrame
from stages.extensions import db
from stages.reports.dashboard import (
    BUCKET_TONES,
    Bucket,
    DashboardFilters,
    bucket_counts,
    dashboard_page,
    parse_filters,
    recent_bilans,
    total_of,
)
from stages.reports.dashboard_export import EXPORT_HEADER, count_measures, export_rows
from stages.reports.views.blueprint import bp
from stages.auth.search_terms import remember_search, search_submitted, search_term
from stages.spreadsheets import csv_chunks, xlsx_bytes
from stages.timeutil import today_local

SEARCH_SCOPE = "dashboard"
# An XLSX is built in memory; past this, CSV (streamed) is the format for the whole list.
XLSX_MAX_ROWS = 50_000
EXPORT_WIDTHS = (22, 20, 34, 30, 18, 14, 14, 24, 34, 14, 16)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _filters() -> tuple[list[Organization], DashboardFilters, list[str]]:
    """The authorities the user may filter on, and the filters of the query string."""
    authorities = list(db.session.scalars(visible("report_authorities", current_user)))
    try:
        filters, errors = parse_filters(request.args, {a.id for a in authorities}, search_term(SEARCH_SCOPE))
    except PermissionError:
        abort(403)
    return authorities, filters, errors


@bp.route("/tableau-de-bord", methods=["GET", "POST"])
@login_required
def dashboard():
    """Measures in the user's scope by situation and deadline, filterable, read-only.

    The filter form is POSTed so that a name searched never appears in a URL
    (``stages.auth.search_terms``).
    """
    authorize(Permission.MEASURE_VIEW)
    if search_submitted():
        return remember_search(SEARCH_SCOPE)
    if request.method == "POST":
        abort(400)
    authorities, filters, errors = _filters()
    today, is_liaison = today_local(), current_user.role == Role.LIAISON
    counts = bucket_counts(current_user, filters, today)
    page = dashboard_page(current_user, filters, today, page=request.args.get("page", 1, type=int),
                          per_page=current_app.config["ITEMS_PER_PAGE"], total=total_of(counts, filters.bucket))
    html = render_template(
        "reports/dashboard.html", page=page, counts=counts, all_count=total_of(counts, None),
        is_liaison=is_liaison, filters=filters, errors=errors, args=filters.args(),
        bucket_args={b: filters.args(statut=b.value) for b in Bucket}, all_args=filters.args(statut=None),
        buckets=Bucket, tones=BUCKET_TONES, frames=LegalFrame, authorities=authorities, today=today,
        bilans=recent_bilans(current_user) if is_liaison else [],
    )
    # The page shows names: a read of participants' data, logged without them.
    audit("dashboard.viewed", details=f"tableau de bord, page {page.page}, {filters.describe()}")
    db.session.commit()
    return html


def _fr_int(number: int) -> str:
    """« 50 000 »: thousands grouped by a narrow no-break space, as French typography wants."""
    return f"{number:,}".replace(",", "\u202f")


@bp.route("/tableau-de-bord/export.<any(csv, xlsx):fmt>")
@login_required
def dashboard_export(fmt: str):
    """Every measure matching the dashboard's filters, as CSV (streamed) or XLSX."""
    authorize(Permission.MEASURE_VIEW)
    _, filters, _ = _filters()
    today = today_local()
    total = count_measures(current_user, filters, today)
    if fmt == "xlsx" and total > XLSX_MAX_ROWS:
        flash(f"L'export Excel est limité à {_fr_int(XLSX_MAX_ROWS)} lignes et la sélection en compte "
              f"{_fr_int(total)} : affinez les filtres ou choisissez l'export CSV.", "warning")
        return redirect(url_for("reports.dashboard", **filters.args()))
    rows = export_rows(current_user, filters, today)
    headers = {"Content-Disposition": f'attachment; filename="mesures-{today.isoformat()}.{fmt}"', **NO_STORE}
    if fmt == "csv":
        body, mimetype = stream_with_context(csv_chunks(EXPORT_HEADER, rows)), "text/csv"
    else:
        body, mimetype = xlsx_bytes(EXPORT_HEADER, rows, title="Mesures", widths=EXPORT_WIDTHS), XLSX_MIMETYPE
    # A stream is sent after the view returns: the export is logged before the first byte.
    audit("export.downloaded", details=f"tableau de bord, {fmt}, {total} lignes")
    db.session.commit()
    return Response(body, mimetype=mimetype, headers=headers)
