"""Brevo's transactional SMS API (https://developers.brevo.com, « Send transactional SMS »).

Why Brevo (README, « SMS »): a French company (formerly Sendinblue, Paris) whose data is hosted
in the European Union, with a data processing agreement under the GDPR, French operators'
routes and a plain HTTPS API authenticated by one key.

The request, as documented: ``POST {SMS_BREVO_API_URL}/transactionalSMS/send`` with the header
``api-key`` and a JSON body ``sender`` (≤ 11 characters), ``recipient`` (the international number
without « + »), ``content``, ``type`` (``transactional``: not subject to marketing rules),
``tag``, ``unicodeEnabled`` (UCS-2 texts) and ``webUrl``, the address Brevo calls with each status
of this message (``msg_status``: sent, delivered, soft_bounce, hard_bounce…; its ``messageId``).
The answer is 201 with ``{"messageId": …}`` (the former ``/transactionalSMS/sms`` answered
``reference``, ``messageId``, ``smsCount``: both are read).

Errors carry the HTTP status only: Brevo's message may quote the number.
"""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from flask import current_app

from stages.public_url import public_base_url
from stages.sms import (
    UCS2,
    OutgoingSms,
    SmsError,
    callback_token,
    count_segments,
    register_backend,
    sender_name,
)

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15


def status_callback_url() -> str:
    """The signed address Brevo calls with the statuses of a message (``webUrl``)."""
    # The URL map itself: the scheduler has no request (and production no SERVER_NAME) to
    # give ``url_for`` a host.
    path = current_app.url_map.bind("localhost").build(
        "enrollment.sms_status_callback", {"signature": callback_token()}
    )
    return public_base_url() + path


def request_body(message: OutgoingSms) -> dict:
    """The JSON Brevo expects for one transactional SMS."""
    return {
        "sender": sender_name(),
        "recipient": message.to.lstrip("+"),
        "content": message.body,
        "type": "transactional",
        "tag": message.tag or "stages",
        "unicodeEnabled": count_segments(message.body).encoding == UCS2,
        "webUrl": status_callback_url(),
    }


def send(message: OutgoingSms) -> str:
    """POST the message; Brevo's ``messageId``, or ``SmsError``."""
    key = current_app.config.get("SMS_BREVO_API_KEY")
    if not key:
        raise SmsError("La passerelle SMS n'est pas configurée (clé d'API Brevo absente).")
    base = current_app.config.get("SMS_BREVO_API_URL", "https://api.brevo.com/v3").rstrip("/")
    request = urllib.request.Request(
        f"{base}/transactionalSMS/send",
        data=json.dumps(request_body(message)).encode(),
        headers={"api-key": key, "content-type": "application/json", "accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        log.warning("sms: Brevo refused a message (HTTP %d)", error.code)
        raise SmsError(f"La passerelle SMS a refusé le message (HTTP {error.code}).") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        log.warning("sms: Brevo unreachable: %s", type(error).__name__)
        raise SmsError("La passerelle SMS est injoignable.") from None
    except ValueError:
        raise SmsError("La passerelle SMS a répondu de façon illisible.") from None
    message_id = answer.get("messageId") if isinstance(answer, dict) else None
    if message_id in (None, ""):
        raise SmsError("La passerelle SMS n'a pas donné d'identifiant au message.")
    return str(message_id)


register_backend("brevo", send)
