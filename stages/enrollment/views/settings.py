"""« Paramètres » of an organization, for admins: an association's letterhead, logo, signatory,
payment instructions and fee per legal frame; an authority's usual deadline per frame and how it
receives its reports (mailbox, per frame if it wishes, format, acknowledgment delay)."""
from __future__ import annotations

import re
from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.models import Organization
from stages.auth.permissions import Permission, get_authorized
from stages.enrollment import settings
from stages.enrollment.models import LegalFrame, ReportFormat
from stages.enrollment.views.blueprint import bp
from stages.errors import DomainError, refused
from stages.extensions import db
from stages.forms import BaseForm


@bp.route("/organisations/<int:organization_id>/parametres", methods=["GET", "POST"])
@login_required
def organization_settings(organization_id: int):
    """Show and change an organization's document settings and defaults per frame."""
    organization = get_authorized(Organization, organization_id, Permission.ADMIN)
    form = BaseForm()
    if form.validate_on_submit():
        with refused(form) as outcome:
            upload = request.files.get("logo")
            changed = settings.save_settings(
                organization, {key: request.form.get(key, "") for key in settings.TEXT_FIELDS},
                _frames(request.form), logo=upload.read() or None if upload else None,
                remove_logo=request.form.get("remove_logo") == "1", by=current_user,
                reporting={key: request.form.get(key, "") for key in REPORTING_FIELDS},
                frame_emails={f: request.form.get(f"email-{f.value}", "") for f in LegalFrame},
            )
            db.session.commit()
        if outcome.ok:
            flash("Paramètres enregistrés : " + ", ".join(changed) + "." if changed else "Rien n'a changé.", "success")
            return redirect(url_for("enrollment.organization_settings", organization_id=organization.id))
    defaults = {row.frame: row for row in settings.frame_defaults(organization)}
    return render_template("enrollment/organization_settings.html", organization=organization, form=form,
                           current=settings.settings_of(organization), defaults=defaults, frames=LegalFrame,
                           fields=settings.TEXT_FIELDS, submitted=request.form, formats=ReportFormat,
                           reporting=settings.reporting_of(organization))


REPORTING_FIELDS = ("report_email", "report_format", "acknowledgment_days")


AMOUNT = re.compile(r"\d{1,4}(?:[.,]\d{1,2})?")
DAYS = re.compile(r"\d{1,4}")


def _frames(data) -> dict:
    """(fee in cents, deadline in days) per frame, as typed: « 180 », « 180,50 », blank."""
    frames = {}
    for frame in LegalFrame:
        fee, days = (data.get(f"{key}-{frame.value}", "").strip().replace(" ", "") for key in ("fee", "days"))
        if (fee and not AMOUNT.fullmatch(fee)) or (days and not DAYS.fullmatch(days)):
            raise DomainError(f"{frame.label} : indiquez un nombre.")
        cents = round(Decimal(fee.replace(",", ".")) * 100) if fee else None
        frames[frame] = (cents, int(days) if days else None)
    return frames
