"""Benchmark: sending a whole course's summonses, email and SMS, and the outbox drained exactly
once by two scheduler processes.

Not a timed test: run it by hand on a quiet machine and read the figures.

    .venv/bin/python -m bench.sms_bench                       # SQLite
    .venv/bin/python -m bench.sms_bench --postgres postgresql+psycopg://postgres@127.0.0.1:5432

It builds a throw-away database with the real migrations (a SQLite file in a temporary folder, or
a PostgreSQL database ``stages_bench_sms`` dropped afterwards), ``--sessions`` courses (default
20) seven days ahead with 16 people each, every one with an email address and a mobile number
and consenting to SMS. It starts a real SMTP server (aiosmtpd) and the local fake of Brevo's SMS
API (``tests/fake_brevo.py``), both on 127.0.0.1, and sets no quiet hours. Then:

1. ``session`` — for each course, what « Envoyer les convocations » does: the 16 letters (PDF)
   emailed through SMTP, each committed, then the 16 convocation SMS the request queued sent
   through the outbox to the fake Brevo. Timed per course: p50, p95, max.
2. ``drain`` — the J-7 reminders of every course queued (an email and an SMS per person), then
   two scheduler *processes* started at once, each draining the outbox (``outbox.deliver``)
   until nothing is due. Every email must reach the SMTP server once and every SMS the fake
   Brevo once: the run counts them per recipient and says how the two processes shared the work.

Writes ``bench/results/sms.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.databases import drop_database, fresh_database

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "sms.json"
NAME = "stages_bench_sms"  # its PostgreSQL database (--postgres), dropped after the run
PEOPLE = 16


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20, help="courses of 16 people")
    parser.add_argument("--postgres", help="server URL without database name (PostgreSQL run)")
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args(argv)
    if args.drain:
        return _drain_child()
    with tempfile.TemporaryDirectory(prefix="stages-bench-sms-") as tmp:
        os.environ["STAGES_INSTANCE_DIR"] = tmp
        os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
        url = _database(args.postgres, tmp)
        try:
            figures = _run(url, args.sessions, tmp)
        finally:
            if args.postgres:
                drop_database(args.postgres, NAME)
    figures["database"] = "postgresql" if args.postgres else "sqlite"
    _print(figures)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(f"\nRésultats écrits dans {RESULTS}")
    return figures


def _database(postgres: str | None, tmp: str) -> str:
    return fresh_database(postgres, NAME) if postgres else f"sqlite:///{tmp}/bench.sqlite3"


class _Collector:
    """The SMTP server's handler: keeps each envelope's recipients."""

    def __init__(self):
        self.recipients: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


def _build(sessions: int) -> tuple[list[int], int]:
    """``sessions`` courses seven days ahead, 16 consenting people each; their organizer's id."""
    from datetime import timedelta

    from stages.auth.models import Role
    from stages.enrollment.models import EnrollmentStatus
    from stages.enrollment.sms.services import give_consent
    from stages.extensions import db
    from stages.timeutil import today_local
    from tests import factories as make

    association = make.organization(name="APCARS", email="stages@apcars.test", phone="01 23 45 67 89")
    organizer = make.user(Role.ORGANIZER, [association])
    course_ids = []
    for s in range(sessions):
        course = make.course(organizations=[association], day=today_local() + timedelta(days=7),
                             capacity=PEOPLE)
        for p in range(PEOPLE):
            n = s * PEOPLE + p
            person = make.participant(email=f"p{n}@example.org", phone=f"+3361{n:07d}")
            make.enrollment(make.measure(participant=person, handling=association), course,
                            status=EnrollmentStatus.ENROLLED)
            give_consent(person, by=organizer)
        course_ids.append(course.id)
    db.session.commit()
    return course_ids, organizer.id


def _settings(smtp_port: int, brevo_url: str) -> dict:
    from tests.fake_brevo import API_KEY

    return {
        "MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_port,
        "SMS_BACKEND": "brevo", "SMS_BREVO_API_URL": brevo_url, "SMS_BREVO_API_KEY": API_KEY,
        "SMS_QUIET_HOURS": "", "BASE_URL": "https://stages.example.fr", "RATELIMIT_ENABLED": False,
    }


def _run(url: str, sessions: int, tmp: str) -> dict:
    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade

    from stages import create_app, outbox
    from stages.auth.models import User
    from stages.enrollment.convocation import send_course_convocations
    from stages.enrollment.convocation.reminders import queue_reminders
    from stages.enrollment.sms.services import queue_sms_reminders
    from stages.extensions import db
    from stages.scheduling.models import Course
    from stages.timeutil import now_utc
    from tests.fake_brevo import FakeBrevo

    logging.getLogger("alembic").setLevel(logging.WARNING)
    from tests.helpers import free_port

    collector = _Collector()
    smtp_port = free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with FakeBrevo() as brevo:
            settings = _settings(smtp_port, brevo.url)
            app = create_app({"SQLALCHEMY_DATABASE_URI": url, **settings})
            with app.app_context():
                upgrade()
                course_ids, organizer_id = _build(sessions)
                organizer = db.session.get(User, organizer_id)
                times, sms_times = [], []
                for course_id in course_ids:
                    course = db.session.get(Course, course_id)
                    started = time.perf_counter()
                    summary = send_course_convocations(course, by=organizer, after_send=lambda _e: db.session.commit())
                    db.session.commit()
                    emailed = time.perf_counter()
                    delivery = outbox.deliver(kinds=["sms_convocation"])
                    times.append(time.perf_counter() - started)
                    sms_times.append(time.perf_counter() - emailed)
                    assert len(summary.sent) == PEOPLE and delivery.sms_sent == PEOPLE, (summary.message(), delivery)
                session_figures = {
                    "sessions": sessions, "people_per_session": PEOPLE,
                    "p50_s": round(statistics.median(times), 3),
                    "p95_s": round(statistics.quantiles(times, n=20)[18], 3) if len(times) > 1 else round(times[0], 3),
                    "max_s": round(max(times), 3),
                    # of which the 16 SMS (queued by the emails' transactions, sent by the outbox)
                    "sms_p50_s": round(statistics.median(sms_times), 3),
                    "sms_p95_s": round(statistics.quantiles(sms_times, n=20)[18], 3) if len(sms_times) > 1 else round(sms_times[0], 3),
                    "emails": len(collector.recipients), "sms": len(brevo.requests),
                }
                # The J-7 reminders, queued and committed, left for the two processes
                queued = queue_reminders(now_utc()) + queue_sms_reminders(now_utc())
                db.session.commit()
                db.session.remove()
                db.engine.dispose()
            emails_before, sms_before = len(collector.recipients), len(brevo.requests)
            drain = _drain_with_two_processes(url, smtp_port, brevo.url, tmp)
            new_emails = Counter(collector.recipients[emails_before:])
            new_sms = Counter(r["json"]["recipient"] for r in brevo.requests[sms_before:])
            drain.update({
                "queued": queued,
                "emails_received": sum(new_emails.values()),
                "sms_received": sum(new_sms.values()),
                "emails_received_twice": sum(1 for c in new_emails.values() if c > 1),
                "sms_received_twice": sum(1 for c in new_sms.values() if c > 1),
            })
    finally:
        controller.stop()
    return {
        "python": platform.python_version(), "machine": platform.machine(),
        "session": session_figures, "drain": drain,
    }


def _drain_with_two_processes(url: str, smtp_port: int, brevo_url: str, tmp: str) -> dict:
    from tests.fake_brevo import API_KEY

    env = {
        **os.environ, "DATABASE_URL": url, "STAGES_INSTANCE_DIR": tmp,
        "STAGES_MAIL_BACKEND": "smtp", "STAGES_SMTP_HOST": "127.0.0.1", "STAGES_SMTP_PORT": str(smtp_port),
        "STAGES_SMS_BACKEND": "brevo", "STAGES_SMS_BREVO_API_URL": brevo_url,
        "STAGES_SMS_BREVO_API_KEY": API_KEY, "STAGES_SMS_QUIET_HOURS": "",
        "STAGES_BASE_URL": "https://stages.example.fr", "BENCH_START_AT": str(time.time() + 2),
    }
    started = time.perf_counter()
    processes = [
        subprocess.Popen([sys.executable, "-m", "bench.sms_bench", "--drain"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    elapsed = time.perf_counter() - started
    shares = []
    for process, (out, err) in zip(processes, outputs, strict=True):
        if process.returncode != 0:
            raise SystemExit(f"a drain process failed:\n{err}")
        shares.append(json.loads(out.strip().splitlines()[-1]))
    return {"processes": shares, "wall_s": round(elapsed, 2)}


def _drain_child() -> dict:
    """One scheduler process: deliver until nothing is due; prints what it sent (JSON)."""
    from stages import create_app, outbox

    logging.disable(logging.WARNING)
    app = create_app({"RATELIMIT_ENABLED": False})
    totals = Counter()
    with app.app_context():
        time.sleep(max(0.0, float(os.environ.get("BENCH_START_AT", "0")) - time.time()))
        while True:
            delivery = outbox.deliver()
            totals.update({"emails": delivery.sent, "sms": delivery.sms_sent,
                           "busy": delivery.busy, "failed": delivery.failed})
            if delivery.sent + delivery.sms_sent + delivery.busy + delivery.failed == 0:
                break
    result = dict(totals)
    print(json.dumps(result))
    return result


def _print(figures: dict) -> None:
    s, d = figures["session"], figures["drain"]
    print(f"Base : {figures['database']}, Python {figures['python']}")
    print(f"Convocations d'un stage ({s['people_per_session']} personnes, courriel + SMS), "
          f"{s['sessions']} stages : p50 {s['p50_s']} s, p95 {s['p95_s']} s, max {s['max_s']} s "
          f"({s['emails']} courriels, {s['sms']} SMS) ; dont les 16 SMS : p50 {s['sms_p50_s']} s, "
          f"p95 {s['sms_p95_s']} s")
    print(f"Rappels J-7 mis en file : {d['queued']} ; deux processus : "
          + " ; ".join(f"{p.get('emails', 0)} courriels + {p.get('sms', 0)} SMS (déjà pris : {p.get('busy', 0)})"
                       for p in d["processes"])
          + f" en {d['wall_s']} s")
    print(f"Reçus : {d['emails_received']} courriels, {d['sms_received']} SMS ; reçus deux fois : "
          f"{d['emails_received_twice']} courriels, {d['sms_received_twice']} SMS")


if __name__ == "__main__":
    main()
