"""What a tablet sends back: marks, signatures, refusals and countersignatures made on the day,
offline or not, applied idempotently.

Every item carries the UUID the device gave it; each accepted item leaves a receipt under that
UUID, inserted before anything else is written and only if absent, so a batch sent twice — or
twice at once — is applied once. Items are checked one by one (a rejected item gets its French
reason, the others go through), then written with a fixed number of statements whatever their
number. Marks: the last one chosen, by the devices' clocks, wins; every value stays in the
revisions. The batch is one transaction: the caller commits.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stages.attendance import services, signatures
from stages.attendance.forms import NOTE_LENGTH, parse_time
from stages.attendance.models import (
    AttendanceMark,
    AttendanceRevision,
    AttendanceStatus,
    AttendanceSyncReceipt,
    SignatureKind,
)
from stages.attendance.services import PRESENT_STATUSES, MarkInput
from stages.auth.audit import audit
from stages.auth.models import User
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import Course, CoursePart
from stages.timeutil import now_utc
from stages.wording import ngettext

MAX_ITEMS = 200
# A device's clock may be wrong; one far in the future would win every later edit.
CLOCK_TOLERANCE = timedelta(minutes=10)
KINDS = {"mark", "signature", "refusal", "countersignature"}


@dataclass
class Item:
    """One item of a batch, read and checked."""

    client_id: str
    kind: str
    part: CoursePart
    at: datetime
    enrollment_id: int | None = None
    mark: MarkInput | None = None
    image: bytes | None = None


@dataclass
class Result:
    client_id: str
    ok: bool
    state: str | None = None  # applied | duplicate | superseded
    reason: str | None = None

    def as_json(self) -> dict:
        if self.ok:
            return {"id": self.client_id, "ok": True, "state": self.state}
        return {"id": self.client_id, "ok": False, "reason": self.reason}


def apply_batch(course: Course, raw_items: list, *, by: User, user_agent: str = "") -> list[Result]:
    """Apply what a device sent for ``course``; one result per item, in the order sent."""
    if not isinstance(raw_items, list):
        raise DomainError("Le lot envoyé est illisible.")
    if len(raw_items) > MAX_ITEMS:
        raise DomainError(f"Un lot compte au plus {MAX_ITEMS} modifications ; l'appareil enverra la suite.")
    parts = {part.id: part for part in course.parts}
    part_sheets = signatures.sheets(list(parts), lock=True)
    expected = {e.id for e in services.seat_holders(course)}
    results: dict[int, Result] = {}
    items: list[tuple[int, Item]] = []
    for index, raw in enumerate(raw_items):
        client_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            items.append((index, _read(raw, parts, expected, by)))
        except DomainError as refusal:
            results[index] = Result(str(client_id)[:36] if client_id else "", False, reason=str(refusal))
    items = _drop_repeats(items, results)
    seen = _received(course, [item.client_id for _, item in items])
    fresh = []
    for index, item in items:
        if item.client_id in seen:
            results[index] = Result(item.client_id, True, "duplicate")
        else:
            fresh.append((index, item))
    current = _current_marks(course)
    _decide_marks([(i, it) for i, it in fresh if it.kind == "mark"], current, results)
    final = {key: value[1] for key, value in current.items()} | {
        (it.enrollment_id, it.part.id): it.mark.status for i, it in fresh
        if it.kind == "mark" and results[i].ok and results[i].state == "applied"
    }
    _check_signatures([(i, it) for i, it in fresh if it.kind != "mark"], final, part_sheets, by, results)
    accepted = [(i, it) for i, it in fresh if results.get(i, Result("", True)).ok]
    # The receipts first: what another request already holds is not applied twice.
    claimed = _claim(course, by, [(it, results[i].state) for i, it in accepted])
    applied = [(i, it) for i, it in accepted if it.client_id in claimed]
    for i, it in accepted:
        if it.client_id not in claimed:
            results[i] = Result(it.client_id, True, "duplicate")
    _write_marks([(it, results[i].state) for i, it in applied if it.kind == "mark"], current, by)
    _write_signatures([it for _, it in applied if it.kind != "mark"], part_sheets, by, user_agent)
    _audit(applied, by)
    return [results[index] for index in range(len(raw_items))]


def _read(raw, parts: dict[int, CoursePart], expected: set[int], by: User) -> Item:
    if not isinstance(raw, dict):
        raise DomainError("Modification illisible.")
    client_id = raw.get("id")
    try:
        client_id = str(uuid.UUID(str(client_id)))
    except ValueError:
        raise DomainError("Identifiant de modification invalide.") from None
    kind = raw.get("type")
    if kind not in KINDS:
        raise DomainError("Type de modification inconnu.")
    part = parts.get(raw.get("part_id")) if isinstance(raw.get("part_id"), int) else None
    if part is None:
        raise DomainError("Cette demi-journée n'appartient pas à ce stage.")
    at = _device_time(raw.get("at"))
    # Judged when it was made on the device: a tablet offline all day syncs the next morning.
    refusal = services.record_refusal(part, by, at)
    if refusal:
        raise DomainError(refusal)
    if services.is_correction(part, at):
        raise DomainError("Après le jour de la demi-journée, la présence se corrige sur la page de "
                          "présence, avec le motif de la correction.")
    item = Item(client_id, kind, part, at)
    if kind != "countersignature":
        enrollment_id = raw.get("enrollment_id")
        if not isinstance(enrollment_id, int) or enrollment_id not in expected:
            raise DomainError("Cette personne n'est pas inscrite à ce stage.")
        item.enrollment_id = enrollment_id
    if kind == "mark":
        item.mark = _read_mark(raw, part, item.enrollment_id)
    elif kind in ("signature", "countersignature"):
        item.image = signatures.read_signature_image(raw.get("image"))
    return item


def _read_mark(raw: dict, part: CoursePart, enrollment_id: int) -> MarkInput:
    status = raw.get("status")
    if status not in {s.value for s in AttendanceStatus}:
        raise DomainError("Statut de présence inconnu.")
    texts = [raw.get(key) or "" for key in ("arrived", "left", "note")]
    if not all(isinstance(text, str) for text in texts):
        raise DomainError("Modification illisible.")
    if len(texts[2]) > NOTE_LENGTH:
        raise DomainError(f"La note dépasse {NOTE_LENGTH} caractères.")
    status = AttendanceStatus(status)
    mark = MarkInput(
        enrollment_id=enrollment_id,
        status=status,
        # A time only goes with the status it belongs to: a late arrival, an early departure.
        arrived_at=parse_time(texts[0], part) if status == AttendanceStatus.LATE else None,
        left_at=parse_time(texts[1], part) if status == AttendanceStatus.LEFT_EARLY else None,
        note=texts[2].strip() or None,
    )
    services.check_times(part, mark)
    return mark


def _device_time(raw) -> datetime:
    try:
        at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise DomainError("Heure de l'appareil illisible.") from None
    if at.tzinfo is None:
        raise DomainError("Heure de l'appareil sans fuseau horaire.")
    at = at.astimezone(UTC)
    if at > now_utc() + CLOCK_TOLERANCE:
        raise DomainError("L'horloge de l'appareil est en avance : réglez l'heure de la tablette.")
    return at


def _drop_repeats(items: list[tuple[int, Item]], results: dict[int, Result]) -> list[tuple[int, Item]]:
    """The same UUID twice in one batch is one item."""
    kept, seen = [], set()
    for index, item in items:
        if item.client_id in seen:
            results[index] = Result(item.client_id, True, "duplicate")
        else:
            seen.add(item.client_id)
            kept.append((index, item))
    return kept


def _received(course: Course, client_ids: list[str]) -> set[str]:
    if not client_ids:
        return set()
    return set(db.session.scalars(
        sa.select(AttendanceSyncReceipt.client_id).where(AttendanceSyncReceipt.client_id.in_(client_ids))
    ))


def _current_marks(course: Course) -> dict[tuple[int, int], tuple[int, AttendanceStatus, datetime]]:
    """(enrollment, part) → (mark id, status, when it was chosen) for the whole course."""
    rows = db.session.execute(
        sa.select(
            AttendanceMark.enrollment_id, AttendanceMark.part_id, AttendanceMark.id,
            AttendanceMark.status, sa.func.coalesce(AttendanceMark.recorded_at, AttendanceMark.updated_at),
        ).join(CoursePart, CoursePart.id == AttendanceMark.part_id).where(CoursePart.course_id == course.id)
    )
    return {(e, p): (i, s, _aware(at)) for e, p, i, s, at in rows}


def _aware(value: datetime) -> datetime:
    # coalesce() loses the column type on SQLite: the value comes back naive, in UTC.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _decide_marks(items, current, results: dict[int, Result]) -> None:
    """Last writer wins by the devices' clocks: per (person, half-day), the latest item applies
    unless the mark already holds a later choice; the others are superseded (still revisions)."""
    latest: dict[tuple[int, int], tuple[int, Item]] = {}
    for index, item in items:
        key = (item.enrollment_id, item.part.id)
        if key not in latest or item.at >= latest[key][1].at:
            latest[key] = (index, item)
    for index, item in items:
        key = (item.enrollment_id, item.part.id)
        wins = latest[key][0] == index and (key not in current or item.at >= current[key][2])
        results[index] = Result(item.client_id, True, "applied" if wins else "superseded")


def _check_signatures(items, final_marks, part_sheets, by: User, results: dict[int, Result]) -> None:
    """Only people marked present, late or left early sign; nothing after the seal."""
    sealing = {it.part.id for _, it in items if it.kind == "countersignature"}
    sealed_now: set[int] = set()
    for index, item in sorted(items, key=lambda pair: pair[1].kind == "countersignature"):
        sheet = part_sheets[item.part.id]
        if sheet.seal is not None or item.part.id in sealed_now:
            results[index] = Result(
                item.client_id, False,
                reason="La demi-journée est déjà contresignée : les signatures ne peuvent plus être modifiées.",
            )
        elif item.kind != "countersignature" and final_marks.get((item.enrollment_id, item.part.id)) not in PRESENT_STATUSES:
            results[index] = Result(
                item.client_id, False,
                reason="Seules les personnes présentes, en retard ou parties plus tôt signent la feuille.",
            )
        else:
            results[index] = Result(item.client_id, True, "applied")
            if item.kind == "countersignature" and item.part.id in sealing:
                sealed_now.add(item.part.id)


def _claim(course: Course, by: User, items: list[tuple[Item, str]]) -> set[str]:
    """Insert the receipts that do not exist yet; the UUIDs this request now owns."""
    if not items:
        return set()
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(AttendanceSyncReceipt).values([
        dict(client_id=item.client_id, course_id=course.id, user_id=by.id, state=state, received_at=now_utc())
        for item, state in items
    ]).on_conflict_do_nothing(index_elements=["client_id"]).returning(AttendanceSyncReceipt.client_id)
    return set(db.session.scalars(statement))


def _write_marks(items: list[tuple[Item, str]], current, by: User) -> None:
    if not items:
        return
    winners = [(it.part.id, it.mark, it.at) for it, state in items if state == "applied"]
    mark_ids = {key: value[0] for key, value in current.items()}
    if winners:
        mark_ids |= services.upsert_marks(winners, by)
    changed_at = now_utc()
    db.session.execute(sa.insert(AttendanceRevision), [
        dict(
            mark_id=mark_ids[(it.enrollment_id, it.part.id)], status=it.mark.status,
            arrived_at=it.mark.arrived_at, left_at=it.mark.left_at, note=it.mark.note,
            reason=None, changed_at=changed_at, changed_by_id=by.id, client_id=it.client_id,
            recorded_at=it.at,
        )
        for it, _ in items
    ])


def _write_signatures(items: list[Item], part_sheets, by: User, user_agent: str) -> None:
    """Each half-day's new entries, chained after its head: people first, then the seal (whose
    record is the half-day's marks as they now stand)."""
    if not items:
        return
    rows = []
    for part_id in sorted({it.part.id for it in items}):
        ordered = sorted(
            (it for it in items if it.part.id == part_id),
            key=lambda it: (it.kind == "countersignature", it.at),
        )
        record = None
        if any(it.kind == "countersignature" for it in ordered):
            db.session.flush()
            record = signatures.record_digest(list(db.session.execute(
                sa.select(AttendanceMark.enrollment_id, AttendanceMark.status, AttendanceMark.arrived_at, AttendanceMark.left_at)
                .where(AttendanceMark.part_id == part_id)
            ).tuples()))
        rows += signatures.append(part_sheets[part_id], [
            signatures.new_row(
                client_id=it.client_id, kind=SignatureKind(it.kind), signed_at=it.at, by=by,
                user_agent=user_agent, enrollment_id=it.enrollment_id, image=it.image,
                record_sha256=record if it.kind == "countersignature" else None,
            )
            for it in ordered
        ])
    signatures.insert_entries(rows)


def _audit(applied: list[tuple[int, Item]], by: User) -> None:
    for part in {it.part for _, it in applied}:
        kinds = [it.kind for _, it in applied if it.part is part]
        details = [
            ngettext(text, plural, kinds.count(kind))
            for kind, text, plural in (
                ("mark", "%(num)d présence", "%(num)d présences"),
                ("signature", "%(num)d signature", "%(num)d signatures"),
                ("refusal", "%(num)d refus de signer", "%(num)d refus de signer"),
                ("countersignature", "%(num)d contresignature", "%(num)d contresignatures"),
            )
            if kind in kinds
        ]
        audit("attendance.synced", part, user=by, details=", ".join(details) + " (tablette)")
