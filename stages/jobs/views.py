"""Admins see each scheduled job, its last runs and their errors, and the outbox of emails."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from stages.auth.permissions import Permission, authorize
from stages.jobs import tasks  # noqa: F401  (loads every area sending through the outbox: its kinds' labels)
from stages.jobs.registry import JOBS
from stages.jobs.runner import last_runs, next_fire_time, recent_runs
from stages.outbox import kind_label, latest_errors, outbox_counts

bp = Blueprint("jobs", __name__)


@bp.route("/admin/taches")
@login_required
def runs():
    """The job registry with next runs, the outbox's counts and errors, the latest runs."""
    authorize(Permission.ADMIN)
    latest = last_runs()
    jobs = [(job, latest.get(job.name), next_fire_time(job)) for job in JOBS.values()]
    return render_template(
        "jobs/runs.html", jobs=jobs, runs=recent_runs(50), outbox_counts=outbox_counts(),
        outbox_errors=latest_errors(), kind_label=kind_label,
    )
