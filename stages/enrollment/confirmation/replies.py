"""The person's replies on their confirmation page, and the organizers' list of them.

A confirmation makes the enrollment « Présence confirmée » (from « inscrit·e » or
« convoqué·e »); a request for another date changes nothing by itself: it waits on the home
page of the course's organizers, who decide. Each reply is recorded once however often it is
sent (the database's unique indexes decide between two identical requests at the same moment),
and each is a task until an organizer marks it handled (audited).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from stages.auth.audit import audit
from stages.auth.models import User
from stages.auth.permissions import visible
from stages.enrollment.confirmation.links import LinkView
from stages.enrollment.confirmation.models import (
    REASON_TEXT_MAX,
    ChangeReason,
    ReplyKind,
    SummonsReply,
)
from stages.enrollment.convocation.delivery import DeliveryChannel, DeliveryStatus, record_delivery
from stages.enrollment.models import Enrollment, EnrollmentStatus
from stages.enrollment.services import change_enrollment_status
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course
from stages.timeutil import now_utc

# How many replies the home page lists (the oldest first; the count says if there are more).
SHOWN_REPLIES = 20


def _user_agent_hash(user_agent: str | None) -> str | None:
    return hashlib.sha256(user_agent.encode("utf-8", "replace")).hexdigest() if user_agent else None


def _record(view: LinkView, reply: SummonsReply) -> bool:
    """Insert ``reply`` unless the same one is already there (in a savepoint: a concurrent
    identical request may have inserted it first). Returns whether it is new."""
    try:
        with db.session.begin_nested():
            db.session.add(reply)
    except sa.exc.IntegrityError:
        return False
    # The person has no account: no user, and no address either (personal data).
    audit("summons.replied", reply, details=reply.kind.value).ip = None
    return True


def confirm_presence(view: LinkView, *, user_agent: str | None) -> bool:
    """Record the person's confirmation (once) and mark the enrollment « Présence confirmée »."""
    enrollment = view.enrollment
    reply = SummonsReply(
        enrollment_id=enrollment.id, course_id=enrollment.course_id, kind=ReplyKind.CONFIRMED,
        user_agent_hash=_user_agent_hash(user_agent),
    )
    if not _record(view, reply):
        return False
    # The person answered from their summons: proof that it reached them (issue 17).
    record_delivery(enrollment, DeliveryChannel.CONFIRMATION, DeliveryStatus.ACKNOWLEDGED,
                    detail="Présence confirmée par la personne")
    if enrollment.status in (EnrollmentStatus.ENROLLED, EnrollmentStatus.SUMMONED):
        change_enrollment_status(
            enrollment, EnrollmentStatus.CONFIRMED, by=None,
            note="Présence confirmée par la personne (lien de la convocation).",
        )
    return True


def request_other_date(
    view: LinkView, reason: ChangeReason, text: str | None, *, user_agent: str | None
) -> bool:
    """Record a request for another date with its reason (once while it waits)."""
    text = (text or "").strip() or None
    if reason != ChangeReason.OTHER:
        text = None
    elif text is None:
        raise DomainError("reason_text_missing")
    if text is not None and len(text) > REASON_TEXT_MAX:
        raise DomainError("reason_text_too_long")
    enrollment = view.enrollment
    if not _record(view, SummonsReply(
        enrollment_id=enrollment.id, course_id=enrollment.course_id, kind=ReplyKind.OTHER_DATE,
        reason=reason, reason_text=text, user_agent_hash=_user_agent_hash(user_agent),
    )):
        return False
    # Asking for another date proves the summons reached the person just as well.
    record_delivery(enrollment, DeliveryChannel.CONFIRMATION, DeliveryStatus.ACKNOWLEDGED,
                    detail="Autre date demandée par la personne")
    return True


def mark_handled(reply: SummonsReply, *, by: User) -> None:
    """An organizer has dealt with a reply: it leaves the home page (audited)."""
    if reply.handled_at is not None:
        raise DomainError("Cette réponse a déjà été traitée.")
    reply.handled_at, reply.handled_by_id = now_utc(), by.id
    db.session.flush()
    audit("summons.reply_handled", reply, participant_id=reply.enrollment.measure.participant_id, user=by)


# ---------------------------------------------------------------------------------------------
# The organizers' list


@dataclass(frozen=True)
class ReplyTasks:
    """Replies waiting for an organizer: how many, and the oldest ones."""

    count: int
    replies: list[SummonsReply]


def replies_to_handle(user: User) -> ReplyTasks:
    """The replies not handled yet about the courses ``user`` may see (two queries)."""
    courses = visible(Course, user).with_only_columns(Course.id)
    waiting = sa.select(SummonsReply).where(
        SummonsReply.handled_at.is_(None), SummonsReply.course_id.in_(courses)
    )
    count = db.session.scalar(sa.select(sa.func.count()).select_from(waiting.subquery()))
    if not count:
        return ReplyTasks(0, [])
    replies = db.session.scalars(
        waiting.order_by(SummonsReply.at, SummonsReply.id).limit(SHOWN_REPLIES).options(
            joinedload(SummonsReply.enrollment).joinedload(Enrollment.measure),
            joinedload(SummonsReply.enrollment).joinedload(Enrollment.course).joinedload(Course.venue),
        )
    ).unique().all()
    return ReplyTasks(count, replies)


def replies_of(enrollment_ids: list[int]) -> list[SummonsReply]:
    """Every reply to these enrollments' summonses, the latest first (one query)."""
    if not enrollment_ids:
        return []
    return list(db.session.scalars(_REPLIES_OF, {"ids": list(enrollment_ids)}).unique())


# Built once, with bind parameters (bench/README.md, « Statements built once »).
_REPLIES_OF = (
    sa.select(SummonsReply).where(SummonsReply.enrollment_id.in_(sa.bindparam("ids", expanding=True)))
    .options(joinedload(SummonsReply.enrollment).joinedload(Enrollment.course).joinedload(Course.venue),
             joinedload(SummonsReply.handled_by))
    .order_by(SummonsReply.at.desc(), SummonsReply.id.desc())
)
