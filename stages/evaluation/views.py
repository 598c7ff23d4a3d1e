"""Evaluation pages: the questionnaire editor, the results, the tablet mode on the day, the
slips with each person's link, and the public answer page behind a link."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from stages.attendance.services import seat_holders
from stages.auth.audit import audit
from stages.auth.models import Organization, OrganizationKind
from stages.auth.permissions import Permission, can, get_authorized
from stages.errors import refused
from stages.evaluation import answering, queries, sending
from stages.evaluation.forms import editor_rows, item_inputs, read_number
from stages.evaluation.models import MOMENTS_BY_SLUG, ItemKind, LIKERT_LABELS
from stages.evaluation.questionnaires import course_association, ensure_questionnaire, save_questionnaire
from stages.evaluation.results import MIN_ANSWERS, course_results
from stages.extensions import db, limiter
from stages.forms import BaseForm
from stages.scheduling.models import Course
from stages.scheduling.queries import course_sections
from stages.timeutil import now_utc
from stages.wording import ngettext

bp = Blueprint("evaluation", __name__)
MOMENT = "<any(avant, apres):moment>"
PUBLIC_ENDPOINTS = {"evaluation.answer"}
STATUS_CODES = {answering.LinkState.OPEN: 200, answering.LinkState.ANSWERED: 200,
                answering.LinkState.CLOSED: 410, answering.LinkState.UNKNOWN: 404}
answer_limit = limiter.shared_limit(lambda: current_app.config["CONFIRMATION_RATE_LIMIT"], scope="evaluation-answer")


@bp.after_app_request
def _public_page_headers(response):
    """The link is the key: never sent on, indexed or cached."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
        response.headers["Cache-Control"] = "no-store"
    return response


@course_sections.add(template="evaluation/_course_evaluation.html", position=25)
def course_evaluation_section(course: Course, user, can_run: bool, can_edit: bool, **_) -> dict | None:
    """The questionnaires of the day (tablet, slips) and the results, for the course's staff."""
    if not can_run or course.status.value in ("draft", "cancelled"):
        return None
    association = course_association(course)
    return {"evaluation_open": {slug: answering.moment_open(course, moment) for slug, moment in MOMENTS_BY_SLUG.items()},
            "now": now_utc(),
            "evaluation_association": association if association and can(user, Permission.SCHEDULE, association) else None}


def _association(organization_id: int) -> Organization:
    organization = get_authorized(Organization, organization_id, Permission.SCHEDULE)
    if organization.kind != OrganizationKind.ASSOCIATION:
        abort(404)
    return organization


@bp.route(f"/organisations/<int:organization_id>/questionnaires/{MOMENT}", methods=["GET", "POST"])
@login_required
def questionnaire_edit(organization_id: int, moment: str):
    """An association's questionnaire for one moment: its questions, in order (a new version
    once someone has answered)."""
    organization, form = _association(organization_id), BaseForm()
    if form.validate_on_submit():
        with refused(form, also={IntegrityError: "Le questionnaire vient d'être modifié : rechargez la page."}) as outcome:
            saved = save_questionnaire(organization, MOMENTS_BY_SLUG[moment], item_inputs(request.form), by=current_user)
            db.session.commit()
        if outcome.ok:
            flash(f"Questionnaire enregistré (version {saved.version}).", "success")
            return redirect(url_for("evaluation.questionnaire_edit", organization_id=organization_id, moment=moment))
    questionnaire = ensure_questionnaire(organization.id, MOMENTS_BY_SLUG[moment])
    db.session.commit()
    return render_template("evaluation/questionnaire_edit.html", organization=organization, moment=moment,
                           questionnaire=questionnaire, rows=editor_rows(questionnaire), form=form,
                           kinds=ItemKind), 400 if form.errors else 200


@bp.route("/organisations/<int:organization_id>/evaluation")
@login_required
def year_results(organization_id: int):
    """An association's results over a year's courses (small counts suppressed)."""
    organization = _association(organization_id)
    year, years = queries.chosen_year(request.args.get("annee"))
    results = queries.year_page(organization.id, year)
    return render_template("evaluation/year_results.html", organization=organization, year=year, years=years,
                           results=results, min_answers=MIN_ANSWERS, labels=LIKERT_LABELS)


@bp.route("/stages/<int:course_id>/evaluation")
@login_required
def course_evaluation(course_id: int):
    """A course's results, free texts included (small counts suppressed)."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    results = course_results(course)
    audit("evaluation.results_viewed", course)
    db.session.commit()
    return render_template("evaluation/course_results.html", course=course, results=results,
                           min_answers=MIN_ANSWERS, labels=LIKERT_LABELS)


@bp.route(f"/stages/<int:course_id>/questionnaire/{MOMENT}")
@login_required
def tablet_start(course_id: int, moment: str):
    """The tablet's neutral start screen: no name, nothing of the previous answer."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN)
    state = queries.tablet_state(course, MOMENTS_BY_SLUG[moment])
    return render_template("evaluation/tablet_start.html", course=course, moment=moment, state=state)


@bp.route(f"/stages/<int:course_id>/questionnaire/{MOMENT}/repondre", methods=["GET", "POST"])
@login_required
def tablet_answer(course_id: int, moment: str):
    """The questionnaire full screen, for the person the tablet is handed to: their number on
    the sign-in sheet (no name shown), then the questions; back to the start screen after."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN)
    state, form = queries.tablet_state(course, MOMENTS_BY_SLUG[moment]), BaseForm()
    if not state.open or state.questionnaire is None:
        return redirect(url_for("evaluation.tablet_start", course_id=course_id, moment=moment))
    if form.validate_on_submit():
        with refused(form) as outcome:
            enrollment = read_number(request.form, state.numbers)
            answers = answering.read_answers(state.questionnaire, request.form)
            answering.record_response(course, enrollment, state.questionnaire, answers)
            db.session.commit()
        if outcome.ok:
            flash("Merci, votre réponse est enregistrée. Rendez la tablette à l'intervenant ou l'intervenante.", "success")
            return redirect(url_for("evaluation.tablet_start", course_id=course_id, moment=moment))
        state = queries.tablet_state(db.session.get(Course, course_id), MOMENTS_BY_SLUG[moment])
    return render_template("evaluation/tablet_answer.html", course=course, moment=moment, state=state, form=form,
                           labels=LIKERT_LABELS, submitted=request.form), 400 if form.errors else 200


@bp.route(f"/stages/<int:course_id>/questionnaire/{MOMENT}/liens")
@login_required
def slips(course_id: int, moment: str):
    """One slip per person to cut and hand out: their number, name, and the QR code of their
    own link to the questionnaire (to answer on their phone)."""
    course = get_authorized(Course, course_id, Permission.SESSION_RUN)
    people = seat_holders(course)
    rows = queries.slip_rows(people, MOMENTS_BY_SLUG[moment])
    audit("evaluation.links_printed", course, details=f"{moment}, {len(rows)} personnes")
    db.session.commit()
    return render_template("evaluation/slips.html", course=course, moment=moment, rows=rows)


@bp.route("/stages/<int:course_id>/questionnaire/apres/envoyer", methods=["POST"])
@login_required
def send_links(course_id: int):
    """Email each person their own link to the « après » questionnaire (once each)."""
    course = get_authorized(Course, course_id, Permission.SESSION_EDIT)
    with refused() as outcome:
        count = sending.send_after_links(course, seat_holders(course), by=current_user)
        db.session.commit()
    if outcome.ok:
        flash(ngettext("Lien du questionnaire envoyé à %(num)d personne.",
                       "Lien du questionnaire envoyé à %(num)d personnes.", count), "success")
    return redirect(url_for("scheduling.course_detail", course_id=course_id))


@bp.route("/e/<answer_code>", methods=["GET", "POST"])
@answer_limit
def answer(answer_code: str):
    """The public questionnaire behind a person's link (no account, no name on the page)."""
    view, form = answering.open_link(answer_code), BaseForm()
    if view.state == answering.LinkState.OPEN and form.validate_on_submit():
        with refused(form) as outcome:
            answers = answering.read_answers(view.questionnaire, request.form)
            answering.record_response(view.enrollment.course, view.enrollment, view.questionnaire, answers)
            db.session.commit()
        if outcome.ok:
            return redirect(url_for("evaluation.answer", answer_code=view.code), 303)
        view = answering.open_link(answer_code)
    db.session.commit()  # a link seen for the first time keeps its default questionnaire
    body = render_template("evaluation/answer.html", view=view, form=form, labels=LIKERT_LABELS,
                           submitted=request.form)
    status = 400 if form.errors and view.state == answering.LinkState.OPEN else STATUS_CODES[view.state]
    return Response(body, status=status)
