"""The entry points: refuse a database in use, ``generate``, and tidy up after the commit."""
from __future__ import annotations

import time as clock
from datetime import date

import sqlalchemy as sa

from stages.errors import DomainError
from stages.extensions import db
from bench.generate.plan import Report, make_plan
from bench.generate.world import _World
from bench.generate.writer import _Writer
from stages.timeutil import today_local


# ---------------------------------------------------------------------------------------------
# Entry points


class DatabaseNotEmpty(DomainError):
    """The generator only fills an empty database."""


def database_is_empty() -> bool:
    """No organization, venue, session nor participant yet (accounts alone are allowed)."""
    from stages.enrollment.models import Participant
    from stages.scheduling.models import Course, Venue
    from stages.auth.models import Organization

    return not any(
        db.session.scalar(sa.select(sa.exists().where(model.id.is_not(None))))
        for model in (Organization, Venue, Course, Participant)
    )


def check_empty() -> None:
    """Refuse, in French, to add national-scale data to a database already in use."""
    if not database_is_empty():
        raise DatabaseNotEmpty(
            "La base de données contient déjà des organisations, des lieux, des stages ou des "
            "personnes : le générateur ne remplit qu'une base vide (créez-en une nouvelle, puis "
            "« flask db upgrade »)."
        )


def generate(
    scale: float, seed: int = 2026, today: date | None = None, progress=None
) -> Report:
    """Fill an empty database with ``scale`` × the national sizing; the caller commits.

    ``today`` is the reference date (local, Europe/Paris): past and future are counted from it, so
    the same seed and date give the same rows. ``progress(n)`` is called as sessions are written.
    """
    started = clock.perf_counter()
    plan = make_plan(scale)
    check_empty()
    report = Report(plan, seed, today or today_local())
    world = _World(plan, seed, report.today, _Writer(), progress or (lambda n: None))
    world.build()
    report.counts = world.w.counts
    report.seconds = clock.perf_counter() - started
    return report


def tidy_database() -> None:
    """After the commit: what a database in service would have done long ago by itself.

    PostgreSQL: VACUUM ANALYZE (autovacuum's work), so the planner has statistics and the
    retention UPDATE leaves no dead rows behind. SQLite: checkpoint the WAL, so readers do not
    look pages up in a write-ahead log as big as the database.
    """
    engine = db.engine
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("VACUUM ANALYZE")
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
