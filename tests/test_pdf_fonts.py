"""Every PDF embeds a Unicode font: names in any Latin script, and Arabic letters, come back out.

The five documents (sign-in sheet, bilan, attestation, convocation, data-subject export) are
drawn for people named in Polish, Romanian, Turkish, Vietnamese and Arabic, then read back with
pypdf. With the standard PDF fonts (Helvetica, WinAnsi only) « WAŁĘSA Łukasz » printed as
« WA■■SA ■ukasz » on the sign-in sheet and the bilan, and lost its accents elsewhere.
"""
from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
import time_machine
from pypdf import PdfReader

from stages.attendance.pdf import roster_pdf
from stages.attendance.services import seat_holders
from stages.auth.models import Role
from stages.certificates import document, issuing
from stages.certificates.pdf import CertificateDocument, render_certificate
from stages.enrollment.convocation import course_convocations_pdf
from stages.extensions import db
from stages.privacy.subject_export import build_export, export_pdf
from stages.reports.bilans import bilan_rows, bilan_summary
from stages.reports.pdf import bilan_pdf

# Written out rather than imported: the test says which font must be embedded.
FONT, BOLD = "DejaVuSans", "DejaVuSans-Bold"
COURSE_DAY = date(2026, 3, 16)
NOW = datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc)
# (surname, first names) as typed; the documents print the surname in capitals.
PEOPLE = [
    ("Wałęsa", "Łukasz"),  # Polish
    ("Ștefănescu", "Ionuț"),  # Romanian (S and T with comma below)
    ("Yıldırım", "Çağrı"),  # Turkish (dotless i)
    ("Nguyễn", "Thị Ánh"),  # Vietnamese (stacked diacritics)
    ("حداد", "كريم"),  # Arabic
]
PRINTED = ["WAŁĘSA Łukasz", "ȘTEFĂNESCU Ionuț", "YILDIRIM Çağrı", "NGUYỄN Thị Ánh"]
ARABIC_WORDS = ["حداد", "كريم"]
FACILITATOR = "Phạm Ngọc Trâm"  # a plain table cell on the sign-in sheet, not a paragraph
FACILITATOR_OF_CERTIFICATES = "Đặng Thu Hà"  # the signatory of the attestations


@pytest.fixture
def world(make):
    """A closed course at which the five people attended every half-day, its organizer and
    the referring authority."""
    apcars = make.organization(name="APCARS")
    parquet = make.authority(name="Parquet de Paris")
    facilitator = make.user(Role.FACILITATOR, [apcars], full_name=FACILITATOR)
    with time_machine.travel(NOW, tick=False):
        course, enrollments = make.closed_course_with(
            people=len(PEOPLE), organizations=[apcars], authority=parquet, handling=apcars,
            day=COURSE_DAY, facilitators=[facilitator],
        )
    for enrollment, (surname, first_names) in zip(enrollments, PEOPLE):
        enrollment.measure.participant.surname = surname.upper()
        enrollment.measure.participant.first_names = first_names
    db.session.flush()
    organizer = make.user(Role.ORGANIZER, [apcars], full_name=FACILITATOR_OF_CERTIFICATES)
    return SimpleNamespace(
        course=course, enrollments=enrollments, organizer=organizer, authority=parquet
    )


def _text(pdf: bytes) -> str:
    """The text of every page, whitespace collapsed (lines wrap where the layout decides)."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _fonts(pdf: bytes) -> set[tuple[str, bool]]:
    """Each font the pages use: its name and whether its glyphs are embedded in the file."""
    found = set()
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font.get("/DescendantFonts")
            descriptor = (descendant[0].get_object() if descendant else font).get("/FontDescriptor")
            embedded = descriptor is not None and any(
                key in descriptor.get_object() for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
            found.add((str(font["/BaseFont"]), embedded))
    return found


def _assert_names_come_back(pdf: bytes, names: list[str]) -> None:
    text = _text(pdf)
    missing = [name for name in names if not _found(name, text)]
    assert not missing, (missing, text[:600])


def _found(name: str, text: str) -> bool:
    """Arabic letters are drawn unjoined and left to right (stages.pdf_fonts): pypdf reads them
    back in the order a reader sees them, right to left, so « حداد » comes out « دادح »."""
    if any("\u0600" <= char <= "\u06ff" for char in name):
        return name[::-1] in text
    return name in text


def _assert_embedded_fonts_only(pdf: bytes) -> None:
    """Only DejaVu Sans subsets (« AAAAAA+DejaVuSans »...), embedded: no standard font is left,
    whose missing letters print as black squares."""
    fonts = _fonts(pdf)
    assert fonts and all(embedded for _name, embedded in fonts), fonts
    assert {name.lstrip("/").partition("+")[2] for name, _ in fonts} <= {FONT, BOLD}, fonts


def test_sign_in_sheet(world):
    pdf = roster_pdf(world.course, seat_holders(world.course))
    _assert_names_come_back(pdf, PRINTED + ARABIC_WORDS + [FACILITATOR])
    _assert_embedded_fonts_only(pdf)


def test_bilan(world):
    rows = bilan_rows(world.course, world.authority.id)
    pdf = bilan_pdf(world.course, world.authority, rows, bilan_summary(rows), NOW)
    _assert_names_come_back(pdf, PRINTED + ARABIC_WORDS)
    _assert_embedded_fonts_only(pdf)


def test_attestations_keep_their_bytes(world):
    with time_machine.travel(NOW, tick=False):
        certificates = [
            issuing.issue_certificate(enrollment, by=world.organizer)
            for enrollment in world.enrollments
        ]
    for certificate, (surname, first_names) in zip(certificates, PEOPLE):
        pdf = document.certificate_pdf(certificate)
        # Drawn again at every download: the embedded subset must not change the bytes.
        assert document.pdf_matches(certificate, pdf)
        assert pdf == document.certificate_pdf(certificate)
        _assert_names_come_back(pdf, [surname.upper(), first_names, FACILITATOR_OF_CERTIFICATES])
        _assert_embedded_fonts_only(pdf)


def test_convocations(world):
    pdf = course_convocations_pdf(world.enrollments)
    _assert_names_come_back(pdf, PRINTED + ARABIC_WORDS)
    _assert_embedded_fonts_only(pdf)


@pytest.mark.parametrize("index", range(len(PEOPLE)))
def test_data_subject_export(world, index):
    person = world.enrollments[index].measure.participant
    pdf = export_pdf(build_export(person))
    surname, first_names = PEOPLE[index]
    _assert_names_come_back(pdf, [surname.upper(), first_names])
    _assert_embedded_fonts_only(pdf)


# The subsets' names and content must not depend on the process: an attestation is drawn again
# by another worker, or after a restart, and must give the same bytes (its SHA-256 is stored).
_RENDER = """
import datetime, hashlib, sys
from stages.certificates.pdf import CertificateDocument, render_certificate
document = eval(sys.stdin.read())
sys.stdout.write(hashlib.sha256(render_certificate(document)).hexdigest())
"""


def test_an_attestation_has_the_same_bytes_in_another_process():
    document_ = CertificateDocument(
        number="2026-00042", verification_code="ABCD-EFGH-JKMN-PQRS",
        verification_url="http://stages.test/v/ABCDEFGHJKMNPQRS",
        verification_page="http://stages.test/verification",
        organizations=("APCARS", "Fondation Scelles"), surname="NGUYỄN", first_names="Thị Ánh",
        birth="17 mai 1980 à Hải Phòng", legal_frame="Composition pénale (art. 41-2 CPP)",
        authority="Parquet de Paris", case_reference="24-PARQ-0042",
        course_title="Stage de sensibilisation — mars", half_days=("lundi 16 mars 2026, de 09 h 30 à 12 h 30",),
        hours_attended="3 h 00", venue="MJD du 17e, 16 rue Jacques Kellner, 75017 Paris",
        signatory="Đặng Thu Hà", signatory_organization="APCARS", recipient="حداد كريم",
        issued_place="Paris", issued_on="20 mars 2026",
        issued_at=datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc),
    )
    here = hashlib.sha256(render_certificate(document_)).hexdigest()
    result = subprocess.run(
        [sys.executable, "-c", _RENDER], input=repr(document_), capture_output=True, text=True,
        check=True, env={**os.environ, "PYTHONHASHSEED": "4242"},  # other str hashes, set orders
    )
    assert result.stdout == here
