"""« Conservation des données »: the retention periods the nightly purge applies, for admins."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.permissions import Permission, authorize
from stages.errors import refused
from stages.extensions import db
from stages.forms import BaseForm
from stages.privacy.settings import PERIODS, current_retention, set_retention
from stages.privacy.views.blueprint import bp


@bp.route("/admin/conservation", methods=["GET", "POST"])
@login_required
def retention_settings():
    """Show and set how long identities, the audit log and backups are kept."""
    authorize(Permission.ADMIN)
    form = BaseForm()
    submitted = {}
    if form.validate_on_submit():
        submitted = {key: request.form.get(key, "").strip() for key in PERIODS}
        values = {key: int(value) if value.isdigit() else None for key, value in submitted.items()}
        with refused(form) as outcome:
            set_retention(values, by=current_user)
            db.session.commit()
        if outcome.ok:
            flash("Les durées de conservation sont enregistrées ; la purge de cette nuit les applique.", "success")
            return redirect(url_for("privacy.retention_settings"))
    return render_template("privacy/retention.html", form=form, periods=PERIODS,
                           retention=current_retention(), submitted=submitted)
