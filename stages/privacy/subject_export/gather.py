"""Right of access: ``build_export`` gathers everything held on one participant into one dict of
plain values; ``export_json`` writes that dict as JSON.

This module reads the attendance, certificates and reports tables, downstream of enrollment:
their models are imported inside ``build_export`` so that importing enrollment never imports them.
"""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from stages.auth.audit import action_label
from stages.auth.models import AuditEntry, User
from stages.enrollment.models import Enrollment, EnrollmentStatus, LegalMeasure, Participant
from stages.extensions import db
from stages.scheduling.models import Course
from stages.timeutil import now_utc

FORMAT = "stages.subject-export"
# 2: ``certificates`` (every attestation of an enrollment, replaced ones included).
FORMAT_VERSION = 2

# The participant's columns in the export, with the label the PDF gives each.
IDENTITY_FIELDS = [
    ("id", "N° de dossier"), ("surname", "Nom"), ("first_names", "Prénoms"),
    ("birth_date", "Date de naissance"), ("birth_place", "Lieu de naissance"),
    ("address", "Adresse"), ("postal_code", "Code postal"), ("city", "Ville"),
    ("phone", "Téléphone"), ("email", "Courriel"),
    ("language", "Langue parlée (code ISO 639-1)"), ("interpreter_needed", "Interprète nécessaire"),
    ("needs_reduced_mobility", "Mobilité réduite ou fauteuil roulant"),
    ("needs_hearing", "Personne malentendante"), ("needs_sight", "Personne malvoyante"),
    ("needs_other", "Autre besoin"), ("created_at", "Enregistrée le"),
    ("updated_at", "Dernière modification le"), ("anonymized_at", "Anonymisée le"),
]


# ---------------------------------------------------------------------------------------------
# Gathering


def build_export(participant: Participant, measures: sa.Select | None = None, *, complete: bool = True) -> dict:
    """Everything held on ``participant``, as plain values (dates stay ``date``/``datetime``).

    ``measures`` is a SELECT of the measures the requester may see (``visible_measures``);
    None means all of them. ``complete`` says whether that is every measure on file.
    """
    from stages.attendance.models import AttendanceMark, AttendanceRevision
    from stages.certificates.models import Certificate
    from stages.enrollment.confirmation.models import SummonsReply
    from stages.enrollment.convocation.delivery import deliveries_by_enrollment
    from stages.enrollment.ledger.models import LedgerEntry
    from stages.enrollment.sms.models import SmsConsent, SmsMessage
    from stages.reports.models import Bilan, NonExecutionReport

    query = measures if measures is not None else sa.select(LegalMeasure)
    measure_rows = db.session.scalars(
        query.where(LegalMeasure.participant_id == participant.id)
        .options(
            selectinload(LegalMeasure.authority),
            selectinload(LegalMeasure.handling_organization),
            selectinload(LegalMeasure.enrollments)
            .selectinload(Enrollment.course)
            .selectinload(Course.venue),
            selectinload(LegalMeasure.enrollments)
            .selectinload(Enrollment.course)
            .selectinload(Course.parts),
            selectinload(LegalMeasure.enrollments).selectinload(Enrollment.events),
        )
        .order_by(LegalMeasure.decision_date, LegalMeasure.id)
    ).all()
    enrollments = [e for m in measure_rows for e in m.enrollments]
    enrollment_ids = [e.id for e in enrollments]

    marks = _all(sa.select(AttendanceMark).where(AttendanceMark.enrollment_id.in_(enrollment_ids)))
    revisions = _all(
        sa.select(AttendanceRevision)
        .where(AttendanceRevision.mark_id.in_([m.id for m in marks]))
        .order_by(AttendanceRevision.changed_at, AttendanceRevision.id)
    )
    certificates = _all(
        sa.select(Certificate)
        .where(Certificate.enrollment_id.in_(enrollment_ids))
        .order_by(Certificate.id)
    )
    numbers = {c.id: c.number for c in certificates}
    proofs = deliveries_by_enrollment(enrollment_ids)
    certificates_by_enrollment = _grouped(certificates, "enrollment_id")
    replies_by_enrollment = _grouped(_all(
        sa.select(SummonsReply).where(SummonsReply.enrollment_id.in_(enrollment_ids))
        .order_by(SummonsReply.at, SummonsReply.id)
    ), "enrollment_id")
    sms_by_enrollment = _grouped(_all(
        sa.select(SmsMessage).where(SmsMessage.enrollment_id.in_(enrollment_ids))
        .order_by(SmsMessage.sent_at, SmsMessage.id)
    ), "enrollment_id")
    consents = _all(
        sa.select(SmsConsent).where(SmsConsent.participant_id == participant.id)
        .order_by(SmsConsent.given_at, SmsConsent.id)
    )
    bilans = _all(
        sa.select(Bilan).where(
            Bilan.course_id.in_({e.course_id for e in enrollments}),
            Bilan.authority_id.in_({m.authority_id for m in measure_rows}),
            Bilan.sent_at.is_not(None),
        )
    )
    # The fee ledger's entries and the non-execution reports of each measure: one query each.
    measure_ids = [m.id for m in measure_rows]
    entries_by_measure = _grouped(_all(
        sa.select(LedgerEntry).where(LedgerEntry.measure_id.in_(measure_ids))
        .order_by(LedgerEntry.entry_date, LedgerEntry.id)
    ), "measure_id")
    reports_by_measure = _grouped(_all(
        sa.select(NonExecutionReport).where(NonExecutionReport.measure_id.in_(measure_ids))
        .order_by(NonExecutionReport.deadline, NonExecutionReport.id)
    ), "measure_id")
    accesses = db.session.execute(
        sa.select(AuditEntry.at, AuditEntry.action, User.full_name)
        .outerjoin(User, User.id == AuditEntry.user_id)
        .where(AuditEntry.participant_id == participant.id)
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    names = _user_names(
        [e.created_by_id for e in enrollments]
        + [ev.user_id for e in enrollments for ev in e.events]
        + [m.updated_by_id for m in marks]
        + [r.changed_by_id for r in revisions]
        + [c.issued_by_id for c in certificates]
    )

    revisions_by_mark = defaultdict(list)
    for revision in revisions:
        revisions_by_mark[revision.mark_id].append(revision)
    marks_by_enrollment = defaultdict(dict)
    for mark in marks:
        marks_by_enrollment[mark.enrollment_id][mark.part_id] = mark
    bilans_by_key = {(b.course_id, b.authority_id): b for b in bilans}

    def enrollment_data(enrollment: Enrollment, measure: LegalMeasure) -> dict:
        course = enrollment.course
        bilan = bilans_by_key.get((course.id, measure.authority_id))
        return {
            "id": enrollment.id,
            "status": enrollment.status.value,
            "status_label": enrollment.status.label,
            "waitlist_position": enrollment.waitlist_position,
            "outcome_override_reason": enrollment.outcome_override_reason,
            "convocation_sent_at": enrollment.convocation_sent_at,
            "reminder_7d_sent_at": enrollment.reminder_7d_sent_at,
            "reminder_1d_sent_at": enrollment.reminder_1d_sent_at,
            "created_at": enrollment.created_at,
            "created_by": names.get(enrollment.created_by_id),
            "updated_at": enrollment.updated_at,
            "session": {
                "id": course.id,
                "title": course.title,
                "status": course.status.value,
                "status_label": course.status.label,
                "starts_at": course.starts_at,
                "ends_at": course.ends_at,
                "venue": course.venue.name,
                "venue_address": course.venue.full_address,
            },
            "history": [
                {
                    "at": event.at,
                    "by": names.get(event.user_id),
                    "from_status": event.from_status,
                    "from_status_label": _status_label(event.from_status),
                    "to_status": event.to_status,
                    "to_status_label": _status_label(event.to_status),
                    "note": event.note,
                }
                for event in enrollment.events
            ],
            "attendance": [
                _attendance(part, marks_by_enrollment[enrollment.id].get(part.id), revisions_by_mark, names)
                for part in course.parts
                if part.id in marks_by_enrollment[enrollment.id]
            ],
            "convocation_deliveries": [
                {
                    "at": proof.at,
                    "channel": proof.channel.value,
                    "status": proof.status.value,
                    "label": proof.text,
                    "message_id": proof.message_id,
                    "registered_letter_number": proof.letter_number,
                    "acknowledged_on": proof.acknowledged_on,
                }
                for proof in proofs.get(enrollment.id, [])
            ],
            "certificates": [
                _certificate(certificate, names, numbers)
                for certificate in certificates_by_enrollment[enrollment.id]
            ],
            "report_sent_at": bilan.sent_at if bilan else None,
            # What the person answered on the page of their convocation.
            "summons_replies": [
                {
                    "at": reply.at,
                    "kind": reply.kind.value,
                    "kind_label": reply.kind.label,
                    "reason": reply.reason.value if reply.reason else None,
                    "reason_label": reply.reason.label if reply.reason else None,
                    "reason_text": reply.reason_text,
                    "handled_at": reply.handled_at,
                }
                for reply in replies_by_enrollment[enrollment.id]
            ],
            # The SMS sent for this enrollment (never their number or text: built when sent).
            "sms": [
                {"sent_at": message.sent_at, "kind": message.kind, "status": message.status.value,
                 "status_label": message.status.label, "segments": message.segments}
                for message in sms_by_enrollment[enrollment.id]
            ],
        }

    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "generated_at": now_utc().replace(microsecond=0),
        "complete": complete,
        # Every identity column, named as on the model (the PDF lists the same keys).
        "participant": {key: getattr(participant, key) for key, _label in IDENTITY_FIELDS},
        "measures": [
            {
                "id": measure.id,
                "frame": measure.frame.value,
                "frame_label": measure.frame.label,
                "authority": measure.authority.name,
                "handling_organization": (
                    measure.handling_organization.name if measure.handling_organization else None
                ),
                "case_reference": measure.case_reference,
                "facts_date": measure.facts_date,
                "decision_date": measure.decision_date,
                "final_date": measure.final_date,
                "deadline": measure.deadline,
                "fee_cents": measure.fee_cents,
                "payer": measure.payer.value,
                "payer_label": measure.payer.label,
                "payment_status": measure.payment_status.value,
                "payment_status_label": measure.payment_status.label,
                "certificate_recipient": measure.certificate_recipient,
                "status": measure.status.value,
                "status_label": measure.status.label,
                "status_changed_at": measure.status_changed_at,
                "withdrawal_reason": measure.withdrawal_reason,
                "closed_at": measure.closed_at,
                "import_key": measure.import_key,
                "created_at": measure.created_at,
                "enrollments": [enrollment_data(e, measure) for e in measure.enrollments],
                # What the person was charged, paid, refunded or excused, with the receipts.
                "fee_entries": [
                    {"date": entry.entry_date, "kind": entry.kind.value, "kind_label": entry.kind.label,
                     "amount_cents": entry.amount_cents,
                     "method": entry.method.value if entry.method else None,
                     "method_label": entry.method.label if entry.method else None,
                     "reference": entry.reference, "reason": entry.reason, "receipt": entry.receipt_label}
                    for entry in entries_by_measure[measure.id]
                ],
                # The reports of non-execution drafted for the authority, and what became of them.
                "non_execution_reports": [
                    {"deadline": report.deadline, "reason": report.reason.value,
                     "reason_label": report.reason.label, "status": report.status.value,
                     "status_label": report.status.label, "drafted_at": report.drafted_at,
                     "withdrawn_reason": report.withdrawn_reason}
                    for report in reports_by_measure[measure.id]
                ],
            }
            for measure in measure_rows
        ],
        # Consent to SMS: when given, when and how withdrawn (« STOP », the organizer, a new number).
        "sms_consents": [
            {"given_at": consent.given_at, "withdrawn_at": consent.withdrawn_at,
             "withdrawn_how": consent.withdrawn_how.value if consent.withdrawn_how else None,
             "withdrawn_how_label": consent.withdrawn_how.label if consent.withdrawn_how else None}
            for consent in consents
        ],
        "access_log": [
            {"at": at, "by": full_name, "action": action, "action_label": action_label(action)}
            for at, action, full_name in accesses
        ],
    }


def _all(query: sa.Select) -> list:
    return list(db.session.scalars(query))


def _grouped(rows: list, key: str) -> defaultdict:
    """``rows`` by the value of their attribute ``key``, in their order (an empty list for any
    other key)."""
    groups = defaultdict(list)
    for row in rows:
        groups[getattr(row, key)].append(row)
    return groups


def _user_names(ids: list[int | None]) -> dict[int, str]:
    """Staff names by id, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.full_name).where(User.id.in_(wanted))).all())


def _status_label(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return EnrollmentStatus(value).label
    except ValueError:  # a status since retired keeps its code
        return value


def _attendance(part, mark, revisions_by_mark, names) -> dict:
    return {
        "part_starts_at": part.starts_at,
        "part_ends_at": part.ends_at,
        "status": mark.status.value,
        "status_label": mark.status.label,
        "arrived_at": mark.arrived_at,
        "left_at": mark.left_at,
        "note": mark.note,
        "updated_at": mark.updated_at,
        "updated_by": names.get(mark.updated_by_id),
        "revisions": [
            {
                "changed_at": revision.changed_at,
                "changed_by": names.get(revision.changed_by_id),
                "status": revision.status.value,
                "status_label": revision.status.label,
                "arrived_at": revision.arrived_at,
                "left_at": revision.left_at,
                "note": revision.note,
                "reason": revision.reason,
            }
            for revision in revisions_by_mark.get(mark.id, [])
        ],
    }


def _certificate(certificate, names, numbers) -> dict:
    return {
        "number": certificate.number,
        "replaces": numbers.get(certificate.replaces_id),
        "issued_at": certificate.issued_at,
        "issued_by": names.get(certificate.issued_by_id),
        "hours_attended_minutes": certificate.hours_attended_minutes,
        "revoked": certificate.revoked_at is not None,
        "revoked_at": certificate.revoked_at,
        "revocation_reason": certificate.revocation_reason,
    }


# ---------------------------------------------------------------------------------------------
# JSON


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()  # datetimes are aware UTC: "2026-03-12T08:30:00+00:00"
    raise TypeError(f"not serializable: {type(value).__name__}")


def export_json(export: dict) -> bytes:
    """The export as UTF-8 JSON: stable English keys, ISO 8601 dates, UTC datetimes."""
    return json.dumps(export, default=_json_default, ensure_ascii=False, indent=2).encode("utf-8")
