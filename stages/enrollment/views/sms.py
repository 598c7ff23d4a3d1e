"""SMS: the person's consent and the SMS sent (on their page), and the gateway's calls back.

The two callbacks are public (the gateway has no login), CSRF-exempt (it posts no form token),
rate-limited, and answer only at the address carrying our HMAC token (``stages.sms``): anything
else is refused with 403 and logged (without the body, which holds a number).
"""
from __future__ import annotations

import logging

from flask import abort, current_app, flash, jsonify, redirect, request, url_for
from flask_login import current_user, login_required
from flask_limiter.util import get_remote_address

from stages.auth.permissions import Permission, get_authorized
from stages.enrollment.models import Participant
from stages.enrollment.queries import participant_sections
from stages.enrollment.sms import services
from stages.enrollment.statuses import TO_ATTEND_STATUSES
from stages.enrollment.views.blueprint import bp
from stages.errors import refused
from stages.extensions import csrf, db, limiter
from stages.phones import TO_CHECK, display_phone
from stages.sms import valid_callback_token

log = logging.getLogger(__name__)


@participant_sections.add(template="enrollment/_participant_sms.html", slot="main", position=5)
def participant_sms(participant: Participant, full_view: bool, can_edit: bool, files: list, **_) -> dict | None:
    """Consent, the SMS sent and their statuses, and the next convocation SMS with its cost."""
    if not full_view or participant.anonymized_at is not None:
        return None
    current = next((f.live for f in files if f.live is not None and f.live.status in TO_ATTEND_STATUSES), None)
    can_sms = services.can_receive_sms(participant)
    consents = services.consent_history(participant)  # the one in force among them: no 2nd query
    return {
        "sms_phone": display_phone(participant.phone),
        "sms_phone_to_check": TO_CHECK if participant.phone_to_check else None,
        "sms_can_receive": can_sms,
        "sms_consent": next((c for c in consents if c.withdrawn_at is None), None),
        "sms_consents": consents,
        "sms_sent": services.sms_sent_to(participant),
        "sms_preview": services.convocation_preview(current) if current and can_sms else None,
        "sms_can_edit": can_edit,
    }


@bp.route("/personnes/<int:participant_id>/sms/consentement", methods=["POST"])
@login_required
def sms_consent(participant_id: int):
    """Note that the person agrees to SMS, or that they no longer do."""
    participant = get_authorized(Participant, participant_id, Permission.PARTICIPANT_EDIT)
    action = request.form.get("action")
    if action not in ("give", "withdraw"):
        abort(400)
    with refused() as outcome:
        if action == "give":
            services.give_consent(participant, by=current_user)
        else:
            services.withdraw_consent(participant, by=current_user)
        db.session.commit()
    if outcome.ok:
        flash("Consentement aux SMS noté." if action == "give" else "Le consentement aux SMS est retiré : "
              "aucun SMS ne lui sera plus envoyé.", "success")
    return redirect(url_for("enrollment.participant_detail", participant_id=participant.id))


def _callback_rate_limit() -> str:
    return current_app.config["SMS_CALLBACK_RATE_LIMIT"]


def _payload(signature: str) -> dict:
    """The gateway's JSON, once its address is proven ours; 403 (logged) or 400 otherwise."""
    if not valid_callback_token(signature):
        log.warning("sms: callback refused: bad signature (from %s)", get_remote_address())
        abort(403)
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        abort(400)
    return payload


@bp.route("/sms/<signature>/statut", methods=["POST"])
@csrf.exempt
@limiter.limit(_callback_rate_limit)
def sms_status_callback(signature: str):
    """A delivery receipt from the gateway (Brevo: ``messageId`` and ``msg_status``)."""
    payload = _payload(signature)
    message_id = payload.get("messageId") or payload.get("message_id")
    status = payload.get("msg_status") or payload.get("event")
    if isinstance(status, str) and status.lower() in ("replied", "reply") and services.is_stop(_reply_text(payload)):
        services.honour_stop(str(payload.get("to") or payload.get("from") or ""))
    elif message_id is not None and isinstance(status, str):
        services.record_receipt(current_app.config.get("SMS_BACKEND", "file"), str(message_id), status)
    db.session.commit()
    return jsonify(ok=True)


def _reply_text(payload: dict) -> str:
    text = payload.get("reply") or payload.get("text") or payload.get("message") or ""
    return text if isinstance(text, str) else ""


@bp.route("/sms/<signature>/reponses", methods=["POST"])
@csrf.exempt
@limiter.limit(_callback_rate_limit)
def sms_inbound_callback(signature: str):
    """A reply sent to our number: « STOP » withdraws the consent of everyone with that number."""
    payload = _payload(signature)
    number = payload.get("from") or payload.get("sender") or payload.get("to")
    withdrawn = 0
    if isinstance(number, str | int) and services.is_stop(_reply_text(payload)):
        withdrawn = services.honour_stop(str(number))
        db.session.commit()
    return jsonify(ok=True, withdrawn=withdrawn)


bp.add_app_template_filter(display_phone, "phone")
