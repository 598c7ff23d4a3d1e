"""Upload page for referral lists: send a file, read the preview, then import it in one go.

The file waits between the two steps as ``stages.enrollment.importer.uploads`` keeps it.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import (
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from stages.auth.models import Organization, OrganizationKind
from stages.auth.permissions import Permission, authorize, can, visible
from stages.enrollment import importer
from stages.enrollment.forms import ImportConfirmForm, ImportUploadForm
from stages.enrollment.importer import uploads
from stages.enrollment.views.blueprint import bp
from stages.errors import DomainError, refused, render_error
from stages.extensions import db
from stages.forms import select_choices

MAX_ERRORS_SHOWN = 200
_SESSION_KEY = "referral_import"


@bp.record_once
def _limit_request_size(state) -> None:
    """Refuse oversized requests before reading them (413), unless the app sets its own limit.

    Flask's default config holds the key with ``None``, so ``setdefault`` alone would do nothing.
    A bit above the importer's 10 MB, so that a file just over its limit gets the precise message.
    """
    if state.app.config.get("MAX_CONTENT_LENGTH") is None:
        state.app.config["MAX_CONTENT_LENGTH"] = 12 * 1024 * 1024


def _associations() -> list[Organization]:
    """The associations the current user may import for: their own; every one for admins."""
    query = visible(Organization, current_user).where(
        Organization.kind == OrganizationKind.ASSOCIATION, Organization.archived_at.is_(None)
    )
    return list(db.session.scalars(query.order_by(Organization.name)))


def _upload_form(**kwargs) -> ImportUploadForm:
    form = ImportUploadForm(**kwargs)
    associations = _associations()
    form.association.choices = select_choices((org.id, org.name) for org in associations)
    if len(associations) == 1 and form.association.data is None:
        form.association.data = associations[0].id
    return form


def _stored_upload(token: str) -> Path | None:
    """The file kept for ``token``, if this user's course uploaded it and it is still there."""
    pending = session.get(_SESSION_KEY) or {}
    if pending.get("token") != token:
        return None
    return uploads.stored_upload(token, pending.get("extension"))


def _association_for(association_id) -> Organization:
    """The association chosen, provided the user may import for it."""
    association = next((org for org in _associations() if org.id == association_id), None)
    if association is None:
        raise DomainError("Vous ne pouvez pas importer de liste pour cette association.")
    return association


@bp.route("/personnes/import", methods=["GET", "POST"])
@login_required
def import_upload():
    """Step 1: send a referral list and see what importing it would do."""
    authorize(Permission.MEASURE_EDIT)
    uploads.purge_old_uploads()
    form = _upload_form()
    if not form.validate_on_submit():
        return render_template("enrollment/import_upload.html", form=form, columns=importer.COLUMNS)
    content = form.file.data.read()
    with refused(field=form.file) as outcome:
        association = _association_for(form.association.data)
        report = importer.plan_import(importer.read_table(content, form.file.data.filename or ""), association)
    if not outcome.ok:
        return render_template("enrollment/import_upload.html", form=form, columns=importer.COLUMNS)
    confirm = None
    if report.ok and report.to_create:
        token, extension = uploads.store_upload(content)
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


ALREADY_IMPORTED = (
    "Une partie de ces mesures vient d'être importée par ailleurs : rien n'a été enregistré. "
    "Envoyez le fichier de nouveau pour voir ce qu'il reste à importer."
)
FILE_GONE = (
    "Ce fichier n'est plus disponible (déjà importé, ou envoyé il y a plus de 24 h) : "
    "envoyez-le de nouveau."
)


@bp.route("/personnes/import/confirmer", methods=["POST"])
@login_required
def import_confirm():
    """Step 2: import the previewed file, all or nothing."""
    authorize(Permission.MEASURE_EDIT)
    form = ImportConfirmForm()
    path = _stored_upload(form.token.data) if form.validate_on_submit() else None
    if path is None:
        flash(FILE_GONE, "error")
        return redirect(url_for("enrollment.import_upload"))
    pending = session.pop(_SESSION_KEY, None) or {}
    try:
        with refused(also={sa.exc.IntegrityError: ALREADY_IMPORTED}) as outcome:
            association = _association_for(pending.get("association_id"))
            table = importer.read_table(path.read_bytes(), path.name)
            # Read and checked again: the data on file may have changed since the preview.
            report = importer.run_import(table, association, by=current_user)
            if report.ok:
                db.session.commit()
    finally:
        path.unlink(missing_ok=True)  # one attempt per preview, whatever happened
    if not outcome.ok:
        return redirect(url_for("enrollment.import_upload"))
    if not report.ok:
        return _preview(report, None)
    flash(report.result(association), "success")
    return redirect(url_for("home.index"))


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """An upload over the request limit: the form again, saying why, rather than a bare 413."""
    if request.endpoint != "enrollment.import_upload" or not can(current_user, Permission.MEASURE_EDIT):
        return render_error(413)
    # The body was refused unread: the form must not look at it (formdata=None).
    form = _upload_form(formdata=None)
    form.file.errors = ["Le fichier dépasse la taille autorisée (10 Mo au maximum)."]
    html = render_template("enrollment/import_upload.html", form=form, columns=importer.COLUMNS)
    return html, 413
