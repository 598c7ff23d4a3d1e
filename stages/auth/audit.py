"""The one place that writes audit entries."""
from __future__ import annotations

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user

from stages.auth.models import AuditEntry
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


# French wording of the actions shown to users (the code stays in the log).
ACTION_LABELS = {
    "participant.viewed": "consultation du dossier",
    "participant.rectified": "rectification de l'identité",
    "measure.created": "enregistrement d'une mesure",
    "measure.saved": "modification d'une mesure",
    "measure.withdrawn": "renvoi à l'autorité prescriptrice",
    "referrals.imported": "import d'une liste d'orientation",
    "referrals.columns_remembered": "colonnes d'une liste d'orientation retenues pour l'autorité",
    "enrollment.created": "inscription à un stage",
    "enrollment.status_changed": "changement de statut d'une inscription",
    "enrollment.rescheduled": "report sur un autre stage",
    "convocation.downloaded": "téléchargement de la convocation",
    "convocation.sent": "envoi de la convocation",
    "certificate.downloaded": "téléchargement de l'attestation",
    "certificate.issued": "attestation délivrée",
    "certificate.revoked": "attestation révoquée",
    "certificate.verified": "vérification publique d'une attestation",
    "export.downloaded": "export",
    "dashboard.viewed": "consultation du tableau de bord",
    "bilan.sent": "bilan transmis à l'autorité",
    "participant.exported": "export des données de la personne (droit d'accès)",
    "audit_log.exported": "export du journal d'audit",
    "auth.login": "connexion",
    "auth.logout": "déconnexion",
    "auth.login_failed": "échec de connexion",
    "auth.locked": "compte bloqué après plusieurs échecs",
    "auth.logout_everywhere": "déconnexion de tous les appareils",
    "auth.2fa_enabled": "double authentification activée",
    "auth.2fa_disabled": "double authentification désactivée",
    "auth.password_changed": "mot de passe modifié",
    "user.created": "création d'un compte",
    "user.role_changed": "changement de rôle",
    "user.scope_changed": "changement de rattachement",
    "user.activated": "compte réactivé",
    "user.deactivated": "compte désactivé",
    "user.password_reset": "mot de passe réinitialisé",
    "user.unlocked": "compte débloqué",
    "user.2fa_reset": "double authentification réinitialisée",
}


def action_label(action: str) -> str:
    """The French wording of an audit action."""
    return ACTION_LABELS.get(action, action)
