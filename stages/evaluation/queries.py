"""What the evaluation pages show, read in a bounded number of queries."""
from __future__ import annotations

from dataclasses import dataclass, field

import segno
from markupsafe import Markup

from stages.attendance.services import seat_holders
from stages.enrollment.confirmation.links import format_code
from stages.enrollment.models import Enrollment
from stages.evaluation import answering
from stages.evaluation.models import Moment, Questionnaire
from stages.evaluation.questionnaires import course_association, ensure_questionnaire
from stages.evaluation.results import EvaluationResults, evaluation_results
from stages.scheduling.models import Course
from stages.timeutil import today_local

# The years offered on the yearly results (the app holds ten years of history).
YEARS_BACK = 10


def chosen_year(raw: str | None) -> tuple[int, list[int]]:
    """The year asked for (``annee``; this year when unreadable or out of range), and the
    years offered."""
    this_year = today_local().year
    years = list(range(this_year, this_year - YEARS_BACK, -1))
    raw = raw if isinstance(raw, str) else ""
    year = int(raw) if raw.isascii() and raw.isdigit() and len(raw) == 4 else this_year
    return (year if year in years else this_year), years


def year_page(association_id: int, year: int) -> EvaluationResults:
    return evaluation_results(association_id, year)


@dataclass
class TabletState:
    """The tablet mode of one course and moment: whether it is open, the questionnaire, and the
    sign-in sheet's numbers of the people who have not answered yet (number → enrollment)."""

    open: bool
    questionnaire: Questionnaire | None = None
    numbers: dict[int, Enrollment] = field(default_factory=dict)
    answered: int = 0
    people: int = 0


def tablet_state(course: Course, moment: Moment) -> TabletState:
    """Numbers as on the sign-in sheet (the seat holders by name, from 1)."""
    if not answering.moment_open(course, moment):
        return TabletState(False)
    association = course_association(course)
    people = seat_holders(course)
    done = answering.answered_ids([e.id for e in people], moment)
    numbers = {
        n: e for n, e in enumerate(people, start=1)
        if e.id not in done and e.status in answering.ANSWERING_STATUSES
    }
    questionnaire = ensure_questionnaire(association.id, moment) if association else None
    return TabletState(True, questionnaire, numbers, len(done), len(people))


@dataclass
class Slip:
    number: int
    name: str
    url: str
    code: str
    qr: Markup


def slip_rows(people: list[Enrollment], moment: Moment) -> list[Slip]:
    """One slip per person who may answer: number, name, link and its QR code (SVG)."""
    answering_people = [(n, e) for n, e in enumerate(people, start=1) if e.status in answering.ANSWERING_STATUSES]
    codes = answering.link_codes([e for _n, e in answering_people], moment)
    slips = []
    for number, enrollment in answering_people:
        url = answering.link_url(codes[enrollment.id])
        qr = segno.make(url, error="m").svg_inline(scale=4, title=f"QR code du lien n° {number}")
        slips.append(Slip(number, enrollment.measure.participant.display_name, url,
                          format_code(codes[enrollment.id]), Markup(qr)))
    return slips
