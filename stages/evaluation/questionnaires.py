"""Each association's questionnaires: the current version per moment, the default one, edits.

A course is evaluated with the questionnaire of the first association that co-organizes it (by
name, as the course lists them); its answers are that association's.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from stages.auth.audit import audit
from stages.auth.models import Organization, OrganizationKind, User
from stages.errors import DomainError
from stages.evaluation.models import (
    ITEM_TEXT_MAX,
    EvaluationResponse,
    ItemKind,
    Moment,
    Questionnaire,
    QuestionnaireItem,
)
from stages.extensions import db
from stages.scheduling.models import Course

MAX_ITEMS = 20

# The questionnaire an association starts with (the demo data and a first visit seed it).
DEFAULT_ITEMS = {
    Moment.BEFORE: [
        (ItemKind.LIKERT, "Je sais pourquoi je participe à ce stage."),
        (ItemKind.LIKERT, "Je connais la loi du 13 avril 2016 sur l'achat d'actes sexuels."),
        (ItemKind.LIKERT, "Je pense que la prostitution est un choix libre pour la plupart des personnes."),
        (ItemKind.LIKERT, "Je pense qu'acheter un acte sexuel peut causer du tort à la personne prostituée."),
        (ItemKind.TEXT, "Qu'attendez-vous de ce stage ?"),
    ],
    Moment.AFTER: [
        (ItemKind.LIKERT, "Le stage m'a appris des choses que j'ignorais."),
        (ItemKind.LIKERT, "Je connais la loi du 13 avril 2016 sur l'achat d'actes sexuels."),
        (ItemKind.LIKERT, "Je pense que la prostitution est un choix libre pour la plupart des personnes."),
        (ItemKind.LIKERT, "Je pense qu'acheter un acte sexuel peut causer du tort à la personne prostituée."),
        (ItemKind.LIKERT, "Les intervenants se sont exprimés clairement."),
        (ItemKind.TEXT, "Que retenez-vous du stage ? Que faudrait-il améliorer ?"),
    ],
}


@dataclass(frozen=True)
class ItemInput:
    kind: ItemKind
    text: str


def current_questionnaire(organization_id: int, moment: Moment) -> Questionnaire | None:
    """The latest version of an association's questionnaire for ``moment``."""
    return db.session.scalar(
        sa.select(Questionnaire)
        .where(Questionnaire.organization_id == organization_id, Questionnaire.moment == moment)
        .order_by(Questionnaire.version.desc())
        .limit(1)
    )


def ensure_questionnaire(organization_id: int, moment: Moment) -> Questionnaire:
    """The current questionnaire, the default one created (flushed) if the association has none."""
    found = current_questionnaire(organization_id, moment)
    if found is not None:
        return found
    questionnaire = Questionnaire(organization_id=organization_id, moment=moment, version=1)
    questionnaire.items = [
        QuestionnaireItem(position=i, kind=kind, text=text)
        for i, (kind, text) in enumerate(DEFAULT_ITEMS[moment], start=1)
    ]
    db.session.add(questionnaire)
    db.session.flush()
    return questionnaire


def course_association(course: Course) -> Organization | None:
    """The association whose questionnaire the course uses (the first co-organizer)."""
    return next((o for o in course.organizations if o.kind == OrganizationKind.ASSOCIATION), None)


def has_answers(questionnaire: Questionnaire) -> bool:
    return db.session.scalar(
        sa.select(sa.exists().where(EvaluationResponse.questionnaire_id == questionnaire.id))
    ) is True


def save_questionnaire(organization: Organization, moment: Moment, items: list[ItemInput], *, by: User) -> Questionnaire:
    """Replace the questionnaire's items: in place while nobody has answered it, as a new
    version otherwise (the answers keep theirs). Flushes; the caller commits."""
    if not items:
        raise DomainError("Un questionnaire compte au moins une question.")
    if len(items) > MAX_ITEMS:
        raise DomainError(f"Un questionnaire compte au plus {MAX_ITEMS} questions.")
    if not any(item.kind == ItemKind.LIKERT for item in items):
        raise DomainError("Un questionnaire compte au moins une question sur une échelle de 1 à 5.")
    for item in items:
        if not item.text or len(item.text) > ITEM_TEXT_MAX:
            raise DomainError(f"Chaque question compte de 1 à {ITEM_TEXT_MAX} caractères.")
    current = ensure_questionnaire(organization.id, moment)
    if has_answers(current):
        questionnaire = Questionnaire(
            organization_id=organization.id, moment=moment, version=current.version + 1, created_by_id=by.id
        )
        db.session.add(questionnaire)
    else:
        questionnaire = current
        questionnaire.items.clear()
        db.session.flush()  # the old positions go before the new ones come
    questionnaire.items.extend(
        QuestionnaireItem(position=i, kind=item.kind, text=item.text) for i, item in enumerate(items, start=1)
    )
    db.session.flush()
    audit("questionnaire.saved", questionnaire, details=f"{moment.label}, version {questionnaire.version}", user=by)
    return questionnaire
