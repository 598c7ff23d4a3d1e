"""In-process crash stress: many request threads in ONE process, on PostgreSQL (issue 13 item 1).

    .venv/bin/python -m bench.crash_stress --threads 8 --seconds 600 [--switch 0.000001]

The worker crash of threaded gunicorn workers (bench/LOAD.md) showed once in 15 amplified load
runs: too rare to tell one suspect from another. This harness drops gunicorn and HTTP and runs
the same application code as a ``gthread`` worker does — one WSGI call per thread, several
threads in one interpreter — with nothing else: each thread has a Flask test client, logs in
as an organizer of APCARS and then, until the time is up, reads the pages the crashes were in
(the enrollment form, the attendance sheet, a course, a person, the calendar, home) and posts
enrollments. The threads hand the interpreter to each other every ``--switch`` seconds (1 µs:
thousands of times more often than the default 5 ms).

It creates a throwaway database ``stages_stress_<pid>`` (dropped at the end), loads the demo
data and adds the accounts. A crash ends the process (faulthandler prints every thread's
stack; with ``ulimit -c unlimited`` the kernel writes a core for gdb); a run that lives to
the end prints its request count and exits 0. Run it under ``PYTHONMALLOC=debug`` and with
``DISABLE_SQLALCHEMY_CEXT_RUNTIME=1``, ``PSYCOPG_IMPL=python`` or ``--block greenlet`` to
leave out one suspect at a time.
"""
from __future__ import annotations

import argparse
import faulthandler
import gc
import importlib.abc
import os
import random
import sys
import threading
import time
from collections import Counter

from bench.databases import drop_database, fresh_database
from bench.load import CSRF_FIELD, DEFAULT_DATABASE, PASSWORD

PAGES = ("enroll_form", "attendance", "course", "person", "calendar", "home", "enroll")
WEIGHTS = (25, 25, 15, 15, 5, 5, 10)


class _Blocked(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname in self.names:
            raise ImportError(f"{fullname} blocked by bench.crash_stress")
        return None


def _csrf(html: str) -> str:
    match = CSRF_FIELD.search(html)
    return (match.group(1) or match.group(2)) if match else ""


def setup(app, users: int):
    """Demo data, ``users`` organizers of APCARS, and the ids the threads pick from."""
    import flask_migrate
    import sqlalchemy as sa

    from stages import demo
    from stages.auth.models import Organization, Role, User
    from stages.auth.services import hash_password
    from stages.enrollment.models import LegalMeasure, MeasureStatus
    from stages.extensions import db
    from stages.scheduling.models import Course

    with app.app_context():
        flask_migrate.upgrade()
        demo.load_demo()
        apcars = db.session.scalar(sa.select(Organization).where(Organization.name == "APCARS"))
        password_hash = hash_password(PASSWORD)
        emails = []
        for i in range(users):
            email = f"stress-{i:03d}@load.stages.test"
            db.session.add(User(email=email, full_name=f"Stress {i:03d}", role=Role.ORGANIZER,
                                password_hash=password_hash, organizations=[apcars]))
            emails.append(email)
        db.session.commit()
        courses = list(db.session.scalars(sa.select(Course).order_by(Course.id)))
        parts = [(c.id, p.id) for c in courses for p in c.parts]
        measures = list(db.session.scalars(sa.select(LegalMeasure)))
        waiting = [m.id for m in measures if m.status == MeasureStatus.REFERRED] or [m.id for m in measures]
        return {
            "emails": emails, "courses": [c.id for c in courses], "parts": parts,
            "waiting": waiting, "people": sorted({m.participant_id for m in measures}),
        }


def one_request(client, ids, rng, pages=(PAGES, WEIGHTS)) -> tuple[str, str, int]:
    """One of the crash's pages, chosen by weight; an enrollment form is then posted. Returns
    (kind, path, final status)."""
    kind = rng.choices(*pages)[0]
    if kind in ("enroll_form", "enroll"):
        path = f"/mesures/{rng.choice(ids['waiting'])}/inscrire"
    elif kind == "attendance":
        path = "/stages/{}/presence/{}".format(*rng.choice(ids["parts"]))
    elif kind == "course":
        path = f"/stages/{rng.choice(ids['courses'])}"
    elif kind == "person":
        path = f"/personnes/{rng.choice(ids['people'])}"
    else:
        path = {"calendar": "/calendrier", "home": "/"}[kind]
    response = client.get(path)
    status = response.status_code
    if kind == "enroll" and status == 200:
        token = _csrf(response.get_data(as_text=True))
        status = client.post(path, data={"course": rng.choice(ids["courses"]), "csrf_token": token}).status_code
    return kind, path, status


def worker(app, email, ids, stop_at, seed, counts, lock, errors, collect_after=False):
    rng = random.Random(seed)
    client = app.test_client()
    html = client.get("/connexion").get_data(as_text=True)
    response = client.post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(html)})
    if response.status_code != 302:
        with lock:
            errors.append(f"login {email}: {response.status_code}")
        return
    local = Counter()
    while time.monotonic() < stop_at:
        kind, path, status = one_request(client, ids, rng)
        local[(kind, status)] += 1
        if collect_after:
            gc.collect()
        if status >= 500:
            with lock:
                errors.append(f"{kind} {path}: {status}")
    with lock:
        counts.update(local)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--switch", type=float, default=0.000001, help="sys.setswitchinterval, seconds")
    parser.add_argument("--gc-threshold", type=int, default=0,
                        help="gc.set_threshold of the youngest generation (700 by default): a small "
                             "one collects at many more points of the C code")
    parser.add_argument("--collect-after", action="store_true",
                        help="gc.collect() after each request, in the request's thread, as the "
                             "workers' tuning does (stages/gc_tuning.py)")
    parser.add_argument("--block", default="", help="modules that cannot be imported (comma-separated)")
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    args = parser.parse_args(argv)
    blocked = {n.strip() for n in args.block.split(",") if n.strip()}
    if blocked:
        sys.meta_path.insert(0, _Blocked(blocked))
    faulthandler.enable()
    name = f"stages_stress_{os.getpid()}"
    os.environ.update(DATABASE_URL=fresh_database(args.database, name), SECRET_KEY=os.urandom(16).hex(),
                      STAGES_MAIL_BACKEND="file", STAGES_LOGIN_RATE_LIMIT="100000 per minute",
                      STAGES_INSTANCE_DIR=f"/tmp/{name}")
    try:
        from stages import create_app

        app = create_app()
        ids = setup(app, args.threads)
        if args.gc_threshold:
            gc.set_threshold(args.gc_threshold)
        modules = {m: m in sys.modules for m in ("greenlet", "sqlalchemy.cyextension.resultproxy",
                                                 "markupsafe._speedups", "psycopg_binary")}
        print(f"{name}: {args.threads} threads, switch {args.switch} s, gc {gc.get_threshold()}"
              f"{' + collect after each request' if args.collect_after else ''}, PYTHONMALLOC="
              f"{os.environ.get('PYTHONMALLOC', '')}, loaded {modules}", flush=True)
        sys.setswitchinterval(args.switch)
        counts, lock, errors = Counter(), threading.Lock(), []
        stop_at = time.monotonic() + args.seconds
        threads = [threading.Thread(target=worker, args=(app, email, ids, stop_at, i, counts, lock, errors, args.collect_after))
                   for i, email in enumerate(ids["emails"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sys.setswitchinterval(0.005)
        total = sum(counts.values())
        print(f"requests {total}; server errors {len(errors)}; {dict(counts)}", flush=True)
        for line in errors[:10]:
            print("  ", line)
        return 1 if errors else 0
    finally:
        drop_database(args.database, name)


if __name__ == "__main__":
    sys.exit(main())
