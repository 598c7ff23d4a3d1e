"""Answering a questionnaire: when a moment is open, the phone links, and recording a response
with its « has answered » marker in one transaction.

The phone link is one per enrollment and moment: 16 symbols of Crockford's base32 as the
summons links (stages.enrollment.confirmation.links), derived from a random salt and the secret
key under another label, only its SHA-256 stored. It is printed as a QR code on a slip handed
out on the day (« avant » at the start, « après » at the end), and the « après » link is sent by
email once the course is over to those who have an address. It is not on the convocation: a
questionnaire about the course before the person has agreed to come reads as a test.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from stages.enrollment.confirmation.links import (
    code_hash,
    codes_of_links,
    derive_code,
    format_code,
    normalize_code,
)
from stages.enrollment.models import SEAT_HOLDING_STATUSES, Enrollment, EnrollmentStatus
from stages.errors import DomainError
from stages.evaluation.models import (
    ANSWER_TEXT_MAX,
    MOMENT_SLUGS,
    EvaluationAnswer,
    EvaluationLink,
    EvaluationMarker,
    EvaluationResponse,
    ItemKind,
    Moment,
    Questionnaire,
)
from stages.evaluation.questionnaires import course_association, ensure_questionnaire
from stages.extensions import db
from stages.public_url import public_base_url
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import now_utc

PATH_PREFIX = "/e/"
# How long after the course its « après » questionnaire may still be answered.
AFTER_WINDOW = timedelta(days=30)
ANSWERING_STATUSES = tuple(
    s for s in SEAT_HOLDING_STATUSES if s not in (EnrollmentStatus.ABSENT_EXCUSED, EnrollmentStatus.ABSENT_UNEXCUSED)
)


class AlreadyAnswered(DomainError):
    def __init__(self):
        super().__init__("Ce questionnaire a déjà été rempli : une seule réponse par personne et par moment.")


# ---------------------------------------------------------------------------------------------
# When a moment is open


def moment_open(course: Course, moment: Moment, at=None) -> bool:
    """« avant »: until the end of the course's first half-day; « après »: from the start of
    its last half-day until AFTER_WINDOW after its end. Never for a draft or cancelled course."""
    at = at or now_utc()
    if course.status in (CourseStatus.DRAFT, CourseStatus.CANCELLED) or not course.parts:
        return False
    if moment == Moment.BEFORE:
        return at < course.parts[0].ends_at
    return course.parts[-1].starts_at <= at < course.parts[-1].ends_at + AFTER_WINDOW


def may_answer(enrollment: Enrollment, moment: Moment) -> bool:
    """Whether the person of ``enrollment`` may answer now (held a seat, not marked absent)."""
    return enrollment.status in ANSWERING_STATUSES and moment_open(enrollment.course, moment)


# ---------------------------------------------------------------------------------------------
# Phone links


def _derive(salt: str) -> str:
    return derive_code(salt, b"stages evaluation link v1")


def link_codes(enrollments: list[Enrollment], moment: Moment) -> dict[int, str]:
    """The code of each enrollment's link for ``moment``, made when missing (one SELECT, one
    INSERT; flushed, the caller commits)."""
    ids = [e.id for e in enrollments]
    links = {
        link.enrollment_id: link for link in db.session.scalars(
            sa.select(EvaluationLink).where(EvaluationLink.enrollment_id.in_(ids), EvaluationLink.moment == moment)
        )
    } if ids else {}
    return codes_of_links(ids, links, lambda i: EvaluationLink(enrollment_id=i, moment=moment), _derive)


def link_url(code: str) -> str:
    """The short address printed on the slip and sent by email."""
    return f"{public_base_url()}{PATH_PREFIX}{format_code(code)}"


class LinkState(StrEnum):
    OPEN = "ouvert"
    ANSWERED = "répondu"
    CLOSED = "fermé"
    UNKNOWN = "inconnu"


@dataclass(frozen=True)
class LinkView:
    state: LinkState
    code: str | None = None
    enrollment: Enrollment | None = None
    moment: Moment | None = None
    questionnaire: Questionnaire | None = None


def open_link(raw_code: str | None) -> LinkView:
    """What a typed or scanned code leads to: the questionnaire to fill, or why not."""
    code = normalize_code(raw_code)
    link = None if code is None else db.session.scalar(
        sa.select(EvaluationLink).where(EvaluationLink.code_hash == code_hash(code))
        .options(joinedload(EvaluationLink.enrollment))
    )
    if link is None:
        return LinkView(LinkState.UNKNOWN)
    enrollment, moment = link.enrollment, link.moment
    if answered(enrollment.id, moment):
        return LinkView(LinkState.ANSWERED, format_code(code), moment=moment)
    if not may_answer(enrollment, moment):
        return LinkView(LinkState.CLOSED, format_code(code), moment=moment)
    association = course_association(enrollment.course)
    if association is None:
        return LinkView(LinkState.CLOSED, format_code(code), moment=moment)
    return LinkView(LinkState.OPEN, format_code(code), enrollment, moment,
                    ensure_questionnaire(association.id, moment))


def moment_slug(moment: Moment) -> str:
    return MOMENT_SLUGS[moment]


# ---------------------------------------------------------------------------------------------
# Recording


def answered(enrollment_id: int, moment: Moment) -> bool:
    return db.session.get(EvaluationMarker, (enrollment_id, moment)) is not None


def answered_ids(enrollment_ids: list[int], moment: Moment) -> set[int]:
    """Which of the enrollments have answered for ``moment`` (one query)."""
    if not enrollment_ids:
        return set()
    return set(db.session.scalars(
        sa.select(EvaluationMarker.enrollment_id)
        .where(EvaluationMarker.enrollment_id.in_(enrollment_ids), EvaluationMarker.moment == moment)
    ))


def read_answers(questionnaire: Questionnaire, data) -> dict[int, int | str]:
    """The answers of a submitted form (``item-<id>``): every scale answered, texts optional."""
    answers: dict[int, int | str] = {}
    missing = False
    for item in questionnaire.items:
        raw = data.get(f"item-{item.id}", "")
        raw = raw.strip() if isinstance(raw, str) else ""
        if item.kind == ItemKind.LIKERT:
            if raw not in {"1", "2", "3", "4", "5"}:
                missing = True
                continue
            answers[item.id] = int(raw)
        elif raw:
            answers[item.id] = raw[:ANSWER_TEXT_MAX]
    if missing:
        raise DomainError("Répondez à chaque question de l'échelle (de 1 à 5) avant d'envoyer.")
    return answers


def record_response(course: Course, enrollment: Enrollment, questionnaire: Questionnaire,
                    answers: dict[int, int | str]) -> None:
    """Record that ``enrollment``'s person answered for the questionnaire's moment, and the
    anonymous response: the marker first, so that a second answer (the same link sent twice at
    once) stops on its primary key before anything else is written. Flushes; the caller commits
    both in one transaction."""
    moment = questionnaire.moment
    if enrollment.course_id != course.id or not may_answer(enrollment, moment):
        raise DomainError("Ce questionnaire n'est plus ouvert.")
    if answered(enrollment.id, moment):
        raise AlreadyAnswered()
    db.session.add(EvaluationMarker(enrollment_id=enrollment.id, moment=moment))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AlreadyAnswered() from None
    response = EvaluationResponse(course_id=course.id, questionnaire_id=questionnaire.id)
    db.session.add(response)
    db.session.flush()
    db.session.add_all(
        EvaluationAnswer(response_id=response.id, item_id=item_id,
                         value=value if isinstance(value, int) else None,
                         text=value if isinstance(value, str) else None)
        for item_id, value in answers.items()
    )
    db.session.flush()
