"""Right of access: ``export_pdf`` lays the export's dict out for the person, with French labels
and Paris dates."""
from __future__ import annotations

import io
from datetime import date, datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from stages.enrollment.ledger.amounts import euros
from stages.pdf_fonts import BOLD, FONT, TABLE_FONT, stylesheet
from stages.privacy.subject_export.gather import IDENTITY_FIELDS
from stages.timeutil import fr_date, fr_datetime, fr_time


# ---------------------------------------------------------------------------------------------
# PDF

STYLES = stylesheet()
BODY = ParagraphStyle("body", parent=STYLES["Normal"], fontSize=9, leading=11.5)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=9.5)
TITLE = ParagraphStyle("title", parent=STYLES["Title"], fontSize=15, leading=18, spaceAfter=4)
H2 = ParagraphStyle("h2", parent=STYLES["Heading2"], fontSize=12, leading=15, spaceBefore=8, spaceAfter=4)
H3 = ParagraphStyle("h3", parent=STYLES["Heading3"], fontSize=10, leading=13, spaceBefore=6, spaceAfter=3)
H4 = ParagraphStyle("h4", parent=BODY, fontName=BOLD, spaceBefore=5, spaceAfter=2)
CONFIDENTIAL = "Document confidentiel — données personnelles relatives à une mesure pénale"
PAGE_WIDTH = A4[0] - 30 * mm

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
        invariant=1, initialFontName=FONT,
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
        story += _fees_and_reports(measure)
        for enrollment in measure["enrollments"]:
            story += _enrollment_story(enrollment)
    story.append(Paragraph("Consentement aux SMS", H2))
    story.append(Paragraph(_consents_text(export.get("sms_consents", [])), BODY))
    story.append(Paragraph("Consultations et actions sur le dossier", H2))
    story.append(_access_table(export["access_log"]))
    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()


def _fees_and_reports(measure: dict) -> list:
    """The measure's fee ledger and its non-execution reports, when it has any."""
    story = []
    if measure.get("fee_entries"):
        rows = [["Date", "Écriture", "Montant", "Moyen", "Reçu", "Motif ou référence"]]
        rows += [[_fr(e["date"], "date"), e["kind_label"], euros(e["amount_cents"]), e["method_label"] or "—",
                  e["receipt"] or "—", e["reason"] or e["reference"] or "—"] for e in measure["fee_entries"]]
        story += [Paragraph("Frais de stage", H3), _grid(rows, (22, 28, 22, 24, 22, 50))]
    if measure.get("non_execution_reports"):
        rows = [["Date limite", "Motif", "État", "Établi le"]]
        rows += [[_fr(r["deadline"], "date"), r["reason_label"],
                  r["status_label"] + (f" ({r['withdrawn_reason']})" if r["withdrawn_reason"] else ""),
                  _fr(r["drafted_at"], "date")] for r in measure["non_execution_reports"]]
        story += [Paragraph("Rapports de non-exécution", H3), _grid(rows, (25, 45, 55, 25))]
    return story


def _enrollment_story(enrollment: dict) -> list:
    course = enrollment["session"]
    title = (
        f"Stage « {_escape(course['title'])} » du {_fr(course['starts_at'], 'date')} — "
        f"{_escape(course['venue'])}, {_escape(course['venue_address'])} ({_escape(course['status_label'])})"
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
        TABLE_FONT,
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
        TABLE_FONT,
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
        # A no-break space groups thousands: an amount never wraps.
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
    canvas.setFont(FONT, 7.5)
    canvas.drawString(15 * mm, 8 * mm, CONFIDENTIAL)
    canvas.drawRightString(doc.pagesize[0] - 15 * mm, 8 * mm, f"Page {doc.page}")
    canvas.restoreState()


def _consents_text(consents: list[dict]) -> str:
    """« Donné le 12/03/2026, retiré le 14/03/2026 (réponse STOP). » per consent, or none."""
    if not consents:
        return "Aucun consentement aux SMS enregistré."
    lines = []
    for consent in consents:
        line = f"Donné le {_fr(consent['given_at'])}"
        if consent["withdrawn_at"]:
            line += f", retiré le {_fr(consent['withdrawn_at'])}"
            if consent["withdrawn_how_label"]:
                line += f" ({_escape(consent['withdrawn_how_label'])})"
        lines.append(line + ".")
    return "<br/>".join(lines)


def _escape(text) -> str:
    return str(text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
