"""Venue pages: the list (in service or archived), creating, editing and archiving a venue."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from stages.archiving import archivable_query
from stages.auth.permissions import Permission, authorize, can, get_authorized
from stages.errors import refused
from stages.extensions import db
from stages.pages import paginate
from stages.scheduling import services
from stages.scheduling.forms import VenueForm
from stages.scheduling.models import Venue
from stages.scheduling.views.blueprint import bp

@bp.route("/lieux")
@login_required
def venues():
    """Venues, in service first; archived ones on request."""
    authorize(Permission.SCHEDULE)
    archived = request.args.get("archives") == "1"
    pagination = paginate(archivable_query(Venue, archived).options(selectinload(Venue.owner)).order_by(Venue.name))
    editable = {v.id for v in pagination.items if can(current_user, Permission.VENUE_EDIT, v)}
    return render_template(
        "scheduling/venues.html", pagination=pagination, show_archived=archived, editable=editable
    )


@bp.route("/lieux/nouveau", methods=["GET", "POST"], defaults={"venue_id": None}, endpoint="venue_create")
@bp.route("/lieux/<int:venue_id>/modifier", methods=["GET", "POST"], endpoint="venue_edit")
@login_required
def venue_form(venue_id: int | None):
    """Create a venue, or edit one the user's association manages (admins: any)."""
    authorize(Permission.SCHEDULE)
    venue = get_authorized(Venue, venue_id, Permission.VENUE_EDIT) if venue_id else None
    form = VenueForm(obj=venue)
    form.fill_managers(current_user, venue)
    if form.validate_on_submit():
        with refused(form) as outcome:
            saved = venue or Venue()
            form.populate_obj(saved)
            services.save_venue(saved, manager=form.chosen_manager())
            db.session.commit()
        if outcome.ok:
            flash("Le lieu est enregistré.", "success")
            return redirect(url_for("scheduling.venues"))
    return render_template("scheduling/venue_form.html", form=form, venue=venue)


@bp.route("/lieux/<int:venue_id>/archiver", methods=["POST"])
@login_required
def venue_archive(venue_id: int):
    """Archive or restore a venue (courses keep referring to it)."""
    venue = get_authorized(Venue, venue_id, Permission.VENUE_EDIT)
    archived = request.form.get("archive") == "1"
    services.archive_venue(venue, archived)
    db.session.commit()
    flash("Le lieu est archivé." if archived else "Le lieu est de nouveau proposé.", "success")
    return redirect(url_for("scheduling.venues"))
