"""Questionnaires, anonymous answers, and the « has answered » markers.

Anonymity is a property of the schema, not of the code that reads it (tests/evaluation/
test_anonymity.py proves it): a response row names only the course, and the questionnaire
version it answered (which names the moment); no enrollment, person or user, no timestamp at
all, and a random UUID for id. Whether a person answered is a separate marker, keyed by
(enrollment, moment) alone: no id shared with the response, no time, written in the response's
transaction. On SQLite both tables are WITHOUT ROWID (stored in key order: a random UUID's for
responses), so no hidden rowid gives their insertion order either.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from stages.enrollment.models import Enrollment
from stages.enums import LabelledEnum, enum_column_type
from stages.extensions import db
from stages.timeutil import now_utc

ITEM_TEXT_MAX = 300
ANSWER_TEXT_MAX = 1000
LIKERT_MIN, LIKERT_MAX = 1, 5
# The five points of every scale, as the questionnaire shows them.
LIKERT_LABELS = {
    1: "Pas du tout d'accord",
    2: "Plutôt pas d'accord",
    3: "Ni d'accord ni pas d'accord",
    4: "Plutôt d'accord",
    5: "Tout à fait d'accord",
}


class Moment(LabelledEnum):
    BEFORE = "before", "Avant le stage"
    AFTER = "after", "Après le stage"


# The moment as written in addresses.
MOMENT_SLUGS = {Moment.BEFORE: "avant", Moment.AFTER: "apres"}
MOMENTS_BY_SLUG = {slug: moment for moment, slug in MOMENT_SLUGS.items()}


class ItemKind(LabelledEnum):
    LIKERT = "likert", "Échelle de 1 à 5"
    TEXT = "text", "Texte libre"


class Questionnaire(db.Model):
    """One version of an association's questionnaire for one moment. An edit once answers
    exist makes a new version; answers keep the version they answered."""

    __tablename__ = "evaluation_questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id", ondelete="CASCADE"))
    moment: Mapped[Moment] = mapped_column(enum_column_type(Moment, "evaluation_moment"))
    version: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    items: Mapped[list[QuestionnaireItem]] = relationship(
        back_populates="questionnaire", order_by="QuestionnaireItem.position",
        cascade="all, delete-orphan",
    )

    __table_args__ = (
        sa.UniqueConstraint("organization_id", "moment", "version"),
        sa.CheckConstraint("version >= 1", name="version_from_one"),
    )


class QuestionnaireItem(db.Model):
    """A question: a statement rated 1 to 5 (LIKERT_LABELS), or a free text."""

    __tablename__ = "evaluation_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(
        sa.ForeignKey("evaluation_questionnaires.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    kind: Mapped[ItemKind] = mapped_column(enum_column_type(ItemKind, "evaluation_item_kind"))
    text: Mapped[str] = mapped_column(sa.String(ITEM_TEXT_MAX))

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="items")

    __table_args__ = (sa.UniqueConstraint("questionnaire_id", "position"),)


def _random_id() -> str:
    return str(uuid.uuid4())


class EvaluationResponse(db.Model):
    """One anonymous filled-in questionnaire: a course and a version, nothing else."""

    __tablename__ = "evaluation_responses"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=_random_id)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course_sessions.id", ondelete="CASCADE"))
    questionnaire_id: Mapped[int] = mapped_column(sa.ForeignKey("evaluation_questionnaires.id"))

    __table_args__ = (
        sa.Index("ix_evaluation_responses_course_id", "course_id"),
        sa.Index("ix_evaluation_responses_questionnaire_id", "questionnaire_id"),
        {"sqlite_with_rowid": False},
    )


class EvaluationAnswer(db.Model):
    """The answer to one item of a response: a point of the scale, or a text."""

    __tablename__ = "evaluation_answers"

    response_id: Mapped[str] = mapped_column(
        sa.ForeignKey("evaluation_responses.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("evaluation_items.id"), primary_key=True)
    value: Mapped[int | None]
    text: Mapped[str | None] = mapped_column(sa.String(ANSWER_TEXT_MAX))

    __table_args__ = (
        sa.Index("ix_evaluation_answers_item_id", "item_id"),
        sa.CheckConstraint("(value IS NULL) <> (text IS NULL)", name="value_or_text"),
        sa.CheckConstraint(f"value IS NULL OR value BETWEEN {LIKERT_MIN} AND {LIKERT_MAX}", name="value_on_scale"),
        {"sqlite_with_rowid": False},
    )


class EvaluationMarker(db.Model):
    """That a person answered for one moment (once: the primary key). Nothing else: no time,
    no id in common with the response, no course (the enrollment says it)."""

    __tablename__ = "evaluation_markers"

    enrollment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("enrollments.id", ondelete="CASCADE"), primary_key=True
    )
    moment: Mapped[Moment] = mapped_column(enum_column_type(Moment, "evaluation_moment"), primary_key=True)

    __table_args__ = ({"sqlite_with_rowid": False},)


class EvaluationLink(db.Model):
    """The secret link of one enrollment's questionnaire for one moment (the phone's way in).

    As the summons links: only the SHA-256 of the code is stored, the code is derived from
    ``salt`` and the secret key when it is printed or emailed again."""

    __tablename__ = "evaluation_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollments.id", ondelete="CASCADE"))
    moment: Mapped[Moment] = mapped_column(enum_column_type(Moment, "evaluation_moment"))
    salt: Mapped[str] = mapped_column(sa.String(32))
    code_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    enrollment: Mapped[Enrollment] = relationship()

    __table_args__ = (sa.UniqueConstraint("enrollment_id", "moment"),)
