"""``flask stages scheduler`` and ``flask stages jobs list|run``."""
from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from stages.jobs.registry import JOBS
from stages.timeutil import fr_datetime


@click.command("scheduler")
@click.option("--run-now", multiple=True, type=click.Choice(sorted(JOBS)),
              help="Exécuter d'abord cette tâche (répétable).")
@with_appcontext
def scheduler_command(run_now) -> None:
    """Run the job scheduler in the foreground (one process per host)."""
    from stages.jobs.scheduler import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    click.echo(f"Planificateur démarré : {len(JOBS)} tâches (Ctrl+C pour arrêter).")
    run_forever(current_app._get_current_object(), list(run_now))


@click.group("jobs", cls=AppGroup)
def jobs_group() -> None:
    """Scheduled jobs."""


@jobs_group.command("list")
@with_appcontext
def jobs_list() -> None:
    """Each job with its schedule, its last run and its next run."""
    from stages.jobs.runner import last_runs, next_fire_time

    runs = last_runs()
    for job in JOBS.values():
        run = runs.get(job.name)
        last = f"{fr_datetime(run.started_at)} ({_outcome(run)})" if run else "jamais"
        click.echo(f"{job.name:<24} {job.schedule_label}")
        click.echo(f"{'':<24} dernière : {last}")
        click.echo(f"{'':<24} prochaine : {fr_datetime(next_fire_time(job))}")
        if run and run.error:
            click.echo(f"{'':<24} erreur : {run.error.strip().splitlines()[-1]}")


@jobs_group.command("run")
@click.argument("name", type=click.Choice(sorted(JOBS)))
@with_appcontext
def jobs_run(name: str) -> None:
    """Run one job now (a manual run has a slot of its own)."""
    from stages.jobs.runner import run_job

    run = run_job(name, manual=True)
    click.echo(f"{name} : {_outcome(run)} {run.counts_text}")
    if run.outcome == "failure":
        click.echo(run.error or "", err=True)
        raise SystemExit(1)


def _outcome(run) -> str:
    return {"success": "réussie", "failure": "échec", "running": "en cours"}[run.outcome]
