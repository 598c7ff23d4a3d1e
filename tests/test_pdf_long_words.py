"""Every PDF keeps a word longer than its line inside the page.

A surname typed without spaces as long as its field allows (120 characters), a case reference
of 77, a course title and a venue name of 120 letters: each document is drawn for such a person,
and ``pdftotext -bbox`` (what a reader's viewer sees) must find every word inside the page, and
the surname whole once its pieces are put back together. ReportLab's canvas does not cut a long
word (``stages.pdf_lines`` does); its Platypus paragraphs and tables do.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from html import unescape

import pytest
import time_machine

from stages.attendance.pdf import roster_pdf
from stages.attendance.services import seat_holders
from stages.auth.models import Role
from stages.certificates import document, issuing
from stages.enrollment.convocation import course_convocations_pdf
from stages.extensions import db
from stages.privacy.subject_export import build_export, export_pdf
from stages.reports.bilans import bilan_rows, bilan_summary
from stages.reports.pdf import bilan_pdf
from tests.helpers import pdftotext

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc)
SURNAME = "-".join(["FERNANDEZ"] * 13)[:120]
UNBROKEN = "W" * 120  # not even a hyphen to cut after
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>')
# Every document keeps at least 10 mm of margin, left and right.
MARGIN = 28.3
PAGE = re.compile(r'<page width="([\d.]+)"')


@pytest.fixture
def world(make):
    apcars = make.organization(name="APCARS")
    parquet = make.authority(name="Parquet de Paris")
    organizer = make.user(Role.ORGANIZER, [apcars])
    with time_machine.travel(NOW, tick=False):
        course, enrollments = make.closed_course_with(
            people=2, organizations=[apcars], authority=parquet, handling=apcars,
            day=date(2026, 3, 16),
        )
    course.title = ("Sensibilisation" * 8)[:120]
    course.venue.name = ("MAISONDELAJUSTICEETDUDROIT" * 5)[:120]
    for enrollment, surname in zip(enrollments, (SURNAME, UNBROKEN)):
        enrollment.measure.participant.surname = surname
        enrollment.measure.case_reference = "PARQUET-DE-PARIS/" + "0123456789" * 6
    db.session.flush()
    return course, enrollments, organizer, parquet


def _documents(world):
    course, enrollments, organizer, parquet = world
    rows = bilan_rows(course, parquet.id)
    with time_machine.travel(NOW, tick=False):
        certificate = issuing.issue_certificate(enrollments[0], by=organizer)
    yield "feuille d'émargement", roster_pdf(course, seat_holders(course))
    yield "bilan", bilan_pdf(course, parquet, rows, bilan_summary(rows), NOW)
    yield "convocations", course_convocations_pdf(enrollments)
    yield "attestation", document.certificate_pdf(certificate)
    yield "export des données", export_pdf(build_export(enrollments[0].measure.participant))


def test_every_pdf_keeps_a_long_word_inside_the_page(world):
    for name, pdf in _documents(world):
        layout = pdftotext(pdf, "-bbox")
        width = float(PAGE.search(layout)[1])
        words = [(float(x0), float(x1), unescape(text)) for x0, x1, text in WORD.findall(layout)]
        outside = [(text[:30], x0, x1) for x0, x1, text in words if x0 < MARGIN or x1 > width - MARGIN]
        assert not outside, (name, width, outside[:5])
        joined = "".join(text for _x0, _x1, text in words)
        assert SURNAME in joined, name
