"""Benchmark: server time and SQL query count of the key pages, at two scales, in one run.

    make bench                                   # SQLite, scales 0.01 and 0.1 (< 15 minutes)
    .venv/bin/python -m bench.run --scale 1.0    # SQLite, scales 0.01 and 1.0
    .venv/bin/python -m bench.run --scale 1.0 --postgres postgresql+psycopg://postgres@127.0.0.1:5432
    .venv/bin/python -m bench.run --database sqlite:////path/to/generated.sqlite3   # measure only

For each scale it builds a fresh database (a SQLite file under bench/results/, or a PostgreSQL
database named ``stages_bench_<scale>``), runs the migrations and ``flask stages generate``. Then
it measures every page on both databases, in alternating batches of 5 requests, so that both
scales see the same machine (another process starting halfway through slows both, not one):
through the WSGI app in-process (one app instance per database, ``app.test_client()``, wall time
and thread CPU time of the call, SQL statements counted with a ``before_cursor_execute``
listener), then through gunicorn (one server per database, 2 sync workers on 127.0.0.1, plain
``http.client`` requests, wall time seen by the client). A trivial route added to these app
instances only (``/__bench_floor``, "ok") gives the framework floor of each mode. Writes
(attendance save, bulk enrollment) are undone between requests.

Prints a table per mode and writes ``bench/results/bench-<db>-<scale>.json``.
"""
from __future__ import annotations

import argparse
import faulthandler
import gc
import gzip
import http.client
import json
import logging
import math
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlencode

from bench.databases import drop_database, fresh_database

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FLOOR_URL = "/__bench_floor"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')

# Targets (the issue "Proof at national scale"), p95 server time at scale 1.0 on 2 cores.
HTML_TARGET, PDF_TARGET, WRITE_TARGET = 20.0, 50.0, 20.0
# Issue 13 item 9: the busiest feed built, and served again while its validator holds.
FEED_TARGET, CACHED_FEED_TARGET = 60.0, 5.0


@dataclass
class Page:
    """One thing to measure: who asks, how, and what answer is expected."""

    key: str
    label: str
    who: str | None  # "organizer", "liaison", "admin" or None (no login)
    method: str
    url: str
    expect: int = 200
    target_ms: float | None = None
    requests: int = 50
    data: dict | None = None
    extra: bool = False  # beyond the list: context, not a target
    # A term searched with the page's search form once, before the timed requests: the search
    # is POSTed and kept in the login session (names stay out of URLs, see stages.auth.search_terms).
    search: str | None = None
    headers: dict | None = None  # sent with every request of the page
    # A feed measured as built: its copy in the database is deleted after each request (outside
    # the timed window), so that the next one builds it again.
    uncached: bool = False


@dataclass
class Measure:
    key: str
    label: str
    requests: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    queries: int | None = None
    queries_max: int | None = None
    cpu_p50_ms: float | None = None  # in-process: CPU time of the request's thread
    cpu_p95_ms: float | None = None
    target_ms: float | None = None
    note: str = ""
    extra: bool = False


@dataclass
class Run:
    """The measures of one database (one scale) in one mode."""

    mode: str
    floor: Measure
    pages: list[Measure] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Entry point


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description="Benchmark des pages clés à deux échelles.")
    parser.add_argument("--scale", type=float, default=0.1, help="the large scale (default 0.1)")
    parser.add_argument("--small", type=float, default=0.01, help="the small scale (default 0.01)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--postgres", metavar="URL_PREFIX",
                        help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432 (else SQLite)")
    parser.add_argument("--database", metavar="URL",
                        help="measure this already generated database only (no ratio)")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per HTML page")
    parser.add_argument("--no-gunicorn", action="store_true", help="in-process only")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    parser.add_argument("--show", metavar="JSON", type=Path,
                        help="print the tables of an earlier run, measure nothing")
    parser.add_argument("--pages", metavar="KEY,KEY",
                        help="measure only these pages (and the floor), keys as in the JSON, "
                             "e.g. calendar_admin,ical_busiest")
    parser.add_argument("--gc-defaults", action="store_true",
                        help="CPython's garbage-collector defaults, not the workers' tuning")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 when a target (bench/verdicts.py) is missed")
    args = parser.parse_args(argv)
    if args.gc_defaults:
        # Read by create_app's config: gunicorn_app() below and the in-process apps skip
        # stages/gc_tuning.py, as wsgi.py does with STAGES_GC_TUNING=0.
        os.environ["STAGES_GC_TUNING"] = "0"
    if args.show:
        report = json.loads(args.show.read_text())
        _add_ratios(report, args)
        _print(report, args)
        return _verdicts(report, args)

    RESULTS.mkdir(parents=True, exist_ok=True)
    instance = Path(tempfile.mkdtemp(prefix="stages-bench-"))
    # Before the app is imported: keep the project's instance/ folder out of it.
    os.environ["STAGES_INSTANCE_DIR"] = str(instance)
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ["STAGES_MAIL_BACKEND"] = "file"
    logging.getLogger("alembic").setLevel(logging.WARNING)
    started = time.perf_counter()
    try:
        if args.database:
            scales = {"given": args.database}
        else:
            scales = {scale: None for scale in (args.small, args.scale)}
        report = {
            "benchmark": "pages",
            "run_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": _machine(),
            "database": "postgresql" if (args.postgres or "postgres" in str(args.database))
            else "sqlite",
            "seed": args.seed,
            "gc_tuning": not args.gc_defaults,
            "scales": {},
        }
        urls, generations = {}, {}
        for scale in scales:
            if args.database:
                urls[str(scale)], generations[str(scale)] = args.database, None
            else:
                urls[str(scale)], generations[str(scale)] = _prepare(scale, args.seed, args.postgres)
        print(f"\n=== Mesures ({', '.join(urls)}) ===", flush=True)
        load_before = os.getloadavg()[0]
        report["scales"] = _measure_databases(urls, args)
        # Other processes on the machine inflate wall times: keep the load with the figures.
        report["load_average_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
        for label, entry in report["scales"].items():
            entry["generation"] = generations[label]
        if args.postgres and not args.keep:
            for scale in scales:
                drop_database(args.postgres, _pg_name(scale))
        report["total_seconds"] = round(time.perf_counter() - started, 1)
        _add_ratios(report, args)
        _print(report, args)
        name = "given" if args.database else f"{args.scale:g}"
        path = RESULTS / f"bench-{report['database']}-{name}.json"
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        print(f"\nRésultats écrits dans {path.relative_to(ROOT)} "
              f"({report['total_seconds']:.0f} s en tout).")
        return _verdicts(report, args)
    finally:
        shutil.rmtree(instance, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Databases


def _pg_name(scale: float) -> str:
    return "stages_bench_" + f"{scale:g}".replace(".", "_").replace("-", "_")


def _prepare(scale: float, seed: int, postgres: str | None) -> tuple[str, dict]:
    """A fresh database at ``scale``: migrations, then ``flask stages generate`` (timed)."""
    if postgres:
        url = fresh_database(postgres, _pg_name(scale))
    else:
        path = RESULTS / f"bench-{scale:g}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    print(f"\n=== Échelle {scale} : génération dans {_safe_url(url)} ===", flush=True)
    env = _env(url)
    _flask(env, "db", "upgrade")
    started = time.perf_counter()
    output = _flask(env, "stages", "generate", "--scale", str(scale), "--seed", str(seed), "--yes")
    seconds = time.perf_counter() - started
    counts = {}
    for line in output.splitlines():
        match = re.match(r"\s+([a-z_ ]+?)\s+([\d\u202f]+)$", line)
        if match:
            counts[match.group(1)] = int(match.group(2).replace("\u202f", ""))
    print(f"Génération : {seconds:.1f} s (commande complète, démarrage compris).", flush=True)
    return url, {"seconds": round(seconds, 1), "rows": counts}


def _flask(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"flask {' '.join(args)} a échoué.")
    return result.stdout


def _env(url: str) -> dict:
    env = dict(os.environ)
    env.update(DATABASE_URL=url, FLASK_APP="wsgi", PYTHONUNBUFFERED="1")
    return env


def _safe_url(url: str) -> str:
    return re.sub(r"//([^:@/]+):[^@/]+@", r"//\1:***@", url)


# ---------------------------------------------------------------------------------------------
# The app under test


def bench_app(url: str | None = None, *, csrf: bool = True):
    """The application with the floor route added to this instance only (never in production)."""
    from flask import Blueprint

    from stages import create_app

    config = {"RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": csrf}
    if url:
        config["SQLALCHEMY_DATABASE_URI"] = url
    app = create_app(config)
    floor = Blueprint("bench_floor", __name__)

    @floor.route(FLOOR_URL)
    def _floor():
        return "ok"

    app.register_blueprint(floor)
    return app


def gunicorn_app():
    """``gunicorn 'bench.run:gunicorn_app()'``: the app as served, CSRF on, plus the floor."""
    faulthandler.enable()  # as wsgi.py does
    app = bench_app()
    _tune_gc(app)
    return app


def _tune_gc(app) -> None:
    """The garbage collector as wsgi.py sets it in a gunicorn worker (unless --gc-defaults)."""
    from stages.gc_tuning import tune_for_serving

    if app.config["GC_TUNING"]:
        tune_for_serving(app)


@dataclass
class _Database:
    """One database under test: its app instance, the objects to open, how to undo writes."""

    label: str
    url: str
    app: object
    targets: object
    undo: object
    pages: list[Page]
    engine: object
    entry: dict


def _measure_databases(urls: dict[str, str], args) -> dict:
    """Measure every page on every database, interleaved; returns the report's "scales"."""
    import sqlalchemy as sa

    from stages.extensions import db
    from bench.generate import bench_api_token, bench_targets

    databases = []
    for label, url in urls.items():
        app = bench_app(url, csrf=False)
        with app.app_context():
            targets = replace(bench_targets(), api_token=bench_api_token())
            context = _context(targets)
            context["server"] = _server_version()
            undo = _Undo(targets)
            engine = db.engine
            db.session.remove()
        entry = {"targets": _public_targets(targets), "context": context, "runs": {}}
        pages = _pages(targets, args.requests)
        if args.pages:
            keys = set(args.pages.split(","))
            unknown = keys - {page.key for page in pages}
            if unknown:
                raise SystemExit(f"Pages inconnues : {', '.join(sorted(unknown))}.")
            pages = [page for page in pages if page.key in keys]
        databases.append(_Database(label, url, app, targets, undo, pages, engine, entry))
    # In this process as in a gunicorn worker: the garbage collector tuned once the apps are
    # built (stages/gc_tuning.py).
    for database in databases:
        _tune_gc(database.app)
    counter = _QueryCounter()
    # No app context is held while measuring: each request pushes its own, with a fresh
    # database session, and tears it down, as in production.
    for database in databases:
        sa.event.listen(database.engine, "before_cursor_execute", counter.on_execute)
    try:
        runs = _run_inprocess(databases, counter)
    finally:
        for database in databases:
            sa.event.remove(database.engine, "before_cursor_execute", counter.on_execute)
    for database, run in zip(databases, runs):
        database.entry["runs"]["in-process"] = _run_dict(run)
    if not args.no_gunicorn:
        for database, run in zip(databases, _run_gunicorn(databases)):
            database.entry["runs"]["gunicorn"] = _run_dict(run)
    for database in databases:
        database.engine.dispose()
    return {database.label: database.entry for database in databases}


def _server_version() -> str:
    from stages.extensions import db

    engine = db.engine
    if engine.dialect.name == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    return "PostgreSQL " + ".".join(str(n) for n in engine.dialect.server_version_info)


def _context(targets) -> dict:
    """How much the Paris pages show, and how big the whole database is: to read the ratios."""
    import sqlalchemy as sa

    from stages.auth.models import User
    from stages.enrollment.models import LegalMeasure, Participant
    from stages.extensions import db
    from bench.generate import BENCH_LIAISON
    from stages.scheduling.models import Course

    liaison = db.session.scalar(sa.select(User).where(User.email == BENCH_LIAISON))
    scope = [org.id for org in liaison.organizations]
    key = targets.search_prefix
    return {
        "sessions": db.session.scalar(sa.select(sa.func.count(Course.id))),
        "participants": db.session.scalar(sa.select(sa.func.count(Participant.id))),
        "measures": db.session.scalar(sa.select(sa.func.count(LegalMeasure.id))),
        "liaison_scope_measures": db.session.scalar(
            sa.select(sa.func.count(LegalMeasure.id)).where(LegalMeasure.authority_id.in_(scope))
        ),
        "search_prefix_people_nationally": db.session.scalar(
            sa.select(sa.func.count(Participant.id)).where(
                Participant.search_key >= key, Participant.search_key < key + "\uffff")
        ),
    }


def _public_targets(targets) -> dict:
    data = asdict(targets)
    data["organizer_token"] = data["busiest_token"] = data["api_token"] = "…"
    data["certificate_code"] = "…"
    return data


def _pages(t, requests: int) -> list[Page]:
    few = max(10, requests // 2)
    course = f"/stages/{t.course_id}"
    attendance = f"{course}/presence/{t.part_id}"
    return [
        Page("calendar", "Calendrier du mois", "organizer", "GET", "/calendrier",
             target_ms=HTML_TARGET, requests=requests),
        Page("session", "Page du stage", "organizer", "GET", course,
             target_ms=HTML_TARGET, requests=requests),
        Page("roster_pdf", "Feuille d'émargement (PDF)", "organizer", "GET",
             f"{course}/emargement.pdf", target_ms=PDF_TARGET, requests=few),
        Page("attendance", "Page de présence", "organizer", "GET", attendance,
             target_ms=HTML_TARGET, requests=requests),
        Page("attendance_save", "Enregistrement de la présence", "organizer", "POST", attendance,
             expect=302, target_ms=WRITE_TARGET, requests=few),
        Page("participant", "Fiche de la personne", "organizer", "GET",
             f"/personnes/{t.participant_id}", target_ms=HTML_TARGET, requests=requests),
        Page("dashboard", "Tableau de bord référent (1re page)", "liaison", "GET",
             "/tableau-de-bord", target_ms=HTML_TARGET, requests=requests),
        Page("dashboard_search", f"Tableau de bord, recherche « {t.search_prefix} »", "liaison",
             "GET", "/tableau-de-bord?recherche=1", target_ms=HTML_TARGET,
             requests=requests, search=t.search_prefix),
        # The API (stages.api): a token, no login cookie; 50 measures a page, the default.
        Page("api_measures", "API : mesures du référent (1re page de 50)", None, "GET",
             "/api/v1/measures", target_ms=HTML_TARGET, requests=requests,
             headers={"Authorization": f"Bearer {t.api_token}"}),
        Page("ical", "Flux iCal complet (organisation), construit", None, "GET",
             f"/agenda/{t.organizer_token}/tous.ics", requests=few, uncached=True),
        Page("ical_cached", "Flux iCal complet, copie en base", None, "GET",
             f"/agenda/{t.organizer_token}/tous.ics", requests=requests),
        Page("ical_304", "Flux iCal complet, 304", None, "GET",
             f"/agenda/{t.organizer_token}/tous.ics", expect=304, requests=requests),
        Page("verification", "Vérification d'une attestation", None, "GET",
             f"/verification/{t.certificate_code}", target_ms=HTML_TARGET, requests=requests),
        Page("bulk_enroll", "Inscription groupée de 12 personnes", "organizer", "POST",
             f"/stages/{t.enroll_course_id}/inscrire", expect=302, requests=few,
             data={"measure": [str(i) for i in t.measure_ids]}),
        Page("calendar_admin", "Calendrier du mois, admin (toute la France)", "admin", "GET",
             "/calendrier", requests=requests, extra=True),
        Page("ical_busiest", "Flux iCal, association la plus chargée, construit", None, "GET",
             f"/agenda/{t.busiest_token}/tous.ics", target_ms=FEED_TARGET, requests=few,
             uncached=True),
        Page("ical_busiest_cached", "Flux iCal, association la plus chargée, copie en base",
             None, "GET", f"/agenda/{t.busiest_token}/tous.ics", target_ms=CACHED_FEED_TARGET,
             requests=requests),
        Page("ical_busiest_gzip", "Flux iCal, la plus chargée, copie en base, gzip", None,
             "GET", f"/agenda/{t.busiest_token}/tous.ics", requests=requests, extra=True,
             headers={"Accept-Encoding": "gzip"}),
    ]


class _QueryCounter:
    def __init__(self):
        self.count = 0

    def on_execute(self, *_args):
        self.count += 1


class _Undo:
    """Put the database back after a write, outside the timed window."""

    def __init__(self, targets):
        import sqlalchemy as sa

        from stages.enrollment.statuses import SEAT_HOLDING_STATUSES
        from stages.enrollment.models import Enrollment, LegalMeasure
        from stages.extensions import db
        from stages.scheduling.models import Course

        self.targets = targets
        self.engine = db.engine
        self.measures = db.session.execute(
            sa.select(LegalMeasure.id, LegalMeasure.status, LegalMeasure.status_changed_at)
            .where(LegalMeasure.id.in_(targets.measure_ids))
        ).all()
        self.seats = db.session.scalar(
            sa.select(Course.seats_taken).where(Course.id == targets.enroll_course_id)
        )
        self.expected = list(db.session.scalars(
            sa.select(Enrollment.id).where(
                Enrollment.course_id == targets.course_id,
                Enrollment.status.in_(SEAT_HOLDING_STATUSES),
            ).order_by(Enrollment.id)
        ))
        self.toggle = 0
        db.session.remove()

    def forget_feeds(self) -> None:
        """Delete the feeds' copies kept in the database: the next request builds its feed."""
        import sqlalchemy as sa

        from stages.calendar_feeds.models import CachedFeed

        with self.engine.begin() as conn:
            conn.execute(sa.delete(CachedFeed))

    def attendance_form(self) -> dict:
        """Everyone present, then everyone absent: each save changes every mark."""
        self.toggle += 1
        status = "present" if self.toggle % 2 else "absent"
        form = {f"status-{e}": status for e in self.expected}
        form["reason"] = "Mesure de performance"
        return form

    def bulk_enrollment(self) -> None:
        import sqlalchemy as sa

        from stages.enrollment.models import Enrollment, EnrollmentEvent, LegalMeasure
        from stages.scheduling.models import Course

        t = self.targets
        mine = sa.select(Enrollment.id).where(
            Enrollment.course_id == t.enroll_course_id, Enrollment.measure_id.in_(t.measure_ids)
        )
        with self.engine.begin() as conn:
            conn.execute(sa.delete(EnrollmentEvent).where(EnrollmentEvent.enrollment_id.in_(mine)))
            conn.execute(sa.delete(Enrollment).where(Enrollment.id.in_(mine)))
            for measure_id, status, changed in self.measures:
                conn.execute(sa.update(LegalMeasure).where(LegalMeasure.id == measure_id)
                             .values(status=status, status_changed_at=changed))
            conn.execute(sa.update(Course).where(Course.id == t.enroll_course_id)
                         .values(seats_taken=self.seats))


# ---------------------------------------------------------------------------------------------
# Measuring


def _stats(key, label, times: list[float], cpu: list[float] | None = None, **extra) -> Measure:
    ordered = sorted(times)
    if cpu:
        extra["cpu_p50_ms"] = round(_percentile(sorted(cpu), 0.50), 2)
        extra["cpu_p95_ms"] = round(_percentile(sorted(cpu), 0.95), 2)
    return Measure(
        key=key, label=label, requests=len(times),
        p50_ms=round(_percentile(ordered, 0.50), 2), p95_ms=round(_percentile(ordered, 0.95), 2),
        mean_ms=round(statistics.fmean(ordered), 2), **extra,
    )


def _percentile(ordered: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` of the samples at or below it."""
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def _warmups(page: Page) -> int:
    return 2 if page.requests < 30 else 5


BATCH = 5  # requests in a row on one database before switching to the other


def _measure_interleaved(pages: list[Page], calls: list, headers: list) -> list[Measure]:
    """The same page on each database, in alternating batches; one Measure per database."""
    for page, call, sent in zip(pages, calls, headers):
        for _ in range(_warmups(page)):
            call(page, sent)
    gc.collect()  # start each page with the same heap, not the previous page's garbage
    samples = [([], [], [], [""]) for _ in pages]
    done, total, turn = 0, pages[0].requests, 0
    while done < total:
        count = min(BATCH, total - done)
        order = list(range(len(pages)))
        if turn % 2:
            order.reverse()  # neither database always goes first
        for index in order:
            page, call, sent = pages[index], calls[index], headers[index]
            times, queries, cpu, note = samples[index]
            for _ in range(count):
                elapsed, queried, _response, body, thread_cpu = call(page, sent)
                times.append(elapsed)
                queries.append(queried)
                if thread_cpu is not None:
                    cpu.append(thread_cpu)
                if page.key.startswith("ical") and page.expect == 200:
                    if body[:2] == b"\x1f\x8b":  # sent gzipped
                        body = gzip.decompress(body)
                    note[0] = f"{body.count(b'BEGIN:VEVENT')} demi-journées dans le flux"
        done += count
        turn += 1
    measures = []
    for page, (times, queries, cpu, note) in zip(pages, samples):
        counted = queries[0] is not None
        measures.append(_stats(
            page.key, page.label, times, cpu,
            queries=min(queries) if counted else None,
            queries_max=max(queries) if counted else None,
            target_ms=page.target_ms, note=note[0], extra=page.extra,
        ))
    return measures


def _why(html: str) -> str:
    """The page's alerts (error flash, form errors), to say why a request was refused."""
    alerts = [re.sub(r"<[^>]+>|\s+", " ", block).strip()[:200]
              for block in re.findall(r'role="alert"[^>]*>(.*?)</div>', html, re.S)]
    return f" : {' / '.join(a for a in alerts if a)}" if any(alerts) else ""


def _floor_page() -> Page:
    return Page("floor", "Plancher : route triviale", "organizer", "GET", FLOOR_URL, requests=200)


def _run_all(databases: list[_Database], calls: list, mode: str, etag_of) -> list[Run]:
    """The floor, then each page, on every database; prints each line as it comes."""
    floors = _measure_interleaved([_floor_page()] * len(databases), calls, [None] * len(databases))
    runs = [Run(mode, floor) for floor in floors]
    for database, floor in zip(databases, floors):
        print(f"  [{mode} {database.label}] {_line(floor)}", flush=True)
    for index in range(len(databases[0].pages)):
        pages = [database.pages[index] for database in databases]
        headers = []
        for page, call in zip(pages, calls):
            if page.key == "ical_304":
                headers.append({"If-None-Match": etag_of(call(replace(page, expect=200), None))})
            else:
                headers.append(None)
        for database, run, measure in zip(databases, runs,
                                          _measure_interleaved(pages, calls, headers)):
            run.pages.append(measure)
            print(f"  [{mode} {database.label}] {_line(measure)}", flush=True)
    return runs


def _run_inprocess(databases: list[_Database], counter: _QueryCounter) -> list[Run]:
    """Through ``app.test_client()``: wall and CPU time of each call, the SQL it sent."""
    from bench.generate import BENCH_ADMIN, BENCH_LIAISON, BENCH_ORGANIZER, BENCH_PASSWORD

    calls = []
    for database in databases:
        app, undo = database.app, database.undo
        clients = {None: app.test_client()}
        for who, email in (("organizer", BENCH_ORGANIZER), ("liaison", BENCH_LIAISON),
                           ("admin", BENCH_ADMIN)):
            client = app.test_client()
            response = client.post("/connexion", data={"email": email, "password": BENCH_PASSWORD})
            if response.status_code != 302:
                raise SystemExit(f"Connexion refusée pour {email} ({response.status_code}).")
            clients[who] = client
        for page in database.pages:
            if page.search is not None:
                path = page.url.split("?", 1)[0]
                response = clients[page.who].post(path, data={"q": page.search, "recherche": "1"})
                if response.status_code != 302:
                    raise SystemExit(f"{page.label} : la recherche a répondu {response.status_code}.")

        def call(page: Page, headers=None, clients=clients, undo=undo):
            data = undo.attendance_form() if page.key == "attendance_save" else page.data
            counter.count = 0
            cpu_started = time.thread_time()
            started = time.perf_counter()
            response = clients[page.who].open(page.url, method=page.method, data=data,
                                              headers={**(page.headers or {}), **(headers or {})})
            body = response.get_data()
            elapsed = (time.perf_counter() - started) * 1000
            cpu = (time.thread_time() - cpu_started) * 1000
            queries = counter.count
            response.close()
            if page.uncached:
                undo.forget_feeds()
            if response.status_code != page.expect:
                raise SystemExit(f"{page.label} : {page.method} {page.url} a répondu "
                                 f"{response.status_code} au lieu de {page.expect}"
                                 f"{_why(body.decode(errors='replace'))}.")
            if page.key == "bulk_enroll":
                undo.bulk_enrollment()
            return elapsed, queries, response.headers, body, cpu

        calls.append(call)
    return _run_all(databases, calls, "in-process", lambda result: result[2]["ETag"])


# --- gunicorn -------------------------------------------------------------------------------


class _HttpClient:
    """Just enough HTTP for the benchmark: cookies, forms, no redirect following."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | None = None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data, doseq=True)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        content = response.read()
        for header in response.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if value and "Max-Age=0" not in header and "1970" not in header:
                self.cookies[name.strip()] = value
            else:
                self.cookies.pop(name.strip(), None)
        connection.close()
        return response.status, response.headers, content


def _csrf(content: bytes) -> str:
    match = CSRF_FIELD.search(content.decode("utf-8", "replace"))
    if not match:
        raise SystemExit("Jeton CSRF introuvable dans le formulaire.")
    return match.group(1) or match.group(2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run_gunicorn(databases: list[_Database]) -> list[Run]:
    """Through gunicorn, one server per database (2 sync workers each, loopback only)."""
    from bench.generate import BENCH_ADMIN, BENCH_LIAISON, BENCH_ORGANIZER, BENCH_PASSWORD

    gunicorn = Path(sys.executable).with_name("gunicorn")
    processes = []
    try:
        calls = []
        for database in databases:
            port = _free_port()
            processes.append(subprocess.Popen(
                [str(gunicorn), "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
                 "--timeout", "120", "bench.run:gunicorn_app()"],
                cwd=ROOT, env=_env(database.url),
            ))
            _wait_until_up(port, processes[-1])
            clients = {None: _HttpClient(port)}
            for who, email in (("organizer", BENCH_ORGANIZER), ("liaison", BENCH_LIAISON),
                               ("admin", BENCH_ADMIN)):
                client = _HttpClient(port)
                _status, _headers, content = client.request("GET", "/connexion")
                status, _headers, _content = client.request(
                    "POST", "/connexion",
                    data={"email": email, "password": BENCH_PASSWORD, "csrf_token": _csrf(content)},
                )
                if status != 302:
                    raise SystemExit(f"Connexion refusée pour {email} ({status}).")
                clients[who] = client
            # One token per login session serves every form of that session.
            attendance = f"/stages/{database.targets.course_id}/presence/{database.targets.part_id}"
            _status, _headers, content = clients["organizer"].request("GET", attendance)
            token = _csrf(content)
            for page in database.pages:
                if page.search is not None:
                    status, _headers, _content = clients[page.who].request(
                        "POST", page.url.split("?", 1)[0],
                        data={"q": page.search, "recherche": "1", "csrf_token": _csrf(
                            clients[page.who].request("GET", page.url.split("?", 1)[0])[2])},
                    )
                    if status != 302:
                        raise SystemExit(f"gunicorn — {page.label} : la recherche a répondu {status}.")

            def call(page: Page, headers=None, clients=clients, undo=database.undo, token=token):
                data = undo.attendance_form() if page.key == "attendance_save" else page.data
                if page.method == "POST":
                    data = {**(data or {}), "csrf_token": token}
                started = time.perf_counter()
                status, response_headers, body = clients[page.who].request(
                    page.method, page.url, data=data,
                    headers={**(page.headers or {}), **(headers or {})})
                elapsed = (time.perf_counter() - started) * 1000
                if page.uncached:
                    undo.forget_feeds()
                if status != page.expect:
                    raise SystemExit(f"gunicorn — {page.label} : {page.method} {page.url} a "
                                     f"répondu {status} au lieu de {page.expect}.")
                if page.key == "bulk_enroll":
                    undo.bulk_enrollment()
                return elapsed, None, response_headers, body, None

            calls.append(call)
        return _run_all(databases, calls, "gunicorn", lambda result: result[2]["ETag"])
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn s'est arrêté au démarrage.")
        try:
            status, _h, _c = _HttpClient(port).request("GET", FLOOR_URL)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn n'a pas répondu en 90 s.")


# ---------------------------------------------------------------------------------------------
# Reporting


def _run_dict(run: Run) -> dict:
    return {"floor": asdict(run.floor), "pages": [asdict(m) for m in run.pages]}


def _add_ratios(report: dict, args) -> None:
    """Each page's p95 over the floor's p95, and the large scale's times over the small one's."""
    scales = list(report["scales"])
    for scale in scales:
        for run in report["scales"][scale]["runs"].values():
            floor = run["floor"]["p95_ms"]
            for page in run["pages"]:
                page["ratio_floor"] = round(page["p95_ms"] / floor, 1) if floor else None
                target = page["target_ms"]
                page["meets_target"] = None if target is None else page["p95_ms"] <= target
    if len(scales) != 2:
        return
    small, large = (report["scales"][s]["runs"] for s in scales)
    for mode, run in large.items():
        before = {page["key"]: page for page in small.get(mode, {}).get("pages", [])}
        for page in run["pages"]:
            old = before.get(page["key"])
            if old:
                page["ratio_scale_p95"] = round(page["p95_ms"] / old["p95_ms"], 2)
                page["ratio_scale_p50"] = round(page["p50_ms"] / old["p50_ms"], 2)
                if page.get("cpu_p50_ms") and old.get("cpu_p50_ms"):
                    page["ratio_scale_cpu"] = round(page["cpu_p50_ms"] / old["cpu_p50_ms"], 2)
                page["queries_small_scale"] = old["queries"]


def _line(m: Measure) -> str:
    queries = "" if m.queries is None else f"  {m.queries:>3} requêtes SQL"
    return f"  {m.label:<46} p50 {m.p50_ms:8.2f} ms  p95 {m.p95_ms:8.2f} ms{queries}"


def _print(report: dict, args) -> None:
    scales = list(report["scales"])
    large = scales[-1]
    entry = report["scales"][large]
    print(f"\nBase : {report['database']} — échelle {large}"
          + (f" comparée à {scales[0]}" if len(scales) == 2 else "")
          + f" — {report['machine']['cpus']} cœurs, Python {report['machine']['python']}")
    print(f"Contenu : {entry['context']}")
    for mode, run in entry["runs"].items():
        floor = run["floor"]
        print(f"\n[{mode}] plancher (route triviale) : p50 {floor['p50_ms']:.2f} ms, "
              f"p95 {floor['p95_ms']:.2f} ms — charge de la machine (1 min) : "
              f"{report.get('load_average_1min', entry.get('load_average_1min'))}")
        print(markdown_table(run, scales[0] if len(scales) == 2 else "—"))


def markdown_table(run: dict, small: str) -> str:
    """The table of one run, in Markdown (what bench/README.md shows).

    In-process runs add the CPU time of the request's thread (p50): unlike wall time, it does not
    count the time spent waiting for a core that other processes hold.
    """
    cpu = any(page.get("cpu_p50_ms") is not None for page in run["pages"])
    head = (f"| page | SQL | p50 ms | p95 ms |{' CPU p50 ms | CPU p95 ms |' if cpu else ''} "
            f"p95 / plancher | p95 ÷ p95 à {small} |{f' CPU ÷ CPU à {small} |' if cpu else ''} "
            f"cible p95 |\n"
            f"|---|---:|---:|---:|{'---:|---:|' if cpu else ''}---:|---:|{'---:|' if cpu else ''}---|")
    rows = []
    for page in run["pages"]:
        queries = "—" if page["queries"] is None else str(page["queries"])
        if page["queries_max"] not in (None, page["queries"]):
            queries += f"–{page['queries_max']}"
        small_queries = page.get("queries_small_scale")
        if small_queries is not None and small_queries != page["queries"]:
            queries += f" (≠ {small_queries} à {small})"  # the query-count test would fail
        ratio = page.get("ratio_scale_p95")
        target = page["target_ms"]
        verdict = "—" if target is None else f"{target:g} ms " + ("✓" if page["meets_target"] else "✗")
        label = page["label"] + (" *" if page["extra"] else "")
        if page["note"]:
            label += f" ({page['note']})"
        cpu95 = page.get("cpu_p95_ms")  # absent from the JSON of earlier runs
        cpu_cell = (f" {page['cpu_p50_ms']:.1f} | {'—' if cpu95 is None else f'{cpu95:.1f}'} |"
                    if cpu else "")
        cpu_ratio = page.get("ratio_scale_cpu")
        cpu_ratio_cell = (f" {'—' if cpu_ratio is None else f'{cpu_ratio:.2f}'} |" if cpu else "")
        rows.append(
            f"| {label} | {queries} | {page['p50_ms']:.1f} | {page['p95_ms']:.1f} |{cpu_cell} "
            f"{page['ratio_floor']:.0f}× | {'—' if ratio is None else f'{ratio:.2f}'} |"
            f"{cpu_ratio_cell} {verdict} |"
        )
    return "\n".join([head, *rows])


def _verdicts(report: dict, args) -> dict:
    """Print the targets' PASS/FAIL lines; with ``--check``, exit with status 1 on a FAIL."""
    from bench.verdicts import verdict_text

    text, passed = verdict_text(report)
    print(f"\nObjectifs (issue 13, point 9)\n{text}")
    if args.check and not passed:
        raise SystemExit(1)
    return report


def _machine() -> dict:
    import sqlalchemy

    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlalchemy": sqlalchemy.__version__,
    }


if __name__ == "__main__":
    main()
