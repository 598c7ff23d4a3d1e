"""Upload page for referral lists: send a file, read the preview, then import it in one go.

The uploaded file waits between the two steps under ``instance/imports/<random token>.<ext>``
(``IMPORT_UPLOAD_DIR`` overrides the folder): never in the session cookie, never under a name that
says whom it concerns. It is deleted once imported, and any file left over is deleted after 24 h.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    session,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf.file import FileAllowed, FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import HiddenField, SelectField
from wtforms.validators import DataRequired

from stages.auth.models import Role
from stages.auth.permissions import Permission, authorize, can
from stages.enrollment import importer
from stages.errors import DomainError, render_error
from stages.extensions import db
from stages.forms import BaseForm, select_choices
from stages.scheduling.models import Organization, OrganizationKind

bp = Blueprint("imports", __name__)

MAX_UPLOAD_AGE_SECONDS = 24 * 3600
MAX_ERRORS_SHOWN = 200
_SESSION_KEY = "referral_import"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


@bp.record_once
def _limit_request_size(state) -> None:
    """Refuse oversized requests before reading them (413), unless the app sets its own limit.

    Flask's default config holds the key with ``None``, so ``setdefault`` alone would do nothing.
    A bit above the importer's 10 MB, so that a file just over its limit gets the precise message.
    """
    if state.app.config.get("MAX_CONTENT_LENGTH") is None:
        state.app.config["MAX_CONTENT_LENGTH"] = 12 * 1024 * 1024


class ImportUploadForm(BaseForm):
    file = FileField(
        "Fichier de la liste",
        validators=[
            FileRequired("Choisissez le fichier à importer."),
            FileAllowed(["csv", "xlsx"], "Seuls les fichiers .csv et .xlsx sont acceptés."),
        ],
        description="CSV (séparateur « ; » ou « , ») ou classeur Excel .xlsx, 10 Mo au maximum ; "
        "la première ligne porte les intitulés des colonnes.",
    )
    association = SelectField(
        "Association chargée des stages",
        coerce=int,
        validators=[DataRequired("Choisissez l'association.")],
    )


class ImportConfirmForm(BaseForm):
    token = HiddenField(validators=[DataRequired()])


def _associations() -> list[Organization]:
    """The associations the current user may import for: their own; every one for admins."""
    query = sa.select(Organization).where(
        Organization.kind == OrganizationKind.ASSOCIATION, Organization.archived_at.is_(None)
    )
    if current_user.role != Role.ADMIN:
        query = query.where(Organization.id.in_(current_user.organization_ids))
    return list(db.session.scalars(query.order_by(Organization.name)))


def _upload_form(**kwargs) -> ImportUploadForm:
    form = ImportUploadForm(**kwargs)
    associations = _associations()
    form.association.choices = select_choices((org.id, org.name) for org in associations)
    if len(associations) == 1 and form.association.data is None:
        form.association.data = associations[0].id
    return form


def _upload_dir() -> Path:
    folder = Path(
        current_app.config.get("IMPORT_UPLOAD_DIR")
        or os.path.join(current_app.instance_path, "imports")
    )
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _purge_old_uploads(folder: Path) -> None:
    """Delete the files of previews nobody confirmed within 24 h."""
    limit = time.time() - MAX_UPLOAD_AGE_SECONDS
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:  # deleted meanwhile by a concurrent request
            pass


def _store_upload(content: bytes, extension: str) -> str:
    """Keep the file for step 2 under a random name; return the token."""
    token = secrets.token_urlsafe(32)
    path = _upload_dir() / f"{token}.{extension}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(content)
    return token


def _stored_upload(token: str) -> Path | None:
    """The file kept for ``token``, if this user's session uploaded it and it is still there."""
    pending = session.get(_SESSION_KEY) or {}
    if not _TOKEN.fullmatch(token or "") or pending.get("token") != token:
        return None
    if pending.get("extension") not in ("csv", "xlsx"):
        return None
    path = _upload_dir() / f"{token}.{pending.get('extension')}"
    return path if path.is_file() else None


def _association_for(association_id) -> Organization:
    """The association chosen, provided the user may import for it."""
    association = next((org for org in _associations() if org.id == association_id), None)
    if association is None:
        raise DomainError("Vous ne pouvez pas importer de liste pour cette association.")
    return association


@bp.route("/personnes/import", methods=["GET", "POST"])
@login_required
def upload():
    """Step 1: send a referral list and see what importing it would do."""
    authorize(Permission.MEASURE_EDIT)
    _purge_old_uploads(_upload_dir())
    form = _upload_form()
    if not form.validate_on_submit():
        return render_template("enrollment/import_upload.html", form=form, columns=importer.COLUMNS)
    content = form.file.data.read()
    try:
        association = _association_for(form.association.data)
        table = importer.read_table(content, form.file.data.filename or "")
        report = importer.plan_import(table, association)
    except DomainError as error:
        form.file.errors = [error.message]
        return render_template("enrollment/import_upload.html", form=form, columns=importer.COLUMNS)
    confirm = None
    if report.ok and report.to_create:
        extension = "xlsx" if content.startswith(b"PK") else "csv"
        token = _store_upload(content, extension)
        session[_SESSION_KEY] = {
            "token": token, "extension": extension, "association_id": association.id,
        }
        confirm = ImportConfirmForm(formdata=None, token=token)
    return _preview(report, confirm)


def _preview(report: importer.ImportReport, confirm: ImportConfirmForm | None):
    return render_template(
        "enrollment/import_preview.html",
        report=report,
        confirm=confirm,
        errors=report.errors[:MAX_ERRORS_SHOWN],
    )


@bp.route("/personnes/import/confirmer", methods=["POST"])
@login_required
def confirm():
    """Step 2: import the previewed file, all or nothing."""
    authorize(Permission.MEASURE_EDIT)
    form = ImportConfirmForm()
    path = _stored_upload(form.token.data) if form.validate_on_submit() else None
    if path is None:
        flash("Ce fichier n'est plus disponible (déjà importé, ou envoyé il y a plus de 24 h) : "
              "envoyez-le de nouveau.", "error")
        return redirect(url_for("imports.upload"))
    try:
        association = _association_for(session[_SESSION_KEY].get("association_id"))
        table = importer.read_table(path.read_bytes(), path.name)
        # Read and checked again: the data on file may have changed since the preview.
        report = importer.run_import(table, association, by=current_user)
        if report.ok:
            db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for("imports.upload"))
    except sa.exc.IntegrityError:
        db.session.rollback()  # another import of the same rows committed first
        flash("Une partie de ces mesures vient d'être importée par ailleurs : rien n'a été "
              "enregistré. Envoyez le fichier de nouveau pour voir ce qu'il reste à importer.",
              "error")
        return redirect(url_for("imports.upload"))
    finally:
        # One attempt per preview: whatever happened, the file is not kept any longer.
        path.unlink(missing_ok=True)
        session.pop(_SESSION_KEY, None)
    if not report.ok:
        return _preview(report, None)
    plural = "s" if report.created > 1 else ""
    attached = len(report.attached)
    flash(
        f"{report.created} mesure{plural} importée{plural} pour {association.name}"
        + (f", dont {attached} rattachée{'s' if attached > 1 else ''} à une personne existante"
           if attached else "")
        + ".",
        "success",
    )
    return redirect(url_for("main.index"))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """An upload over the request limit: the form again, saying why, rather than a bare 413."""
    if not can(current_user, Permission.MEASURE_EDIT):
        return render_error(413)
    # The body was refused unread: the form must not look at it (formdata=None).
    form = _upload_form(formdata=None)
    form.file.errors = ["Le fichier dépasse la taille autorisée (10 Mo au maximum)."]
    html = render_template("enrollment/import_upload.html", form=form, columns=importer.COLUMNS)
    return html, 413
