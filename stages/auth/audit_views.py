"""The audit log for admins: who read, exported or changed what, filterable, exportable as CSV.

The log answers the CNIL's question "who consulted this person's file, when?": filters by staff
member, participant id, action and Paris dates; the newest first, 50 a page, on the indexed
columns (``at``, ``(user_id, at)``, ``(participant_id, at)``, ``(action, at)``). Exporting the log
is itself logged. Filters carry ids and dates only: no name ever goes into a URL.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_login import login_required
from sqlalchemy.orm import joinedload

from stages.auth.audit import action_label, audit
from stages.auth.models import AuditEntry, User
from stages.auth.permissions import Permission, authorize
from stages.exports import safe_cell
from stages.extensions import db
from stages.timeutil import local_to_utc, to_local, today_local

bp = Blueprint("audit_log", __name__)

PER_PAGE = 50
# The user filter's value for entries no one made (scheduled tasks, failed logins).
NO_USER = "aucun"
CSV_HEADER = (
    "Date et heure (Paris)", "Utilisateur", "N° utilisateur", "Action", "Code de l'action",
    "Type d'objet", "N° d'objet", "N° de personne", "Adresse IP", "Détails",
)
CSV_CHUNK_ROWS = 500
NO_STORE = {"Cache-Control": "no-store"}


@dataclass(frozen=True)
class AuditFilters:
    """What the admin asked for; every field optional. Dates are Paris calendar days."""

    user_id: int | None = None
    no_user: bool = False
    participant_id: int | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def clauses(self) -> list:
        """SQL conditions; the date range becomes UTC bounds [from 00:00, to+1 00:00)."""
        clauses = []
        if self.no_user:
            clauses.append(AuditEntry.user_id.is_(None))
        elif self.user_id is not None:
            clauses.append(AuditEntry.user_id == self.user_id)
        if self.participant_id is not None:
            clauses.append(AuditEntry.participant_id == self.participant_id)
        if self.action:
            clauses.append(AuditEntry.action == self.action)
        if self.date_from:
            clauses.append(AuditEntry.at >= local_to_utc(self.date_from, time(0)))
        if self.date_to:
            clauses.append(AuditEntry.at < local_to_utc(self.date_to + timedelta(days=1), time(0)))
        return clauses

    def args(self) -> dict:
        """The filters as query-string arguments, for links that keep them."""
        args = {
            "utilisateur": NO_USER if self.no_user else self.user_id,
            "personne": self.participant_id,
            "action": self.action,
            "du": self.date_from.isoformat() if self.date_from else None,
            "au": self.date_to.isoformat() if self.date_to else None,
        }
        return {key: value for key, value in args.items() if value not in (None, "")}

    def describe(self) -> str:
        """The filters in words for the audit entry of an export: ids and dates, no names."""
        parts = []
        if self.no_user:
            parts.append("sans utilisateur")
        elif self.user_id is not None:
            parts.append(f"utilisateur n° {self.user_id}")
        if self.participant_id is not None:
            parts.append(f"personne n° {self.participant_id}")
        if self.action:
            parts.append(f"action {self.action}")
        if self.date_from:
            parts.append(f"du {self.date_from.isoformat()}")
        if self.date_to:
            parts.append(f"au {self.date_to.isoformat()}")
        return ", ".join(parts) or "sans filtre"


def parse_filters(args) -> tuple[AuditFilters, list[str]]:
    """The filters of a query string, and a French message for each value ignored."""
    errors: list[str] = []
    raw_user = (args.get("utilisateur") or "").strip()
    user_id, no_user = None, raw_user == NO_USER
    if raw_user and not no_user:
        user_id = _positive_int(raw_user)
        if user_id is None:
            errors.append("Utilisateur inconnu : filtre ignoré.")
    raw_participant = (args.get("personne") or "").strip()
    participant_id = _positive_int(raw_participant) if raw_participant else None
    if raw_participant and participant_id is None:
        errors.append("Le n° de personne doit être un nombre entier : filtre ignoré.")
    date_from = _date(args.get("du"), "début", errors)
    date_to = _date(args.get("au"), "fin", errors)
    if date_from and date_to and date_from > date_to:
        errors.append("La date de début suit la date de fin : période ignorée.")
        date_from = date_to = None
    action = (args.get("action") or "").strip()[:60] or None
    return AuditFilters(user_id, no_user, participant_id, action, date_from, date_to), errors


def _positive_int(raw: str) -> int | None:
    # Ids fit a PostgreSQL INTEGER: a bigger number would be a database error, not "no result".
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    return int(raw) if 0 < int(raw) < 2**31 else None


def _date(raw: str | None, which: str, errors: list[str]) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"Date de {which} invalide ignorée (format attendu : AAAA-MM-JJ).")
        return None


def entries_query(filters: AuditFilters) -> sa.Select:
    """The filtered entries, newest first (id breaks ties so that pages never overlap)."""
    return (
        sa.select(AuditEntry)
        .where(*filters.clauses())
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    )


def distinct_actions() -> list[str]:
    """Every action code in the log, read by skipping along the (action, at) index.

    A plain ``SELECT DISTINCT`` reads the whole log (millions of rows after a few years);
    this recursive query does one index lookup per distinct action, on SQLite and PostgreSQL.
    """
    rows = db.session.execute(
        sa.text(
            "WITH RECURSIVE found(action) AS ("
            " SELECT (SELECT min(action) FROM audit_entries)"
            " UNION ALL"
            " SELECT (SELECT min(action) FROM audit_entries WHERE action > found.action)"
            " FROM found WHERE found.action IS NOT NULL"
            ") SELECT action FROM found WHERE action IS NOT NULL"
        )
    )
    return [row[0] for row in rows]


@bp.route("/admin/journal")
@login_required
def entries():
    """The audit log, filtered, 50 entries a page, newest first."""
    authorize(Permission.ADMIN)
    filters, errors = parse_filters(request.args)
    page = db.paginate(
        entries_query(filters).options(joinedload(AuditEntry.user)),
        page=request.args.get("page", 1, type=int),
        per_page=PER_PAGE,
        error_out=False,
    )
    users = db.session.scalars(sa.select(User).order_by(User.full_name, User.id)).all()
    actions = sorted(distinct_actions(), key=lambda code: action_label(code).lower())
    return render_template(
        "audit_log/entries.html",
        page=page,
        filters=filters,
        args=filters.args(),
        errors=errors,
        users=users,
        actions=actions,
        no_user=NO_USER,
    )


@bp.route("/admin/journal/export.csv")
@login_required
def export():
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
        stream_with_context(_csv_chunks(query)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', **NO_STORE},
    )


def _csv_chunks(query: sa.Select) -> Iterator[str]:
    """The CSV in chunks of a few hundred rows, read from the database in batches as well."""
    rows = db.session.execute(
        query.with_only_columns(
            AuditEntry.at, User.full_name, AuditEntry.user_id, AuditEntry.action,
            AuditEntry.object_type, AuditEntry.object_id, AuditEntry.participant_id,
            AuditEntry.ip, AuditEntry.details,
        )
        .outerjoin(User, User.id == AuditEntry.user_id)
        .execution_options(yield_per=CSV_CHUNK_ROWS)
    )
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write("\ufeff")  # without it, Excel reads UTF-8 accents as Windows-1252
    writer.writerow([safe_cell(title) for title in CSV_HEADER])
    for number, row in enumerate(rows, start=1):
        at, full_name, user_id, action, object_type, object_id, participant_id, ip, details = row
        writer.writerow(
            [
                safe_cell(value)
                for value in (
                    to_local(at).strftime("%d/%m/%Y %H:%M:%S"), full_name or "", user_id,
                    action_label(action), action, object_type or "", object_id,
                    participant_id, ip or "", details or "",
                )
            ]
        )
        if number % CSV_CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()

