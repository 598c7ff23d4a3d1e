"""Organization pages (admins): associations and referring authorities, created, edited,
archived."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import login_required

from stages.archiving import archivable_query
from stages.auth.forms import OrganizationForm
from stages.auth.models import Organization
from stages.auth.organizations import archive_organization, save_organization
from stages.auth.permissions import Permission, authorize, get_authorized
from stages.auth.views.blueprint import bp
from stages.errors import refused
from stages.extensions import db
from stages.pages import paginate

@bp.route("/organisations")
@login_required
def organizations():
    """Associations and referring authorities, in service or archived."""
    authorize(Permission.ADMIN)
    archived = request.args.get("archives") == "1"
    query = archivable_query(Organization, archived).order_by(Organization.kind, Organization.name)
    return render_template(
        "auth/organizations.html", pagination=paginate(query), show_archived=archived
    )


@bp.route("/organisations/nouvelle", methods=["GET", "POST"], defaults={"organization_id": None})
@bp.route("/organisations/<int:organization_id>/modifier", methods=["GET", "POST"])
@login_required
def organization_form(organization_id: int | None):
    """Create or edit an association or a referring authority."""
    authorize(Permission.ADMIN)
    organization = (
        get_authorized(Organization, organization_id, Permission.ADMIN) if organization_id else None
    )
    form = OrganizationForm(obj=organization)
    if form.validate_on_submit():
        with refused(field=form.name) as outcome:
            saved = organization or Organization()
            form.populate_obj(saved)
            save_organization(saved)
            db.session.commit()
        if outcome.ok:
            flash("L'organisation est enregistrée.", "success")
            return redirect(url_for("auth.organizations"))
    return render_template("auth/organization_form.html", form=form, organization=organization)


@bp.route("/organisations/<int:organization_id>/archiver", methods=["POST"])
@login_required
def organization_archive(organization_id: int):
    """Archive or restore an organization."""
    organization = get_authorized(Organization, organization_id, Permission.ADMIN)
    archived = request.form.get("archive") == "1"
    archive_organization(organization, archived)
    db.session.commit()
    flash("L'organisation est archivée." if archived else "L'organisation est rétablie.", "success")
    return redirect(url_for("auth.organizations"))
