"""« Courriers » of an association: the paragraphs its organizers write into its convocations,
kept by version around the fixed legal core."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.models import Organization
from stages.auth.permissions import Permission, get_authorized
from stages.enrollment import letter_texts
from stages.enrollment.views.blueprint import bp
from stages.errors import refused
from stages.extensions import db
from stages.forms import BaseForm


@bp.route("/organisations/<int:organization_id>/courriers", methods=["GET", "POST"])
@login_required
def organization_letters(organization_id: int):
    """Write or change the association's paragraphs of the convocation (each change a version)."""
    organization = get_authorized(Organization, organization_id, Permission.SCHEDULE)
    form = BaseForm()
    if form.validate_on_submit():
        with refused(form) as outcome:
            changed = letter_texts.save_texts(
                organization, {slot: request.form.get(slot, "") for slot in letter_texts.SLOTS}, by=current_user
            )
            db.session.commit()
        if outcome.ok:
            flash("Textes enregistrés : " + ", ".join(changed) + "." if changed else "Rien n'a changé.", "success")
            return redirect(url_for("enrollment.organization_letters", organization_id=organization.id))
    texts = letter_texts.current_texts(organization)
    return render_template("enrollment/organization_letters.html", organization=organization, form=form,
                           slots=letter_texts.SLOTS, texts=texts, submitted=request.form,
                           version_line=letter_texts.version_line(texts), legal_core=letter_texts.LEGAL_CORE)
