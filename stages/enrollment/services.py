"""Participants, legal measures and enrollments: the rules of the participant lifecycle.

referred → enrolled (seat held) → summoned → confirmed → attended / absent → certificate → reported;
side paths: waitlisted, excused → rescheduled to another session, withdrawn (returned to the
referrer). Every change of an enrollment is an ``EnrollmentEvent``: when, who, from, to, why.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.auth.models import User
from stages.enrollment.models import (
    SEAT_HOLDING_STATUSES,
    Enrollment,
    EnrollmentEvent,
    EnrollmentStatus,
    LegalFrame,
    LegalMeasure,
    MeasureStatus,
    Participant,
    Payer,
    PaymentStatus,
)
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling.models import (
    AUTHORITY_KINDS,
    MAX_FEE_CENTS,
    CourseSession,
    Organization,
    OrganizationKind,
    SessionStatus,
)
from stages.timeutil import fr_date, now_utc, today_local

# Enrollments that are still "live" for their measure: at most one per measure at a time.
ACTIVE_STATUSES = (EnrollmentStatus.WAITLISTED, *SEAT_HOLDING_STATUSES)
# Measure statuses where nothing more is expected of the association.
CLOSED_MEASURE_STATUSES = (MeasureStatus.REPORTED, MeasureStatus.WITHDRAWN)
ENROLLABLE_SESSION_STATUSES = (SessionStatus.DRAFT, SessionStatus.SCHEDULED)

# What an enrollment may become by hand (attendance outcomes come from the attendance area).
TRANSITIONS = {
    EnrollmentStatus.WAITLISTED: {EnrollmentStatus.ENROLLED, EnrollmentStatus.WITHDRAWN},
    EnrollmentStatus.ENROLLED: {
        EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED, EnrollmentStatus.ABSENT_EXCUSED,
        EnrollmentStatus.RESCHEDULED, EnrollmentStatus.WITHDRAWN,
    },
    EnrollmentStatus.SUMMONED: {
        EnrollmentStatus.SUMMONED, EnrollmentStatus.CONFIRMED, EnrollmentStatus.ABSENT_EXCUSED,
        EnrollmentStatus.RESCHEDULED, EnrollmentStatus.WITHDRAWN,
    },
    EnrollmentStatus.CONFIRMED: {
        EnrollmentStatus.SUMMONED, EnrollmentStatus.ABSENT_EXCUSED, EnrollmentStatus.RESCHEDULED,
        EnrollmentStatus.WITHDRAWN,
    },
    EnrollmentStatus.ATTENDED: set(),
    EnrollmentStatus.PARTLY_ATTENDED: {EnrollmentStatus.RESCHEDULED},
    EnrollmentStatus.ABSENT_EXCUSED: {EnrollmentStatus.RESCHEDULED, EnrollmentStatus.WITHDRAWN},
    EnrollmentStatus.ABSENT_UNEXCUSED: {EnrollmentStatus.RESCHEDULED, EnrollmentStatus.WITHDRAWN},
    EnrollmentStatus.RESCHEDULED: set(),
    EnrollmentStatus.WITHDRAWN: set(),
}

# The measure's status mirrors its live enrollment.
MEASURE_STATUS_FOR = {
    EnrollmentStatus.WAITLISTED: MeasureStatus.REFERRED,
    EnrollmentStatus.ENROLLED: MeasureStatus.ENROLLED,
    EnrollmentStatus.SUMMONED: MeasureStatus.SUMMONED,
    EnrollmentStatus.CONFIRMED: MeasureStatus.CONFIRMED,
    EnrollmentStatus.ATTENDED: MeasureStatus.ATTENDED,
    EnrollmentStatus.PARTLY_ATTENDED: MeasureStatus.PARTLY_ATTENDED,
    EnrollmentStatus.ABSENT_EXCUSED: MeasureStatus.ABSENT_EXCUSED,
    EnrollmentStatus.ABSENT_UNEXCUSED: MeasureStatus.ABSENT_UNEXCUSED,
    EnrollmentStatus.RESCHEDULED: MeasureStatus.REFERRED,
    EnrollmentStatus.WITHDRAWN: MeasureStatus.REFERRED,
}


# ---------------------------------------------------------------------------------------------
# Participants and measures


def search_key(surname: str, first_names: str) -> str:
    """Lower-case, accent-free « surname first names », the participants' search index."""
    text = unicodedata.normalize("NFKD", f"{surname} {first_names}")
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).lower().split())


@dataclass
class ParticipantData:
    surname: str
    first_names: str
    birth_date: date | None
    birth_place: str | None = None
    address: str | None = None
    postal_code: str | None = None
    city: str | None = None
    phone: str | None = None
    email: str | None = None


@dataclass
class MeasureData:
    frame: LegalFrame
    authority: Organization
    case_reference: str
    decision_date: date
    deadline: date
    handling_organization: Organization | None = None
    facts_date: date | None = None
    final_date: date | None = None
    fee_cents: int = 0
    payer: Payer = Payer.PARTICIPANT
    payment_status: PaymentStatus = PaymentStatus.DUE
    certificate_recipient: str | None = None


def validate_participant(data: ParticipantData, today: date | None = None) -> list[str]:
    """French messages for each identity rule broken."""
    today = today or today_local()
    errors = []
    if not data.surname.strip():
        errors.append("Le nom est obligatoire.")
    if not data.first_names.strip():
        errors.append("Le prénom est obligatoire.")
    if data.birth_date is not None:
        age = (today - data.birth_date).days / 365.25
        if age < 13 or age > 110:
            errors.append(
                "La date de naissance n'est pas plausible (la personne aurait "
                f"{int(age)} ans)." if age >= 0 else "La date de naissance est dans le futur."
            )
    return errors


def validate_measure(data: MeasureData) -> list[str]:
    """French messages for each rule of a legal measure broken."""
    errors = []
    if data.authority is None or data.authority.kind not in AUTHORITY_KINDS:
        errors.append("L'autorité prescriptrice doit être un parquet, un tribunal ou un SPIP.")
    if data.handling_organization is not None and (
        data.handling_organization.kind != OrganizationKind.ASSOCIATION
    ):
        errors.append("L'association chargée du stage doit être une association.")
    if not data.case_reference.strip():
        errors.append("Le numéro de parquet (référence de la procédure) est obligatoire.")
    if data.deadline < data.decision_date:
        errors.append("La date limite doit suivre la date de la décision.")
    if data.facts_date and data.facts_date > data.decision_date:
        errors.append("La date des faits doit précéder la date de la décision.")
    if data.final_date and data.final_date < data.decision_date:
        errors.append("La date à laquelle la décision est devenue définitive suit la décision.")
    if not 0 <= data.fee_cents <= MAX_FEE_CENTS:
        errors.append("Le montant du stage doit être compris entre 0 et 450 €.")
    return errors


def find_duplicates(
    surname: str, first_names: str, birth_date: date | None, within: sa.Select | None = None
) -> list[Participant]:
    """People on file with the same surname, first names and birth date (accent-blind).

    ``within`` (a SELECT of participant ids) limits the search to what the user may see:
    offering someone else's file would reveal that it exists.
    """
    if birth_date is None:
        return []
    query = sa.select(Participant).where(
        Participant.search_key == search_key(surname, first_names),
        Participant.birth_date == birth_date,
        Participant.anonymized_at.is_(None),
    )
    if within is not None:
        query = query.where(Participant.id.in_(within))
    return list(db.session.scalars(query))


def create_participant(data: ParticipantData) -> Participant:
    """Add a person; the caller has offered the duplicates found by ``find_duplicates``."""
    errors = validate_participant(data)
    if errors:
        raise DomainError(" ".join(errors))
    participant = Participant(**_clean(data.__dict__))
    participant.surname = participant.surname.upper()
    participant.search_key = search_key(participant.surname, participant.first_names)
    db.session.add(participant)
    db.session.flush()
    return participant


def update_participant(participant: Participant, data: ParticipantData) -> None:
    """Rectify a person's identity."""
    if participant.anonymized_at is not None:
        raise DomainError("Les données de cette personne ont été anonymisées.")
    errors = validate_participant(data)
    if errors:
        raise DomainError(" ".join(errors))
    for key, value in _clean(data.__dict__).items():
        setattr(participant, key, value)
    participant.surname = participant.surname.upper()
    participant.search_key = search_key(participant.surname, participant.first_names)
    db.session.flush()


def _clean(values: dict) -> dict:
    return {k: (v.strip() or None) if isinstance(v, str) else v for k, v in values.items()}


def add_measure(participant: Participant, data: MeasureData, import_key: str | None = None) -> LegalMeasure:
    """Attach a new legal measure to a participant (one person may have several over time)."""
    errors = validate_measure(data)
    if errors:
        raise DomainError(" ".join(errors))
    values = _clean(data.__dict__)
    values["case_reference"] = data.case_reference.strip()
    measure = LegalMeasure(participant=participant, import_key=import_key, **values)
    db.session.add(measure)
    db.session.flush()
    return measure


def update_measure(measure: LegalMeasure, data: MeasureData) -> None:
    """Correct a measure's references, dates or fee."""
    errors = validate_measure(data)
    if errors:
        raise DomainError(" ".join(errors))
    for key, value in _clean(data.__dict__).items():
        setattr(measure, key, value)
    db.session.flush()


def measure_search_condition(q: str) -> sa.ColumnElement[bool]:
    """An exact case reference when the text holds a digit, else a name prefix.

    Case references always carry digits and names never do, so one indexed condition answers
    each search: an equality on ``case_reference`` or a range on ``participants.search_key``.
    An OR of both would stop PostgreSQL from using either index on a national table.
    """
    if any(character.isdigit() for character in q):
        return LegalMeasure.case_reference == q
    key = search_key(q, "")
    # correlate(None): the page query joins participants, yet this lookup stands alone.
    return LegalMeasure.participant_id.in_(
        sa.select(Participant.id)
        .where(Participant.search_key >= key, Participant.search_key < key + "\uffff")
        .correlate(None)
    )


# ---------------------------------------------------------------------------------------------
# Enrollment, seats and the waitlist


@dataclass(frozen=True)
class EnrollResult:
    enrollment: Enrollment
    waitlisted: bool
    after_deadline: bool


def has_no_live_enrollment() -> sa.ColumnElement[bool]:
    """Measures without a seat or waitlist place: NOT EXISTS, an anti-join on the partial
    unique index (NOT IN would read every live enrollment of the country)."""
    return ~sa.exists().where(
        Enrollment.measure_id == LegalMeasure.id, Enrollment.status.in_(ACTIVE_STATUSES)
    )


def live_enrollment(measure: LegalMeasure) -> Enrollment | None:
    """The measure's current enrollment (seat or waitlist), if any."""
    return db.session.scalar(
        sa.select(Enrollment).where(
            Enrollment.measure_id == measure.id, Enrollment.status.in_(ACTIVE_STATUSES)
        )
    )


def is_after_deadline(measure: LegalMeasure, session: CourseSession) -> bool:
    """Whether the course would end after the measure's legal deadline."""
    return bool(session.last_day and session.last_day > measure.deadline)


def _take_seat(session_id: int) -> bool:
    """Hold one seat if one is free: a conditional UPDATE, safe under concurrent requests."""
    result = db.session.execute(
        sa.update(CourseSession)
        .where(
            CourseSession.id == session_id,
            CourseSession.seats_taken < CourseSession.capacity,
            CourseSession.status.in_(ENROLLABLE_SESSION_STATUSES),
        )
        .values(seats_taken=CourseSession.seats_taken + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _free_seat(session_id: int) -> None:
    db.session.execute(
        sa.update(CourseSession)
        .where(CourseSession.id == session_id, CourseSession.seats_taken > 0)
        .values(seats_taken=CourseSession.seats_taken - 1)
        .execution_options(synchronize_session=False)
    )


def enroll(
    measure: LegalMeasure,
    session: CourseSession,
    *,
    by: User,
    waitlist_if_full: bool = True,
    note: str | None = None,
) -> EnrollResult:
    """Give ``measure`` a seat in ``session``, or a waitlist place when it is full."""
    return enroll_many([measure], session, by=by, waitlist_if_full=waitlist_if_full, note=note)[0]


def enroll_many(
    measures: list[LegalMeasure],
    session: CourseSession,
    *,
    by: User,
    waitlist_if_full: bool = True,
    note: str | None = None,
) -> list[EnrollResult]:
    """Seat ``measures`` in ``session`` in the given order; once it is full, the waitlist.

    All or nothing: a refusal raises DomainError before anything is written (or the flush
    fails), and the caller rolls back. The statements sent do not depend on how many people
    are enrolled: the checks read them all at once, the session's row is locked and its seats
    counted in one UPDATE … RETURNING (so concurrent enrollments queue behind this one), and the
    new rows go in as one batch per table.
    """
    measures = list(dict.fromkeys(measures))  # the same measure twice is enrolled once
    if not measures:
        return []
    for measure in measures:
        if measure.status in CLOSED_MEASURE_STATUSES or measure.status in (
            MeasureStatus.ATTENDED, MeasureStatus.CERTIFICATE_ISSUED,
        ):
            raise DomainError(
                "Cette mesure n'attend plus de stage." if len(measures) == 1
                else f"La mesure de {measure.participant.display_name} n'attend plus de stage."
            )
    if session.status not in ENROLLABLE_SESSION_STATUSES:
        raise DomainError(
            f"On ne peut pas inscrire à un stage « {session.status.label.lower()} »."
        )
    ids = [measure.id for measure in measures]
    current = db.session.execute(
        sa.select(Enrollment.measure_id, CourseSession.starts_at)
        .join(Enrollment.session)
        .where(Enrollment.measure_id.in_(ids), Enrollment.status.in_(ACTIVE_STATUSES))
        .limit(1)
    ).first()
    if current is not None:
        measure = next(m for m in measures if m.id == current.measure_id)
        when = fr_date(current.starts_at) if current.starts_at else ""
        raise DomainError(
            _who(measure, measures) + f"est déjà inscrite au stage du {when} : reportez "
            "l'inscription plutôt que d'en créer une seconde."
        )
    # Earlier enrollments of these measures in this session (cancelled, rescheduled…) come back.
    earlier = {
        enrollment.measure_id: enrollment
        for enrollment in db.session.scalars(
            sa.select(Enrollment).where(
                Enrollment.session_id == session.id, Enrollment.measure_id.in_(ids)
            )
        )
    }
    seated_count, first_position = _hold_seats(session.id, len(measures))
    if seated_count < len(measures) and not waitlist_if_full:
        raise DomainError("Ce stage est complet.")
    changed_at = now_utc()
    wanted: dict[int, tuple[EnrollmentStatus, int | None]] = {}
    for index, measure in enumerate(measures):
        seated = index < seated_count
        wanted[measure.id] = (
            (EnrollmentStatus.ENROLLED, None) if seated
            else (EnrollmentStatus.WAITLISTED, first_position + index - seated_count)
        )
        measure.status = MEASURE_STATUS_FOR[wanted[measure.id][0]]
        measure.status_changed_at = changed_at
    previous = {measure_id: e.status for measure_id, e in earlier.items()}
    try:
        # New rows in one executemany (the ORM would send one INSERT … RETURNING per row on
        # SQLite), then read back with the earlier ones; the earlier ones are updated in place.
        new_rows = [
            dict(measure_id=measure_id, session_id=session.id, status=status,
                 waitlist_position=position, created_by_id=by.id, created_at=changed_at,
                 updated_at=changed_at)
            for measure_id, (status, position) in wanted.items() if measure_id not in earlier
        ]
        if new_rows:
            # render_nulls: rows with and without a waitlist position go in one batch.
            db.session.execute(
                sa.insert(Enrollment), new_rows, execution_options={"render_nulls": True}
            )
        for measure_id, enrollment in earlier.items():
            enrollment.status, enrollment.waitlist_position = wanted[measure_id]
        db.session.flush()
    except sa.exc.IntegrityError as error:
        # Another request enrolled one of them at the same moment: the database's
        # one-live-enrollment index refused this one; nothing of it is kept.
        if "one_live_per_measure" not in str(error.orig) and "measure_id" not in str(error.orig):
            raise
        db.session.rollback()
        raise DomainError(
            "Cette personne vient d'être inscrite à un stage par ailleurs."
            if len(measures) == 1
            else "Une de ces personnes vient d'être inscrite à un stage par ailleurs : rien n'a "
            "été enregistré, recommencez."
        ) from None
    by_measure = {
        enrollment.measure_id: enrollment
        for enrollment in db.session.scalars(
            sa.select(Enrollment).where(
                Enrollment.session_id == session.id, Enrollment.measure_id.in_(ids)
            )
        )
    }
    enrollments = [by_measure[measure.id] for measure in measures]
    db.session.execute(
        sa.insert(EnrollmentEvent),
        [
            dict(enrollment_id=enrollment.id, at=changed_at, user_id=by.id,
                 from_status=previous[enrollment.measure_id].value
                 if enrollment.measure_id in previous else None,
                 to_status=enrollment.status.value, note=(note or None) and note[:500])
            for enrollment in enrollments
        ],
        execution_options={"render_nulls": True},
    )
    db.session.refresh(session, ["seats_taken"])
    return [
        EnrollResult(enrollment, enrollment.status == EnrollmentStatus.WAITLISTED,
                     is_after_deadline(enrollment.measure, session))
        for enrollment in enrollments
    ]


def _who(measure: LegalMeasure, measures: list[LegalMeasure]) -> str:
    """The subject of a refusal: « Cette personne », or the person's name among several."""
    if len(measures) == 1:
        return "Cette personne "
    return f"{measure.participant.display_name} "


def _hold_seats(session_id: int, wanted: int) -> tuple[int, int]:
    """Take up to ``wanted`` free seats; returns how many, and the next waitlist position.

    The first UPDATE locks the session's row (the whole database on SQLite) until the commit and
    reads its seats, so two requests never hand out the same seat or waitlist place.
    """
    taken, capacity, status = db.session.execute(
        sa.update(CourseSession)
        .where(CourseSession.id == session_id)
        .values(seats_taken=CourseSession.seats_taken)
        .returning(CourseSession.seats_taken, CourseSession.capacity, CourseSession.status)
        .execution_options(synchronize_session=False)
    ).one()
    if status not in ENROLLABLE_SESSION_STATUSES:  # changed since the page was read
        raise DomainError(f"On ne peut pas inscrire à un stage « {status.label.lower()} ».")
    seated = min(max(capacity - taken, 0), wanted)
    if seated:
        db.session.execute(
            sa.update(CourseSession)
            .where(CourseSession.id == session_id)
            .values(seats_taken=CourseSession.seats_taken + seated)
            .execution_options(synchronize_session=False)
        )
    first_position = 1
    if seated < wanted:
        last = db.session.scalar(
            sa.select(sa.func.max(Enrollment.waitlist_position)).where(
                Enrollment.session_id == session_id
            )
        )
        first_position = (last or 0) + 1
    return seated, first_position


def _log(enrollment, previous, status, by: User | None, note: str | None) -> None:
    db.session.add(
        EnrollmentEvent(
            enrollment=enrollment,
            user_id=by.id if by else None,
            from_status=previous.value if previous else None,
            to_status=status.value,
            note=(note or None) and note[:500],
        )
    )


def change_enrollment_status(
    enrollment: Enrollment, status: EnrollmentStatus, *, by: User | None, note: str | None = None
) -> None:
    """Move an enrollment along its lifecycle, freeing its seat (and promoting) when it leaves."""
    if status not in TRANSITIONS[enrollment.status]:
        raise DomainError(
            f"Une inscription « {enrollment.status.label.lower()} » ne peut pas passer à "
            f"« {status.label.lower()} »."
        )
    set_enrollment_status(enrollment, status, by=by, note=note)


def set_enrollment_status(
    enrollment: Enrollment, status: EnrollmentStatus, *, by: User | None, note: str | None = None
) -> None:
    """Record a new status (no transition check: attendance outcomes use it too)."""
    previous = enrollment.status
    was_seated = previous in SEAT_HOLDING_STATUSES
    enrollment.status = status
    enrollment.waitlist_position = (
        enrollment.waitlist_position if status == EnrollmentStatus.WAITLISTED else None
    )
    _log(enrollment, previous, status, by, note)
    measure = enrollment.measure
    measure.status = MEASURE_STATUS_FOR[status]
    measure.status_changed_at = now_utc()
    db.session.flush()
    if was_seated and status not in SEAT_HOLDING_STATUSES:
        _free_seat(enrollment.session_id)
        promote_waitlist(enrollment.session, by=by)


def promote_waitlist(session: CourseSession, *, by: User | None) -> list[Enrollment]:
    """Seat waitlisted people, first come first served, while seats are free."""
    promoted = []
    if session.status not in ENROLLABLE_SESSION_STATUSES:
        return promoted
    while True:
        candidate = db.session.scalar(
            sa.select(Enrollment)
            .where(
                Enrollment.session_id == session.id,
                Enrollment.status == EnrollmentStatus.WAITLISTED,
            )
            .order_by(Enrollment.waitlist_position, Enrollment.id)
            .limit(1)
        )
        if candidate is None or not _take_seat(session.id):
            break
        candidate.status, candidate.waitlist_position = EnrollmentStatus.ENROLLED, None
        _log(candidate, EnrollmentStatus.WAITLISTED, EnrollmentStatus.ENROLLED, by,
             "Place libérée : sortie de la liste d'attente.")
        candidate.measure.status = MeasureStatus.ENROLLED
        candidate.measure.status_changed_at = now_utc()
        db.session.flush()
        promoted.append(candidate)
    db.session.refresh(session, ["seats_taken"])
    return promoted


def reschedule(
    enrollment: Enrollment, new_session: CourseSession, *, by: User, note: str | None = None
) -> EnrollResult:
    """Move a person to another session: same measure, same deadline, the history kept."""
    if new_session.id == enrollment.session_id:
        raise DomainError("Choisissez un autre stage que le stage actuel.")
    old_date = fr_date(enrollment.session.starts_at) if enrollment.session.starts_at else ""
    change_enrollment_status(
        enrollment, EnrollmentStatus.RESCHEDULED, by=by,
        note=note or "Report sur un autre stage.",
    )
    return enroll(
        enrollment.measure, new_session, by=by,
        note=f"Reporté·e depuis le stage du {old_date}." + (f" {note}" if note else ""),
    )


def withdraw_measure(measure: LegalMeasure, reason: str, *, by: User) -> None:
    """Return a measure to the referring authority, with the reason; its seat is freed."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Indiquez le motif du renvoi à l'autorité prescriptrice.")
    if measure.status in CLOSED_MEASURE_STATUSES:
        raise DomainError("Cette mesure est déjà close.")
    current = live_enrollment(measure)
    if current is not None:
        set_enrollment_status(current, EnrollmentStatus.WITHDRAWN, by=by, note=reason)
    measure.status = MeasureStatus.WITHDRAWN
    measure.status_changed_at = now_utc()
    measure.withdrawal_reason = reason[:500]
    measure.closed_at = now_utc()
    db.session.flush()


def proposed_sessions(measure: LegalMeasure, candidates: list[CourseSession]) -> list[tuple[CourseSession, bool]]:
    """Each candidate session with whether it would end after the measure's deadline."""
    return [(session, is_after_deadline(measure, session)) for session in candidates]


def upcoming_sessions_query(user: User) -> sa.Select:
    """Sessions still open to enrollment, visible to ``user``, soonest first."""
    from stages.auth.permissions import visible_sessions

    return (
        visible_sessions(user)
        .where(
            CourseSession.status.in_(ENROLLABLE_SESSION_STATUSES),
            CourseSession.starts_at > now_utc(),
        )
        .options(selectinload(CourseSession.venue))
        .order_by(CourseSession.starts_at)
    )
