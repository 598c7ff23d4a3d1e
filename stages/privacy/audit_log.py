"""The audit log read by admins: its filters, its pages and its CSV export.

The log answers the CNIL's question "who consulted this person's file, when?": filters by staff
member, participant id, action and Paris dates; the newest first, 50 a page, on the indexed
columns (``at``, ``(user_id, at)``, ``(participant_id, at)``, ``(action, at)``). Exporting the log
is itself logged. Filters carry ids and dates only: no name ever goes into a URL.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta

import sqlalchemy as sa

from stages.auth.audit import action_label, object_type_label
from stages.auth.models import AuditEntry, User
from stages.spreadsheets import CSV_CHUNK_ROWS
from stages.extensions import db
from stages.timeutil import local_to_utc, to_local

PER_PAGE = 50
# The years a date filter may name (the log starts with the application; a date far outside would
# only overflow the day arithmetic).
FIRST_YEAR, LAST_YEAR = 2000, 2100
# The user filter's value for entries no one made (scheduled tasks, failed logins).
NO_USER = "aucun"
CSV_HEADER = (
    "Date et heure (Paris)", "Utilisateur", "N° utilisateur", "Action", "Code de l'action",
    "Type d'objet", "N° d'objet", "N° de personne", "Adresse IP", "Détails",
)
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
        value = date.fromisoformat(raw)
    except ValueError:
        errors.append(f"Date de {which} invalide ignorée (format attendu : AAAA-MM-JJ).")
        return None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        errors.append(f"Date de {which} ignorée : le journal couvre les années {FIRST_YEAR} à {LAST_YEAR}.")
        return None
    return value


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


def csv_rows(query: sa.Select) -> Iterator[tuple]:
    """The rows of the CSV export, read from the database in batches (the seconds matter here)."""
    rows = db.session.execute(
        query.with_only_columns(
            AuditEntry.at, User.full_name, AuditEntry.user_id, AuditEntry.action,
            AuditEntry.object_type, AuditEntry.object_id, AuditEntry.participant_id,
            AuditEntry.ip, AuditEntry.details,
        )
        .outerjoin(User, User.id == AuditEntry.user_id)
        .execution_options(yield_per=CSV_CHUNK_ROWS)
    )
    for at, full_name, user_id, action, object_type, object_id, participant_id, ip, details in rows:
        yield (
            to_local(at).strftime("%d/%m/%Y %H:%M:%S"), full_name or "", user_id,
            action_label(action), action, object_type_label(object_type), object_id, participant_id, ip or "",
            details or "",
        )
