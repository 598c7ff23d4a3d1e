"""The « après » questionnaire's link sent by email once the course is over, through the outbox
(exactly once per enrollment, whoever clicks and however often). The subject names nobody; the
body holds the link, built again from the salt when the message is sent (the outbox keeps only
the enrollment's id). A person who has already answered, or whose moment has closed, gets
nothing."""
from __future__ import annotations

from stages import outbox
from stages.auth.audit import audit
from stages.auth.models import User
from stages.enrollment.models import Enrollment
from stages.errors import DomainError
from stages.evaluation import answering
from stages.evaluation.models import Moment
from stages.extensions import db
from stages.mail import build_message
from stages.scheduling.models import Course
from stages.timeutil import now_utc

KIND = "evaluation_after"
SUBJECT = "Questionnaire anonyme sur le stage de sensibilisation"


def send_after_links(course: Course, people: list[Enrollment], *, by: User) -> int:
    """Queue the « après » link for everyone who may still answer and has an email address;
    how many were queued. Flushes; the caller commits."""
    if course.ends_at is None or course.ends_at > now_utc() or not answering.moment_open(course, Moment.AFTER):
        raise DomainError("Le lien du questionnaire « après le stage » s'envoie une fois le stage terminé, "
                          "pendant les 30 jours qui suivent.")
    done = answering.answered_ids([e.id for e in people], Moment.AFTER)
    chosen = [e for e in people if e.id not in done and e.status in answering.ANSWERING_STATUSES
              and e.measure.participant.email and e.measure.participant.anonymized_at is None]
    answering.link_codes(chosen, Moment.AFTER)  # made now: sending only derives them again
    outbox.enqueue(KIND, ((f"{KIND}:{e.id}", {"enrollment": e.id}) for e in chosen))
    audit("evaluation.links_sent", course, details=f"{len(chosen)} courriels", user=by)
    return len(chosen)


def build_after_link(refs: dict):
    """The email, if the person still may answer (None: it no longer applies)."""
    enrollment = db.session.get(Enrollment, refs["enrollment"])
    if enrollment is None or not answering.may_answer(enrollment, Moment.AFTER):
        return None
    participant = enrollment.measure.participant
    if not participant.email or participant.anonymized_at is not None or answering.answered(enrollment.id, Moment.AFTER):
        return None
    url = answering.link_url(answering.link_codes([enrollment], Moment.AFTER)[enrollment.id])
    text = (
        "Bonjour,\n\n"
        "Vous avez suivi récemment un stage de sensibilisation. L'association qui l'organise vous "
        "invite à répondre à un court questionnaire anonyme : vos réponses ne sont pas liées à votre "
        "nom et l'aident à améliorer le stage. Répondre est facultatif.\n\n"
        f"{url}\n\n"
        "Ce lien vous est personnel et ne sert qu'une fois ; il n'est plus valable 30 jours après le stage.\n"
    )
    return build_message(participant.email, SUBJECT, text)


outbox.register_kind(KIND, "Questionnaire d'évaluation après le stage", build_after_link)

