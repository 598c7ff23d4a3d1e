"""The scheduled jobs: thin wrappers that call a domain function and commit.

Each returns its counts (shown in ``flask stages jobs list`` and on the admin page). A job
that could not do part of its work returns ``_error`` so the run is marked failed.
"""
from __future__ import annotations

from flask import current_app

from stages.extensions import db
from stages.timeutil import now_utc, today_local


def course_status() -> dict:
    """Scheduled sessions whose last half-day is over become « tenu »."""
    from stages.scheduling.services import mark_finished_courses_held

    count = mark_finished_courses_held()
    db.session.commit()
    return {"stages passés à « tenu »": count}


def convocation_reminders() -> dict:
    """Reminders 7 days and 1 day before the session."""
    from stages.enrollment.convocation.reminders import send_reminders

    counts = send_reminders(now_utc())
    return _with_error(counts, "rappels non envoyés")


def deadline_alerts() -> dict:
    """The daily digest of deadlines close or passed."""
    from stages.enrollment.deadline_digest import send_deadline_digests

    return _with_error(send_deadline_digests(today_local()), "échecs")


def closing_reminders() -> dict:
    """Remind organizers to close held sessions and send their bilans."""
    from stages.reports.closing_reminders import send_closing_reminders

    return _with_error(send_closing_reminders(), "échecs")


def retention_purge() -> dict:
    """Anonymize what passed its retention period; delete old audit entries."""
    from stages.privacy.retention import purge
    from stages.jobs.runner import prune_runs

    config = current_app.config
    counts = purge(now_utc(), config["RETENTION_MEASURE_DAYS"], config["RETENTION_AUDIT_DAYS"])
    counts["exécutions de tâches oubliées"] = prune_runs()
    db.session.commit()
    return counts


def _with_error(counts: dict, failures_key: str) -> dict:
    if counts.get(failures_key):
        counts["_error"] = f"{counts[failures_key]} envoi(s) refusé(s) : ils seront retentés au prochain passage."
    return counts
