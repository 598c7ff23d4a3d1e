"""Benchmark: the tablet's save (16 marks and 16 signatures in one sync batch) against the plain
attendance form's save of the same 16 people, in the same run.

Not a timed test: run it by hand on a quiet machine and read the verdict.

    .venv/bin/python -m bench.attendance_bench                       # SQLite
    .venv/bin/python -m bench.attendance_bench --postgres postgresql+psycopg://postgres@127.0.0.1:5432

It builds a throw-away database with the real migrations (a SQLite file in a temporary folder, or
a PostgreSQL database ``stages_bench_attendance`` dropped afterwards), one course of today whose
half-day began an hour ago with 16 people, and the course's facilitator logged in. Then, through
the WSGI app in-process, in alternating order so that both see the same machine:

1. ``form`` — the attendance form posted for the 16 people (everyone present, then everyone
   absent: each save changes every mark), as a facilitator without a tablet does;
2. ``sync`` — one batch of 16 marks and 16 signatures (PNG drawings of a few kilobytes, as
   signature_pad gives them), fresh UUIDs each time: what the tablet sends when it saves;
3. ``replay`` — the same batch sent again: every item found in the receipts, nothing written.

The signatures and receipts a sync wrote are deleted after it (outside the timed window), so that
every batch meets the same chain. Prints p50/p95 and SQL statements per request and the verdict:
the sync's p95 within 2× the form's (issue 15); writes ``bench/results/attendance.json``.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.databases import drop_database, fresh_database

RESULTS = Path(__file__).resolve().parent / "results" / "attendance.json"
NAME = "stages_bench_attendance"  # its PostgreSQL database (--postgres), dropped after the run
PEOPLE = 16
LIMIT = 2.0


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=60, help="requests of each kind")
    parser.add_argument("--postgres", help="server URL without database name (PostgreSQL run)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="stages-bench-") as tmp:
        os.environ["STAGES_INSTANCE_DIR"] = tmp
        os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        url = _database(args.postgres, tmp)
        try:
            figures = _run(url, args.requests)
        finally:
            if args.postgres:
                drop_database(args.postgres, NAME)
    _print(figures)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(f"\nRésultats écrits dans {RESULTS}")
    return figures


def _database(postgres: str | None, tmp: str) -> str:
    return fresh_database(postgres, NAME) if postgres else f"sqlite:///{tmp}/bench.sqlite3"


def signature_png(seed: int) -> str:
    """A drawing like signature_pad's: 600×200, transparent, a few strokes."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGBA", (600, 200))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        points = [(rng.randint(20, 580), rng.randint(30, 170)) for _ in range(12)]
        draw.line(points, fill=(0, 0, 0, 255), width=3, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _build():
    """A course of today, its half-day begun an hour ago, 16 people; its facilitator."""
    from stages.auth.models import Role
    from stages.extensions import db
    from stages.timeutil import now_utc, to_local
    from tests import factories as make

    now = to_local(now_utc())
    start = max(now - timedelta(hours=1), now.replace(hour=0, minute=1, second=0, microsecond=0))
    end = min(now + timedelta(hours=2), now.replace(hour=23, minute=59, second=0, microsecond=0))
    if not start < now < end:
        raise SystemExit("Lancez le banc entre 0 h 02 et 23 h 58 (heure de Paris).")
    association = make.organization(name="APCARS")
    facilitator = make.user(Role.FACILITATOR, [association])
    course = make.course(organizations=[association], facilitators=[facilitator], day=now.date(),
                         parts=((start.time().replace(second=0, microsecond=0), end.time().replace(second=0, microsecond=0)),),
                         capacity=PEOPLE)
    people = [make.enrollment(make.measure(), course) for _ in range(PEOPLE)]
    db.session.commit()
    return course.id, course.parts[0].id, [e.id for e in people], facilitator.email


def _run(url: str, requests: int) -> dict:
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from stages import create_app
    from stages.attendance.models import AttendanceSignature, AttendanceSyncReceipt
    from stages.extensions import db
    from tests.factories import PASSWORD

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False,
                      "WTF_CSRF_ENABLED": False, "BASE_URL": "https://stages.example.fr"})
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        course_id, part_id, people, email = _build()
        client = app.test_client()
        if client.post("/connexion", data={"email": email, "password": PASSWORD}).status_code != 302:
            raise SystemExit("Connexion refusée.")
        drawings = [signature_png(i) for i in range(PEOPLE)]
        statements = {"count": 0}

        def count(*_args):
            statements["count"] += 1

        sa.event.listen(db.engine, "before_cursor_execute", count)
        form_url = f"/stages/{course_id}/presence/{part_id}"
        sync_url = f"/stages/{course_id}/presence/synchro"
        samples = {"form": [], "sync": [], "replay": []}
        queries = {"form": set(), "sync": set(), "replay": set()}

        def timed(kind, send, expect):
            statements["count"] = 0
            started = time.perf_counter()
            response = send()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != expect:
                raise SystemExit(f"{kind} : {response.status_code} au lieu de {expect}.")
            samples[kind].append(elapsed)
            queries[kind].add(statements["count"])
            return response

        arrival = _arrival(part_id)
        for index in range(requests + 5):  # the first 5 of each kind warm up
            status = "present" if index % 2 else "absent"
            timed("form", lambda: client.post(form_url, data={f"status-{e}": status for e in people}), 302)
            # Chosen after the form's save: the tablet's marks are the latest and apply.
            at = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
            batch = [
                {"id": str(uuid.uuid4()), "type": "mark", "part_id": part_id, "enrollment_id": e,
                 "status": "present" if index % 2 == 0 else "late", "arrived": arrival,
                 "left": "", "note": "", "at": at}
                for e in people
            ] + [
                {"id": str(uuid.uuid4()), "type": "signature", "part_id": part_id, "enrollment_id": e,
                 "image": drawings[i], "at": at}
                for i, e in enumerate(people)
            ]
            answer = timed("sync", lambda: client.post(sync_url, json={"items": batch}), 200).get_json()
            if {r.get("state") for r in answer["results"]} != {"applied"}:
                raise SystemExit(f"sync : {answer['results'][:2]}")
            answer = timed("replay", lambda: client.post(sync_url, json={"items": batch}), 200).get_json()
            if {r.get("state") for r in answer["results"]} != {"duplicate"}:
                raise SystemExit("replay : des éléments ont été appliqués deux fois.")
            with db.engine.begin() as conn:  # the next batch meets the same chain
                conn.execute(sa.delete(AttendanceSignature).where(AttendanceSignature.part_id == part_id))
                conn.execute(sa.delete(AttendanceSyncReceipt))
        sa.event.remove(db.engine, "before_cursor_execute", count)
        db.session.remove()
        db.engine.dispose()
    figures = {
        "database": url.split(":", 1)[0],
        "python": sys.version.split()[0],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU",
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "people": PEOPLE,
        "signature_bytes": len(base64.b64decode(drawings[0].split(",", 1)[1])),
        "requests": requests,
    }
    for kind, values in samples.items():
        kept = values[5:]
        figures[kind] = {
            "p50_ms": round(statistics.median(kept), 2),
            "p95_ms": round(statistics.quantiles(kept, n=20)[18], 2),
            "mean_ms": round(statistics.fmean(kept), 2),
            "statements": sorted(queries[kind]),
        }
    figures["ratio_sync_form_p95"] = round(figures["sync"]["p95_ms"] / figures["form"]["p95_ms"], 2)
    figures["passed"] = figures["ratio_sync_form_p95"] <= LIMIT
    return figures


def _arrival(part_id: int) -> str:
    """The late ones arrived at the half-day's start plus 5 minutes (typed « HH:MM »)."""
    from stages.extensions import db
    from stages.scheduling.models import CoursePart
    from stages.timeutil import to_local

    part = db.session.get(CoursePart, part_id)
    return (to_local(part.starts_at) + timedelta(minutes=5)).strftime("%H:%M")


def _print(figures: dict) -> None:
    print(f"\nPrésence de {figures['people']} personnes — {figures['database']}, {figures['machine']}, "
          f"Python {figures['python']}, signatures de {figures['signature_bytes']} octets")
    print(f"{'':40} {'p50':>8} {'p95':>8} {'moy.':>8}  requêtes SQL")
    for kind, label in (("form", "Formulaire (16 marques)"),
                        ("sync", "Tablette (16 marques + 16 signatures)"),
                        ("replay", "Tablette, même lot renvoyé")):
        f = figures[kind]
        print(f"{label:40} {f['p50_ms']:8.1f} {f['p95_ms']:8.1f} {f['mean_ms']:8.1f}  {f['statements']}")
    verdict = "RÉUSSI" if figures["passed"] else "ÉCHEC"
    print(f"\np95 tablette ÷ p95 formulaire : {figures['ratio_sync_form_p95']:.2f} (≤ {LIMIT:g}) — {verdict}")


if __name__ == "__main__":
    main()
