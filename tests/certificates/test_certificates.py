"""Issuing attestations: rules, numbering, codes, the PDF and its fingerprint, revocation,
downloads and their permissions, the session-wide issue, and the page loaders."""
from __future__ import annotations

from types import SimpleNamespace
import hashlib
import io
import math
import re
import threading
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader

from stages.attendance.models import AttendanceMark, AttendanceStatus
from stages.auth.models import AuditEntry, Role
from stages.certificates import document, issuing, queries as loaders
from stages.certificates.codes import (
    CODE_ALPHABET,
    CODE_LENGTH,
    format_code,
    new_verification_code,
    normalize_code,
)
from stages.certificates.models import Certificate
from stages.certificates.pdf import render_certificate
from stages.enrollment.models import EnrollmentStatus, MeasureStatus
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import CourseStatus
from stages.auth.models import OrganizationKind
from tests.helpers import count_queries, drawn_texts, login

# Monday 16 March 2026, a one-day course of two half-days (3 h + 3 h).
COURSE_DAY = date(2026, 3, 16)
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def partners(make):
    """Two co-organizing associations, their organizer, a parquet and its liaison."""
    partners = SimpleNamespace()
    partners.apcars = make.organization(name="APCARS")
    partners.scelles = make.organization(name="Fondation Scelles")
    partners.parquet = make.organization(OrganizationKind.PARQUET, name="Parquet de Paris")
    partners.organizer = make.user(Role.ORGANIZER, [partners.apcars], full_name="Claire Martin")
    partners.liaison = make.user(Role.LIAISON, [partners.parquet])
    return partners


@pytest.fixture
def closed(make, partners):
    """A closed session at the MJD du 17e with two people present at every half-day."""
    venue = make.venue(name="MJD du 17e", city="Paris")
    course, enrollments = make.closed_course_with(
        people=2, organizations=[partners.apcars, partners.scelles], authority=partners.parquet,
        handling=partners.apcars, day=COURSE_DAY, venue=venue,
        title="Stage de sensibilisation — mars",
    )
    person = enrollments[0].measure.participant
    person.surname, person.first_names = "VERCINGETORIX", "Maximilien Aurèle"
    person.birth_place = "Lyon"
    enrollments[0].measure.case_reference = "24-PARQ-0042"
    db.session.flush()
    return course, enrollments


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


# ---------------------------------------------------------------------------------------------
# Issuing rules


def test_present_on_all_parts_gets_a_certificate_with_name_dates_hours_number(closed, partners):
    course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    db.session.commit()

    assert certificate.number == "2026-00001"
    assert certificate.hours_attended_minutes == 6 * 60
    assert enrollment.measure.status == MeasureStatus.CERTIFICATE_ISSUED
    text = pdf_text(document.certificate_pdf(certificate))
    for expected in (
        "Attestation de stage",
        "Stage de sensibilisation à la lutte contre l'achat d'actes sexuels",
        "VERCINGETORIX", "Maximilien Aurèle", "17 mai 1980 à Lyon",
        "lundi 16 mars 2026, de 9 h 30 à 12 h 30", "lundi 16 mars 2026, de 13 h 30 à 16 h 30",
        "6 h 00", "2026-00001", "APCARS", "Fondation Scelles", "Parquet de Paris",
        "24-PARQ-0042", "Composition pénale", "Claire Martin", "pour l'association APCARS",
        "MJD du 17e", "Fait à Paris, le 20 mars 2026",
        format_code(certificate.verification_code),
        f"http://stages.test/verification/{format_code(certificate.verification_code)}",
    ):
        assert expected in text, expected


def test_hours_are_cut_by_late_arrival(make, closed, partners):
    course, (enrollment, _other) = closed
    mark = next(m for m in db.session.scalars(sa.select(AttendanceMark)) if m.enrollment_id == enrollment.id)
    mark.status = AttendanceStatus.LATE
    mark.arrived_at = mark.part.starts_at.replace(minute=mark.part.starts_at.minute + 15)
    db.session.flush()
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    assert certificate.hours_attended_minutes == 5 * 60 + 45
    assert "5 h 45" in pdf_text(document.certificate_pdf(certificate))


def test_not_closed_course_is_refused(make, closed, partners):
    course, (enrollment, _other) = closed
    course.status = CourseStatus.HELD
    with pytest.raises(DomainError, match="clôturé"):
        issuing.issue_certificate(enrollment, by=partners.organizer)
    with pytest.raises(DomainError, match="clôturé"):
        issuing.issue_for_course(course, by=partners.organizer)


def test_not_attended_is_refused(make, partners):
    _course, (enrollment,) = make.closed_course_with(
        people=1, organizations=[partners.apcars], status=EnrollmentStatus.PARTLY_ATTENDED
    )
    with pytest.raises(DomainError, match="présentes à tout le stage"):
        issuing.issue_certificate(enrollment, by=partners.organizer)


def test_second_certificate_is_refused(closed, partners):
    _course, (enrollment, _other) = closed
    first = issuing.issue_certificate(enrollment, by=partners.organizer)
    with pytest.raises(DomainError, match=f"déjà été délivrée \\(n° {first.number}\\)"):
        issuing.issue_certificate(enrollment, by=partners.organizer)


def test_attended_without_any_mark_is_refused(make, closed, partners):
    """An override to ATTENDED without marks would give an attestation of « 0 h 00 »."""
    course, (enrollment, _other) = closed
    for mark in db.session.scalars(sa.select(AttendanceMark)):
        if mark.enrollment_id == enrollment.id:
            db.session.delete(mark)
    db.session.flush()
    with pytest.raises(DomainError, match="aucune présence"):
        issuing.issue_certificate(enrollment, by=partners.organizer)


# ---------------------------------------------------------------------------------------------
# Numbering


def test_numbers_are_sequential_per_year_and_restart_in_a_new_year(make, partners):
    numbers = []
    for moment in (
        datetime(2026, 12, 31, 10, 0, tzinfo=timezone.utc),
        datetime(2026, 12, 31, 22, 30, tzinfo=timezone.utc),  # 23 h 30 in Paris: still 2026
        datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc),  # 00 h 30 in Paris: 2027
        datetime(2027, 1, 2, 9, 0, tzinfo=timezone.utc),
    ):
        with time_machine.travel(moment, tick=False):
            _course, (enrollment,) = make.closed_course_with(people=1, organizations=[partners.apcars])
            numbers.append(issuing.issue_certificate(enrollment, by=partners.organizer).number)
    assert numbers == ["2026-00001", "2026-00002", "2027-00001", "2027-00002"]
    rows = db.session.execute(sa.select(Certificate.year, Certificate.sequence).order_by(Certificate.id)).all()
    assert [tuple(r) for r in rows] == [(2026, 1), (2026, 2), (2027, 1), (2027, 2)]


def test_numbering_continues_after_existing_certificates(make, closed, partners):
    course, enrollments = closed
    issued = issuing.issue_for_course(course, by=partners.organizer)
    _course, (later,) = make.closed_course_with(people=1, organizations=[partners.apcars])
    assert [c.number for c in issued] + [issuing.issue_certificate(later, by=partners.organizer).number] == [
        "2026-00001", "2026-00002", "2026-00003",
    ]


def test_two_organizers_issuing_at_once_get_distinct_numbers(app, make, partners):
    """Both pass the checks together; the per-year lock makes the second wait, then continue."""
    _c1, (first,) = make.closed_course_with(people=1, organizations=[partners.apcars])
    _c2, (second,) = make.closed_course_with(people=1, organizations=[partners.apcars])
    db.session.commit()
    ids = [first.id, second.id]
    organizer_id = partners.organizer.id
    barrier = threading.Barrier(2, timeout=20)
    original = issuing._lock_year
    results, errors = [], []

    def lock_after_both_arrive(year):
        barrier.wait()  # both transactions are open and about to draw a number
        original(year)

    def issue(enrollment_id):
        with app.app_context():
            try:
                from stages.auth.models import User
                from stages.enrollment.models import Enrollment

                enrollment = db.session.get(Enrollment, enrollment_id)
                user = db.session.get(User, organizer_id)
                results.append(issuing.issue_certificate(enrollment, by=user).number)
                db.session.commit()
            except Exception as error:  # pragma: no cover - reported below
                errors.append(repr(error))
                db.session.rollback()
            finally:
                db.session.remove()

    issuing._lock_year = lock_after_both_arrive
    try:
        threads = [threading.Thread(target=issue, args=(i,)) for i in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        issuing._lock_year = original
    assert errors == []
    assert sorted(results) == ["2026-00001", "2026-00002"]


# ---------------------------------------------------------------------------------------------
# Verification codes


def test_code_has_80_random_bits_in_an_unambiguous_alphabet(closed, partners):
    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    code = certificate.verification_code
    assert len(code) == CODE_LENGTH == 16
    assert len(set(CODE_ALPHABET)) == 32
    assert not set("ILOU") & set(CODE_ALPHABET)
    assert set(code) <= set(CODE_ALPHABET)
    assert CODE_LENGTH * math.log2(len(CODE_ALPHABET)) >= 80
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", format_code(code))


def test_codes_are_random_and_use_every_symbol():
    codes = [new_verification_code() for _ in range(2000)]
    assert len(set(codes)) == len(codes)
    symbols = "".join(codes)
    assert set(symbols) == set(CODE_ALPHABET)
    # 32,000 symbols: each of the 32 appears ~1,000 times; a biased generator would not.
    counts = [symbols.count(s) for s in CODE_ALPHABET]
    assert min(counts) > 800 and max(counts) < 1200


@pytest.mark.parametrize("typed", [
    "abcd-efgh-jkmn-pqrs", "ABCD EFGH JKMN PQRS", "ABCDEFGHJKMNPQRS", " abcd-efgh jkmn-pqrs ",
])
def test_typed_codes_are_case_and_separator_insensitive(typed):
    assert normalize_code(typed) == "ABCDEFGHJKMNPQRS"


def test_look_alike_letters_are_read_as_digits():
    assert normalize_code("O0IL-1111-2222-3333") == "0011111122223333"


@pytest.mark.parametrize("typed", ["", None, "ABCD", "ABCD-EFGH-JKMN-PQR", "ABCD-EFGH-JKMN-PQRSX", "ÀBCD-EFGH-JKMN-PQRS", "U" * 16, "x" * 500])
def test_malformed_codes_are_none(typed):
    assert normalize_code(typed) is None


# ---------------------------------------------------------------------------------------------
# The PDF: regenerated identically


def test_redownload_gives_identical_bytes_matching_the_stored_sha256(closed, partners):
    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    db.session.commit()
    certificate_id = certificate.id
    first = document.certificate_pdf(certificate)
    db.session.expire_all()
    db.session.remove()  # a new request: everything read again from the database
    reloaded = db.session.get(Certificate, certificate_id)
    second = document.certificate_pdf(reloaded)
    assert first == second
    assert hashlib.sha256(second).hexdigest() == reloaded.sha256
    assert document.pdf_matches(reloaded, second)
    assert first.startswith(b"%PDF-")
    # Metadata carries the number, never the name.
    info = PdfReader(io.BytesIO(first)).metadata
    assert info.title == f"Attestation de stage n° {reloaded.number}"
    assert "VERCINGETORIX" not in str(dict(info))
    assert info["/CreationDate"] == "D:20260320100000+00'00'"


def test_an_issued_attestation_is_unchanged_by_every_later_edit(app, client, closed, partners):
    """What was certified stays: the bytes, their SHA-256 and what the public page shows,
    whatever is edited afterwards (a change goes through revocation and replacement)."""
    course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    db.session.commit()
    issued, sha256 = document.certificate_pdf(certificate), certificate.sha256
    code = certificate.verification_code
    before = client.get(f"/verification/{code}").get_data(as_text=True)
    assert "M. V." in before and "1980" in before

    person, measure = enrollment.measure.participant, enrollment.measure
    person.surname, person.first_names = "ROUSSEAU", "Jean-Jacques"
    person.birth_date, person.birth_place = date(1975, 6, 28), "Genève"
    measure.case_reference, measure.certificate_recipient = "99-AUTRE-0001", "Quelqu'un d'autre"
    measure.authority.name = "Parquet renommé"
    course.title = "Un autre intitulé"
    course.venue.name, course.venue.address, course.venue.city = "Autre salle", "1 rue Neuve", "Lyon"
    partners.apcars.name, partners.scelles.name = "APCARS renommée", "Scelles renommée"
    partners.organizer.full_name = "Quelqu'un d'autre"
    # The programme too (issue 19): a module renamed, a half-day's modules taken out, another added.
    morning, afternoon = course.parts[0].programme, course.parts[-1].programme
    assert "Santé" in "".join(pdf_text(issued).split())
    morning[0].module.title = "Module renommé après coup"
    removed = afternoon.pop()
    db.session.delete(removed)
    morning.append(type(removed)(module=removed.module, position=9))
    db.session.commit()
    app.config["BASE_URL"], base_url = "https://ailleurs.example", app.config["BASE_URL"]
    try:
        db.session.expire_all()
        reloaded = db.session.get(Certificate, certificate.id)
        assert document.certificate_pdf(reloaded) == issued
        assert reloaded.sha256 == sha256 == hashlib.sha256(issued).hexdigest()
        login(client, partners.organizer)
        assert client.get(f"/attestations/{certificate.id}.pdf").data == issued
        after = client.get(f"/verification/{code}").get_data(as_text=True)
    finally:
        app.config["BASE_URL"] = base_url
    assert "M. V." in after and "1980" in after and "J. R." not in after and "1975" not in after
    assert "VERCINGETORIX" in pdf_text(issued) and "ROUSSEAU" not in pdf_text(issued)
    assert "renommé après coup" not in pdf_text(issued)


def test_an_attestation_issued_before_the_bytes_were_kept_is_redrawn_and_checked(closed, partners, caplog):
    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    certificate.pdf = None  # as issued by an earlier version, which kept only the SHA-256
    assert document.pdf_matches(certificate, document.certificate_pdf(certificate))
    assert certificate.pdf is not None  # kept from its first matching download on
    certificate.pdf = None
    enrollment.measure.participant.first_names = "Max"
    pdf = document.certificate_pdf(certificate)
    assert not document.pdf_matches(certificate, pdf) and certificate.pdf is None
    assert "differs from its stored SHA-256" in caplog.text
    assert "Max" not in caplog.text and "VERCINGETORIX" not in caplog.text


def test_the_first_of_the_month_is_1er_and_earlier_attestations_keep_their_bytes(make, partners, caplog):
    _course, (enrollment,) = make.closed_course_with(
        people=1, organizations=[partners.apcars], authority=partners.parquet, handling=partners.apcars,
        day=date(2026, 3, 1), venue=make.venue(city="Paris"),
    )
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    pdf = document.certificate_pdf(certificate)
    assert "dimanche 1er mars 2026" in pdf_text(pdf) and "1 mars" not in pdf_text(pdf)
    assert document.pdf_matches(certificate, pdf)
    # One issued before dates said « 1er »: its fingerprint is that of « dimanche 1 mars 2026 ».
    earlier = render_certificate(document.certificate_document(certificate, first_as_ordinal=False))
    certificate.sha256 = hashlib.sha256(earlier).hexdigest()
    certificate.pdf = None  # issued before the bytes were kept, too
    again = document.certificate_pdf(certificate)
    assert again == earlier and document.pdf_matches(certificate, again)
    assert "dimanche 1 mars 2026" in pdf_text(again)
    assert "differs from its stored SHA-256" not in caplog.text


def test_names_outside_latin_1_print_as_typed(make, partners):
    _course, (enrollment,) = make.closed_course_with(people=1, organizations=[partners.apcars])
    enrollment.measure.participant.surname = "WAŁĘSA"
    enrollment.measure.participant.first_names = "Ștefan"
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    text = pdf_text(document.certificate_pdf(certificate))
    # The embedded font has the letters: neither transliterated nor black boxes.
    assert "WAŁĘSA" in text and "Ștefan" in text
    assert "\u25a0" not in text


def _value_column(pdf: bytes) -> list[tuple[str, float]]:
    """The lines drawn in the attestation's value column, top to bottom: text and right edge."""
    from stages.certificates.pdf import LABEL_WIDTH, MARGIN

    return _lines_at(pdf, MARGIN + LABEL_WIDTH)


def _lines_at(pdf: bytes, left: float) -> list[tuple[str, float]]:
    """The lines of regular text that start at ``left``, top to bottom: text and right edge."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from stages.pdf_fonts import FONT

    return [(piece.text, piece.x + stringWidth(piece.text, FONT, piece.size))
            for piece in drawn_texts(pdf) if abs(piece.x - left) < 0.5]


@pytest.mark.parametrize("surname", [
    "-".join(["FERNANDEZ"] * 12)[:120],  # a compound name without spaces, as long as the field allows
    "A" * 120,  # not even a hyphen to cut after
])
def test_a_word_longer_than_its_column_is_cut_inside_the_page(closed, partners, surname):
    """A surname or a case reference longer than the value column, a town longer than the
    « Fait à » line, is cut inside it (after a hyphen where one fits) instead of running off the
    page; every character is still printed."""
    from stages.certificates.pdf import MARGIN, PAGE_WIDTH

    _course, (enrollment, _other) = closed
    enrollment.measure.participant.surname = surname
    enrollment.measure.case_reference = "PARQUET-DE-PARIS/" + "0123456789" * 6  # 77 characters
    enrollment.course.venue.city = city = "-".join(["SAINT-REMY-DE-PROVENCE"] * 5)[:100]
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    pdf = document.certificate_pdf(certificate)
    drawn = _value_column(pdf)
    texts = [text for text, _right in drawn]
    assert all(right <= PAGE_WIDTH - MARGIN for _text, right in drawn), drawn
    name_lines = texts[:texts.index("Maximilien Aurèle")]
    assert len(name_lines) > 1 and "".join(name_lines) == surname
    if "-" in surname:
        assert all(line.endswith("-") for line in name_lines[:-1]), name_lines
    reference = texts[texts.index("PARQUET-DE-"):]  # cut after its last hyphen that fits
    assert "".join(reference).startswith("PARQUET-DE-PARIS/" + "0123456789" * 6 + "Stage de")
    place = _lines_at(pdf, MARGIN)
    start = next(i for i, (text, _right) in enumerate(place) if text.startswith("Fait à"))
    end = next(i for i, (text, _right) in enumerate(place) if text.endswith("2026."))
    assert len(place[start:end + 1]) > 1
    assert all(right <= PAGE_WIDTH - MARGIN for _text, right in place[start:end + 1]), place
    printed = "".join(text for text, _right in place[start:end + 1])
    assert "".join(printed.split()) == "".join(f"Fait à {city}, le 20 mars 2026.".split())


def test_an_attestation_of_an_earlier_wording_is_still_drawn_as_it_was_issued(closed, partners):
    """Attestations of wordings 1 and 2 whose bytes were not kept are redrawn and compared with
    their SHA-256: a long word there stays on one line, past the margin, as it was issued."""
    from stages.certificates.pdf import MARGIN, PAGE_WIDTH

    _course, (enrollment, _other) = closed
    enrollment.measure.participant.surname = "A" * 120
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    for wording in (1, 2):
        drawn = _value_column(document._render(certificate, wording=wording))
        assert drawn[0][0].startswith("A" * 60) and drawn[0][1] > PAGE_WIDTH - MARGIN


# ---------------------------------------------------------------------------------------------
# Revocation


def test_revocation_requires_a_reason_and_returns_the_measure_to_attended(closed, partners):
    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    for blank in ("", "   ", None):
        with pytest.raises(DomainError, match="motif"):
            issuing.revoke_certificate(certificate, blank, by=partners.organizer)
    assert certificate.revoked_at is None
    issuing.revoke_certificate(certificate, "Erreur de saisie de la présence", by=partners.organizer)
    db.session.commit()
    assert certificate.revoked_at == NOW
    assert certificate.revocation_reason == "Erreur de saisie de la présence"
    assert enrollment.measure.status == MeasureStatus.ATTENDED
    with pytest.raises(DomainError, match="déjà révoquée"):
        issuing.revoke_certificate(certificate, "encore", by=partners.organizer)
    with pytest.raises(DomainError, match="attestation rectificative"):
        issuing.issue_certificate(enrollment, by=partners.organizer)
    # Revoking does not change the document: the same bytes can still be downloaded.
    assert document.pdf_matches(certificate, document.certificate_pdf(certificate))


def test_revoke_page(client, closed, partners):
    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    login(client, partners.organizer)
    url = f"/attestations/{certificate.id}/revoquer"
    page = client.get(url)
    assert page.status_code == 200 and "Motif de la révocation" in page.text
    refused = client.post(url, data={"reason": "  "})
    assert refused.status_code == 200 and "Indiquez le motif" in refused.text
    assert db.session.get(Certificate, certificate.id).revoked_at is None
    done = client.post(url, data={"reason": "Présence contestée"})
    assert done.status_code == 302
    assert done.headers["Location"].endswith(f"/personnes/{enrollment.measure.participant_id}")
    certificate = db.session.get(Certificate, certificate.id)
    assert certificate.revoked_at is not None
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "certificate.revoked"))
    assert entry.object_id == certificate.id and entry.details is None
    assert entry.participant_id == enrollment.measure.participant_id


def test_revoke_is_for_organizers_of_the_measure(client, make, closed, partners):
    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    other = make.user(Role.ORGANIZER, [make.organization(name="Autre association")])
    for user in (partners.liaison, other):
        login(client, user)
        assert client.post(f"/attestations/{certificate.id}/revoquer", data={"reason": "x"}).status_code == 403
        client.post("/deconnexion")
    assert db.session.get(Certificate, certificate.id).revoked_at is None


# ---------------------------------------------------------------------------------------------
# Replacement of a revoked attestation (attestation rectificative)


def test_a_revoked_attestation_is_replaced_once_by_a_new_number_that_names_it(closed, partners):
    course, (enrollment, other) = closed
    first = issuing.issue_certificate(enrollment, by=partners.organizer)
    with pytest.raises(DomainError, match="révoquez-la d'abord"):
        issuing.replace_certificate(first, by=partners.organizer)
    issuing.revoke_certificate(first, "Erreur sur le prénom", by=partners.organizer)
    enrollment.measure.participant.first_names = "Maximilien Aurélien"
    second = issuing.replace_certificate(first, by=partners.organizer)
    db.session.commit()
    assert (second.number, second.replaces_id, second.enrollment_id) == ("2026-00002", first.id, enrollment.id)
    assert second.verification_code != first.verification_code
    assert second.hours_attended_minutes == first.hours_attended_minutes
    assert enrollment.measure.status == MeasureStatus.CERTIFICATE_ISSUED
    text = pdf_text(document.certificate_pdf(second))
    assert "Annule et remplace" in text and "2026-00001" in text and "Aurélien" in text
    assert document.pdf_matches(second, document.certificate_pdf(second))
    with pytest.raises(DomainError, match="déjà été remplacée .*2026-00002"):
        issuing.replace_certificate(first, by=partners.organizer)
    with pytest.raises(DomainError, match="déjà été délivrée"):
        issuing.issue_certificate(enrollment, by=partners.organizer)
    # The replacement may itself be revoked and replaced; the bulk issue never replaces.
    issuing.revoke_certificate(second, "Erreur de date de naissance", by=partners.organizer)
    assert issuing.due_enrollments(course) == [other]
    third = issuing.replace_certificate(second, by=partners.organizer)
    assert third.replaces_id == second.id
    certificates = loaders.certificates_for_enrollments([enrollment.id])
    assert [c.number for c in certificates] == ["2026-00001", "2026-00002", "2026-00003"]
    assert loaders.replaceable(certificates) == set()
    assert loaders.certificates_for_course(course.id)[enrollment.id].id == third.id


def test_the_database_refuses_two_valid_attestations_for_one_enrollment(closed, partners):
    from sqlalchemy.exc import IntegrityError

    _course, (enrollment, _other) = closed
    first = issuing.issue_certificate(enrollment, by=partners.organizer)
    db.session.commit()
    db.session.add(Certificate(
        enrollment_id=enrollment.id, year=2026, sequence=99, number="2026-00099",
        verification_code="0" * 16, hours_attended_minutes=60, issued_by_id=partners.organizer.id,
    ))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()
    db.session.add(Certificate(
        enrollment_id=enrollment.id, year=2026, sequence=98, number="2026-00098",
        verification_code="1" * 16, hours_attended_minutes=60, replaces_id=first.id,
        revoked_at=NOW, revocation_reason="x",
    ))
    db.session.flush()  # a revoked one beside the valid one is fine…
    db.session.add(Certificate(
        enrollment_id=enrollment.id, year=2026, sequence=97, number="2026-00097",
        verification_code="2" * 16, hours_attended_minutes=60, replaces_id=first.id,
        revoked_at=NOW, revocation_reason="x",
    ))
    with pytest.raises(IntegrityError):  # …but an attestation is replaced only once
        db.session.flush()
    db.session.rollback()


def test_replace_from_the_participant_and_course_pages(client, closed, partners):
    course, (enrollment, _other) = closed
    first = issuing.issue_certificate(enrollment, by=partners.organizer)
    issuing.revoke_certificate(first, "Erreur sur le nom", by=partners.organizer)
    db.session.commit()
    participant_id = enrollment.measure.participant_id
    login(client, partners.organizer)
    page = client.get(f"/personnes/{participant_id}").text
    assert "Délivrer une attestation rectificative" in page
    assert f"/attestations/{first.id}/remplacer" in page
    course_page = client.get(f"/stages/{course.id}").text
    assert f"/attestations/{first.id}/remplacer" in course_page
    done = client.post(f"/attestations/{first.id}/remplacer", data={"retour": "stage"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/stages/{course.id}")
    page = client.get(f"/personnes/{participant_id}").text
    assert "Attestation rectificative n° 2026-00002 délivrée" in page
    assert "en remplacement de l'attestation n° 2026-00001" in page
    assert "Délivrer une attestation rectificative" not in page
    again = client.post(f"/attestations/{first.id}/remplacer", follow_redirects=True)
    assert "déjà été remplacée" in again.text
    entry = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "certificate.issued").order_by(AuditEntry.id.desc())
    )
    assert entry.details == "remplace l'attestation n° 2026-00001"
    assert entry.participant_id == participant_id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 2


def test_replace_is_for_organizers_of_the_measure_with_a_token(app, client, make, closed, partners):
    _course, (enrollment, _other) = closed
    first = issuing.issue_certificate(enrollment, by=partners.organizer)
    issuing.revoke_certificate(first, "Erreur", by=partners.organizer)
    db.session.commit()
    other = make.user(Role.ORGANIZER, [make.organization(name="Autre association")])
    for user in (partners.liaison, other):
        login(client, user)
        assert client.post(f"/attestations/{first.id}/remplacer").status_code == 403
        client.post("/deconnexion")
    login(client, partners.organizer)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"/attestations/{first.id}/remplacer").status_code == 400  # no CSRF token
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 1


# ---------------------------------------------------------------------------------------------
# Downloads and permissions


def test_download_by_organizer_and_liaison_of_the_authority(client, closed, partners):
    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    expected = document.certificate_pdf(certificate)
    for user in (partners.organizer, partners.liaison):
        login(client, user)
        response = client.get(f"/attestations/{certificate.id}.pdf")
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data == expected
        disposition = response.headers["Content-Disposition"]
        assert disposition == f'attachment; filename="attestation-{certificate.number}.pdf"'
        assert "VERCINGETORIX" not in disposition
        client.post("/deconnexion")
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "certificate.downloaded")
    ).all()
    assert {e.user_id for e in entries} == {partners.organizer.id, partners.liaison.id}
    assert {e.participant_id for e in entries} == {enrollment.measure.participant_id}


def test_download_refused_to_other_liaison_and_facilitator(client, make, closed, partners):
    course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    other_liaison = make.user(Role.LIAISON, [make.organization(OrganizationKind.PARQUET, name="Parquet de Lyon")])
    facilitator = make.user(Role.FACILITATOR, [partners.apcars])
    course.facilitators.append(facilitator)
    for user in (other_liaison, facilitator):
        login(client, user)
        assert client.get(f"/attestations/{certificate.id}.pdf").status_code == 403
        # A missing id reads the same: ids cannot be probed.
        assert client.get(f"/attestations/{certificate.id + 1000}.pdf").status_code == 403
        client.post("/deconnexion")
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "certificate.downloaded")
    ) == 0


def test_download_needs_login(client, closed, partners):
    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    response = client.get(f"/attestations/{certificate.id}.pdf")
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


# ---------------------------------------------------------------------------------------------
# Issuing for a whole session


def test_course_issue_view_issues_all_due_and_flashes(client, make, closed, partners):
    course, enrollments = closed
    _absent = make.enrollment(make.measure(), course, status=EnrollmentStatus.ABSENT_UNEXCUSED)
    login(client, partners.organizer)
    response = client.post(f"/stages/{course.id}/attestations", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/stages/{course.id}")
    certificates = db.session.scalars(sa.select(Certificate).order_by(Certificate.sequence)).all()
    assert {c.enrollment_id for c in certificates} == {e.id for e in enrollments}
    assert [c.number for c in certificates] == ["2026-00001", "2026-00002"]
    with client.session_transaction() as flask_session:
        flashes = flask_session["_flashes"]
    assert ("success", "2 attestations délivrées (n° 2026-00001 à 2026-00002).") in flashes
    assert db.session.scalar(
        sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "certificate.issued")
    ) == 2
    again = client.post(f"/stages/{course.id}/attestations", follow_redirects=True)
    assert "Aucune attestation à délivrer" in again.text


def test_course_issue_needs_course_edit(client, make, closed, partners):
    course, _enrollments = closed
    other = make.user(Role.ORGANIZER, [make.organization(name="Autre association")])
    for user in (other, partners.liaison):
        login(client, user)
        assert client.post(f"/stages/{course.id}/attestations").status_code == 403
        client.post("/deconnexion")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 0


def test_course_issue_is_all_or_nothing(client, make, closed, partners):
    """One person cannot be certified: nobody is, and the organizer reads why."""
    course, enrollments = closed
    bad = make.enrollment(make.measure(status=MeasureStatus.ATTENDED), course, status=EnrollmentStatus.ATTENDED)
    bad.measure.participant.surname = "SANSMARQUE"
    login(client, partners.organizer)
    response = client.post(f"/stages/{course.id}/attestations", follow_redirects=True)
    assert "SANSMARQUE" in response.text and "aucune présence" in response.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 0
    assert all(e.measure.status == MeasureStatus.ATTENDED for e in enrollments)


def test_course_issue_all_or_nothing_when_drawing_fails(monkeypatch, closed, partners):
    course, _enrollments = closed
    calls = []
    original = document.render_certificate

    def fail_on_second(doc):
        calls.append(doc.number)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return original(doc)

    monkeypatch.setattr(document, "render_certificate", fail_on_second)
    with pytest.raises(RuntimeError):
        issuing.issue_for_course(course, by=partners.organizer)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 0


# ---------------------------------------------------------------------------------------------
# Loaders and the page sections


def test_certificates_for_course_is_one_query_whatever_the_size(make, partners):
    sizes = {}
    for people in (1, 6):
        course, _enrollments = make.closed_course_with(people=people, organizations=[partners.apcars])
        issuing.issue_for_course(course, by=partners.organizer)
        db.session.commit()
        course_id = course.id
        db.session.expire_all()
        with count_queries() as counter:
            found = loaders.certificates_for_course(course_id)
            [c.enrollment.status for c in found.values()]  # what the section reads
        sizes[people] = counter.count
        assert len(found) == people
    assert sizes[1] == sizes[6] == 1


def test_certificates_for_enrollments_is_one_query(make, closed, partners):
    course, enrollments = closed
    issuing.issue_for_course(course, by=partners.organizer)
    db.session.commit()
    ids = [e.id for e in enrollments]
    db.session.expire_all()
    with count_queries() as counter:
        found = loaders.certificates_for_enrollments(ids)
        [(c.enrollment.course.title, c.enrollment.course.venue.timezone) for c in found]
    assert counter.count == 1
    assert {c.enrollment_id for c in found} == set(ids)
    assert loaders.certificates_for_enrollments([]) == []


def test_included_sections_render(app, make, closed, partners):
    from flask import render_template
    from flask_login import login_user

    course, enrollments = closed
    issuing.issue_certificate(enrollments[0], by=partners.organizer)
    certificates = loaders.certificates_for_course(course.id)
    with app.test_request_context():
        login_user(partners.organizer)
        html = render_template(
            "certificates/_course_certificates.html", course=course, enrollments=enrollments,
            certificates=certificates, can_edit=True,
            certificates_due=loaders.count_due(enrollments, certificates),
        )
        assert "Délivrer les attestations (1)" in html
        assert f"/stages/{course.id}/attestations" in html
        assert "2026-00001" in html and "VERCINGETORIX" in html
        participant_html = render_template(
            "certificates/_participant_certificates.html",
            certificates=loaders.certificates_for_enrollments([enrollments[0].id]), can_revoke=True,
            replaceable=set(),
        )
        assert "N° 2026-00001" in participant_html and "/revoquer" in participant_html
    # The course page shows the section to its organizers only, once the course is closed.
    from stages.certificates.views import course_certificates_section

    assert course_certificates_section(course=course, can_edit=False, enrollments=enrollments) is None
    shown = course_certificates_section(course=course, can_edit=True, enrollments=enrollments)
    assert shown["certificates_due"] == 1


def test_the_kept_attestation_is_erased_with_the_person(client, closed, partners):
    from stages.privacy.retention import anonymize

    _course, (enrollment, _other) = closed
    certificate = issuing.issue_certificate(enrollment, by=partners.organizer)
    db.session.commit()
    anonymize([enrollment.measure.participant_id], NOW)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Certificate, certificate.id).pdf is None
    login(client, partners.organizer)
    response = client.get(f"/attestations/{certificate.id}.pdf")
    assert response.status_code == 404 and "effacée" in response.get_data(as_text=True)
    page = client.get(f"/verification/{certificate.verification_code}").get_data(as_text=True)
    assert "M. V." not in page and "1980" not in page and certificate.number in page
