"""Building blocks of the evaluation tests: a course on a frozen day with people in it."""
from __future__ import annotations

from datetime import date, datetime, timezone

from stages.auth.models import Role
from stages.enrollment.models import EnrollmentStatus
from stages.evaluation.answering import link_codes
from stages.evaluation.models import ItemKind, Moment
from stages.evaluation.questionnaires import ensure_questionnaire

DAY = date(2026, 3, 12)  # a Thursday; the course runs 9:30–12:30 and 13:30–16:30, Paris time
MORNING = datetime(2026, 3, 12, 8, 0, tzinfo=timezone.utc)  # 9:00 in Paris: « avant » is open
EVENING = datetime(2026, 3, 12, 16, 0, tzinfo=timezone.utc)  # 17:00: the course is over


def course_with_people(make, people=3, status=EnrollmentStatus.CONFIRMED, association=None, authority=None):
    """A course on DAY with ``people`` seat holders; (course, enrollments, organizer, facilitator)."""
    association = association or make.organization(name="APCARS")
    authority = authority or make.authority()
    facilitator = make.user(Role.FACILITATOR, [association])
    organizer = make.user(Role.ORGANIZER, [association])
    course = make.course(organizations=[association], facilitators=[facilitator], day=DAY, capacity=max(12, people))
    enrollments = [
        make.enrollment(make.measure(authority=authority, handling=association,
                                     participant=make.participant(surname=f"DURAND{i}", email=f"p{i}@example.org")),
                        course, status=status)
        for i in range(people)
    ]
    return course, enrollments, organizer, facilitator


def form_for(questionnaire, value=4, text="Très utile."):
    """A complete answer to ``questionnaire``: ``value`` on every scale, ``text`` in every text."""
    return {f"item-{item.id}": (str(value) if item.kind == ItemKind.LIKERT else text)
            for item in questionnaire.items}


def questionnaire_of(course, moment=Moment.BEFORE):
    return ensure_questionnaire(course.organizations[0].id, moment)


def code_of(enrollment, moment=Moment.BEFORE) -> str:
    return link_codes([enrollment], moment)[enrollment.id]
