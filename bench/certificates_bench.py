"""Benchmark: issuing attestations for a 1,000-participant batch, against bare ReportLab.

Not a timed test: run it by hand and read the ratio.

    .venv/bin/python -m bench.certificates_bench [--count 1000] [--sample /tmp/attestation.pdf]

It builds a throw-away SQLite database with the real migrations, creates one CLOSED session with
``count`` ATTENDED enrollments and their attendance marks in bulk, then times in the same run:

1. baseline — the same one-page PDF (same texts, fonts and QR code) drawn with bare ReportLab
   canvas calls, ``count`` times: the floor set by ReportLab and segno themselves;
2. ``issue_for_session`` — what an organizer's click costs: numbering, codes, hours attended,
   the PDF, its SHA-256, the rows and the commit;
3. regeneration — ``certificate_pdf`` for every attestation, as downloads do (also checks that
   every regenerated PDF matches its stored SHA-256).

Prints a small table and writes ``bench/results/certificates.json``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import date, datetime, time as clock, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "certificates.json"


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; returns the figures written to the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="participants in the batch")
    parser.add_argument("--sample", type=Path, help="also write the first attestation there")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="stages-bench-") as tmp:
        # Before the app is imported: keep the bench away from the project's instance/ folder.
        os.environ["STAGES_INSTANCE_DIR"] = tmp
        os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
        logging.getLogger("alembic").setLevel(logging.WARNING)
        from flask_migrate import upgrade

        from stages import create_app
        from stages.extensions import db

        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite3",
            "RATELIMIT_ENABLED": False,
            "BASE_URL": "https://stages.example.fr",
        })
        with app.app_context():
            upgrade()
            course_id, user_id = _build_batch(args.count)
            figures = _run(course_id, user_id, args.count, args.sample)
            db.session.remove()
            db.engine.dispose()
    _print(figures)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
    print(f"\nRésultats écrits dans {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    return figures


def _build_batch(count: int) -> tuple[int, int]:
    """One CLOSED two-half-day session with ``count`` people present at both parts, in bulk."""
    import sqlalchemy as sa

    from stages.attendance.models import AttendanceMark, AttendanceStatus
    from stages.auth.models import Role, User
    from stages.enrollment.models import (
        Enrollment,
        EnrollmentStatus,
        LegalFrame,
        LegalMeasure,
        MeasureStatus,
        Participant,
    )
    from stages.extensions import db
    from stages.scheduling.models import Course, CoursePart, CourseStatus, Venue
    from stages.auth.models import Organization, OrganizationKind
    from stages.timeutil import local_to_utc

    apcars = Organization(name="APCARS", short_name="APCARS", kind=OrganizationKind.ASSOCIATION)
    scelles = Organization(
        name="Fondation Scelles", short_name="Scelles", kind=OrganizationKind.ASSOCIATION
    )
    parquet = Organization(
        name="Parquet du tribunal judiciaire de Paris", short_name="Parquet de Paris",
        kind=OrganizationKind.PARQUET,
    )
    user = User(
        email="coordination@apcars.test", full_name="Claire Martin", password_hash="-",
        role=Role.ORGANIZER, organizations=[apcars],
    )
    venue = Venue(
        name="Préfecture de la Région Île-de-France", address="5 rue Leblanc",
        postal_code="75015", city="Paris", capacity=count,
    )
    day = date(2026, 3, 16)
    parts = [
        CoursePart(starts_at=local_to_utc(day, clock(9, 30)), ends_at=local_to_utc(day, clock(12, 30))),
        CoursePart(starts_at=local_to_utc(day, clock(13, 30)), ends_at=local_to_utc(day, clock(16, 30))),
    ]
    course = Course(
        title="Stage de sensibilisation — session de mars", venue=venue,
        status=CourseStatus.CLOSED, capacity=count, seats_taken=count, parts=parts,
        starts_at=parts[0].starts_at, ends_at=parts[-1].ends_at, organizations=[apcars, scelles],
    )
    db.session.add_all([apcars, scelles, parquet, user, venue, course])
    db.session.flush()

    surnames = ["MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND"]
    firsts = ["Jean", "Karim", "Pierre-Louis", "Mehdi", "Thomas", "Éric", "Nicolas", "Julien"]
    participant_ids = db.session.scalars(
        sa.insert(Participant).returning(Participant.id, sort_by_parameter_order=True),
        [
            {
                "surname": f"{surnames[i % 8]}{i}", "first_names": firsts[i % 7],
                "birth_date": date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
                "birth_place": "Paris", "search_key": f"{surnames[i % 8].lower()}{i}",
            }
            for i in range(count)
        ],
    ).all()
    measure_ids = db.session.scalars(
        sa.insert(LegalMeasure).returning(LegalMeasure.id, sort_by_parameter_order=True),
        [
            {
                "participant_id": pid, "frame": LegalFrame.COMPOSITION_PENALE,
                "authority_id": parquet.id, "handling_organization_id": apcars.id,
                "case_reference": f"26{pid:09d}", "decision_date": date(2026, 1, 5),
                "deadline": date(2026, 7, 5), "status": MeasureStatus.ATTENDED,
                "certificate_recipient": "Parquet de Paris, bureau des alternatives aux poursuites",
            }
            for pid in participant_ids
        ],
    ).all()
    enrollment_ids = db.session.scalars(
        sa.insert(Enrollment).returning(Enrollment.id, sort_by_parameter_order=True),
        [
            {"measure_id": mid, "course_id": course.id, "status": EnrollmentStatus.ATTENDED}
            for mid in measure_ids
        ],
    ).all()
    db.session.execute(
        sa.insert(AttendanceMark),
        [
            {"enrollment_id": eid, "part_id": part.id, "status": AttendanceStatus.PRESENT}
            for eid in enrollment_ids
            for part in parts
        ],
    )
    db.session.commit()
    return course.id, user.id


def _run(course_id: int, user_id: int, count: int, sample: Path | None) -> dict:
    import reportlab
    import segno
    import sqlalchemy as sa

    from stages.auth.models import User
    from stages.certificates.document import certificate_document, certificate_pdf
    from stages.certificates.issuing import issue_for_course
    from stages.certificates.models import Certificate
    from stages.extensions import db
    from stages.scheduling.models import Course

    # 1. Issue: what the organizer's click costs, commit included.
    db.session.remove()
    course = db.session.get(Course, course_id)
    user = db.session.get(User, user_id)
    clock_ = _Stopwatch()
    issued = issue_for_course(course, by=user)
    db.session.commit()
    issue = clock_.stop()
    assert len(issued) == count, (len(issued), count)

    # The same texts for the baseline, read once outside any timing.
    db.session.remove()
    certificates = db.session.scalars(sa.select(Certificate).order_by(Certificate.sequence)).all()
    documents = [certificate_document(c) for c in certificates]

    # 2. Baseline: bare canvas calls drawing the same page.
    clock_ = _Stopwatch()
    baseline_sizes = [len(_bare_reportlab(doc)) for doc in documents]
    baseline = clock_.stop()

    # 3. Regeneration for downloads, checked against the stored fingerprints.
    db.session.remove()
    certificates = db.session.scalars(sa.select(Certificate).order_by(Certificate.sequence)).all()
    clock_ = _Stopwatch()
    regenerated = [certificate_pdf(c) for c in certificates]
    regenerate = clock_.stop()
    mismatches = sum(
        hashlib.sha256(pdf).hexdigest() != c.sha256 for pdf, c in zip(regenerated, certificates)
    )
    if sample:
        sample.write_bytes(regenerated[0])

    def row(timing: tuple[float, float]) -> dict:
        wall, cpu = timing
        return {
            "total_seconds": round(wall, 3),
            "per_pdf_ms": round(wall / count * 1000, 3),
            "ratio_to_baseline": round(wall / baseline[0], 2),
            "cpu_seconds": round(cpu, 3),
            "cpu_ratio_to_baseline": round(cpu / baseline[1], 2),
        }

    return {
        "benchmark": "certificates",
        "count": count,
        "run_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "database": "sqlite",
        # Timings on a shared machine move with its load: read them with this in mind.
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "reportlab": reportlab.Version,
        "segno": segno.__version__,
        "baseline_bare_reportlab": row(baseline),
        "issue_for_session": row(issue),
        "regenerate_for_download": row(regenerate),
        "pdf_bytes_mean": round(sum(len(p) for p in regenerated) / count),
        "baseline_pdf_bytes_mean": round(sum(baseline_sizes) / count),
        "sha256_mismatches": mismatches,
    }


class _Stopwatch:
    """Wall-clock and CPU time of this process: CPU time moves less when the machine is busy."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def _bare_reportlab(doc) -> bytes:
    """The attestation's texts and QR code with plain canvas calls: no layout, no wrapping."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    from stages.certificates.pdf import draw_qr
    from stages.pdf_fonts import BOLD, FONT

    width, height = A4
    left = 20 * mm
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4, invariant=1, pageCompression=1, initialFontName=FONT)
    c.setFont(BOLD, 10)
    c.drawString(left, height - 30 * mm, " — ".join(doc.organizations))
    c.drawRightString(width - left, height - 30 * mm, f"N° {doc.number}")
    c.setFont(BOLD, 22)
    c.drawCentredString(width / 2, height - 50 * mm, "Attestation de stage")
    c.setFont(FONT, 12)
    c.drawCentredString(
        width / 2, height - 58 * mm,
        "Stage de sensibilisation à la lutte contre l'achat d'actes sexuels",
    )
    c.setFont(FONT, 10.5)
    lines = [
        f"Je soussigné·e, {doc.signatory}, pour l'association {doc.signatory_organization},",
        "atteste que la personne désignée ci-dessous a suivi le stage organisé par",
        " et ".join(doc.organizations) + ".",
        "",
        f"Nom : {doc.surname}",
        f"Prénoms : {doc.first_names}",
        f"Née ou né le : {doc.birth}",
        f"Cadre légal : {doc.legal_frame}",
        f"Autorité prescriptrice : {doc.authority}",
        f"Référence de la procédure : {doc.case_reference}",
        f"Intitulé : {doc.course_title}",
        f"Lieu : {doc.venue}",
        *(f"Demi-journée : {half_day}" for half_day in doc.half_days),
        f"Durée de présence : {doc.hours_attended}",
        f"Destinataire : {doc.recipient}",
        "",
        f"Fait à {doc.issued_place}, le {doc.issued_on}.",
        f"Pour l'association {doc.signatory_organization}, {doc.signatory}",
    ]
    y = height - 72 * mm
    for line in lines:
        c.drawString(left, y, line)
        y -= 15
    size, bottom = 30 * mm, 36 * mm
    # The attestation's own QR drawing (plain canvas calls), so that the ratio measures the
    # application's layers, not a different way of drawing the QR code.
    draw_qr(c, doc.verification_url, left, bottom, size)
    c.setFont(FONT, 7.5)
    c.drawString(left, bottom - 10, doc.verification_url)
    c.setFont(BOLD, 9)
    c.drawString(left, bottom - 22, f"Code de vérification : {doc.verification_code}")
    c.showPage()
    c.save()
    return buffer.getvalue()


def _print(figures: dict) -> None:
    count = figures["count"]
    print(f"\nAttestations de stage — lot de {count} personnes "
          f"(SQLite, Python {figures['python']}, ReportLab {figures['reportlab']})\n")
    header = f"{'':42}{'total (s)':>11}{'par PDF (ms)':>14}{'ratio':>8}{'CPU (s)':>10}{'ratio CPU':>11}"
    print(header)
    print("-" * len(header))
    for key, label in (
        ("baseline_bare_reportlab", "référence : ReportLab nu (même page)"),
        ("issue_for_session", "issue_for_session (PDF + SHA-256 + lignes)"),
        ("regenerate_for_download", "régénération pour téléchargement"),
    ):
        row = figures[key]
        print(f"{label:42}{row['total_seconds']:>11.2f}{row['per_pdf_ms']:>14.2f}"
              f"{row['ratio_to_baseline']:>8.2f}{row['cpu_seconds']:>10.2f}"
              f"{row['cpu_ratio_to_baseline']:>11.2f}")
    print(f"\nTaille moyenne : {figures['pdf_bytes_mean']} octets "
          f"(référence {figures['baseline_pdf_bytes_mean']}) ; "
          f"empreintes différentes : {figures['sha256_mismatches']} ; charge de la machine : "
          f"{figures['load_average_1min']} pour {figures['cpu_count']} processeurs")


if __name__ == "__main__":
    main(sys.argv[1:])
