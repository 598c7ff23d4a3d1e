"""The audit log for admins: who read, exported or changed what, filterable, exportable as CSV."""
from __future__ import annotations

import sqlalchemy as sa
from datetime import timedelta

from flask import Response, render_template, request, stream_with_context
from flask_login import login_required
from sqlalchemy.orm import joinedload

from stages.auth.audit import action_label, audit, describe_objects
from stages.auth.models import AuditEntry, User
from stages.auth.permissions import Permission, authorize
from stages.certificates.verification import verification_counts
from stages.extensions import db
from stages.pages import paginate
from stages.privacy.audit_log import (
    NO_STORE,
    NO_USER,
    PER_PAGE,
    CSV_HEADER,
    csv_rows,
    distinct_actions,
    entries_query,
    parse_filters,
)
from stages.privacy.views.blueprint import bp
from stages.spreadsheets import csv_chunks
from stages.timeutil import today_local

# How far back the page counts the public checks of attestation codes.
VERIFICATION_DAYS = 30


@bp.route("/admin/journal")
@login_required
def audit_log():
    """The audit log, filtered, 50 entries a page, newest first."""
    authorize(Permission.ADMIN)
    filters, errors = parse_filters(request.args)
    page = paginate(entries_query(filters).options(joinedload(AuditEntry.user)), per_page=PER_PAGE)
    users = db.session.scalars(sa.select(User).order_by(User.full_name, User.id)).all()
    actions = sorted(distinct_actions(), key=lambda code: action_label(code).lower())
    return render_template(
        "privacy/audit_log.html",
        verifications=verification_counts(today_local() - timedelta(days=VERIFICATION_DAYS)),
        VERIFICATION_DAYS=VERIFICATION_DAYS,
        page=page,
        objects=describe_objects(page.items),
        filters=filters,
        args=filters.args(),
        errors=errors,
        users=users,
        actions=actions,
        no_user=NO_USER,
    )


@bp.route("/admin/journal/export.csv")
@login_required
def audit_log_export():
    """The filtered log as CSV (« ; », UTF-8 with BOM for Excel), streamed; the export is logged."""
    authorize(Permission.ADMIN)
    filters, _ = parse_filters(request.args)
    query = entries_query(filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    entry = audit("audit_log.exported", details=f"journal d'audit, csv, {total} lignes, {filters.describe()}")
    db.session.flush()
    # The file is the log as it stood before this export: its own entry and later ones are left
    # out, so the count just logged is the number of rows sent.
    query = query.where(AuditEntry.id < entry.id)
    db.session.commit()
    filename = f"journal-audit-{today_local().isoformat()}.csv"
    return Response(
        stream_with_context(csv_chunks(CSV_HEADER, csv_rows(query))),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE},
    )
