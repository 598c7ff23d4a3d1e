"""The wording rules of issue 14: French times through one formatter, plurals through Babel's
French rule, one seat notation, buttons named by what they do, the navigation's labels the
titles of the pages they open, and choices whose whole text is shown."""
from __future__ import annotations

import re
import tokenize
from datetime import datetime, time, timedelta, timezone
from html import unescape
from pathlib import Path

import pytest

from stages.auth.models import Role
from stages.enrollment.models import EnrollmentStatus
from stages.timeutil import NBSP, fr_datetime, fr_time, fr_time_range, today_local
from stages.wording import ngettext, seats_text
from tests.helpers import login

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
SOURCES = sorted((ROOT / "stages").rglob("*.py"))
# « Prénom(s) » names a field that holds one or several first names: not a plural of a count.
NOT_A_COUNT = ("Prénom(s)",)


# --- Times ------------------------------------------------------------------------------------


def test_a_time_is_written_9_h_30_without_a_leading_zero_and_cannot_break():
    morning = datetime(2026, 3, 12, 8, 30, tzinfo=timezone.utc)  # 9:30 in Paris (winter)
    assert fr_time(morning) == f"9{NBSP}h{NBSP}30"
    assert fr_time(time(14, 0)) == f"14{NBSP}h{NBSP}00"
    assert fr_datetime(morning) == f"12/03/2026 à 9{NBSP}h{NBSP}30"
    assert " " not in fr_time(morning)  # no ordinary space: no line break inside a time
    # A half-day's hours: the dash stays with the hour before it.
    span = fr_time_range(morning, morning + timedelta(hours=3))
    assert span == f"9{NBSP}h{NBSP}30{NBSP}– 12{NBSP}h{NBSP}30"
    # Documents issued before keep their « 09 h 30 » when they are redrawn.
    assert fr_time(morning, legacy=True) == "09 h 30"


def test_templates_write_times_only_through_the_one_formatter():
    offenders = [
        f"{path.relative_to(ROOT)}: {hit}"
        for path in TEMPLATES
        for hit in re.findall(r"strftime|\.hour\b|\.minute\b|\d{2} h \d{2}", path.read_text())
    ]
    assert offenders == []


# --- Plurals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "0 place prise sur 14"), (1, "1 place prise sur 14"), (2, "2 places prises sur 14"),
     (13, "13 places prises sur 14")],
)
def test_seats_are_written_one_way_with_french_plurals(count, expected):
    assert seats_text(count, 14) == expected


def test_ngettext_follows_the_french_rule_zero_and_one_are_singular():
    forms = ("%(num)d modification", "%(num)d modifications")
    assert [ngettext(*forms, n) for n in (0, 1, 2, 10)] == [
        "0 modification", "1 modification", "2 modifications", "10 modifications"]
    assert ngettext("%(num)d personne de %(org)s", "%(num)d personnes de %(org)s", 3, org="APCARS") == (
        "3 personnes de APCARS")


# A word ending in « (s) »; not a call such as ``course_when(s)`` in a template expression.
HAND_MADE_PLURAL = re.compile(r"(?<![\w.])[A-Za-zÀ-ÿ]+\(s\)(?!\s*(?:}}|%}|\)|,))")


def _python_strings(path: Path) -> list[str]:
    """The string literals of a Python file (f-strings included), where texts for people are."""
    with path.open("rb") as source:
        return [t.string for t in tokenize.tokenize(source.readline) if t.type == tokenize.STRING]


def test_no_plural_is_written_by_hand():
    """No « place(s) » nor ``{{ "s" if n > 1 }}`` in a template, no « (s) » in the code's texts:
    plurals go through ``ngettext``."""
    offenders = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        offenders += [f"{path.relative_to(ROOT)}: {hit}" for hit in HAND_MADE_PLURAL.findall(text)]
        offenders += [f"{path.relative_to(ROOT)}: {hit}" for hit in re.findall(r"""['"]s['"] if [^}]*""", text)]
    for path in SOURCES:
        offenders += [
            f"{path.relative_to(ROOT)}: {hit}"
            for string in _python_strings(path) for hit in HAND_MADE_PLURAL.findall(string)
        ]
        offenders += [f"{path.relative_to(ROOT)}: {hit}"
                      for hit in re.findall(r"""['"]s['"] if [^\n]*""", path.read_text(encoding="utf-8"))]
    assert [o for o in offenders if not o.endswith(NOT_A_COUNT)] == []
    assert HAND_MADE_PLURAL.findall('{{ n }} place(s) libre(s). {{ seats(s) }} {% if f(s) %}') == [
        "place(s)", "libre(s)"]


def test_seats_are_shown_through_the_one_notation():
    """« 13 / 14 » meant seats taken on one page and seats free on another: never again."""
    offenders = [
        f"{path.relative_to(ROOT)}: {hit}"
        for path in TEMPLATES
        for hit in re.findall(r"seats_(?:taken|left)\s*}}\s*/|/\s*{{\s*\w+\.capacity", path.read_text())
    ]
    assert offenders == []


# --- Through the pages ------------------------------------------------------------------------


@pytest.fixture
def coming(make):
    association = make.organization(name="APCARS")
    organizer = make.user(Role.ORGANIZER, [association])
    venue = make.venue(name="Maison de Justice et du Droit du 17e, salle polyvalente du rez-de-chaussée")
    course = make.course(organizations=[association], venue=venue, day=today_local() + timedelta(days=20))
    measure = make.measure(handling=association)
    enrollment = make.enrollment(measure, course, status=EnrollmentStatus.SUMMONED)
    waiting = make.measure(handling=association)
    return organizer, course, enrollment, waiting


def test_status_buttons_say_what_they_do(client, coming):
    organizer, _course, enrollment, _waiting = coming
    login(client, organizer)
    html = unescape(client.get(f"/personnes/{enrollment.measure.participant_id}").get_data(as_text=True))
    buttons = [b.strip() for b in re.findall(r"<button[^>]*>([^<]+)", html)]
    assert "Confirmer la présence" in buttons and "Excuser l'absence" in buttons
    assert "Présence confirmée" not in buttons and "Absence excusée" not in buttons


def test_a_course_offered_for_enrollment_shows_its_whole_text_and_its_seats(client, coming):
    organizer, course, _enrollment, waiting = coming
    login(client, organizer)
    html = unescape(client.get(f"/mesures/{waiting.id}/inscrire").get_data(as_text=True))
    # Radio buttons, whose labels wrap, not a drop-down list that a phone cuts short.
    assert "<select" not in html
    radio = re.search(rf'<input[^>]* id="([\w-]+)"[^>]* type="radio" value="{course.id}"', html)
    label = re.search(rf'<label for="{radio.group(1)}">([^<]+)</label>', html).group(1)
    assert course.venue.name in label and "1 place prise sur" in label


def test_each_navigation_label_opens_the_page_of_that_name(client, make):
    """The menu's « Tableau de bord » opens the page titled « Tableau de bord »; every label is
    the beginning of its page's title."""
    association, authority = make.organization(name="APCARS"), make.authority(name="Parquet")
    users = [
        make.user(Role.ADMIN), make.user(Role.ORGANIZER, [association]),
        make.user(Role.FACILITATOR, [association]), make.user(Role.LIAISON, [authority]),
    ]
    checked = 0
    for user in users:
        login(client, user)
        nav = client.get("/", follow_redirects=True).get_data(as_text=True).split("nav-wide", 1)[1]
        items = re.findall(r'<a class="nav-link" href="([^"]+)"[^>]*>([^<]+)</a>', nav.split("</ul>", 1)[0])
        assert items, user.role
        for url, label in items:
            page = client.get(unescape(url)).get_data(as_text=True)
            title = unescape(re.search(r"<h1[^>]*>\s*(.*?)\s*</h1>", page, re.DOTALL).group(1))
            title = re.sub(r"<[^>]+>", "", title).strip()
            assert title == label or title.startswith(label + " "), (user.role, label, title)
            checked += 1
        client.post("/deconnexion")
    assert checked >= 20
