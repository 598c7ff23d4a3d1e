"""Running a scheduled job exactly once per time slot, across hosts, and recording the run.

Before working, a run claims its (job, slot) pair: a row in ``job_runs`` under a unique
constraint. A second scheduler — on another host — that tries the same slot gets a unique
violation and skips. Jobs only process what is still due (``reminder_sent_at IS NULL``…), so a
missed or failed slot is caught up by the next one.
"""
from __future__ import annotations

import json
import logging
import socket
import traceback
from datetime import datetime, timedelta

import sqlalchemy as sa

from stages.extensions import db
from stages.jobs.models import JobRun
from stages.jobs.registry import JOBS, Job
from stages.timeutil import UTC, local_zone, now_utc

log = logging.getLogger(__name__)


def slot_for(job: Job, moment: datetime) -> datetime:
    """The slot ``moment`` falls in: the local day for daily jobs, the hour for hourly ones."""
    if job.period == "hourly":
        return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    local = moment.astimezone(local_zone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def claim(job: Job, slot: datetime) -> JobRun | None:
    """Insert the run's row and commit; None if another process already holds the slot."""
    run = JobRun(job=job.name, slot=slot, host=socket.gethostname()[:120])
    db.session.add(run)
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        return None
    return run


def run_job(name: str, *, manual: bool = False, at: datetime | None = None) -> JobRun | None:
    """Run job ``name`` for its current slot (a manual run gets a slot of its own).

    Returns the recorded run, or None when the slot was already claimed elsewhere. A failure
    is recorded with its error and does not propagate: the other jobs keep running.
    """
    job = JOBS[name]
    moment = at or now_utc()
    slot = moment if manual else slot_for(job, moment)
    run = claim(job, slot)
    if run is None:
        log.info("job %s: slot %s already claimed, skipped", name, slot.isoformat())
        return None
    run_id = run.id
    try:
        counts = job.func() or {}
    except Exception:  # noqa: BLE001 - a job's failure is recorded, never fatal
        db.session.rollback()
        error = traceback.format_exc(limit=8)
        log.error("job %s failed", name)
        _finish(run_id, "failure", {}, error[-4000:])
    else:
        failed = counts.pop("_error", None) if isinstance(counts, dict) else None
        _finish(run_id, "failure" if failed else "success", counts, failed)
    return db.session.get(JobRun, run_id)


def _finish(run_id: int, outcome: str, counts: dict, error: str | None) -> None:
    run = db.session.get(JobRun, run_id)
    run.finished_at = now_utc()
    run.outcome = outcome
    run.counts = json.dumps(counts, ensure_ascii=False)[:500] if counts else None
    run.error = error
    db.session.commit()


def last_runs() -> dict[str, JobRun]:
    """The latest run of each job, in one query."""
    latest = (
        sa.select(JobRun.job, sa.func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    )
    runs = db.session.scalars(sa.select(JobRun).join(latest, JobRun.id == latest.c.id))
    return {run.job: run for run in runs}


def next_fire_time(job: Job, after: datetime | None = None) -> datetime | None:
    """When the scheduler will next run ``job``."""
    moment = after or now_utc()
    return job.trigger().get_next_fire_time(None, moment.astimezone(local_zone()))


def recent_runs(limit: int = 50) -> list[JobRun]:
    """The latest runs of all jobs, newest first."""
    return list(db.session.scalars(sa.select(JobRun).order_by(JobRun.id.desc()).limit(limit)))


def prune_runs(keep_days: int = 90) -> int:
    """Forget run records older than ``keep_days``."""
    result = db.session.execute(
        sa.delete(JobRun).where(JobRun.started_at < now_utc() - timedelta(days=keep_days))
    )
    return result.rowcount
