"""Results of the evaluations, per course and per association and year, with small counts
suppressed: below MIN_ANSWERS answers no figure is given, not even the count (« moins de 5
réponses »), and no free text.

Items of different versions of a questionnaire that keep the same wording and kind are one
item here: an association that rewords one question keeps the others' series. Three queries
whatever the number of answers (tests/evaluation/test_results.py counts them).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from stages.evaluation.models import (
    LIKERT_LABELS,
    EvaluationAnswer,
    EvaluationResponse,
    ItemKind,
    Moment,
    Questionnaire,
    QuestionnaireItem,
)
from stages.extensions import db
from stages.scheduling.models import Course
from stages.timeutil import local_to_utc

# Fewer answers than this: nothing is shown (a figure about 1 to 4 people could name them).
MIN_ANSWERS = 5
SUPPRESSED = "moins de 5 réponses"
# Free texts shown on a course's results, at most (a course has at most ~15 people).
MAX_TEXTS = 200


@dataclass
class ItemResult:
    """One item's results: for a scale, the count of each point and the mean; for a free text,
    the texts (courses' results only). ``suppressed`` when fewer than MIN_ANSWERS answered it."""

    text: str
    kind: ItemKind
    answers: int = 0
    distribution: dict[int, int] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    suppressed: bool = False

    @property
    def mean(self) -> float | None:
        if self.suppressed or not self.answers or self.kind != ItemKind.LIKERT:
            return None
        return sum(point * count for point, count in self.distribution.items()) / self.answers


@dataclass
class MomentResult:
    moment: Moment
    responses: int | None  # None: suppressed
    items: list[ItemResult] = field(default_factory=list)

    @property
    def suppressed(self) -> bool:
        return self.responses is None


@dataclass
class EvaluationResults:
    moments: list[MomentResult]
    likert_labels: dict[int, str] = field(default_factory=lambda: dict(LIKERT_LABELS))


def _responses_filter(course_id: int | None, association_id: int | None, year: int | None):
    conditions = []
    if course_id is not None:
        conditions.append(EvaluationResponse.course_id == course_id)
    if association_id is not None:
        conditions.append(Questionnaire.organization_id == association_id)
    if year is not None:
        # The course's year, by its start in Paris time; the index on its start serves it.
        start, end = (local_to_utc(datetime(y, 1, 1).date(), datetime.min.time()) for y in (year, year + 1))
        conditions.append(EvaluationResponse.course_id.in_(
            sa.select(Course.id).where(Course.starts_at >= start, Course.starts_at < end)
        ))
    return conditions


def compute_results(*, course_id: int | None = None, association_id: int | None = None,
                    year: int | None = None, with_texts: bool = False) -> EvaluationResults:
    """The results of the responses matching the filters, suppression applied."""
    where = _responses_filter(course_id, association_id, year)
    counts = dict(db.session.execute(
        sa.select(Questionnaire.moment, sa.func.count(EvaluationResponse.id))
        .join(Questionnaire, Questionnaire.id == EvaluationResponse.questionnaire_id)
        .where(*where).group_by(Questionnaire.moment)
    ).all())
    rows = db.session.execute(
        sa.select(Questionnaire.moment, QuestionnaireItem.kind, QuestionnaireItem.text,
                  sa.func.min(QuestionnaireItem.position), EvaluationAnswer.value,
                  sa.func.count())
        .select_from(EvaluationAnswer)
        .join(EvaluationResponse, EvaluationResponse.id == EvaluationAnswer.response_id)
        .join(QuestionnaireItem, QuestionnaireItem.id == EvaluationAnswer.item_id)
        .join(Questionnaire, Questionnaire.id == EvaluationResponse.questionnaire_id)
        .where(*where)
        .group_by(Questionnaire.moment, QuestionnaireItem.kind, QuestionnaireItem.text, EvaluationAnswer.value)
    ).all()
    texts: dict[tuple, list[str]] = defaultdict(list)
    if with_texts:
        for moment, item_text, answer in db.session.execute(
            sa.select(Questionnaire.moment, QuestionnaireItem.text, EvaluationAnswer.text)
            .select_from(EvaluationAnswer)
            .join(EvaluationResponse, EvaluationResponse.id == EvaluationAnswer.response_id)
            .join(QuestionnaireItem, QuestionnaireItem.id == EvaluationAnswer.item_id)
            .join(Questionnaire, Questionnaire.id == EvaluationResponse.questionnaire_id)
            .where(*where, EvaluationAnswer.text.is_not(None))
            .order_by(EvaluationAnswer.text)  # no order that follows the answers' order
            .limit(MAX_TEXTS)
        ):
            texts[moment, item_text].append(answer)
    items: dict[Moment, dict[tuple, ItemResult]] = defaultdict(dict)
    positions: dict[tuple, int] = {}
    for moment, kind, text, position, value, count in rows:
        item = items[moment].setdefault((kind, text), ItemResult(text, kind))
        positions[moment, kind, text] = min(position, positions.get((moment, kind, text), position))
        item.answers += count
        if value is not None:
            item.distribution[value] = item.distribution.get(value, 0) + count
    moments = []
    for moment in Moment:
        total = counts.get(moment, 0)
        if total < MIN_ANSWERS:
            moments.append(MomentResult(moment, None))
            continue
        ordered = sorted(items[moment].values(), key=lambda i: (positions[moment, i.kind, i.text], i.text))
        for item in ordered:
            if item.answers < MIN_ANSWERS:
                item.suppressed, item.answers, item.distribution = True, 0, {}
            elif item.kind == ItemKind.TEXT:
                item.texts = texts.get((moment, item.text), [])
            if item.kind == ItemKind.LIKERT and not item.suppressed:
                item.distribution = {p: item.distribution.get(p, 0) for p in LIKERT_LABELS}
        moments.append(MomentResult(moment, total, ordered))
    return EvaluationResults(moments)


def course_results(course: Course) -> EvaluationResults:
    """A course's results, free texts included (for its organizers)."""
    return compute_results(course_id=course.id, with_texts=True)


def evaluation_results(association_id: int, year: int) -> EvaluationResults:
    """An association's results over the courses that started in ``year`` (Paris time), small
    counts suppressed, without free texts: what the yearly activity report shows."""
    return compute_results(association_id=association_id, year=year)
