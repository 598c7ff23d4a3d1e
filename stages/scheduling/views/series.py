"""Series page: plan several courses at once, preview the dates, create the ones kept."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.permissions import Permission, authorize
from stages.errors import refused
from stages.extensions import db
from stages.forms import select_choices
from stages.scheduling import queries, services
from stages.scheduling.forms import SeriesForm
from stages.scheduling.views.blueprint import bp
from stages.scheduling.views.courses import check_co_organizer
from stages.timeutil import today_local

NO_DATE = "Aucune date ne correspond à cette règle sur la période."


@bp.route("/stages/serie", methods=["GET", "POST"])
@login_required
def series_create():
    """Plan several courses at once: preview the dates, untick some, create the rest."""
    authorize(Permission.SCHEDULE)
    form, candidates = SeriesForm(), None
    queries.fill_course_choices(form)
    if request.method == "GET":
        form.suggest_usual_day()
    else:  # the date checkboxes come from the preview: any ISO date, validated below
        form.selected.choices = select_choices((v, v) for v in request.form.getlist("selected"))
    if form.validate_on_submit():
        with refused(form) as outcome:
            template = check_co_organizer(form.course_data())
            services.check_series_day(template, form.day_parts(), form.first_day.data, today_local())
        if outcome.ok and form.create.data:
            with refused(form) as creation:
                created = services.create_series(form.chosen_days(), template, form.day_parts(), by=current_user)
                db.session.commit()
            if creation.ok:
                flash(f"{len(created)} stages ont été programmés.", "success")
                return redirect(url_for("scheduling.calendar_list"))
        if outcome.ok:
            candidates = services.preview_series(form.rule(), template, form.day_parts())
            if not candidates:
                form.form_errors.append(NO_DATE)
    return render_template("scheduling/series_form.html", form=form, candidates=candidates, today=today_local())
