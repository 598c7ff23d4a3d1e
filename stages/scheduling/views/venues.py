"""Venue pages: the list (in service or archived), creating, editing and archiving a venue."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required

from stages.auth.audit import audit
from stages.auth.permissions import Permission, authorize
from stages.errors import DomainError
from stages.extensions import db
from stages.scheduling import services
from stages.scheduling.forms import VenueForm
from stages.scheduling.models import Venue
from stages.scheduling.views import bp


# ---------------------------------------------------------------------------------------------
# Venues


def _page(query):
    """One page of a list, by the ``page`` argument."""
    return db.paginate(
        query, page=request.args.get("page", 1, type=int),
        per_page=current_app.config["ITEMS_PER_PAGE"], error_out=False,
    )


@bp.route("/lieux")
@login_required
def venues():
    """Venues, in service first; archived ones on request."""
    authorize(Permission.SCHEDULE)
    show_archived = request.args.get("archives") == "1"
    pagination = _page(services.archivable_query(Venue, show_archived).order_by(Venue.name))
    return render_template("scheduling/venues.html", pagination=pagination, show_archived=show_archived)


@bp.route("/lieux/nouveau", methods=["GET", "POST"], defaults={"venue_id": None})
@bp.route("/lieux/<int:venue_id>/modifier", methods=["GET", "POST"])
@login_required
def venue_form(venue_id: int | None):
    """Create or edit a venue."""
    authorize(Permission.SCHEDULE)
    venue = db.session.get(Venue, venue_id) if venue_id else None
    if venue_id and venue is None:
        abort(404)
    form = VenueForm(obj=venue)
    if form.validate_on_submit():
        try:
            if venue is not None:
                services.check_venue_capacity(venue, form.capacity.data)
            services.check_name_free(Venue, form.name.data, venue_id)
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            if venue is None:
                venue = Venue()
                db.session.add(venue)
            form.populate_obj(venue)
            db.session.flush()
            audit("venue.saved", venue)
            db.session.commit()
            flash("Le lieu est enregistré.", "success")
            return redirect(url_for("scheduling.venues"))
    return render_template("scheduling/venue_form.html", form=form, venue=venue)


@bp.route("/lieux/<int:venue_id>/archiver", methods=["POST"])
@login_required
def venue_archive(venue_id: int):
    """Archive or restore a venue (sessions keep referring to it)."""
    authorize(Permission.SCHEDULE)
    venue = db.session.get(Venue, venue_id) or abort(404)
    archived = request.form.get("archive") == "1"
    services.set_archived(venue, archived)
    audit("venue.archived" if archived else "venue.restored", venue)
    db.session.commit()
    flash("Le lieu est archivé." if archived else "Le lieu est de nouveau proposé.", "success")
    return redirect(url_for("scheduling.venues"))
