"""The one place that writes audit entries."""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user

from stages.auth.models import AuditEntry, Organization, User
from stages.extensions import db
from stages.timeutil import now_utc


def audit(
    action: str,
    obj=None,
    *,
    participant_id: int | None = None,
    details: str | None = None,
    user=None,
) -> AuditEntry:
    """Record who did ``action`` on ``obj`` (and which participant's data it touched).

    The entry joins the caller's transaction: it is written when the view commits, so a failed
    action leaves no trace of having succeeded. ``details`` must never carry personal data.
    """
    entry = AuditEntry(**_values(action, obj, participant_id, details, user))
    db.session.add(entry)
    return entry


def audit_many(action: str, items, *, details: str | None = None, user=None) -> None:
    """One ``audit`` per ``(obj, participant_id)`` of ``items``, written in one statement.

    For actions on many people at once (a bulk enrollment): the entries go in with one
    executemany, in the caller's transaction, instead of one INSERT each.
    """
    rows = [_values(action, obj, participant_id, details, user) for obj, participant_id in items]
    if rows:
        db.session.execute(sa.insert(AuditEntry), rows)


def _values(action: str, obj, participant_id: int | None, details: str | None, user) -> dict:
    if user is None and has_request_context() and current_user.is_authenticated:
        user = current_user
    # current_user is a proxy: record the real object's type.
    obj = obj._get_current_object() if hasattr(obj, "_get_current_object") else obj
    return dict(
        at=now_utc(),
        action=action,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=getattr(obj, "id", None),
        participant_id=participant_id,
        user_id=user.id if user is not None else None,
        ip=request.remote_addr if has_request_context() else None,
        details=details[:500] if details else None,
    )


# French wording of the actions shown to users (the code stays in the log). Every code written
# anywhere has one: tests/privacy/test_audit_labels.py reads the source and fails otherwise.
ACTION_LABELS = {
    "programme.module_saved": "Enregistrement d'un module du catalogue",
    "programme.module_archived": "Retrait d'un module du catalogue",
    "programme.changed": "Modification du programme d'un stage",
    "speaker.saved": "Enregistrement d'un intervenant extérieur",
    "speaker.archived": "Archivage d'un intervenant extérieur",
    "speaker.booked": "Demande adressée à un intervenant extérieur",
    "speaker.booking_status": "Réponse d'un intervenant extérieur",
    "participant.viewed": "Consultation du dossier d'une personne",
    "participant.rectified": "Rectification de l'identité d'une personne",
    "participant.exported": "Export des données d'une personne (droit d'accès)",
    "participant.needs_changed": "Modification de la langue et des besoins d'une personne",
    "interpreter.booked": "Réservation d'un interprète pour un stage",
    "interpreter.cancelled": "Annulation de la réservation d'un interprète",
    "measure.created": "Enregistrement d'une mesure",
    "measure.saved": "Modification d'une mesure",
    "measure.deadline_set": "Date limite fixée à une autre date que le délai légal, avec son motif",
    "measure.withdrawn": "Renvoi d'une mesure à l'autorité prescriptrice",
    "measures.list": "Consultation d'une liste de personnes orientées",
    "referrals.imported": "Import d'une liste d'orientation",
    "referrals.columns_remembered": "Colonnes d'une liste d'orientation retenues pour l'autorité",
    "enrollment.created": "Inscription à un stage",
    "enrollment.status_changed": "Changement de statut d'une inscription",
    "enrollment.rescheduled": "Report sur un autre stage",
    "convocation.downloaded": "Téléchargement d'une convocation",
    "convocation.sent": "Envoi d'une convocation",
    "summons.page_viewed": "Ouverture du lien d'une convocation (page de confirmation)",
    "summons.replied": "Réponse d'une personne à sa convocation (confirmation ou autre date)",
    "summons.reply_handled": "Réponse à une convocation marquée comme traitée",
    "convocation.undelivered": "Convocation non remise : à convoquer de nouveau",
    "convocation.registered_letter": "Convocation envoyée par lettre recommandée avec AR",
    "convocation.acknowledged": "Avis de réception d'une lettre recommandée enregistré",
    "sms.consent_given": "Consentement aux SMS noté",
    "sms.consent_withdrawn": "Retrait du consentement aux SMS",
    "session.created": "Création d'un stage",
    "session.updated": "Modification d'un stage",
    "session.status_changed": "Changement de statut d'un stage",
    "session.cancelled": "Annulation d'un stage",
    "session.seats_reserved": "Réservation de places à une autorité prescriptrice",
    "session.closed": "Clôture d'un stage",
    "session.series_created": "Programmation d'une série de stages",
    "session.participants_viewed": "Consultation des personnes inscrites à un stage",
    "venue.saved": "Enregistrement d'un lieu",
    "venue.archived": "Archivage d'un lieu",
    "venue.restored": "Remise en service d'un lieu",
    "organization.saved": "Enregistrement d'une organisation",
    "organization.archived": "Archivage d'une organisation",
    "organization.restored": "Remise en service d'une organisation",
    "organization.settings_changed": "Modification des paramètres d'une organisation",
    "organization.open_statistics_changed": "Participation aux statistiques ouvertes modifiée",
    # The yearly report is aggregate (no one's data): what is logged is who produced which
    # organization's report for which year, and in which format (details).
    "yearly_report.viewed": "Consultation du rapport d'activité annuel d'une organisation",
    "yearly_report.exported": "Téléchargement du rapport d'activité annuel d'une organisation",
    "letter.texts_changed": "Modification des textes des courriers d'une association",
    "retention.changed": "Modification des durées de conservation",
    "attendance.recorded": "Saisie de la présence",
    "attendance.offline_prepared": "Préparation de la présence hors ligne sur un appareil",
    "attendance.synced": "Présence et signatures envoyées par une tablette",
    "attendance.signature_voided": "Annulation d'une signature d'émargement",
    "signatures.viewed": "Consultation des signatures d'une demi-journée",
    "roster.viewed": "Consultation de la liste des présences",
    "roster.downloaded": "Téléchargement de la feuille d'émargement",
    "certificate.downloaded": "Téléchargement d'une attestation",
    "certificate.issued": "Délivrance d'une attestation",
    "certificate.revoked": "Révocation d'une attestation",
    "certificate.verified": "Vérification publique d'une attestation",
    "export.downloaded": "Export",
    "dashboard.viewed": "Consultation du tableau de bord",
    "bilan.sent": "Transmission d'un bilan à l'autorité",
    "non_execution.viewed": "Consultation d'un rapport de non-exécution",
    "non_execution.reviewed": "Rapport de non-exécution relu, prêt à transmettre",
    "monthly_summary.viewed": "Consultation d'une synthèse mensuelle",
    "transmission.requested": "Demande de transmission d'un document à une autorité",
    "transmission.sent": "Transmission d'un document acceptée par le serveur de messagerie",
    "transmission.bounced": "Transmission d'un document rejetée (bounce)",
    "transmission.acknowledged": "Accusé de réception d'une transmission",
    "transmission.link_refused": "Lien d'accusé de réception invalide",
    "incident.recorded": "Incident d'une demi-journée noté",
    "incident.changed": "Incident d'une demi-journée modifié",
    "incident.deleted": "Incident d'une demi-journée supprimé",
    "incidents.viewed": "Consultation des incidents d'une demi-journée",
    "questionnaire.saved": "Modification d'un questionnaire d'évaluation",
    "evaluation.links_printed": "Impression des liens personnels vers le questionnaire d'évaluation",
    "evaluation.links_sent": "Envoi par courriel des liens vers le questionnaire d'évaluation",
    "evaluation.results_viewed": "Consultation des résultats d'une évaluation",
    "ledger.payment_recorded": "Enregistrement d'un paiement des frais de stage (reçu numéroté)",
    "ledger.refund_recorded": "Enregistrement d'un remboursement des frais de stage",
    "ledger.waiver_recorded": "Dispense des frais de stage, avec son motif",
    "ledger.listed": "Consultation du registre des frais (comptabilité)",
    "receipt.downloaded": "Téléchargement d'un reçu de paiement",
    "invoice.issued": "Facture des frais de stage à une autorité prescriptrice",
    "invoice.downloaded": "Téléchargement d'une facture",
    "billing.settings_changed": "Modification du SIRET et de la mention de TVA d'une association",
    "audit_log.exported": "Export du journal d'audit",
    "calendar.feed_renewed": "Renouvellement d'un abonnement d'agenda",
    "calendar.token_regenerated": "Renouvellement de tous les abonnements d'agenda",
    "api.read": "Lecture par l'API (jeton d'accès)",
    "api_token.created": "Création d'un jeton d'accès à l'API",
    "api_token.revoked": "Révocation d'un jeton d'accès à l'API",
    "auth.login": "Connexion",
    "auth.logout": "Déconnexion",
    "auth.login_failed": "Échec de connexion",
    "auth.locked": "Compte bloqué après plusieurs échecs",
    "auth.logout_everywhere": "Déconnexion de tous les appareils",
    "auth.2fa_enabled": "Double authentification activée",
    "auth.2fa_disabled": "Double authentification désactivée",
    "auth.password_changed": "Mot de passe modifié",
    "user.created": "Création d'un compte",
    "user.role_changed": "Changement de rôle d'un compte",
    "user.scope_changed": "Changement de rattachement d'un compte",
    "user.activated": "Compte réactivé",
    "user.deactivated": "Compte désactivé",
    "user.password_reset": "Mot de passe réinitialisé",
    "user.unlocked": "Compte débloqué",
    "user.2fa_reset": "Double authentification réinitialisée",
}

# Codes no longer written but found in older logs (public checks are counted per day since
# migration 0011): they keep their label.
RETIRED_ACTIONS = ("certificate.verified",)

# What each kind of record is called in the journal, for every model (a test checks none is
# missing); an area that can say more registers a describer (``describes``).
OBJECT_TYPE_LABELS = {
    "ProgrammeModule": "Module du catalogue",
    "Speaker": "Intervenant extérieur",
    "ProgrammeItem": "Module du programme d'une demi-journée",
    "ProgrammeModuleTopic": "Contenu traité par un module",
    "SpeakerBooking": "Réservation d'un intervenant extérieur",
    "ApiToken": "Jeton d'accès à l'API",
    "LedgerEntry": "Écriture du registre des frais",
    "FeeInvoice": "Facture des frais de stage",
    "FeeInvoiceLine": "Ligne d'une facture des frais de stage",
    "DocumentCounter": "Compteur de numéros (reçus, factures)",
    "BillingSettings": "Mentions de facturation d'une association",
    "SmsConsent": "Consentement aux SMS",
    "SmsMessage": "SMS envoyé",
    "AttendanceMark": "Présence",
    "AttendanceRevision": "Correction de présence",
    "AttendanceSignature": "Signature d'émargement",
    "AttendanceSyncReceipt": "Envoi d'une tablette",
    "SeatReservation": "Places réservées",
    "AssociationSettings": "Paramètres d'une association",
    "AuthorityReporting": "Transmission des bilans d'une autorité",
    "ReportTransmission": "Transmission d'un document à une autorité",
    "TransmittedFile": "Fichier transmis à une autorité",
    "FrameDefault": "Valeur par défaut d'un cadre",
    "LetterText": "Texte d'un courrier",
    "SummonsDelivery": "Preuve d'envoi d'une convocation",
    "InterpreterBooking": "Réservation d'un interprète",
    "RetentionSettings": "Durées de conservation",
    "AuditEntry": "Entrée du journal",
    "Bilan": "Bilan",
    "HalfDayIncident": "Incident d'une demi-journée",
    "Questionnaire": "Questionnaire d'évaluation",
    "QuestionnaireItem": "Question d'un questionnaire",
    "EvaluationResponse": "Réponse anonyme à un questionnaire",
    "EvaluationAnswer": "Réponse anonyme à une question",
    "EvaluationMarker": "Questionnaire rempli (sans la réponse)",
    "EvaluationLink": "Lien vers un questionnaire",
    "NonExecutionReport": "Rapport de non-exécution",
    "MonthlySummary": "Synthèse mensuelle",
    "CachedFeed": "Copie d'un agenda",
    "Certificate": "Attestation",
    "SummonsLink": "Lien d'une convocation",
    "SummonsReply": "Réponse à une convocation",
    "Course": "Stage",
    "CourseChange": "Modification de stage",
    "CoursePart": "Demi-journée",
    "Enrollment": "Inscription",
    "EnrollmentEvent": "Étape d'inscription",
    "FacilitatorBooking": "Réservation d'intervenant",
    "ImportColumnMapping": "Colonnes d'import",
    "InvitationUpdate": "Mise à jour d'invitation",
    "JobRun": "Tâche planifiée",
    "LegalMeasure": "Mesure",
    "LoginSession": "Session de connexion",
    "Organization": "Organisation",
    "OutboxMessage": "Courriel en attente d'envoi",
    "Participant": "Personne",
    "RenewedFeed": "Abonnement d'agenda",
    "User": "Compte",
    "Venue": "Lieu",
    "VerificationTally": "Décompte de vérifications",
}

# Type name → function(ids) → {id: « Stage du 12 mars 2027 »}, one query for all the ids.
_DESCRIBERS: dict[str, Callable[[list[int]], dict[int, str]]] = {}


def describes(type_name: str):
    """Register how the journal names the records of ``type_name`` (areas above auth call it at
    start-up, from their ``rules`` module). The words must carry no participant's personal data."""

    def register(function: Callable[[list[int]], dict[int, str]]):
        _DESCRIBERS[type_name] = function
        return function

    return register


def action_label(action: str) -> str:
    """The French wording of an audit action."""
    return ACTION_LABELS.get(action, action)


def object_type_label(object_type: str | None) -> str:
    """The French name of a kind of record (« Stage »)."""
    return OBJECT_TYPE_LABELS.get(object_type, object_type or "")


def describe_objects(entries) -> dict[tuple[str, int], str]:
    """The words for the objects of ``entries`` (« Stage du 12 mars 2027 », « Compte de Claire
    Martin »): one query per kind of record, whatever the number of entries. Records since
    deleted, or of a kind no area describes, get « Stage n° 9 »."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        if entry.object_type and entry.object_id is not None:
            wanted.setdefault(entry.object_type, set()).add(entry.object_id)
    labels: dict[tuple[str, int], str] = {}
    for type_name, ids in wanted.items():
        found = _DESCRIBERS[type_name](sorted(ids)) if type_name in _DESCRIBERS else {}
        for object_id in ids:
            labels[type_name, object_id] = found.get(object_id) or (
                f"{object_type_label(type_name)} n° {object_id}"
            )
    return labels


@describes("User")
def _users(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(sa.select(User.id, User.full_name).where(User.id.in_(ids)))
    return {user_id: f"Compte de {name}" for user_id, name in rows}


@describes("Organization")
def _organizations(ids: list[int]) -> dict[int, str]:
    rows = db.session.execute(sa.select(Organization.id, Organization.name).where(Organization.id.in_(ids)))
    return {org_id: name for org_id, name in rows}
