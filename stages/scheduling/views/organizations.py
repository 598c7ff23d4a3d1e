"""Organization pages: associations and referring authorities, created, edited and archived."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from stages.auth.audit import audit
from stages.auth.permissions import Permission, authorize
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling import services
from stages.scheduling.forms import OrganizationForm
from stages.scheduling.models import Organization
from stages.scheduling.views import bp
from stages.scheduling.views.venues import _page


# ---------------------------------------------------------------------------------------------
# Organizations


@bp.route("/organisations")
@login_required
def organizations():
    """Associations and referring authorities."""
    authorize(Permission.ADMIN)
    show_archived = request.args.get("archives") == "1"
    pagination = _page(
        services.archivable_query(Organization, show_archived).order_by(
            Organization.kind, Organization.name
        )
    )
    return render_template(
        "scheduling/organizations.html", pagination=pagination, show_archived=show_archived
    )


@bp.route("/organisations/nouvelle", methods=["GET", "POST"], defaults={"organization_id": None})
@bp.route("/organisations/<int:organization_id>/modifier", methods=["GET", "POST"])
@login_required
def organization_form(organization_id: int | None):
    """Create or edit an association or a referring authority."""
    authorize(Permission.ADMIN)
    organization = db.session.get(Organization, organization_id) if organization_id else None
    if organization_id and organization is None:
        abort(404)
    form = OrganizationForm(obj=organization)
    if form.validate_on_submit():
        try:
            services.check_name_free(Organization, form.name.data, organization_id)
        except DomainError as error:
            form.name.errors = [*form.name.errors, error.message]
        else:
            if organization is None:
                organization = Organization()
                db.session.add(organization)
            form.populate_obj(organization)
            organization.email = organization.email or None
            db.session.flush()
            audit("organization.saved", organization)
            db.session.commit()
            flash("L'organisation est enregistrée.", "success")
            return redirect(url_for("scheduling.organizations"))
    return render_template("scheduling/organization_form.html", form=form, organization=organization)


@bp.route("/organisations/<int:organization_id>/archiver", methods=["POST"])
@login_required
def organization_archive(organization_id: int):
    """Archive or restore an organization."""
    authorize(Permission.ADMIN)
    organization = db.session.get(Organization, organization_id) or abort(404)
    archived = request.form.get("archive") == "1"
    services.set_archived(organization, archived)
    audit("organization.archived" if archived else "organization.restored", organization)
    db.session.commit()
    flash("L'organisation est archivée." if archived else "L'organisation est rétablie.", "success")
    return redirect(url_for("scheduling.organizations"))
