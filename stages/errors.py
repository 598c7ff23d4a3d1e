"""The domain error that services raise, and the French error pages."""
from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A request the business rules refuse; the message is French and shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


ERROR_TEXTS = {
    400: ("Requête invalide", "La demande n'a pas pu être traitée. Rechargez la page et réessayez."),
    403: ("Accès refusé", "Vous n'avez pas l'autorisation d'accéder à cette page."),
    404: ("Page introuvable", "La page demandée n'existe pas ou n'existe plus."),
    405: ("Méthode non autorisée", "Cette action n'est pas possible de cette manière."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
    429: (
        "Trop de tentatives",
        "Vous avez fait trop de demandes en peu de temps. Patientez une minute avant de réessayer.",
    ),
    500: (
        "Erreur interne",
        "Une erreur inattendue s'est produite. L'équipe technique en est informée ; réessayez "
        "dans quelques instants.",
    ),
    503: (
        "Service momentanément indisponible",
        "Le service est temporairement indisponible. Réessayez dans quelques instants.",
    ),
}


def render_error(code: int, message: str | None = None):
    """Render the French error page for ``code``."""
    title, default = ERROR_TEXTS.get(code, ERROR_TEXTS[500])
    return render_template("errors/error.html", code=code, title=title, message=message or default), code


def register_error_handlers(app: Flask) -> None:
    """French pages for every HTTP error; a CSRF failure is a 400 that says why."""

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(
            400,
            "Le formulaire a expiré ou n'a pas pu être vérifié (jeton de sécurité absent ou "
            "invalide). Rechargez la page et recommencez.",
        )

    # Unhandled exceptions reach this handler as InternalServerError (500) once Flask has logged
    # them; in tests they propagate instead, so failures show their traceback.
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        return render_error(error.code)

