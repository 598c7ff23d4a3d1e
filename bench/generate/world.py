"""The world being generated: its state, and the order in which its parts are written."""
from __future__ import annotations

import math
import random
from datetime import date, time, timedelta

from stages.demo import SURNAMES
from stages.extensions import db
from bench.generate.audit import _Audit
from bench.generate.enrollments import _Enrollments
from bench.generate.helpers import _holidays
from bench.generate.organizations import _Organizations
from bench.generate.people import _People
from bench.generate.plan import (
    AHEAD_DAYS,
    AUDIT_DAYS,
    HISTORY_DAYS,
    MORE_SURNAMES,
    PARIS_BACKLOG,
    PARIS_SHARE,
    RETENTION_DAYS,
    Plan,
)
from bench.generate.records import _Cluster
from bench.generate.courses import _Courses
from bench.generate.writer import _Writer
from stages.timeutil import local_to_utc
from stages.enrollment.ledger.services import open_accounts_in_bulk


# ---------------------------------------------------------------------------------------------
# The world


class _World(_Organizations, _Courses, _Enrollments, _People, _Audit):
    """The generator's state: the plan, the seeded streams, the writer and what is known so far.

    Its methods come from one mixin per stage of the work (``organizations``, ``sessions``,
    ``enrollments``, ``people``, ``audit``); they share this state through ``self``.
    """

    def __init__(self, plan: Plan, seed: int, today: date, writer: _Writer, progress):
        self.plan, self.seed, self.today, self.w, self.progress = plan, seed, today, writer, progress
        self.now = local_to_utc(today, time(12, 0))
        self.window = (today - timedelta(days=HISTORY_DAYS), today + timedelta(days=AHEAD_DAYS))
        self.retention_cutoff = self.now - timedelta(days=RETENTION_DAYS)
        self.audit_from = self.now - timedelta(days=AUDIT_DAYS)
        self.holidays = _holidays(self.window[0].year, self.window[1].year)
        self.rng = random.Random(f"{seed}:world")
        self.certificates: list[dict] = []
        self.hashes = self._password_hashes()
        self.names = SURNAMES + MORE_SURNAMES
        self.emails: set[str] = set()
        self.staff = 0

    # --- Orchestration ---------------------------------------------------------------------

    def build(self) -> None:
        paris = self._paris_cluster()
        others = self._other_clusters()
        self._admins()
        self._liaisons([paris, *others])
        clusters = [paris, *others]
        self._share_courses(paris, others)
        for cluster in clusters:
            self._write_cluster(cluster)
        self._write_certificates()
        self.w.flush()
        # Each generated fee in the ledger (a charge; « Payé » a payment carried over).
        self.w.counts["ledger entries"] += open_accounts_in_bulk()
        self._apply_retention()
        self.w.fix_sequences()
        db.session.flush()

    def _share_courses(self, paris: _Cluster, others: list[_Cluster]) -> None:
        total = self.plan.courses
        paris.courses = min(len(self._paris_days()), math.floor(total * PARIS_SHARE))
        rest = total - paris.courses
        # Big cities first, with a long tail: weight 1/rank^0.7.
        weights = [1 / (rank + 1) ** 0.7 for rank in range(len(others))]
        for cluster, weight in zip(others, weights):
            cluster.courses = round(rest * weight / sum(weights))
        for cluster in [paris, *others]:
            # Referrals waiting for a date: two for each course of the next five months.
            per_month = cluster.courses / ((HISTORY_DAYS + AHEAD_DAYS) / 30.4)
            cluster.backlog = PARIS_BACKLOG if cluster is paris else max(2, round(per_month * 5 * 2))
