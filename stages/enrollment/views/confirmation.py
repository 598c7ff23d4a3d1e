"""The person's confirmation page (public, no account: the link's code is the key), and
« Traitée » for the organizers who read the replies on their home page."""
from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.permissions import Permission, can, get_authorized
from stages.enrollment.confirmation import replies
from stages.enrollment.confirmation.forms import ConfirmForm, OtherDateForm
from stages.enrollment.confirmation.links import LinkState, LinkView, open_link
from stages.enrollment.confirmation.models import ChangeReason, SummonsReply
from stages.enrollment.letter_texts import current_texts
from stages.enrollment.queries import participant_sections
from stages.enrollment.convocation.wording import sender_organization
from stages.enrollment.views.blueprint import bp
from stages.errors import refused
from stages.extensions import db, limiter
from stages.i18n import page_language

PUBLIC_ENDPOINTS = {"enrollment.summons_page", "enrollment.summons_confirm", "enrollment.summons_other_date"}
# What the page answers when the link leads nowhere (the template says it in French).
STATUS_CODES = {LinkState.OPEN: 200, LinkState.EXPIRED: 410, LinkState.UNKNOWN: 404}


def _limit() -> str:
    return current_app.config["CONFIRMATION_RATE_LIMIT"]


# The page and its two forms draw on one budget per client address.
confirmation_limit = limiter.shared_limit(_limit, scope="summons-confirmation")


@bp.after_app_request
def _public_page_headers(response):
    """The link is the key: never sent to another site, never indexed, never cached (the 429
    and error pages of these addresses included)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/c/<link_code>")
@confirmation_limit
def summons_page(link_code: str):
    """The course's dates, times, venue and what to bring; confirm, or ask for another date."""
    view = open_link(link_code)
    # One audit entry per visit: the link's number and what the page said; no address.
    audit("summons.page_viewed", view.link, details=view.state.value).ip = None
    db.session.commit()
    return _page(view)


@bp.route("/c/<link_code>/confirmer", methods=["POST"])
@confirmation_limit
def summons_confirm(link_code: str):
    """« Je confirme ma présence » (recorded once)."""
    view = open_link(link_code)
    form = ConfirmForm()
    if view.state != LinkState.OPEN or not form.validate_on_submit():
        return _page(view, status=400 if view.state == LinkState.OPEN else None)
    replies.confirm_presence(view, user_agent=request.user_agent.string)
    db.session.commit()
    return redirect(url_for("enrollment.summons_page", link_code=view.code, _anchor="reponse"), 303)


@bp.route("/c/<link_code>/autre-date", methods=["POST"])
@confirmation_limit
def summons_other_date(link_code: str):
    """A request for another date, with its reason (the enrollment does not change by itself)."""
    view = open_link(link_code)
    form = OtherDateForm()
    if view.state != LinkState.OPEN or not form.validate_on_submit():
        return _page(view, other_date=form, status=400 if view.state == LinkState.OPEN else None)
    replies.request_other_date(view, ChangeReason(form.reason.data), form.details.data,
                               user_agent=request.user_agent.string)
    db.session.commit()
    return redirect(url_for("enrollment.summons_page", link_code=view.code, _anchor="reponse"), 303)


def _page(view: LinkView, *, other_date: OtherDateForm | None = None, status: int | None = None):
    practical = None
    if view.enrollment is not None:
        texts = current_texts(sender_organization(view.enrollment))
        practical = texts["practical"].text if "practical" in texts else None
    body = render_template(
        "enrollment/confirmation.html", view=view, code=view.code, practical=practical,
        confirm_form=ConfirmForm(formdata=None), other_date=other_date or OtherDateForm(formdata=None),
        **page_language(view.enrollment.measure.participant.language if view.enrollment else None),
    )
    return Response(body, status=status or STATUS_CODES[view.state])


@participant_sections.add(template="enrollment/_participant_replies.html", position=15)
def participant_replies_section(enrollments: list, full_view: bool, user, **_) -> dict | None:
    """What the person answered on their confirmation page, with the reason's details."""
    if not full_view:
        return None
    found = replies.replies_of([e.id for e in enrollments])
    return {"summons_replies": found, "can_handle": can(user, Permission.SESSION_EDIT)} if found else None


@bp.route("/reponses/<int:reply_id>/traitee", methods=["POST"])
@login_required
def summons_reply_handled(reply_id: int):
    """Mark a person's reply handled: it leaves the home page (the course's organizers)."""
    reply = get_authorized(SummonsReply, reply_id, Permission.SESSION_EDIT)
    with refused() as outcome:
        replies.mark_handled(reply, by=current_user)
        db.session.commit()
    if outcome.ok:
        flash("Réponse marquée comme traitée.", "success")
    return redirect(url_for("home.index", _anchor="reponses"))
