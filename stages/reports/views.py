"""Liaison dashboard, its exports and bilans pages.

The statistics page adds its route to this blueprint from ``stages.reports.statistics_views``,
imported at the end of this module.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.models import Role
from stages.auth.permissions import Permission, authorize, can, get_authorized
from stages.enrollment.models import LegalFrame
from stages.errors import DomainError
from stages.extensions import db
from stages.reports import exports
from stages.reports.bilans import (
    BILAN_HEADER,
    bilan_authorities,
    bilan_csv_row,
    bilan_rows,
    bilan_summary,
    mark_bilan_sent,
)
from stages.reports.dashboard import (
    BUCKET_TONES,
    Bucket,
    DashboardFilters,
    bucket_counts,
    dashboard_page,
    recent_bilans,
    total_of,
)
from stages.reports.dashboard_export import EXPORT_HEADER, count_measures, export_rows
from stages.reports.pdf import bilan_pdf
from stages.scheduling.models import AUTHORITY_KINDS, CourseSession, Organization, SessionStatus
from stages.search import remember_search, search_args, search_submitted, search_term
from stages.timeutil import now_utc, today_local

bp = Blueprint("reports", __name__)

# An XLSX is built in memory; past this, CSV (streamed) is the format for the whole list.
XLSX_MAX_ROWS = 50_000
EXPORT_WIDTHS = (22, 20, 34, 30, 18, 14, 14, 24, 34, 14, 16)
NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


# ---------------------------------------------------------------------------------------------
# Dashboard


def _is_liaison() -> bool:
    return current_user.role == Role.LIAISON


def _authority_choices() -> list[Organization]:
    """Authorities offered in the filter: a liaison's own only, every authority for staff."""
    query = sa.select(Organization).where(Organization.kind.in_(AUTHORITY_KINDS))
    if _is_liaison():
        query = query.where(Organization.id.in_(current_user.organization_ids))
    return list(db.session.scalars(query.order_by(Organization.name)))


def _date_arg(name: str, errors: list[str]) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"Date invalide ignorée : « {raw[:12]} » (format attendu : AAAA-MM-JJ).")
        return None


SEARCH_SCOPE = "dashboard"


def _filters(authorities: list[Organization]) -> tuple[DashboardFilters, list[str]]:
    """The filters of the query string; an authority outside the user's choices is a 403."""
    errors: list[str] = []
    bucket = request.args.get("statut", "")
    frame = request.args.get("cadre", "")
    authority_id = request.args.get("autorite", type=int)
    if authority_id is not None and authority_id not in {a.id for a in authorities}:
        # Guessing another jurisdiction's id must not even confirm that it exists.
        abort(403)
    filters = DashboardFilters(
        bucket=Bucket(bucket) if bucket in {b.value for b in Bucket} else None,
        frame=LegalFrame(frame) if frame in {f.value for f in LegalFrame} else None,
        authority_id=authority_id,
        deadline_from=_date_arg("echeance_du", errors),
        deadline_to=_date_arg("echeance_au", errors),
        q=search_term(SEARCH_SCOPE),
    )
    return filters, errors


def _filter_args(filters: DashboardFilters, **overrides) -> dict:
    """The filters as query-string arguments, for links that keep them."""
    args = {
        "statut": filters.bucket.value if filters.bucket else None,
        "cadre": filters.frame.value if filters.frame else None,
        "autorite": filters.authority_id,
        "echeance_du": filters.deadline_from.isoformat() if filters.deadline_from else None,
        "echeance_au": filters.deadline_to.isoformat() if filters.deadline_to else None,
        **search_args(filters.q),
    }
    args.update(overrides)
    return {key: value for key, value in args.items() if value not in (None, "")}


@bp.route("/tableau-de-bord", methods=["GET", "POST"])
@login_required
def dashboard():
    """Measures in the user's scope by situation and deadline, filterable, read-only.

    The filter form is POSTed so that a name searched never appears in a URL (stages.search).
    """
    authorize(Permission.MEASURE_VIEW)
    if search_submitted():
        return remember_search(SEARCH_SCOPE)
    if request.method == "POST":
        abort(400)
    authorities = _authority_choices()
    filters, errors = _filters(authorities)
    today = today_local()
    counts = bucket_counts(current_user, filters, today)
    page = dashboard_page(
        current_user, filters, today,
        page=request.args.get("page", 1, type=int),
        per_page=current_app.config["ITEMS_PER_PAGE"],
        total=total_of(counts, filters.bucket),
    )
    html = render_template(
        "reports/dashboard.html",
        page=page,
        counts=counts,
        all_count=total_of(counts, None),
        is_liaison=_is_liaison(),
        filters=filters,
        errors=errors,
        args=_filter_args(filters),
        bucket_args={b: _filter_args(filters, statut=b.value) for b in Bucket},
        all_args=_filter_args(filters, statut=None),
        buckets=Bucket,
        tones=BUCKET_TONES,
        frames=LegalFrame,
        authorities=authorities,
        bilans=recent_bilans(current_user.organization_ids) if _is_liaison() else [],
        certificate_endpoint=(
            "certificates.download" if "certificates.download" in current_app.view_functions else None
        ),
        today=today,
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
    filters, _ = _filters(_authority_choices())
    today = today_local()
    total = count_measures(current_user, filters, today)
    if fmt == "xlsx" and total > XLSX_MAX_ROWS:
        flash(
            f"L'export Excel est limité à {_fr_int(XLSX_MAX_ROWS)} lignes et la sélection en "
            f"compte {_fr_int(total)} : affinez les filtres ou choisissez l'export CSV.",
            "warning",
        )
        return redirect(url_for("reports.dashboard", **_filter_args(filters)))
    rows = export_rows(current_user, filters, today)
    filename = f"mesures-{today.isoformat()}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE}
    details = f"tableau de bord, {fmt}, {total} lignes"
    if fmt == "csv":
        # A stream is sent after the view returns: the export is logged before the first byte.
        audit("export.downloaded", details=details)
        db.session.commit()
        return Response(
            stream_with_context(exports.csv_chunks(EXPORT_HEADER, rows)),
            mimetype="text/csv",
            headers=headers,
        )
    content = exports.xlsx_bytes(EXPORT_HEADER, rows, title="Mesures", widths=EXPORT_WIDTHS)
    audit("export.downloaded", details=details)
    db.session.commit()
    return Response(
        content,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )


# ---------------------------------------------------------------------------------------------
# Bilans


@bp.route("/stages/<int:session_id>/bilans")
@login_required
def bilans(session_id: int):
    """The bilans of a closed session: one per referring authority, to download and mark sent."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    if session.status != SessionStatus.CLOSED:
        flash("Les bilans sont disponibles une fois le stage clôturé.", "warning")
        return redirect(url_for("scheduling.session_detail", session_id=session.id))
    return render_template(
        "reports/bilans.html", session=session, authorities=bilan_authorities(session)
    )


def _readable_bilan_session(session_id: int, authority_id: int) -> CourseSession:
    """The session, if the user may read its bilan for ``authority_id`` (403 otherwise).

    Its organizers may; so may a liaison of that very authority (read-only), the scope
    ``visible_measures`` gives them. A missing session is a 403 too, so ids cannot be probed.
    """
    session = db.session.get(CourseSession, session_id)
    if session is None:
        abort(404 if can(current_user, Permission.ADMIN) else 403)
    if can(current_user, Permission.SESSION_EDIT, session):
        return session
    if (
        _is_liaison()
        and can(current_user, Permission.MEASURE_VIEW)
        and authority_id in current_user.organization_ids
    ):
        return session
    abort(403)


@bp.route("/stages/<int:session_id>/bilans/<int:authority_id>.<any(pdf, csv):fmt>")
@login_required
def bilan_download(session_id: int, authority_id: int, fmt: str):
    """The bilan of one closed session for one authority, as PDF or CSV."""
    session = _readable_bilan_session(session_id, authority_id)
    authority = db.session.get(Organization, authority_id)
    if session.status != SessionStatus.CLOSED or authority is None:
        abort(404)
    rows = bilan_rows(session, authority_id)
    if not rows:
        abort(404)
    generated_at = now_utc()
    if fmt == "pdf":
        content = bilan_pdf(session, authority, rows, bilan_summary(rows), generated_at)
        mimetype = "application/pdf"
    else:
        content = exports.csv_bytes(
            BILAN_HEADER, (bilan_csv_row(row) for row in rows)
        )
        mimetype = "text/csv"
    audit(
        "export.downloaded", session,
        details=f"bilan, {fmt}, autorité n° {authority_id}, {len(rows)} lignes",
    )
    db.session.commit()
    filename = f"bilan-stage-{session_id}-autorite-{authority_id}.{fmt}"
    disposition = "inline" if fmt == "pdf" else "attachment"
    return Response(
        content,
        mimetype=mimetype,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"', **NO_STORE},
    )


@bp.route("/stages/<int:session_id>/bilans/<int:authority_id>/envoye", methods=["POST"])
@login_required
def bilan_mark_sent(session_id: int, authority_id: int):
    """Record that the bilan was sent; the measures it reports on become « bilan transmis »."""
    session = get_authorized(CourseSession, session_id, Permission.SESSION_EDIT)
    try:
        closed = mark_bilan_sent(session, authority_id, by=current_user)
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        audit("bilan.sent", session, details=f"autorité n° {authority_id}, {closed} mesures closes")
        db.session.commit()
        flash(
            "Le bilan est marqué comme envoyé"
            + (f" ; {closed} mesure{'s' if closed > 1 else ''} passée{'s' if closed > 1 else ''} "
               "en « bilan transmis »." if closed else "."),
            "success",
        )
    return redirect(url_for("reports.bilans", session_id=session_id))


# The statistics page registers on ``bp`` as it is imported, so it comes after it.
from stages.reports import statistics_views  # noqa: E402, F401
