"""Upload page for referral lists: send a file, say what its unknown columns hold, read the
preview, then import it in one go.

The file waits between the steps as ``stages.enrollment.importer.uploads`` keeps it; the login
session holds its token and the choices made (association, authority, columns by position:
never a header or a cell, which could be personal data).
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
from stages.enrollment.forms import (
    FROM_THE_FILE,
    ImportConfirmForm,
    ImportUploadForm,
    import_columns_form,
)
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
    form.fill_authorities()
    return form


def _upload_page(form: ImportUploadForm, status: int = 200):
    return render_template("enrollment/import_upload.html", form=form, columns=importer.COLUMNS), status


def _association_for(association_id) -> Organization:
    """The association chosen, provided the user may import for it."""
    association = next((org for org in _associations() if org.id == association_id), None)
    if association is None:
        raise DomainError("Vous ne pouvez pas importer de liste pour cette association.")
    return association


def _authority_for(authority_id) -> Organization | None:
    """The authority chosen for every row (``plan_import`` checks it is one), or None."""
    if not authority_id or authority_id == FROM_THE_FILE:
        return None
    authority = db.session.get(Organization, authority_id)
    if authority is None:
        raise DomainError("Cette autorité prescriptrice n'existe pas.")
    return authority


@dataclass
class _Pending:
    """The import under way in this login session: its stored file and the choices made."""

    token: str
    extension: str
    association_id: int
    authority_id: int | None
    columns: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> _Pending | None:
        data = session.get(_SESSION_KEY) or {}
        try:
            columns = {int(position): str(name) for position, name in (data.get("columns") or {}).items()}
            return cls(data["token"], data["extension"], int(data["association_id"]),
                       data.get("authority_id"), columns)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None

    def save(self) -> None:
        session[_SESSION_KEY] = {
            "token": self.token, "extension": self.extension,
            "association_id": self.association_id, "authority_id": self.authority_id,
            "columns": {str(position): name for position, name in self.columns.items()},
        }

    @property
    def path(self) -> Path | None:
        return uploads.stored_upload(self.token, self.extension)

    def read(self):
        """(association, authority, table) of the stored file, checked again."""
        association = _association_for(self.association_id)
        authority = _authority_for(self.authority_id)
        return association, authority, importer.read_table(self.path.read_bytes(), self.path.name)

    def drop(self) -> None:
        session.pop(_SESSION_KEY, None)
        if path := self.path:
            path.unlink(missing_ok=True)


def import_under_way() -> bool:
    """Whether this login session holds an import whose preview was shown and not confirmed."""
    pending = _Pending.load()
    return pending is not None and pending.path is not None


def _keep(content: bytes, association, authority) -> _Pending:
    """Store the file for the next step (in place of an earlier one left unfinished)."""
    if earlier := _Pending.load():
        earlier.drop()
    token, extension = uploads.store_upload(content)
    pending = _Pending(token, extension, association.id, authority.id if authority else None)
    pending.save()
    return pending


@bp.route("/personnes/import", methods=["GET", "POST"])
@login_required
def import_upload():
    """Step 1: send a referral list; then say what its columns hold, or see the preview."""
    authorize(Permission.MEASURE_EDIT)
    uploads.purge_old_uploads()
    form = _upload_form()
    if not form.validate_on_submit():
        return _upload_page(form)
    content = form.file.data.read()
    with refused(field=form.file) as outcome:
        association = _association_for(form.association.data)
        authority = _authority_for(form.authority.data)
        table = importer.read_table(content, form.file.data.filename or "")
        choosing = form.review_columns.data or importer.needs_choices(
            importer.column_assignments(table.headers, authority))
        report = None if choosing else importer.plan_import(table, association, authority=authority)
    if not outcome.ok:
        return _upload_page(form)
    if report is None:
        _keep(content, association, authority)
        return redirect(url_for("enrollment.import_columns"))
    pending = _keep(content, association, authority) if report.ok and report.to_create else None
    return _preview(report, pending)


@bp.route("/personnes/import/colonnes", methods=["GET", "POST"])
@login_required
def import_columns():
    """Step 1b: say which field each column of the list feeds (remembered for its authority)."""
    authorize(Permission.MEASURE_EDIT)
    pending = _Pending.load()
    if pending is None or pending.path is None:
        flash(FILE_GONE, "error")
        return redirect(url_for("enrollment.import_upload"))
    with refused() as outcome:
        association, authority, table = pending.read()
    if not outcome.ok:
        pending.drop()
        return redirect(url_for("enrollment.import_upload"))
    assignments = importer.column_assignments(table.headers, authority, pending.columns)
    form = import_columns_form(assignments, table.samples())
    if form.validate_on_submit():
        with refused(form) as outcome:
            if authority is not None:
                importer.remember_columns(authority, table.headers, form.chosen(), by=current_user)
            report = importer.plan_import(table, association, authority=authority,
                                          columns=form.chosen())
            db.session.commit()
        if outcome.ok:
            pending.columns = form.chosen()
            pending.save()
            return _preview(report, pending)
    return render_template("enrollment/import_columns.html", form=form, authority=authority,
                           association=association)


def _preview(report: importer.ImportReport, pending: _Pending | None):
    """The preview; the file is kept for the import only when there is something to import."""
    confirm = None
    if pending is not None and report.ok and report.to_create:
        confirm = ImportConfirmForm(formdata=None, token=pending.token)
    elif pending is not None:
        pending.drop()
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
    pending = _Pending.load() if form.validate_on_submit() else None
    if pending is None or pending.token != form.token.data or pending.path is None:
        flash(FILE_GONE, "error")
        return redirect(url_for("enrollment.import_upload"))
    try:
        with refused(also={sa.exc.IntegrityError: ALREADY_IMPORTED}) as outcome:
            association, authority, table = pending.read()
            # Read and checked again: the data on file may have changed since the preview.
            report = importer.run_import(table, association, by=current_user,
                                         authority=authority, columns=pending.columns)
            if report.ok:
                db.session.commit()
    finally:
        pending.drop()  # one attempt per preview, whatever happened
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
    return _upload_page(form, 413)
