"""Claims that make each scheduled run happen once across hosts, and the record of each run."""
from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from stages.extensions import db
from stages.timeutil import now_utc


class JobRun(db.Model):
    """One run of a scheduled job. The unique (job, slot) pair is the exactly-once claim."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(sa.String(60))
    # The scheduled time slot this run stands for (UTC), e.g. the day of a daily job.
    slot: Mapped[datetime]
    host: Mapped[str | None] = mapped_column(sa.String(120))
    started_at: Mapped[datetime] = mapped_column(default=now_utc)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(sa.String(20), default="running")
    counts: Mapped[str | None] = mapped_column(sa.String(500))
    error: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.UniqueConstraint("job", "slot"),
        sa.CheckConstraint("outcome IN ('running', 'success', 'failure')", name="outcome_values"),
        sa.Index("ix_job_runs_job_started_at", "job", "started_at"),
    )

    @property
    def counts_text(self) -> str:
        """« rappels envoyés : 3, rappels non envoyés : 0 »."""
        if not self.counts:
            return ""
        return ", ".join(f"{key} : {value}" for key, value in json.loads(self.counts).items())
