"""Émargement électronique: each half-day's signatures as an append-only, hash-chained sheet.

A half-day's sheet is the chain of its :class:`AttendanceSignature` entries, in ``seq`` order:
people sign (or refuse to sign) on the device, the facilitator countersigns, which seals the
half-day (the database then refuses every entry but a ``void``), and an organizer may void an
entry, with a reason. Each entry's ``chain_hash`` is ``SHA-256(previous hash ‖ its facts)``; the
countersignature's facts include the SHA-256 of the half-day's marks, so its hash — printed on
the sign-in sheet — stands for the whole record: change, insert or remove anything and
:func:`verify_chain` says where.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload, undefer

from stages.attendance.models import (
    PARTICIPANT_KINDS,
    AttendanceSignature,
    SignatureKind,
)
from stages.auth.audit import audit
from stages.auth.models import User
from stages.auth.permissions import Permission, can
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import CoursePart
from stages.timeutil import now_utc

# A signature drawn on a tablet is a few kilobytes; anything much bigger is not one.
MAX_IMAGE_BYTES = 200 * 1024
MAX_IMAGE_SIZE = (2000, 1000)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
USER_AGENT_LENGTH = 300


def read_signature_image(data_url: str) -> bytes:
    """The PNG bytes of a ``data:image/png;base64,…`` URL, or a French reason why not.

    Checked before anything is decoded in full: the size of the text, the PNG signature, then
    the dimensions read from the header (a small file can claim a huge image).
    """
    from PIL import Image, UnidentifiedImageError

    prefix = "data:image/png;base64,"
    if not isinstance(data_url, str) or not data_url.startswith(prefix):
        raise DomainError("La signature doit être une image PNG.")
    if len(data_url) > len(prefix) + (MAX_IMAGE_BYTES * 4) // 3 + 4:
        raise DomainError("La signature dépasse la taille permise (200 Ko).")
    try:
        data = base64.b64decode(data_url[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise DomainError("La signature est illisible (encodage invalide).") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise DomainError("La signature dépasse la taille permise (200 Ko).")
    if not data.startswith(PNG_MAGIC):
        raise DomainError("La signature doit être une image PNG.")
    try:
        # Pillow refuses to open what claims more than twice its pixel limit: dimensions, too.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DomainError("La signature a des dimensions hors limites (2000 × 1000 au plus).") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise DomainError("La signature est illisible (image PNG invalide).") from None
    try:
        with image:
            if image.format != "PNG":
                raise DomainError("La signature doit être une image PNG.")
            width, height = image.size
            if width > MAX_IMAGE_SIZE[0] or height > MAX_IMAGE_SIZE[1] or not width or not height:
                raise DomainError("La signature a des dimensions hors limites (2000 × 1000 au plus).")
            image.verify()
    except (OSError, SyntaxError, ValueError):
        raise DomainError("La signature est illisible (image PNG invalide).") from None
    return data


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_second(value: datetime) -> datetime:
    """Times in the chain are kept to the second: every database gives them back the same."""
    return value.astimezone(UTC).replace(microsecond=0)


def genesis(part_id: int) -> str:
    """The ``previous_hash`` of a half-day's first entry."""
    return hashlib.sha256(f"stages:demi-journee:{part_id}".encode()).hexdigest()


def entry_facts(entry: AttendanceSignature) -> dict:
    """What an entry's hash covers: every column but the image itself (its SHA-256 stands for it)
    and its erasure by the retention purge."""
    return {
        "client_id": entry.client_id,
        "part": entry.part_id,
        "seq": entry.seq,
        "kind": SignatureKind(entry.kind).value,
        "enrollment": entry.enrollment_id,
        "voids": entry.voids_id,
        "reason": entry.reason,
        "image": entry.image_sha256,
        "record": entry.record_sha256,
        "signed_at": _moment(entry.signed_at),
        "received_at": _moment(entry.received_at),
        "user_agent": entry.user_agent,
        "recorded_by": entry.recorded_by_id,
    }


def chain_digest(previous_hash: str, facts: dict) -> str:
    payload = json.dumps(facts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((previous_hash + payload).encode()).hexdigest()


def record_digest(marks: list[tuple]) -> str:
    """The SHA-256 of a half-day's marks: (enrollment, status, arrival, departure) rows."""
    payload = json.dumps(
        [
            [e, getattr(s, "value", s), _moment(a) if a else None, _moment(left) if left else None]
            for e, s, a, left in sorted(marks, key=lambda row: row[0])
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Sheet:
    """A half-day's chain as it stands: its live signatures, its seal, its head."""

    part_id: int
    entries: list[AttendanceSignature] = field(default_factory=list)

    @property
    def voided(self) -> set[int]:
        return {e.voids_id for e in self.entries if e.kind == SignatureKind.VOID}

    @property
    def live(self) -> dict[int, AttendanceSignature]:
        """Each person's latest signature or refusal that no void cancelled."""
        voided = self.voided
        latest: dict[int, AttendanceSignature] = {}
        for entry in self.entries:
            if entry.kind in PARTICIPANT_KINDS and entry.id not in voided:
                latest[entry.enrollment_id] = entry
        return latest

    @property
    def seal(self) -> AttendanceSignature | None:
        voided = self.voided
        seals = [e for e in self.entries if e.kind == SignatureKind.COUNTERSIGNATURE and e.id not in voided]
        return seals[-1] if seals else None

    @property
    def head(self) -> tuple[int, str]:
        if not self.entries:
            return 0, genesis(self.part_id)
        last = self.entries[-1]
        return last.seq, last.chain_hash


def sheets(part_ids: list[int], *, lock: bool = False, authors: bool = False) -> dict[int, Sheet]:
    """The sheets of these half-days, in one query (images not loaded).

    ``lock`` first takes the half-days' rows FOR UPDATE (PostgreSQL), so that two devices
    appending to one chain at once take turns instead of both reading the same head; SQLite
    writes one transaction at a time anyway, and ``(part_id, seq)`` is unique on both.
    ``authors`` loads who recorded each entry (one more query) for a page that shows it.
    """
    if lock and part_ids and db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(
            sa.select(CoursePart.id).where(CoursePart.id.in_(part_ids)).order_by(CoursePart.id).with_for_update()
        )
    result = {part_id: Sheet(part_id) for part_id in part_ids}
    if part_ids:
        query = sa.select(AttendanceSignature)
        if authors:
            query = query.options(selectinload(AttendanceSignature.recorded_by))
        for entry in db.session.scalars(
            query.where(AttendanceSignature.part_id.in_(part_ids))
            .order_by(AttendanceSignature.part_id, AttendanceSignature.seq)
        ):
            result[entry.part_id].entries.append(entry)
    return result


def append(sheet: Sheet, rows: list[dict]) -> list[dict]:
    """Give ``rows`` (column values of new entries, in order) their place and hash in ``sheet``.

    The caller inserts them all in one statement. Each row needs its facts' columns; ``seq``,
    ``previous_hash`` and ``chain_hash`` are filled in here.
    """
    seq, previous = sheet.head
    for row in rows:
        seq += 1
        row.update(seq=seq, previous_hash=previous, part_id=sheet.part_id)
        row["chain_hash"] = previous = chain_digest(previous, entry_facts(AttendanceSignature(**row)))
    return rows


def insert_entries(rows: list[dict]) -> None:
    if rows:
        db.session.execute(sa.insert(AttendanceSignature), rows)


def new_row(
    *, client_id: str, kind: SignatureKind, signed_at: datetime, by: User, user_agent: str,
    enrollment_id: int | None = None, image: bytes | None = None, record_sha256: str | None = None,
    voids_id: int | None = None, reason: str | None = None,
) -> dict:
    return dict(
        client_id=client_id, kind=kind, enrollment_id=enrollment_id, voids_id=voids_id,
        reason=reason, image=image,
        image_sha256=hashlib.sha256(image).hexdigest() if image is not None else None,
        record_sha256=record_sha256, signed_at=to_second(signed_at), received_at=to_second(now_utc()),
        user_agent=(user_agent or "")[:USER_AGENT_LENGTH], recorded_by_id=by.id,
    )


def void(entry: AttendanceSignature, reason: str, *, by: User, client_id: str) -> AttendanceSignature:
    """Cancel ``entry`` (a signature, a refusal or the countersignature): organizers only, with
    a reason; the entry stays in the chain, and the void is a new entry after it."""
    course = entry.part.course
    if not can(by, Permission.SESSION_EDIT, course):
        raise DomainError("Seule une personne organisatrice peut annuler une signature.")
    reason = (reason or "").strip()[:500]
    if not reason:
        raise DomainError("Indiquez le motif de l'annulation.")
    sheet = sheets([entry.part_id], lock=True)[entry.part_id]
    if entry.kind == SignatureKind.VOID:
        raise DomainError("Une annulation ne s'annule pas.")
    if entry.id in sheet.voided:
        raise DomainError("Cette signature est déjà annulée.")
    rows = append(sheet, [new_row(
        client_id=client_id, kind=SignatureKind.VOID, signed_at=now_utc(), by=by,
        user_agent="", voids_id=entry.id, reason=reason,
    )])
    insert_entries(rows)
    audit("attendance.signature_voided", entry.part, user=by,
          details=f"{SignatureKind(entry.kind).label} n° {entry.seq} — {reason}")
    return db.session.scalar(sa.select(AttendanceSignature).where(AttendanceSignature.client_id == client_id))


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    broken_at: int | None = None  # the seq of the first entry that does not verify
    head: str | None = None


def verify_chain(part_id: int) -> ChainCheck:
    """Recompute a half-day's chain from what the database holds now."""
    entries = list(db.session.scalars(
        sa.select(AttendanceSignature).options(undefer(AttendanceSignature.image))
        .where(AttendanceSignature.part_id == part_id).order_by(AttendanceSignature.seq)
    ))
    previous = genesis(part_id)
    for expected_seq, entry in enumerate(entries, start=1):
        image_ok = entry.image is None and entry.erased_at is not None or (
            entry.image is None and entry.image_sha256 is None
        ) or (entry.image is not None and hashlib.sha256(entry.image).hexdigest() == entry.image_sha256)
        if (
            entry.seq != expected_seq or entry.previous_hash != previous or not image_ok
            or chain_digest(previous, entry_facts(entry)) != entry.chain_hash
        ):
            return ChainCheck(False, len(entries), entry.seq)
        previous = entry.chain_hash
    return ChainCheck(True, len(entries), None, previous if entries else None)


@dataclass
class SignedDay:
    """What the émargement électronique recorded for a course, for its sign-in sheet PDF: the
    marks, each half-day's sheet, the drawings of the live signatures and seals, and whether
    each chain verifies."""

    marks: dict = field(default_factory=dict)  # (enrollment id, part id) -> AttendanceMark
    sheets: dict = field(default_factory=dict)  # part id -> Sheet
    images: dict = field(default_factory=dict)  # entry id -> PNG bytes
    checks: dict = field(default_factory=dict)  # part id -> ChainCheck


def signed_day(course) -> SignedDay:
    """The course's record, in a number of queries that depends on its half-days only."""
    from stages.attendance.services import marks_by_key

    part_ids = [part.id for part in course.parts]
    part_sheets = sheets(part_ids, authors=True)
    shown = [e.id for sheet in part_sheets.values() for e in [*sheet.live.values(), sheet.seal] if e is not None]
    images = dict(db.session.execute(
        sa.select(AttendanceSignature.id, AttendanceSignature.image)
        .where(AttendanceSignature.id.in_(shown), AttendanceSignature.image.is_not(None))
    ).tuples().all()) if shown else {}
    checks = {part_id: verify_chain(part_id) for part_id, sheet in part_sheets.items() if sheet.entries}
    return SignedDay(marks_by_key(course), part_sheets, images, checks)


def erase_images(enrollment_ids: sa.Select, now: datetime) -> None:
    """Retention: the drawn signatures of these enrollments go; the chain's facts stay (the
    image's SHA-256 still proves what was signed, without the signature itself)."""
    db.session.execute(
        sa.update(AttendanceSignature)
        .where(AttendanceSignature.enrollment_id.in_(enrollment_ids), AttendanceSignature.image.is_not(None))
        .values(image=None, erased_at=now)
        .execution_options(synchronize_session=False)
    )
