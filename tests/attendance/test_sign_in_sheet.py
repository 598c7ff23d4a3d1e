"""The sign-in sheet's pages: each one names the course, the day and its half-days, and is
numbered « Page X / N »; the HTML sheet has a print button."""
import io
import re
from datetime import date, time

import pytest
from pypdf import PdfReader

from stages.attendance.pdf import roster_pdf
from stages.attendance.services import seat_holders
from stages.auth.models import Role
from stages.extensions import db
from stages.scheduling.models import CoursePart
from stages.timeutil import fr_date, fr_time, local_to_utc
from tests.helpers import drawn_texts, login

DAY = date(2027, 3, 11)  # a Thursday
DAY_2 = date(2027, 3, 12)
TITLE = "Stage de printemps du parquet de Paris"


@pytest.fixture
def crowded(make):
    """A two-day course whose 18 people take more than one page per day."""
    assoc = make.organization(name="APCARS")
    facilitator = make.user(Role.FACILITATOR, [assoc])
    course = make.course(organizations=[assoc], facilitators=[facilitator], day=DAY, capacity=20, title=TITLE)
    course.parts.append(CoursePart(starts_at=local_to_utc(DAY_2, time(9, 30)), ends_at=local_to_utc(DAY_2, time(12, 30))))
    db.session.flush()
    for number in range(18):
        make.enrollment(make.measure(participant=make.participant(surname=f"PERSONNE{number:02d}")), course)
    db.session.commit()
    course.facilitator = facilitator
    return course


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _half_day(part, label):
    zone = part.course.venue.timezone
    # The PDF's text reads the times' no-break spaces back as spaces.
    return f"{label}, {fr_time(part.starts_at, zone)} – {fr_time(part.ends_at, zone)}".replace("\u00a0", " ")


def test_every_page_names_the_course_day_and_half_days_and_is_numbered(crowded):
    pages = _pages(roster_pdf(crowded, seat_holders(crowded)))
    total = len(pages)
    assert total >= 4, total  # at least two pages for each of the two days
    morning, afternoon, second_morning = crowded.parts
    first_day, second_day = fr_date(DAY).capitalize(), fr_date(DAY_2).capitalize()
    # Page 2 is the rest of the first day's list: it says what it is a page of.
    page_2 = pages[1]
    assert TITLE in page_2 and first_day in page_2
    assert _half_day(morning, "matin") in page_2 and _half_day(afternoon, "après-midi") in page_2
    assert f"Page 2 / {total}" in page_2
    assert "PERSONNE" in page_2  # a continuation of the list, not a blank page
    for number, text in enumerate(pages, start=1):
        assert TITLE in text and f"Page {number} / {total}" in text
        assert re.findall(r"Page \d+ / \d+", text) == [f"Page {number} / {total}"]
    second_day_pages = [text for text in pages if second_day in text]
    assert len(second_day_pages) >= 2
    for text in second_day_pages:
        assert _half_day(second_morning, "matin") in text and "après-midi" not in text
        assert first_day not in text
    # Every person is on the sheet of each day, exactly once.
    first_day_text = "".join(text for text in pages if first_day in text)
    assert all(first_day_text.count(f"PERSONNE{n:02d}") == 1 for n in range(18))


def test_the_half_day_is_named_from_local_time(make):
    course = make.course(day=DAY, parts=((time(13, 0), time(16, 0)),))
    (text,) = _pages(roster_pdf(course, []))
    assert "après-midi" in text and "matin" not in text and "Page 1 / 1" in text


def test_a_very_long_title_is_cut_on_the_running_header(make):
    course = make.course(day=DAY, title="Stage " + "très " * 35 + "long")  # 185 characters: the column holds 200
    (text,) = _pages(roster_pdf(course, []))
    assert "Stage très" in text and "…" in text and "Page 1 / 1" in text


def test_html_sheet_has_a_print_button_run_by_a_static_script(client, crowded):
    login(client, crowded.facilitator)
    html = client.get(f"/stages/{crowded.id}/emargement").get_data(as_text=True)
    assert re.search(r"<button[^>]*data-print[^>]*>Imprimer</button>", html)
    assert '<script src="/static/js/print.js" defer></script>' in html
    assert "onclick" not in html and "<script>" not in html
    script = client.get("/static/js/print.js")
    assert script.status_code == 200 and b"window.print()" in script.data
    script.close()


def test_print_stylesheet_ends_with_the_sheet_print_rules(client):
    response = client.get("/static/css/stages.css")
    css = response.get_data(as_text=True)
    response.close()
    last = css[css.rindex("@media print"):]
    for rule in (".site-nav", ".btn", "table-header-group", ".table-wrap"):
        assert rule in last, rule


def test_a_name_is_printed_as_typed_and_a_long_note_wraps_in_its_row(make):
    """The sheet draws text, not markup: « <b> » and « & » print as they are. A note longer
    than the name's column wraps inside its row, which grows, and the next row starts below it."""
    from pypdf import PdfReader

    course = make.course(day=DAY)
    hostile = make.enrollment(make.measure(participant=make.participant(surname="O'NEIL <b>&amp;</b>")), course)
    after = make.enrollment(make.measure(participant=make.participant(surname="SUIVANT")), course)
    note = "Arabe ; interprète : " + " ; ".join(f"besoin numéro {n}" for n in range(12))
    pdf = roster_pdf(course, [hostile, after], notes={hostile.id: note})
    (page,) = PdfReader(io.BytesIO(pdf)).pages
    text = page.extract_text()
    heights = {}
    for piece in drawn_texts(pdf):
        for word in ("O'NEIL", "numéro 11", "SUIVANT"):
            if word in piece.text:
                heights.setdefault(word, piece.y)
    assert hostile.measure.participant.display_name in text  # « O'NEIL <B>&AMP;</B> Jean »
    assert note in " ".join(text.split())
    # Top to bottom: the name, the end of its note (wrapped, so lower), then the next person.
    assert heights["O'NEIL"] > heights["numéro 11"] > heights["SUIVANT"], heights


@pytest.mark.parametrize("surname", [
    "-".join(["FERNANDEZ"] * 12)[:120],  # a compound name without spaces, as long as the field allows
    "A" * 120,  # not even a hyphen to cut after
])
def test_a_name_longer_than_its_column_is_cut_inside_it(make, surname):
    """A word longer than the name's column is cut (after a hyphen where one fits) instead of
    running over the arrival, departure and signature cells; every character is still printed."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from stages.attendance.pdf import MARGIN, NAME_WIDTH, NUMBER_WIDTH, PAD
    from stages.pdf_fonts import FONT

    course = make.course(day=DAY)
    enrollment = make.enrollment(make.measure(participant=make.participant(surname=surname, first_names="Jean")), course)
    name_x = MARGIN + NUMBER_WIDTH + PAD
    drawn = [(piece.text, piece.size) for piece in drawn_texts(roster_pdf(course, [enrollment]))
             if abs(piece.x - name_x) < 0.5]
    assert len(drawn) > 2  # cut into several lines
    assert "".join(text for text, _ in drawn) == surname + "Jean"
    for text, size in drawn:
        assert stringWidth(text, FONT, size) <= NAME_WIDTH - 2 * PAD, text
    if "-" in surname:
        assert all(text.endswith("-") for text, _ in drawn[:-2]), drawn  # cut after its hyphens
