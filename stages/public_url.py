"""The address people reach the application at, for the links in emails, PDFs, QR codes and
calendar feeds."""
from __future__ import annotations

from flask import current_app, has_request_context, request


def public_base_url() -> str:
    """``STAGES_BASE_URL`` when it is set (production must set it: the links then never depend on
    a request's Host header); in development, the address this request was served at, so that
    ``make run PORT=5001`` gives links to port 5001; outside a request (the scheduler, a
    command), ``http://127.0.0.1:$PORT``."""
    configured = current_app.config.get("BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return f"http://127.0.0.1:{current_app.config['DEV_PORT']}"
