"""National-scale data for benchmarks: ``flask stages generate --scale 1.0`` fills a database.

Scale 1.0 is the sizing of DOMAIN.md: 160 referring authorities, 40 associations, 400 venues,
2,000 staff accounts and 20,000 sessions over ten years of history plus a year ahead, with about
200,000 participants and measures, their enrollments, attendance marks, attestations, bilans and a
year of audit entries. The same seed and reference date give the same database.

How it stays realistic and fast:

- **The Paris cluster is the same at every scale** (the seed text's set-up: APCARS and the
  Fondation Scelles co-running a course every three weeks, on Thursdays, at the Préfecture and the
  MJD du 17e, for the Parquet, the Tribunal and the SPIP de Paris). The scale adds the rest of
  France around it: more jurisdictions, associations and venues, each with its own history. So the
  pages a benchmark opens for the Paris accounts show the same content at every scale, and any
  slowdown between scales is the database's size, not the page's content. Below scale 0.01 the
  Paris cluster keeps only the courses nearest the reference date.
- **Rows are inserted in bulk**, ``INSERT`` with many parameter sets per statement, in chunks of
  5,000, with ids computed here. The ORM's ``before_flush`` hook (``sync_bookings``) is bypassed,
  so the generator writes ``session_parts.venue_id``/``is_active`` and ``facilitator_bookings``
  itself, from a schedule that never books a venue or a facilitator twice at once: courses follow
  one another on "lanes" (a venue, or all of Paris) with at least a free day in between, and each
  lane has its own facilitators.
- **The state is what the application would have produced**: past courses held and closed with
  their marks and outcomes, attestations for complete attendance (rows only: the PDF is redrawn on
  download, ``sha256`` stays NULL), bilans sent, excused people rescheduled, cancelled courses,
  a backlog of referrals, and the retention rules applied (identities of people whose measures all
  closed more than three years ago are erased; the audit log keeps one year).

The modules import in one direction: ``plan`` (sizes, names, the benchmark's logins) and
``helpers`` (small functions) ← ``records`` (what the world is made of) and ``writer`` (bulk
inserts) ← one mixin per stage of the work: ``organizations`` (organizations, venues, accounts),
``sessions`` (the schedule, courses and their parts), ``enrollments`` (enrollments, attendance,
bilans), ``people`` (participants and measures), ``audit`` (attestations, audit log, retention)
← ``world`` (the state and the order of the work) ← ``entry`` (``generate`` and its checks).
The mixins call one another through ``self`` (a ``_World``). ``bench`` picks the objects a
benchmark opens in a generated database.
"""
from bench.generate.bench import BenchTargets, bench_api_token, bench_targets
from bench.generate.entry import (
    DatabaseNotEmpty,
    check_empty,
    database_is_empty,
    generate,
    tidy_database,
)
from bench.generate.plan import (
    BENCH_ACCOUNTS,
    BENCH_ADMIN,
    BENCH_FACILITATOR,
    BENCH_LIAISON,
    BENCH_ORGANIZER,
    BENCH_PASSWORD,
    Plan,
    Report,
    make_plan,
)

__all__ = [
    "BENCH_ACCOUNTS",
    "BENCH_ADMIN",
    "BENCH_FACILITATOR",
    "BENCH_LIAISON",
    "BENCH_ORGANIZER",
    "BENCH_PASSWORD",
    "BenchTargets",
    "bench_api_token",
    "DatabaseNotEmpty",
    "Plan",
    "Report",
    "bench_targets",
    "check_empty",
    "database_is_empty",
    "generate",
    "make_plan",
    "tidy_database",
]
