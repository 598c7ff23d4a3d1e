"""Everything held on one participant, for their GDPR right of access (art. 15), as JSON or PDF.

``build_export(participant, measures)`` gathers, in a constant number of queries: identity, each
legal measure with all its fields, each enrollment with its session, its history
(EnrollmentEvents), its attendance marks and their revisions, its attestation and the bilans
that disclosed its outcome to the referring authority (art. 15(1)(c): the recipients), then the
trail of every access to the file (who, when, what). ``export_json`` writes it with stable
English keys; ``export_pdf`` lays the same data out with French labels. Both read the one dict,
so the two formats cannot drift apart.

Left out on purpose: certificate verification codes and PDF hashes (authenticators, not data
about the person) and the IP addresses of staff in the access trail (data about staff).

This module reads the attendance, certificates and reports tables, downstream of enrollment:
their models are imported inside ``build_export`` so that importing enrollment never imports them.
"""
from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import date, datetime

import sqlalchemy as sa
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import selectinload

from stages.auth.audit import action_label
from stages.auth.models import AuditEntry, User
from stages.enrollment.models import Enrollment, EnrollmentStatus, LegalMeasure, Participant
from stages.extensions import db
from stages.scheduling.models import CourseSession
from stages.timeutil import fr_date, fr_datetime, fr_time, now_utc

FORMAT = "stages.subject-export"
# 2: ``certificates`` (every attestation of an enrollment, replaced ones included).
FORMAT_VERSION = 2


# ---------------------------------------------------------------------------------------------
# Gathering


def build_export(participant: Participant, measures: sa.Select | None = None, *, complete: bool = True) -> dict:
    """Everything held on ``participant``, as plain values (dates stay ``date``/``datetime``).

    ``measures`` is a SELECT of the measures the requester may see (``visible_measures``);
    None means all of them. ``complete`` says whether that is every measure on file.
    """
    from stages.attendance.models import AttendanceMark, AttendanceRevision
    from stages.certificates.models import Certificate
    from stages.reports.models import Bilan

    query = measures if measures is not None else sa.select(LegalMeasure)
    measure_rows = db.session.scalars(
        query.where(LegalMeasure.participant_id == participant.id)
        .options(
            selectinload(LegalMeasure.authority),
            selectinload(LegalMeasure.handling_organization),
            selectinload(LegalMeasure.enrollments)
            .selectinload(Enrollment.session)
            .selectinload(CourseSession.venue),
            selectinload(LegalMeasure.enrollments)
            .selectinload(Enrollment.session)
            .selectinload(CourseSession.parts),
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
    certificates_by_enrollment = defaultdict(list)
    for certificate in certificates:
        certificates_by_enrollment[certificate.enrollment_id].append(certificate)
    bilans = _all(
        sa.select(Bilan).where(
            Bilan.session_id.in_({e.session_id for e in enrollments}),
            Bilan.authority_id.in_({m.authority_id for m in measure_rows}),
            Bilan.sent_at.is_not(None),
        )
    )
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
    bilans_by_key = {(b.session_id, b.authority_id): b for b in bilans}

    def enrollment_data(enrollment: Enrollment, measure: LegalMeasure) -> dict:
        session = enrollment.session
        bilan = bilans_by_key.get((session.id, measure.authority_id))
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
                "id": session.id,
                "title": session.title,
                "status": session.status.value,
                "status_label": session.status.label,
                "starts_at": session.starts_at,
                "ends_at": session.ends_at,
                "venue": session.venue.name,
                "venue_address": session.venue.full_address,
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
                for part in session.parts
                if part.id in marks_by_enrollment[enrollment.id]
            ],
            "certificates": [
                _certificate(certificate, names, numbers)
                for certificate in certificates_by_enrollment[enrollment.id]
            ],
            "report_sent_at": bilan.sent_at if bilan else None,
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
            }
            for measure in measure_rows
        ],
        "access_log": [
            {"at": at, "by": full_name, "action": action, "action_label": action_label(action)}
            for at, action, full_name in accesses
        ],
    }


def _all(query: sa.Select) -> list:
    return list(db.session.scalars(query))


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


# ---------------------------------------------------------------------------------------------
# PDF

STYLES = getSampleStyleSheet()
BODY = ParagraphStyle("body", parent=STYLES["Normal"], fontSize=9, leading=11.5)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=9.5)
TITLE = ParagraphStyle("title", parent=STYLES["Title"], fontSize=15, leading=18, spaceAfter=4)
H2 = ParagraphStyle("h2", parent=STYLES["Heading2"], fontSize=12, leading=15, spaceBefore=8, spaceAfter=4)
H3 = ParagraphStyle("h3", parent=STYLES["Heading3"], fontSize=10, leading=13, spaceBefore=6, spaceAfter=3)
H4 = ParagraphStyle("h4", parent=BODY, fontName="Helvetica-Bold", spaceBefore=5, spaceAfter=2)
CONFIDENTIAL = "Document confidentiel — données personnelles relatives à une mesure pénale"
PAGE_WIDTH = A4[0] - 30 * mm

IDENTITY_FIELDS = [
    ("id", "N° de dossier"), ("surname", "Nom"), ("first_names", "Prénoms"),
    ("birth_date", "Date de naissance"), ("birth_place", "Lieu de naissance"),
    ("address", "Adresse"), ("postal_code", "Code postal"), ("city", "Ville"),
    ("phone", "Téléphone"), ("email", "Courriel"), ("created_at", "Enregistrée le"),
    ("updated_at", "Dernière modification le"), ("anonymized_at", "Anonymisée le"),
]
MEASURE_FIELDS = [
    ("frame_label", "Cadre juridique"), ("authority", "Autorité prescriptrice"),
    ("handling_organization", "Association chargée du stage"),
    ("case_reference", "N° de parquet"), ("facts_date", "Date des faits"),
    ("decision_date", "Date de la décision"), ("final_date", "Date à laquelle la décision est devenue définitive"),
    ("deadline", "Date limite"), ("fee_cents", "Montant du stage"), ("payer_label", "Payé par"),
    ("payment_status_label", "Paiement"), ("certificate_recipient", "Destinataire de l'attestation"),
    ("status_label", "Situation"), ("status_changed_at", "Situation depuis le"),
    ("withdrawal_reason", "Motif du renvoi à l'autorité"), ("closed_at", "Mesure close le"),
    ("import_key", "Référence technique d'import"), ("created_at", "Enregistrée le"),
]
ENROLLMENT_FIELDS = [
    ("status_label", "Statut de l'inscription"), ("waitlist_position", "Rang en liste d'attente"),
    ("outcome_override_reason", "Motif de la décision sur la présence"),
    ("convocation_sent_at", "Convocation envoyée le"), ("reminder_7d_sent_at", "Rappel J-7 envoyé le"),
    ("reminder_1d_sent_at", "Rappel J-1 envoyé le"), ("created_at", "Inscription le"),
    ("created_by", "Inscription par"), ("updated_at", "Dernière modification le"),
    ("report_sent_at", "Bilan transmis à l'autorité le"),
]
CERTIFICATE_FIELDS = [
    ("number", "N° d'attestation"), ("replaces", "Remplace l'attestation n°"), ("issued_at", "Délivrée le"), ("issued_by", "Délivrée par"),
    ("hours_attended_minutes", "Durée suivie"), ("revoked", "Révoquée"),
    ("revoked_at", "Révoquée le"), ("revocation_reason", "Motif de la révocation"),
]


def export_pdf(export: dict) -> bytes:
    """The export laid out for the person: French labels, Paris dates, every field shown."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
        bottomMargin=15 * mm, title="Données personnelles — droit d'accès", author="Stages",
        invariant=1,
    )
    person = export["participant"]
    story = [
        Paragraph("Données personnelles détenues — droit d'accès", TITLE),
        Paragraph(
            "Réponse à une demande d'accès (règlement général sur la protection des données, "
            f"article 15). Document établi le {_fr(export['generated_at'])} ; il reprend toutes les "
            "données enregistrées dans l'outil de gestion des stages"
            + (" " if export["complete"] else
               ", pour les mesures suivies par l'association qui l'a établi ")
            + ": identité, mesures, inscriptions et leur historique, présence, attestations, "
            "transmissions à l'autorité et consultations du dossier. Pour faire rectifier une "
            "donnée inexacte, adressez-vous à l'association qui vous a convoqué·e.",
            BODY,
        ),
        Paragraph("Identité", H2),
        _fields_table(person, IDENTITY_FIELDS),
        Paragraph("Mesures judiciaires", H2),
    ]
    if not export["measures"]:
        story.append(Paragraph("Aucune mesure enregistrée.", BODY))
    for number, measure in enumerate(export["measures"], start=1):
        story += [Paragraph(f"Mesure {number} — {_escape(measure['frame_label'])}", H3), _fields_table(measure, MEASURE_FIELDS)]
        for enrollment in measure["enrollments"]:
            story += _enrollment_story(enrollment)
    story.append(Paragraph("Consultations et actions sur le dossier", H2))
    story.append(_access_table(export["access_log"]))
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def _enrollment_story(enrollment: dict) -> list:
    session = enrollment["session"]
    title = (
        f"Stage « {_escape(session['title'])} » du {_fr(session['starts_at'], 'date')} — "
        f"{_escape(session['venue'])}, {_escape(session['venue_address'])} ({_escape(session['status_label'])})"
    )
    story = [Paragraph(title, H3), _fields_table(enrollment, ENROLLMENT_FIELDS)]
    if enrollment["history"]:
        rows = [["Date", "Par", "Statut précédent", "Nouveau statut", "Note"]] + [
            [
                _fr(event["at"]), event["by"] or "—", event["from_status_label"] or "—",
                event["to_status_label"], event["note"] or "",
            ]
            for event in enrollment["history"]
        ]
        story += [Paragraph("Historique de l'inscription", H4), _grid(rows, (28, 32, 30, 30, 60))]
    if enrollment["attendance"]:
        rows = [["Demi-journée", "Présence", "Arrivée / départ", "Saisie", "Versions successives"]]
        for mark in enrollment["attendance"]:
            times = " / ".join(_fr(value, "time") if value else "—" for value in (mark["arrived_at"], mark["left_at"]))
            history = "; ".join(
                f"{_fr(r['changed_at'])}, {r['changed_by'] or '—'} : {r['status_label']}"
                + (f" (motif : {r['reason']})" if r["reason"] else "")
                + (f" — {r['note']}" if r["note"] else "")
                for r in mark["revisions"]
            )
            rows.append([
                f"{_fr(mark['part_starts_at'])} – {_fr(mark['part_ends_at'], 'time')}",
                mark["status_label"] + (f" — {mark['note']}" if mark["note"] else ""),
                times,
                f"{_fr(mark['updated_at'])}, {mark['updated_by'] or '—'}",
                history,
            ])
        story += [Paragraph("Présence", H4), _grid(rows, (32, 32, 24, 36, 56))]
    for certificate in enrollment["certificates"]:
        story += [Paragraph("Attestation de stage", H4), _fields_table(certificate, CERTIFICATE_FIELDS)]
    return [KeepTogether(story[:2])] + story[2:] + [Spacer(1, 3 * mm)]


def _access_table(accesses: list[dict]):
    if not accesses:
        return Paragraph("Aucune consultation enregistrée.", BODY)
    rows = [["Date", "Par", "Action"]] + [
        [_fr(a["at"]), a["by"] or "système", a["action_label"]] for a in accesses
    ]
    return _grid(rows, (40, 60, 80))


def _fields_table(values: dict, fields: list[tuple[str, str]]) -> Table:
    rows = [
        [Paragraph(_escape(label), SMALL), Paragraph(_escape(_display(key, values.get(key))), BODY)]
        for key, label in fields
    ]
    table = Table(rows, colWidths=[58 * mm, PAGE_WIDTH - 58 * mm])
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#c8ced8")),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    return table


def _grid(rows: list[list[str]], widths_mm: tuple[int, ...]) -> Table:
    scale = PAGE_WIDTH / (sum(widths_mm) * mm)
    data = [[Paragraph(_escape(str(cell)), SMALL) for cell in row] for row in rows]
    table = Table(data, colWidths=[w * mm * scale for w in widths_mm], repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa3b2")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _display(key: str, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if key == "fee_cents":
        # A no-break space groups thousands: the PDF's standard fonts have no narrow one.
        return f"{value / 100:,.2f} €".replace(",", "\u00a0").replace(".", ",")
    if key == "hours_attended_minutes":
        return f"{value // 60} h {value % 60:02d}"
    if isinstance(value, (datetime, date)):
        return _fr(value)
    return str(value)


def _fr(value, what: str = "datetime") -> str:
    """Paris dates and times as French readers write them."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        if what == "date":
            return fr_date(value, "medium")
        if what == "time":
            return fr_time(value)
        return fr_datetime(value)
    return fr_date(value, "medium")


def _footer(canvas, doc) -> None:
    canvas.saveState()
    canvas.setFont("Helvetica", 7.5)
    canvas.drawString(15 * mm, 8 * mm, CONFIDENTIAL)
    canvas.drawRightString(doc.pagesize[0] - 15 * mm, 8 * mm, f"Page {doc.page}")
    canvas.restoreState()


def _escape(text) -> str:
    return str(text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
