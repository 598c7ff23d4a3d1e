"""The scheduler process: APScheduler 3 in the foreground, one per host.

Web workers never start it. Every host may run one: the slot claims in ``job_runs`` make
each run happen once.
"""
from __future__ import annotations

import logging

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from stages.jobs.registry import JOBS, TIMEZONE
from stages.jobs.runner import run_job

log = logging.getLogger(__name__)

# A run missed by less than six hours (host asleep, restart) still happens; several missed
# runs of one job coalesce into one, which catches up everything still due.
MISFIRE_GRACE_SECONDS = 6 * 3600


def build_scheduler(app: Flask) -> BlockingScheduler:
    """A scheduler with every registered job, each run inside an app context."""
    scheduler = BlockingScheduler(
        timezone=TIMEZONE,
        job_defaults={
            "coalesce": True,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
            "max_instances": 1,
        },
    )
    for job in JOBS.values():
        scheduler.add_job(
            _run_in_context, job.trigger(), args=[app, job.name], id=job.name, name=job.description,
        )
    return scheduler


def _run_in_context(app: Flask, name: str) -> None:
    with app.app_context():
        run = run_job(name)
        if run is not None:
            log.info("job %s: %s %s", name, run.outcome, run.counts_text)


def run_forever(app: Flask, run_now: list[str] | None = None) -> None:
    """Start the scheduler (blocks). ``run_now`` jobs run once at start-up first."""
    scheduler = build_scheduler(app)
    for name in run_now or []:
        _run_in_context(app, name)
    log.info("scheduler started with %d jobs", len(JOBS))
    scheduler.start()
