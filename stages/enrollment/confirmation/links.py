"""Each summons' link to the person's confirmation page: its code, its address, what it leads to.

A code is 16 symbols of Crockford's base32 (80 bits), printed in four groups of four
(``ABCD-EFGH-JKMN-PQRS``): short enough to type from a letter, read whatever the case, with O
read as 0 and I or L as 1. It is derived from a random salt (``secrets``) and the application's
secret key, and only its SHA-256 is stored: a copy of the database gives no working link, and a
letter drawn again carries the same link.

One link per enrollment. It leads to the course the enrollment is in now: when the course moves,
the same link shows the new dates. When the person is moved to another course (« reporté·e »),
the earlier letter's link leads to that course, saying the date changed. It expires once the
course is over, and when the enrollment is withdrawn, excused, or its course cancelled.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload, selectinload

from stages.enrollment.confirmation.models import ReplyKind, SummonsLink, SummonsReply
from stages.enrollment.models import Enrollment, EnrollmentStatus, LegalMeasure
from stages.enrollment.statuses import TO_ATTEND_STATUSES
from stages.extensions import db
from stages.public_url import public_base_url
from stages.scheduling.models import Course, CourseStatus
from stages.timeutil import now_utc

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
CODE_BITS = 80
SALT_BYTES = 16
# The page's address: short, to be typed from paper.
PATH_PREFIX = "/c/"
_INPUT_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", " -_.\u00a0\u202f\t")
MAX_CODE_INPUT = 64


# ---------------------------------------------------------------------------------------------
# Codes


def derive_code(salt: str, purpose: bytes) -> str:
    """The code of ``salt``: 80 bits of HMAC-SHA256 under a key drawn from the secret key for
    ``purpose`` (a summons' link, an evaluation's link: one code never opens the other)."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = hmac.new(secret, purpose, hashlib.sha256).digest()
    value = int.from_bytes(hmac.new(key, bytes.fromhex(salt), hashlib.sha256).digest()[: CODE_BITS // 8], "big")
    return "".join(CODE_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))


def _derive(salt: str) -> str:
    return derive_code(salt, b"stages summons link v1")


def codes_of_links(ids: list[int], links: dict, new_link, derive) -> dict[int, str]:
    """The code of each id's link (``links`` by id, those found), drawing a salt for a missing
    link (``new_link(id)``, added to the session) and for one whose stored hash no longer
    matches (the secret key changed: the link is drawn anew, earlier copies stop working).
    Flushed; the caller commits with what it sends or prints."""
    codes = {}
    for some_id in ids:
        link = links.get(some_id)
        if link is not None:
            code = derive(link.salt)
            if hmac.compare_digest(code_hash(code), link.code_hash):
                codes[some_id] = code
                continue
        else:
            link = new_link(some_id)
            db.session.add(link)
        link.salt = secrets.token_bytes(SALT_BYTES).hex()
        codes[some_id] = derive(link.salt)
        link.code_hash = code_hash(codes[some_id])
    db.session.flush()
    return codes


def code_hash(code: str) -> str:
    """What the database keeps of a code."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def normalize_code(raw: str | None) -> str | None:
    """The code of a typed or scanned text, or None when it cannot be one."""
    if not raw or len(raw) > MAX_CODE_INPUT:
        return None
    code = raw.translate(_SEPARATORS).upper().translate(_INPUT_ALIASES)
    if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
        return None
    return code


def format_code(code: str) -> str:
    """``ABCD-EFGH-JKMN-PQRS``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def link_url(code: str) -> str:
    """The short link printed and emailed (built on ``STAGES_BASE_URL``)."""
    return f"{public_base_url()}{PATH_PREFIX}{format_code(code)}"


def summons_codes(enrollments: list[Enrollment]) -> dict[int, str]:
    """The code of each enrollment's link, by enrollment id: a course's letters cost one SELECT
    and one INSERT (flushed; the caller commits with what it sends or prints).

    Should the secret key have changed since a link was made, its stored hash no longer matches
    what the salt gives: that link is drawn anew (the earlier letters' link stops working).
    """
    ids = [e.id for e in enrollments]
    links = {
        link.enrollment_id: link
        for link in db.session.scalars(sa.select(SummonsLink).where(SummonsLink.enrollment_id.in_(ids)))
    } if ids else {}
    # ``_derive`` looked up at each call: a test may fix the code it gives.
    return codes_of_links(ids, links, lambda i: SummonsLink(enrollment_id=i), lambda salt: _derive(salt))


def summons_code(enrollment: Enrollment) -> str:
    """The code of ``enrollment``'s link, created with its first summons (flushes)."""
    return summons_codes([enrollment])[enrollment.id]


def summons_url(enrollment: Enrollment) -> str:
    """The short link of ``enrollment``'s summons (created if needed)."""
    return link_url(summons_code(enrollment))


# ---------------------------------------------------------------------------------------------
# What a link leads to


class LinkState(StrEnum):
    """What the page says; the value is also the audit entry's ``details``."""

    OPEN = "ouvert"
    EXPIRED = "expiré"
    UNKNOWN = "inconnu"


@dataclass(frozen=True)
class LinkView:
    """A link and the enrollment it leads to now (None when expired or unknown)."""

    state: LinkState
    link: SummonsLink | None = None
    code: str | None = None  # grouped for reading, when the link exists
    enrollment: Enrollment | None = None
    moved: bool = False  # the person was moved to another course since this link was given
    confirmed: SummonsReply | None = None
    pending_request: SummonsReply | None = None

    @property
    def course(self) -> Course | None:
        return self.enrollment.course if self.enrollment else None


def open_link(raw_code: str | None) -> LinkView:
    """The link of a typed or scanned code, and whether it still leads to a course to come."""
    code = normalize_code(raw_code)
    link = None if code is None else db.session.scalar(
        sa.select(SummonsLink).where(SummonsLink.code_hash == code_hash(code))
        .options(joinedload(SummonsLink.enrollment))
    )
    if link is None:
        return LinkView(LinkState.UNKNOWN)
    code = format_code(code)
    enrollment, moved = link.enrollment, False
    if enrollment.status == EnrollmentStatus.RESCHEDULED:
        enrollment, moved = _moved_to(enrollment), True
    if enrollment is None or not _open(enrollment):
        return LinkView(LinkState.EXPIRED, link, code)
    replies = db.session.scalars(
        sa.select(SummonsReply).where(SummonsReply.enrollment_id == enrollment.id)
        .order_by(SummonsReply.at.desc(), SummonsReply.id.desc())
    ).all()
    return LinkView(
        LinkState.OPEN, link, code, enrollment, moved,
        confirmed=next((r for r in replies if r.kind == ReplyKind.CONFIRMED), None),
        pending_request=next(
            (r for r in replies if r.kind == ReplyKind.OTHER_DATE and r.handled_at is None), None
        ),
    )


def _moved_to(enrollment: Enrollment) -> Enrollment | None:
    """The enrollment a rescheduled one was replaced by: the measure's live one, if any."""
    return db.session.scalar(
        sa.select(Enrollment)
        .where(Enrollment.measure_id == enrollment.measure_id, Enrollment.status.in_(TO_ATTEND_STATUSES))
        .options(selectinload(Enrollment.course))
    )


def _open(enrollment: Enrollment) -> bool:
    """Whether the person is still expected at a scheduled course that has not ended."""
    course = enrollment.course
    measure: LegalMeasure = enrollment.measure
    return (
        enrollment.status in TO_ATTEND_STATUSES
        and measure.participant.anonymized_at is None
        and course.status == CourseStatus.SCHEDULED
        and course.ends_at is not None
        and course.ends_at > now_utc()
    )
