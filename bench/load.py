"""Load test: N concurrent users against gunicorn on PostgreSQL, on loopback, for a bounded time.

    .venv/bin/python -m bench.load                     # 50 users, 60 s (make load)
    .venv/bin/python -m bench.load --users 10 --seconds 15 \
        --database postgresql+psycopg://postgres@127.0.0.1:5432

1. Creates a fresh PostgreSQL database ``stages_load_<pid>`` (dropped at the end), runs the
   migrations, loads the demo data (``load_demo``) and adds a load scenario with the app's own
   models and services: staff accounts (half organizers of APCARS, half facilitators), two
   sessions held TODAY (two half-days each, 16 people expected) that every load account may
   record attendance for, four scheduled sessions with exactly two seats left, and waiting
   measures handled by APCARS.
2. Starts ``gunicorn -w 4`` (sync workers, one thread each, as deployed; ``--threads 4`` runs
   the threaded workers instead) on a free port of 127.0.0.1. Everyone logs in
   from 127.0.0.1, so the per-IP login rate limit is raised for this server only
   (``STAGES_LOGIN_RATE_LIMIT``); production keeps its default.
3. Each user thread (standard library only: ``http.client``, one keep-alive connection and a
   cookie jar per user) logs in (GET the form for its CSRF token, POST), waits for the others,
   then loops for the duration over a weighted mix: browsing, attendance saves (GET the sheet,
   POST a random status for every expected person, follow the redirect and read the number of
   changes the server reports) and, for organizers, enrollments of random waiting measures into
   the nearly-full sessions. Every request's latency and status is recorded. Nothing but
   127.0.0.1 is ever contacted; the run stops by itself.
4. Stops gunicorn and checks the database (see ``check_database``): server errors, overbooked
   sessions, seat counters, lost attendance marks, lost or doubled enrollments.
5. Prints a summary, writes ``bench/results/load.json`` and exits 1 when any server error,
   overbooking or lost mark (or lost enrollment / seat mismatch) was found.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from html import unescape
from urllib.parse import urlencode, urlsplit

from bench.databases import drop_database, fresh_database

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432"
# How long the server may take to start, and to answer a request: ten times longer when it runs
# under another command (valgrind…), where a login alone can take minutes.
ANSWER_SECONDS, SLOW_SERVER_SECONDS = 60, 600
PASSWORD = "load-test-2026"
LOGIN_RATE_LIMIT = "100000 per minute"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
STATUS_FIELD = re.compile(r'name="status-(\d+)"')
CHANGED_FLASH = re.compile(r"Présence enregistrée \((\d+) modification")
MARK_STATUSES = ("present", "present", "present", "late", "absent", "excused")
# Weighted mix per iteration: (kind, weight).
ORGANIZER_MIX = (("browse", 55), ("enroll", 30), ("attendance", 15))
FACILITATOR_MIX = (("browse", 50), ("attendance", 50))


# ---------------------------------------------------------------------------------------------
# Database and scenario


@dataclass
class Scenario:
    organizers: list[str]
    facilitators: list[str]
    today_parts: list[tuple[int, int]]  # (session id, part id)
    arrivals: dict[int, str]  # part id -> a late arrival's « HH:MM », inside that part
    today_participants: dict[int, list[int]]  # today session id -> its participants
    facilitator_course: dict[str, int]  # facilitator email -> the today session they run
    full_courses: list[int]
    waiting_measures: list[int]
    waiting_participants: list[int]
    search_terms: list[str]
    capacities: dict[int, int]


def build_scenario(app, users: int, measures: int, seed: int) -> Scenario:
    """Migrations, the demo data, then the load accounts and sessions (one transaction)."""
    import flask_migrate
    import sqlalchemy as sa

    from stages import demo
    from stages.auth.models import Role, User
    from stages.auth.services import hash_password
    from stages.extensions import db
    from stages.scheduling.models import Course, CoursePart, CourseStatus, Venue
    from stages.auth.models import Organization
    from stages.timeutil import local_to_utc, now_utc, to_local, today_local

    rng = random.Random(seed)
    with app.app_context():
        flask_migrate.upgrade()
        demo.load_demo()
        db.session.commit()
        orgs = {o.name: o for o in db.session.scalars(sa.select(Organization))}
        apcars = orgs["APCARS"]
        # Rooms of their own: the database refuses a room (or a facilitator) booked twice at once.
        venues = []
        for letter in "AB":
            venue = Venue(name=f"Salle de charge {letter}", address="1 rue du Test",
                          postal_code="75001", city="Paris", capacity=16)
            db.session.add(venue)
            venues.append(venue)
        organizer_demo = db.session.scalar(sa.select(User).where(User.email == "organisation@demo.stages.test"))
        password_hash = hash_password(PASSWORD)  # one argon2 hash, shared: the setup stays fast
        n_orgs = max(1, users // 2)
        organizers, facilitators = [], []
        for i in range(users):
            is_org = i < n_orgs
            email = f"load-{'orga' if is_org else 'interv'}-{i:03d}@load.stages.test"
            user = User(email=email, full_name=f"Charge {i:03d}",
                        role=Role.ORGANIZER if is_org else Role.FACILITATOR,
                        password_hash=password_hash, organizations=[apcars])
            db.session.add(user)
            (organizers if is_org else facilitators).append(email)
        db.session.flush()
        load_facilitators = list(db.session.scalars(
            sa.select(User).where(User.email.like("load-interv-%"))))

        today = today_local()

        def new_course(venue, days, status, facilitators_, slots=(demo.MORNING, demo.AFTERNOON)):
            parts = [
                CoursePart(starts_at=local_to_utc(d, start), ends_at=local_to_utc(d, end))
                for d in days for start, end in slots
            ]
            course = Course(
                title="Stage de sensibilisation (test de charge)", venue=venue,
                status=status, capacity=venue.capacity, min_participants=5, fee_cents=18000,
                parts=parts, starts_at=parts[0].starts_at, ends_at=parts[-1].ends_at,
                organizations=[apcars, orgs["Fondation Scelles"]], facilitators=facilitators_,
                created_by_id=organizer_demo.id,
            )
            db.session.add(course)
            db.session.flush()
            return course

        # Two sessions held today: every seat taken, attendance open to every load account. Both
        # half-days have begun (attendance is refused before): the first started up to three
        # hours ago, the second 45 minutes after it, and it runs an hour past now.
        now = to_local(now_utc())
        first = max(now - timedelta(hours=3), now.replace(hour=0, minute=5, second=0, microsecond=0))
        first = first.replace(second=0, microsecond=0)
        if now < first + timedelta(minutes=46) or (now + timedelta(hours=1)).date() != today:
            raise SystemExit("Le test de charge se lance entre 0 h 51 et 22 h 59 (heure de Paris) : "
                             "les deux demi-journées du jour doivent avoir commencé.")
        slots = (
            (first.time(), (first + timedelta(minutes=40)).time()),
            ((first + timedelta(minutes=45)).time(), (now + timedelta(hours=1)).time()),
        )
        today_parts, today_participants, facilitator_course, arrivals = [], {}, {}, {}
        half = (len(load_facilitators) + 1) // 2
        for venue, team in zip(venues, (load_facilitators[:half], load_facilitators[half:])):
            course = new_course(venue, [today], CourseStatus.SCHEDULED, team, slots)
            facilitator_course.update({u.email: course.id for u in team})
            for _ in range(course.capacity):
                measure = demo._new_measure(rng, orgs, decided_before=today - timedelta(days=10))
                demo._enroll(rng, course, measure, organizer_demo)
            db.session.flush()
            today_parts += [(course.id, p.id) for p in course.parts]
            arrivals.update({p.id: (to_local(p.starts_at) + timedelta(minutes=20)).strftime("%H:%M") for p in course.parts})
            today_participants[course.id] = [e.measure.participant_id for e in course_enrollments(course)]

        # Four scheduled sessions, 2 to 5 weeks ahead, with exactly two seats left.
        full_courses, capacities = [], {}
        for k in range(4):
            day = today + timedelta(weeks=2 + k, days=(1 - today.weekday()) % 7)
            course = new_course(venues[k % len(venues)], [day], CourseStatus.SCHEDULED,
                                  load_facilitators[k % 2:k % 2 + 1])
            for _ in range(course.capacity - 2):
                measure = demo._new_measure(rng, orgs, decided_before=today - timedelta(days=5))
                demo._enroll(rng, course, measure, organizer_demo)
            full_courses.append(course.id)
            capacities[course.id] = course.capacity

        # Referred measures handled by APCARS, waiting for a session.
        waiting = [demo._new_measure(rng, orgs, decided_before=today) for _ in range(measures)]
        db.session.flush()
        db.session.commit()
        return Scenario(
            organizers=organizers, facilitators=facilitators, today_parts=today_parts, arrivals=arrivals,
            today_participants=today_participants, facilitator_course=facilitator_course,
            full_courses=full_courses,
            waiting_measures=[m.id for m in waiting],
            waiting_participants=[m.participant_id for m in waiting],
            search_terms=sorted({m.participant.surname[:3].lower() for m in waiting}),
            capacities=capacities,
        )


def course_enrollments(course):
    import sqlalchemy as sa

    from stages.enrollment.models import Enrollment
    from stages.extensions import db

    return list(db.session.scalars(sa.select(Enrollment).where(Enrollment.course_id == course.id)))


# ---------------------------------------------------------------------------------------------
# HTTP client (standard library, loopback only)


class TransportError(Exception):
    pass


# gunicorn closes a keep-alive connection left idle for KEEPALIVE_SECONDS (passed to it below). A
# client that sends on a connection the server is closing at that very moment gets a reset that
# says nothing about the server's health; so a connection idle for IDLE_RECONNECT_SECONDS (well
# under that) is closed and a fresh one opened BEFORE sending. Nothing is ever sent twice: any
# reset, truncated answer or timeout on a request is a transport error of the run.
KEEPALIVE_SECONDS = 5
IDLE_RECONNECT_SECONDS = 1.0
# gunicorn's own default: a worker still there this long after the stop signal is killed, and
# that kill fails the run. bench/crash_probe.py (always loaded) has gdb write the C stacks of a
# worker still there 3 s after the signal, kept beside the report.
GRACEFUL_SECONDS = 30


class Client:
    """One user's browser: a keep-alive connection to 127.0.0.1 and a cookie jar.

    Each request is written to the wire exactly once: ``sends`` counts the requests written per
    method, ``calls`` the requests asked for; a difference would be a replay.
    """

    def __init__(self, port: int, timeout: float = ANSWER_SECONDS):
        self.port, self.timeout = port, timeout
        self.cookies: dict[str, str] = {}
        self.connection: http.client.HTTPConnection | None = None
        self.last_used = 0.0
        self.fresh_after_idle = 0
        self.calls: Counter = Counter()
        self.sends: Counter = Counter()

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method: str, path: str, data: dict | None = None):
        headers = {"Connection": "keep-alive"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.calls[method] += 1
        if self.connection is not None and time.monotonic() - self.last_used > IDLE_RECONNECT_SECONDS:
            self.close()
            self.fresh_after_idle += 1
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.sends[method] += 1
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            # A reset, a truncated answer, a timeout: the request may or may not have been
            # processed, so it is never sent again; the run reports it.
            self.close()
            raise TransportError(repr(error)) from error
        self.last_used = time.monotonic()
        if response.will_close:
            self.close()
        for header in response.msg.get_all("Set-Cookie") or []:
            self.set_cookie(header)
        return response.status, response.getheader("Location"), content.decode("utf-8", "replace")

    def set_cookie(self, header: str) -> None:
        """Keep a cookie as a browser does, or drop it when the server expires it: judged on its
        attributes only. (Looking for « 1970 » in the whole header once dropped a session cookie
        whose signed value happened to hold those four digits: its user was logged out.)"""
        pair, _, attributes = header.partition(";")
        name, _, value = pair.partition("=")
        expired = any(
            attribute.strip().lower() in ("max-age=0", "max-age=-1")
            or (attribute.strip().lower().startswith("expires=") and "1970" in attribute)
            for attribute in attributes.split(";")
        )
        if value and not expired:
            self.cookies[name.strip()] = value.strip()
        else:
            self.cookies.pop(name.strip(), None)


def _csrf(html: str) -> str | None:
    match = CSRF_FIELD.search(html)
    return (match.group(1) or match.group(2)) if match else None


# ---------------------------------------------------------------------------------------------
# Users


@dataclass
class Save:
    user: str
    part: tuple[int, int]
    values: dict[int, str]
    sent: float
    received: float
    changed: int | None


@dataclass
class Shared:
    """What every user thread writes to (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    records: list[tuple[str, int, float]] = field(default_factory=list)  # kind, status, ms
    transport_errors: list[str] = field(default_factory=list)
    unexpected: Counter = field(default_factory=Counter)  # (kind, status) not expected
    saves: list[Save] = field(default_factory=list)
    enrolled: list[tuple[int, int]] = field(default_factory=list)  # (measure, session) 302
    refused: Counter = field(default_factory=Counter)
    pool: list[int] = field(default_factory=list)  # measures not enrolled yet
    login_failures: list[str] = field(default_factory=list)
    fresh_after_idle: int = 0
    calls: Counter = field(default_factory=Counter)  # requests asked for, per method
    sends: Counter = field(default_factory=Counter)  # requests written to the wire, per method
    client_exceptions: list[str] = field(default_factory=list)
    unexpected_samples: list[str] = field(default_factory=list)


class User(threading.Thread):
    def __init__(self, email, role, port, scenario, shared, barrier, stop_at, seed, think,
                 timeout: float = ANSWER_SECONDS):
        super().__init__(daemon=True, name=email)
        self.email, self.role, self.scenario, self.shared = email, role, scenario, shared
        self.client = Client(port, timeout)
        self.barrier, self.stop_at, self.think = barrier, stop_at, think
        self.rng = random.Random(seed)

    # One timed request
    def call(self, kind, method, path, data=None, expect=(200,)):
        started = time.perf_counter()
        try:
            status, location, html = self.client.request(method, path, data)
        except TransportError as error:
            with self.shared.lock:
                self.shared.transport_errors.append(f"{kind} {method} {path}: {error}")
                self.shared.records.append((kind, 0, (time.perf_counter() - started) * 1000))
            return 0, None, ""
        elapsed = (time.perf_counter() - started) * 1000
        with self.shared.lock:
            self.shared.records.append((kind, status, elapsed))
            if status not in expect:
                self.shared.unexpected[(kind, status)] += 1
                if len(self.shared.unexpected_samples) < 10:
                    self.shared.unexpected_samples.append(f"{self.role} {method} {path} -> {status}")
        return status, location, html

    def run(self):
        try:
            self._run()
        finally:
            self.client.close()
            with self.shared.lock:
                self.shared.fresh_after_idle += self.client.fresh_after_idle
                self.shared.calls.update(self.client.calls)
                self.shared.sends.update(self.client.sends)

    def _run(self):
        try:
            self._login()
        finally:
            try:
                self.barrier.wait(timeout=2 * self.client.timeout)
            except threading.BrokenBarrierError:
                pass
        if self.email in self.shared.login_failures:
            return
        mix = ORGANIZER_MIX if self.role == "organizer" else FACILITATOR_MIX
        kinds, weights = zip(*mix)
        while time.monotonic() < self.stop_at.value:
            action = self.rng.choices(kinds, weights)[0]
            try:
                getattr(self, action)()
            except Exception as error:  # a bug of this script, never the server's: reported
                with self.shared.lock:
                    self.shared.client_exceptions.append(f"{action}: {error!r}")
            if self.think:
                time.sleep(self.rng.uniform(0, self.think))

    def _login(self):
        status, _loc, html = self.call("login_form", "GET", "/connexion")
        token = _csrf(html)
        status, location, _html = self.call(
            "login", "POST", "/connexion",
            {"email": self.email, "password": PASSWORD, "csrf_token": token or ""}, expect=(302,))
        if status != 302:
            with self.shared.lock:
                self.shared.login_failures.append(self.email)

    def my_parts(self) -> list[tuple[int, int]]:
        parts = self.scenario.today_parts
        if self.role == "facilitator":
            mine = self.scenario.facilitator_course.get(self.email)
            parts = [p for p in parts if p[0] == mine]
        return parts

    def browse(self):
        s, rng = self.scenario, self.rng
        if self.role == "organizer":
            pages = [
                "/", "/calendrier", f"/stages/{rng.choice(s.full_courses)}",
                f"/stages/{rng.choice(s.today_parts)[0]}",
                "search",
                f"/personnes/{rng.choice(s.waiting_participants)}", "/tableau-de-bord",
            ]
        else:
            course_id, part_id = rng.choice(self.my_parts())
            pages = [
                "/", "/calendrier", f"/stages/{course_id}",
                f"/stages/{course_id}/presence/{part_id}",
                f"/personnes/{rng.choice(s.today_participants[course_id])}",
            ]
        page = rng.choice(pages)
        if page == "search":
            self.search(rng.choice(s.search_terms))
        else:
            self.call("browse", "GET", page)

    def search(self, term: str):
        """Search the list of people: the form is POSTed (names stay out of URLs), then read."""
        _status, _loc, html = self.call("browse", "GET", "/personnes")
        status, location, _html = self.call(
            "browse", "POST", "/personnes",
            {"q": term, "recherche": "1", "csrf_token": _csrf(html)}, expect=(302,),
        )
        if status == 302 and location:
            target = urlsplit(location)
            self.call("browse", "GET", f"{target.path}?{target.query}")

    def attendance(self):
        course_id, part_id = self.rng.choice(self.my_parts())
        path = f"/stages/{course_id}/presence/{part_id}"
        status, _loc, html = self.call("attendance_page", "GET", path)
        token = _csrf(html)
        ids = sorted({int(i) for i in STATUS_FIELD.findall(html)})
        if status != 200 or not token or not ids:
            return
        arrival = self.scenario.arrivals[part_id]
        values, data = {}, {"csrf_token": token}
        for enrollment_id in ids:
            value = self.rng.choice(MARK_STATUSES)
            values[enrollment_id] = value
            data[f"status-{enrollment_id}"] = value
            if value == "late":
                data[f"arrived-{enrollment_id}"] = arrival
        sent = time.monotonic()
        status, location, _html = self.call("attendance_save", "POST", path, data, expect=(302,))
        received = time.monotonic()
        if status != 302:
            return
        changed = None
        if location:
            _s, _l, page = self.call("attendance_page", "GET", urlsplit(location).path)
            match = CHANGED_FLASH.search(page)
            changed = int(match.group(1)) if match else None
        with self.shared.lock:
            self.shared.saves.append(Save(self.email, (course_id, part_id), values, sent, received, changed))

    def enroll(self):
        with self.shared.lock:
            pool = self.shared.pool
            measure_id = self.rng.choice(pool) if pool else self.rng.choice(self.scenario.waiting_measures)
        course_id = self.rng.choice(self.scenario.full_courses)
        path = f"/mesures/{measure_id}/inscrire"
        status, _loc, html = self.call("enroll_form", "GET", path)
        token = _csrf(html)
        if status != 200 or not token:
            return
        status, _loc, html = self.call(
            "enroll", "POST", path, {"course": course_id, "csrf_token": token}, expect=(200, 302))
        with self.shared.lock:
            if status == 302:
                self.shared.enrolled.append((measure_id, course_id))
                if measure_id in self.shared.pool:
                    self.shared.pool.remove(measure_id)
            elif status == 200:
                text = unescape(html)  # the flash's apostrophes are HTML entities
                reason = next((r for r in REFUSALS if r in text), "autre refus")
                self.shared.refused[reason] += 1


# The refusals an enrollment may meet under this load, by the words of their French message.
REFUSALS = ("déjà inscrite", "vient d'être inscrite", "n'attend plus de stage")


class _Deadline:
    value = float("inf")


# ---------------------------------------------------------------------------------------------
# gunicorn


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker_class(threads: int) -> list[str]:
    """One thread: gunicorn's sync workers, as deployed (README, "One thread per worker").
    More: the threaded workers under which the heap corruption of issue 13 was seen."""
    return ["-k", "sync"] if threads == 1 else ["-k", "gthread", "--threads", str(threads)]


def patience(prefix) -> int:
    """Seconds to wait for the server to start or answer, run as is or under ``prefix``."""
    return SLOW_SERVER_SECONDS if prefix else ANSWER_SECONDS


def start_gunicorn(env: dict, workers: int, threads: int, log_path: Path, access_path: Path,
                   prefix: list[str] | None = None):
    """Start gunicorn on a free loopback port; its log at level info, so that every worker it
    boots is written down (a replacement booted during the run is a worker that died).

    ``prefix`` runs gunicorn under another command (valgrind…), which slows it down tenfold or
    more: the start and the worker timeout then allow ten minutes.
    """
    port = _free_port()
    slow = patience(prefix)
    worker_class = _worker_class(threads)
    command = [*(prefix or []),
        str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers), *worker_class,
        "-b", f"127.0.0.1:{port}", "--timeout", str(slow),
        "--graceful-timeout", str(GRACEFUL_SECONDS), "--keep-alive", str(KEEPALIVE_SECONDS),
        "--log-level", "info", "--config", "python:bench.crash_probe",
        # One line per answered request (method, status): the POSTs the server saw, counted.
        "--access-logfile", str(access_path), "--access-logformat", "%(m)s %(s)s", "wsgi:app",
    ]
    log = open(log_path, "w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + slow
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("gunicorn s'est arrêté au démarrage :\n" + log_path.read_text())
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/connexion")
            ok = connection.getresponse().status == 200
            connection.close()
            if ok:
                return process, port, log
        except OSError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"gunicorn n'a pas répondu en {slow} s.")


def stop_gunicorn(process, log, workers: list[int] = (), stacks_dir: Path | None = None) -> int:
    """Quick shutdown (SIGINT): every user thread has finished, nothing is in flight. Returns
    gunicorn's exit code (0 after a clean stop).

    A worker of ``workers`` still there 5 s after the signal gets gdb attached from outside
    (it may be unable to run any Python code, signal handlers included): its C and Python
    stacks go to ``stacks_dir/stuck-<pid>.txt``.
    """
    process.send_signal(signal.SIGINT)
    if stacks_dir is not None and workers:
        time.sleep(5)
        for pid in workers:
            if process.poll() is None and _alive(pid):
                with open(stacks_dir / f"stuck-{pid}.txt", "w") as out:
                    subprocess.run(
                        ["gdb", "-p", str(pid), "-batch", "-iex", "add-auto-load-safe-path /",
                         "-ex", "thread apply all bt 40", "-ex", "thread apply all py-bt"],
                        stdout=out, stderr=subprocess.STDOUT, timeout=60, check=False)
    try:
        process.wait(timeout=GRACEFUL_SECONDS + 30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()
    return process.returncode


# What gunicorn's arbiter (and faulthandler, on in wsgi.py) write when a worker dies, whenever it
# happens: a signal (SIGSEGV, SIGKILL…), a non-zero exit, a timeout, a failed boot, a fatal error.
WORKER_DEATH = re.compile(
    r"Fatal Python error|Segmentation fault|was sent SIG|was sent signal|exited with code"
    r"|WORKER TIMEOUT|Worker failed to boot|Exception in worker process"
    r"|Unhandled exception in main loop|terminated due to signal"
)
# A worker that leaves before gunicorn is asked to stop, even with exit code 0, is a death too.
WORKER_EXIT = re.compile(r"Worker exiting \(pid: ?\d+\)")
WORKER_BOOT = re.compile(r"Booting worker with pid: (\d+)")


def worker_deaths(log_before_stop: str, whole_log: str, workers: int) -> list[str]:
    """Every sign in gunicorn's log that a worker died; an empty list when none did.

    ``log_before_stop`` is the log as it was when the load ended, before gunicorn was asked to
    stop; ``whole_log`` includes the shutdown (a crash while stopping counts as well).
    """
    deaths = [line.strip() for line in whole_log.splitlines() if WORKER_DEATH.search(line)]
    deaths += [line.strip() for line in log_before_stop.splitlines() if WORKER_EXIT.search(line)]
    boots = WORKER_BOOT.findall(whole_log)
    if len(boots) > workers:
        deaths.append(f"{len(boots) - workers} worker(s) de remplacement démarré(s) : pid "
                      + ", ".join(boots[workers:]))
    return deaths


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A worker that has exited but is not reaped yet is a zombie: gone for our purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def booted_workers(log_path: Path) -> list[int]:
    return [int(pid) for pid in WORKER_BOOT.findall(log_path.read_text(errors="replace"))]


def chaos(log_path: Path, signal_name: str, delay: float, done: list[str]) -> threading.Timer:
    """After ``delay`` seconds, send ``signal_name`` to the first worker gunicorn booted: a
    deliberate worker death, which the run must report as a failure."""
    def strike():
        pids = booted_workers(log_path)
        if not pids:
            done.append("aucun worker trouvé")
            return
        os.kill(pids[0], getattr(signal, signal_name))
        done.append(f"{signal_name} envoyé au worker {pids[0]}")
        print(f"Chaos : {done[-1]}.", flush=True)

    timer = threading.Timer(delay, strike)
    timer.daemon = True
    timer.start()
    return timer


# ---------------------------------------------------------------------------------------------
# Checks


def check_database(app, scenario: Scenario, shared: Shared, load_emails: list[str]) -> dict:
    """Invariants read back from the database once the server is stopped.

    - overbooked: sessions with ``seats_taken > capacity`` or more seat-holding enrollments than
      ``capacity``;
    - seat_mismatches: sessions whose ``seats_taken`` differs from their seat-holding count;
    - lost_enrollments: a POST that answered 302 whose (measure, session) enrollment is missing;
      double_enrollments: measures with more than one live (seat or waitlist) enrollment;
    - lost marks, the sum of four counts over the attendance saves that answered 302:
      missing_marks: an (enrollment, part) sent by a successful save without a mark row;
      missing_revisions: per user, the changes the server reported ("Présence enregistrée
      (N modification(s))") beyond the revision rows written by that user;
      stale_marks: a mark whose value differs from its latest revision (the history disagrees);
      wrong_last_value: a mark whose value is not one a successful save could have left last,
      i.e. not the value sent by a save that no other successful save started strictly after
      it had finished (last writer wins, with overlapping saves allowed to land either way).
    """
    import sqlalchemy as sa

    from stages.attendance.models import AttendanceMark, AttendanceRevision
    from stages.auth.models import User as UserModel
    from stages.enrollment.models import SEAT_HOLDING_STATUSES, Enrollment
    from stages.enrollment.statuses import LIVE_STATUSES
    from stages.extensions import db
    from stages.scheduling.models import Course

    out: dict = {}
    with app.app_context():
        seat_counts = dict(db.session.execute(
            sa.select(Enrollment.course_id, sa.func.count())
            .where(Enrollment.status.in_(SEAT_HOLDING_STATUSES)).group_by(Enrollment.course_id)
        ).all())
        overbooked, mismatches, full_state = [], [], {}
        for sid, capacity, taken in db.session.execute(
            sa.select(Course.id, Course.capacity, Course.seats_taken)
        ):
            held = seat_counts.get(sid, 0)
            if taken > capacity or held > capacity:
                overbooked.append({"session": sid, "capacity": capacity, "seats_taken": taken, "holding": held})
            if taken != held:
                mismatches.append({"session": sid, "seats_taken": taken, "holding": held})
            if sid in scenario.capacities:
                waitlisted = db.session.scalar(sa.select(sa.func.count()).where(
                    Enrollment.course_id == sid, Enrollment.status == "waitlisted"))
                full_state[sid] = {"capacity": capacity, "seats_taken": taken, "holding": held,
                                   "waitlisted": waitlisted}
        out["overbooked"] = overbooked
        out["seat_mismatches"] = mismatches
        out["nearly_full_sessions_after"] = full_state

        live = {(m, s) for m, s in db.session.execute(
            sa.select(Enrollment.measure_id, Enrollment.course_id).where(Enrollment.status.in_(LIVE_STATUSES)))}
        out["lost_enrollments"] = [pair for pair in shared.enrolled if pair not in live]
        out["double_enrollments"] = [
            {"measure": m, "live": n} for m, n in db.session.execute(
                sa.select(Enrollment.measure_id, sa.func.count())
                .where(Enrollment.status.in_(LIVE_STATUSES))
                .group_by(Enrollment.measure_id).having(sa.func.count() > 1))
        ]
        out["duplicate_waitlist_positions"] = [
            {"session": s, "position": p, "count": n} for s, p, n in db.session.execute(
                sa.select(Enrollment.course_id, Enrollment.waitlist_position, sa.func.count())
                .where(Enrollment.waitlist_position.is_not(None))
                .group_by(Enrollment.course_id, Enrollment.waitlist_position)
                .having(sa.func.count() > 1))
        ]

        # Attendance
        part_ids = [p for _s, p in scenario.today_parts]
        marks = {(m.enrollment_id, m.part_id): m for m in db.session.scalars(
            sa.select(AttendanceMark).where(AttendanceMark.part_id.in_(part_ids)))}
        latest = {}
        for mark_id, status in db.session.execute(
            sa.select(AttendanceRevision.mark_id, AttendanceRevision.status)
            .order_by(AttendanceRevision.id)
        ):
            latest[mark_id] = status
        ids = dict(db.session.execute(sa.select(UserModel.email, UserModel.id)
                                      .where(UserModel.email.in_(load_emails))).all())
        revisions_by = dict(db.session.execute(
            sa.select(AttendanceRevision.changed_by_id, sa.func.count())
            .where(AttendanceRevision.changed_by_id.in_(list(ids.values())))
            .group_by(AttendanceRevision.changed_by_id)).all())

        by_key: dict[tuple[int, int], list[Save]] = defaultdict(list)
        reported = Counter()
        unknown_changes = 0
        for save in shared.saves:
            for enrollment_id in save.values:
                by_key[(enrollment_id, save.part[1])].append(save)
            if save.changed is None:
                unknown_changes += 1
            else:
                reported[save.user] += save.changed
        missing_marks = [key for key in by_key if key not in marks]
        missing_revisions = {u: n - revisions_by.get(ids[u], 0) for u, n in reported.items()
                             if n > revisions_by.get(ids[u], 0)}
        stale = [key for key, m in marks.items() if m.id in latest and latest[m.id] != m.status]
        wrong_last = []
        for key, saves in by_key.items():
            mark = marks.get(key)
            if mark is None:
                continue
            last_start = max(s.sent for s in saves)
            candidates = {s.values[key[0]] for s in saves if s.received >= last_start}
            if mark.status.value not in candidates:
                wrong_last.append({"enrollment": key[0], "part": key[1], "value": mark.status.value,
                                   "allowed": sorted(candidates)})
        out["attendance"] = {
            "saves": len(shared.saves),
            "mark_writes": sum(len(s.values) for s in shared.saves),
            "marks_covered": len(by_key),
            "changes_reported": sum(reported.values()),
            "revisions_written": sum(revisions_by.values()),
            "saves_without_change_count": unknown_changes,
            "missing_marks": missing_marks,
            "missing_revisions": missing_revisions,
            "stale_marks": stale,
            "wrong_last_value": wrong_last,
        }
        out["lost_marks"] = (len(missing_marks) + sum(missing_revisions.values()) + len(stale)
                             + len(wrong_last))
    return out


# ---------------------------------------------------------------------------------------------
# Reporting


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def _stats(values: list[float]) -> dict:
    return {"requests": len(values), "p50_ms": round(_percentile(values, 50), 1),
            "p95_ms": round(_percentile(values, 95), 1), "max_ms": round(max(values, default=0), 1)}


def _tracebacks(log_text: str) -> list[str]:
    blocks, current = [], None
    for line in log_text.splitlines():
        if line.startswith("Traceback"):
            current = [line]
            blocks.append(current)
        elif current is not None:
            current.append(line)
            if line and not line.startswith((" ", "\t")) and not line.startswith("Traceback"):
                current = None
    return ["\n".join(b) for b in blocks]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--database", default=DEFAULT_DATABASE,
                        help="PostgreSQL server URL, without database name (loopback)")
    parser.add_argument("--measures", type=int, default=200, help="waiting measures to enroll")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per worker: 1 runs gunicorn's sync workers (deployed), "
                             "more runs gthread workers")
    parser.add_argument("--think", type=float, default=0.2,
                        help="maximum pause between two actions of a user, seconds (uniform)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--output", default=str(RESULTS / "load.json"),
                        help="the report (JSON); gunicorn's log is kept beside it (.gunicorn.log)")
    parser.add_argument("--chaos", choices=("SIGSEGV", "SIGKILL"),
                        help="halfway through, send this signal to a worker: the run must fail")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for gunicorn only (repeatable), e.g. "
                             "PYTHONMALLOC=debug")
    parser.add_argument("--server-prefix", default="", metavar="COMMAND",
                        help="run gunicorn under this command, e.g. \"valgrind --trace-children=yes\"")
    args = parser.parse_args(argv)
    server_env = dict(item.split("=", 1) for item in args.server_env)
    if not args.database.startswith("postgresql"):
        raise SystemExit("--database : une URL PostgreSQL est attendue.")
    host = urlsplit(args.database.replace("postgresql+psycopg", "postgresql")).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("--database : le test de charge ne s'adresse qu'au loopback.")

    began = time.monotonic()
    load_before = os.getloadavg()[0]  # the machine may be shared: recorded with the results
    name = f"stages_load_{os.getpid()}"
    url = fresh_database(args.database, name)
    instance = Path(tempfile.mkdtemp(prefix="stages-load-"))
    secret = os.urandom(24).hex()
    # config.py reads the environment on import: set it before the app is imported.
    os.environ.update(DATABASE_URL=url, SECRET_KEY=secret, STAGES_INSTANCE_DIR=str(instance),
                      STAGES_MAIL_BACKEND="file")
    process = log = None
    try:
        from stages import create_app

        app = create_app()
        print(f"Base {name} : migrations, données de démonstration, scénario de charge…", flush=True)
        scenario = build_scenario(app, args.users, args.measures, args.seed)
        setup_seconds = time.monotonic() - began
        print(f"Préparation : {setup_seconds:.1f} s.", flush=True)

        env = dict(os.environ)
        env.update(DATABASE_URL=url, SECRET_KEY=secret, STAGES_INSTANCE_DIR=str(instance),
                   STAGES_MAIL_BACKEND="file", STAGES_LOGIN_RATE_LIMIT=LOGIN_RATE_LIMIT,
                   PYTHONUNBUFFERED="1", STAGES_PROBE_HANG_DIR=str(instance), **server_env)
        log_path, access_path = instance / "gunicorn.log", instance / "access.log"
        process, port, log = start_gunicorn(env, args.workers, args.threads, log_path, access_path,
                                            shlex.split(args.server_prefix))
        print(f"gunicorn : 127.0.0.1:{port}, {args.workers} workers x {args.threads} threads"
              + (f", {' '.join(args.server_env)}" if args.server_env else "") + ".", flush=True)

        shared = Shared(pool=list(scenario.waiting_measures))
        deadline = _Deadline()
        emails = [(e, "organizer") for e in scenario.organizers] + [(e, "facilitator") for e in scenario.facilitators]
        barrier = threading.Barrier(len(emails) + 1)
        timeout = patience(args.server_prefix)
        threads = [User(e, role, port, scenario, shared, barrier, deadline, args.seed + i, args.think,
                        timeout)
                   for i, (e, role) in enumerate(emails)]
        for t in threads:
            t.start()
        mark = time.monotonic()
        barrier.wait(timeout=3 * timeout)
        started = time.monotonic()
        login_seconds = started - mark
        deadline.value = started + args.seconds
        print(f"{len(threads)} utilisateurs connectés ; charge pendant {args.seconds:g} s…", flush=True)
        chaos_done: list[str] = []
        if args.chaos:
            chaos(log_path, args.chaos, args.seconds / 2, chaos_done)
        for t in threads:
            t.join(timeout=args.seconds + timeout + 30)
        elapsed = time.monotonic() - started
        stragglers = sum(t.is_alive() for t in threads)
        log_before_stop = log_path.read_text(errors="replace")
        mark = time.monotonic()
        gunicorn_exit = stop_gunicorn(process, log, booted_workers(log_path), instance)
        process = None
        print(f"Fin de la charge après {elapsed:.1f} s ; gunicorn arrêté en {time.monotonic() - mark:.1f} s.", flush=True)
        log_text = log_path.read_text(errors="replace")
        server_methods = Counter(line.split(" ", 1)[0] for line in
                                 access_path.read_text(errors="replace").splitlines() if line)
        kept_log = Path(args.output).with_suffix(".gunicorn.log")
        kept_log.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log_path, kept_log)
        slow_stops = []  # workers still there 3 s after the stop signal: their C stacks
        for hang in sorted([*instance.glob("hang-*.txt"), *instance.glob("stuck-*.txt")]):
            kept = Path(args.output).with_suffix(f".{hang.stem}.txt")
            shutil.copyfile(hang, kept)
            slow_stops.append(str(kept))
        checks = check_database(app, scenario, shared, [e for e, _r in emails])
    finally:
        if process is not None:
            stop_gunicorn(process, log)
        try:
            from stages.extensions import db

            with app.app_context():  # type: ignore[possibly-undefined]
                db.engine.dispose()
        except Exception:
            pass
        drop_database(args.database, name)
        shutil.rmtree(instance, ignore_errors=True)

    # Summary
    timed = [r for r in shared.records if r[0] not in ("login", "login_form")]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, _status, ms in shared.records:
        by_kind[kind].append(ms)
    statuses = Counter(status for _k, status, _ms in timed)
    errors_5xx = sum(n for s, n in statuses.items() if s >= 500)
    tracebacks = _tracebacks(log_text)
    deaths = worker_deaths(log_before_stop, log_text, args.workers)
    # POSTs: asked for by the users, written to the wire, answered as seen in the access log
    # (which includes the 50 logins). A replay would write one POST twice; the server can never
    # have answered more POSTs than the users asked for.
    posts = {"asked": shared.calls["POST"], "sent": shared.sends["POST"],
             "answered_by_server": server_methods["POST"]}
    replayed_posts = max(posts["sent"] - posts["asked"], posts["answered_by_server"] - posts["asked"], 0)
    report = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "users": args.users, "seconds": args.seconds, "measured_seconds": round(elapsed, 1),
        "gunicorn": " ".join(["-w", str(args.workers), *_worker_class(args.threads)]),
        "think_max_s": args.think,
        "database": "PostgreSQL " + _server_version(args.database),
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "requests": len(timed),
        "requests_per_s": round(len(timed) / elapsed, 1) if elapsed else 0,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors_5xx": errors_5xx,
        "transport_errors": len(shared.transport_errors),
        "transport_error_samples": shared.transport_errors[:5],
        "server_tracebacks": len(tracebacks),
        "traceback_samples": tracebacks[:3],
        "worker_deaths": len(deaths),
        "worker_death_lines": deaths[:20],
        "gunicorn_exit_code": gunicorn_exit,
        "slow_stop_stacks": slow_stops,
        "chaos": chaos_done,
        "server_env": args.server_env,
        "posts": posts,
        "replayed_posts": replayed_posts,
        "requests_sent_by_method": dict(shared.sends),
        "unexpected_statuses": {f"{k} {s}": n for (k, s), n in shared.unexpected.items()},
        "unexpected_samples": shared.unexpected_samples,
        "login_failures": len(shared.login_failures),
        "fresh_connections_after_idle": shared.fresh_after_idle,
        "stragglers": stragglers,
        "client_exceptions": shared.client_exceptions[:5],
        "overall": _stats([ms for _k, _s, ms in timed]),
        "per_kind": {k: _stats(v) for k, v in sorted(by_kind.items())},
        "enrollments_accepted": len(shared.enrolled),
        "enrollments_refused": dict(shared.refused),
        "overbooked_sessions": len(checks["overbooked"]),
        "seat_mismatches": len(checks["seat_mismatches"]),
        "lost_marks": checks["lost_marks"],
        "lost_enrollments": len(checks["lost_enrollments"]),
        "double_enrollments": len(checks["double_enrollments"]),
        "checks": checks,
        "setup_seconds": round(setup_seconds, 1),
        "login_seconds": round(login_seconds, 1),
        "total_seconds": round(time.monotonic() - began, 1),
    }
    failed = bool(errors_5xx or report["transport_errors"] or tracebacks or deaths or gunicorn_exit
                  or replayed_posts or checks["overbooked"]
                  or checks["seat_mismatches"] or checks["lost_marks"] or checks["lost_enrollments"]
                  or checks["double_enrollments"] or shared.login_failures or stragglers
                  or shared.client_exceptions or shared.unexpected)
    report["passed"] = not failed
    _print(report)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nRésultats : {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 1 if failed else 0


def _server_version(prefix: str) -> str:
    import psycopg

    dsn = prefix.replace("postgresql+psycopg://", "postgresql://").rstrip("/") + "/postgres"
    with psycopg.connect(dsn) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def _print(r: dict) -> None:
    a = r["checks"]["attendance"]
    print("\n=== Test de charge ===")
    rows = [
        ("Utilisateurs", r["users"]),
        ("Durée mesurée (s)", r["measured_seconds"]),
        ("gunicorn", r["gunicorn"]),
        ("Requêtes", r["requests"]),
        ("Requêtes/s", r["requests_per_s"]),
        ("Erreurs serveur (5xx)", r["errors_5xx"]),
        ("Tracebacks (stderr gunicorn)", r["server_tracebacks"]),
        ("Erreurs de transport (reset, réponse tronquée)", r["transport_errors"]),
        ("Workers morts (journal gunicorn)", r["worker_deaths"]),
        ("Code de sortie de gunicorn", r["gunicorn_exit_code"]),
        ("POST demandés / envoyés / vus par le serveur",
         f"{r['posts']['asked']} / {r['posts']['sent']} / {r['posts']['answered_by_server']}"),
        ("POST rejoués", r["replayed_posts"]),
        ("Statuts inattendus", r["unexpected_statuses"] or 0),
        ("Latence p50 / p95 / max (ms)",
         f"{r['overall']['p50_ms']} / {r['overall']['p95_ms']} / {r['overall']['max_ms']}"),
        ("Inscriptions acceptées / refusées", f"{r['enrollments_accepted']} / {sum(r['enrollments_refused'].values())}"),
        ("Enregistrements de présence (marques)", f"{a['saves']} ({a['mark_writes']})"),
        ("Modifications annoncées / révisions", f"{a['changes_reported']} / {a['revisions_written']}"),
        ("Stages surréservés", r["overbooked_sessions"]),
        ("Compteurs de places incohérents", r["seat_mismatches"]),
        ("Marques perdues", r["lost_marks"]),
        ("Inscriptions perdues / en double", f"{r['lost_enrollments']} / {r['double_enrollments']}"),
        ("Positions d'attente en double (info)", len(r["checks"]["duplicate_waitlist_positions"])),
    ]
    width = max(len(k) for k, _v in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}")
    print(f"\n  {'Type de requête':<18} {'n':>6} {'p50':>8} {'p95':>8} {'max':>8}  (ms)")
    for kind, s in r["per_kind"].items():
        print(f"  {kind:<18} {s['requests']:>6} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['max_ms']:>8}")
    for sample in r["traceback_samples"]:
        print("\n" + sample)
    if r["worker_death_lines"]:
        print("\nWorkers morts :")
        for line in r["worker_death_lines"]:
            print("  " + line)
    for path in r["slow_stop_stacks"]:
        print(f"  worker encore là 3 s après l'arrêt, piles C : {path}")
    for sample in r["transport_error_samples"]:
        print("  transport : " + sample)
    print("\nRÉUSSI" if r["passed"] else "\nÉCHEC")


if __name__ == "__main__":
    sys.exit(main())
