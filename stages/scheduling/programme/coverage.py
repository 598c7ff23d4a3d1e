"""Which of the décret's required contents a course's programme covers: the rule of scheduling."""
from __future__ import annotations

import sqlalchemy as sa

from stages.extensions import db
from stages.wording import ngettext
from stages.scheduling.models import Course, CoursePart
from stages.scheduling.programme.models import (
    REQUIRED_TOPICS,
    ProgrammeItem,
    ProgrammeModuleTopic,
    ProgrammeTopic,
)


def covered_topics(course: Course) -> set[ProgrammeTopic]:
    """The contents the modules of ``course``'s half-days cover (one query)."""
    if course.id is None:
        return set()
    return set(db.session.scalars(
        sa.select(ProgrammeModuleTopic.topic).distinct()
        .join(ProgrammeItem, ProgrammeItem.module_id == ProgrammeModuleTopic.module_id)
        .join(CoursePart, CoursePart.id == ProgrammeItem.part_id)
        .where(CoursePart.course_id == course.id)
    ))


def missing_topics(covered) -> list[ProgrammeTopic]:
    """The required contents not in ``covered``, in the décret's order."""
    covered = set(covered)
    return [topic for topic in REQUIRED_TOPICS if topic not in covered]


def missing_message(missing: list[ProgrammeTopic], *, when_new: bool = False) -> str:
    """The French refusal naming what the programme lacks."""
    names = ", ".join(f"« {topic.label.lower()} »" for topic in missing)
    lead = ngettext("le contenu obligatoire suivant", "les %(num)d contenus obligatoires suivants", len(missing))
    return (
        f"Le programme du stage ne couvre pas {lead} (décret n° 2016-1709) : {names}. "
        + ("Enregistrez-le comme brouillon, complétez le programme de ses demi-journées, puis programmez-le."
           if when_new else "Complétez le programme de ses demi-journées avant de le programmer.")
    )
