"""Errors of the API as ``application/problem+json`` (RFC 9457), in French."""
from __future__ import annotations

import json

from flask import current_app
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from stages.errors import ERROR_TEXTS

PROBLEM_TYPE = "application/problem+json"
API_PROBLEMS = {
    400: ("Requête invalide", "Un paramètre de la requête n'est pas valide."),
    401: (
        "Authentification requise",
        "Jeton d'accès absent, mal formé, inconnu, expiré ou révoqué. Envoyez l'en-tête "
        "« Authorization: Bearer <jeton> » avec un jeton créé sur la page « Mon compte ».",
    ),
    404: ("Ressource introuvable", "Cette ressource n'existe pas, ou ce jeton ne permet pas de la voir."),
    405: ("Méthode non autorisée", "L'API est en lecture seule : seules les requêtes GET sont acceptées."),
    429: (
        "Trop de requêtes",
        "La limite de requêtes de ce jeton est atteinte : réessayez après le nombre de secondes "
        "indiqué par l'en-tête Retry-After.",
    ),
}


def problem(status: int, detail: str | None = None, *, headers: dict | None = None):
    """A problem+json response: ``type``, French ``title`` and ``detail``, ``status``."""
    title, default = API_PROBLEMS.get(status) or ERROR_TEXTS.get(status, ERROR_TEXTS[500])
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail or default}
    response = current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_TYPE
    )
    response.headers["Cache-Control"] = "no-store"
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="stages"'
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def render_problem(code: int, message: str | None, error: HTTPException | None):
    """The renderer of every error under ``/api/``: the French page's message when one was given
    (a NUL character refused), the API's own otherwise."""
    headers = {}
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers["Allow"] = ", ".join(sorted(set(error.valid_methods) - {"OPTIONS"}))
    detail = message or (error.description if code == 400 and error is not None and error.description
                         and not error.description.startswith("The browser") else None)
    return problem(code, detail, headers=headers)
