"""Series page: plan several sessions at once, preview the dates, create the ones kept."""
from __future__ import annotations

import dataclasses
from datetime import date, time, timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from stages.auth.audit import audit
from stages.auth.permissions import Permission, authorize
from stages.errors import DomainError
from stages.extensions import db
from stages.forms import select_choices
from stages.scheduling import services
from stages.scheduling.forms import SeriesForm
from stages.scheduling.views import bp
from stages.scheduling.views.sessions import _fill_choices, _settings
from stages.timeutil import today_local


# ---------------------------------------------------------------------------------------------
# Series


def _series_parts(form: SeriesForm) -> list[tuple[int, object, object]]:
    halves = [(form.morning_start.data, form.morning_end.data)]
    if form.afternoon_start.data and form.afternoon_end.data:
        halves.append((form.afternoon_start.data, form.afternoon_end.data))
    days = (0, 1) if form.two_days.data else (0,)
    return [(offset, start, end) for offset in days for start, end in halves]


def _series_rule(form: SeriesForm) -> services.SeriesRule:
    frequency = form.frequency.data
    return services.SeriesRule(
        first_day=form.first_day.data,
        last_day=form.last_day.data,
        weekday=form.weekday.data,
        every_weeks={"weekly": 1, "biweekly": 2}.get(frequency),
        nth_of_month=form.nth.data if frequency == "monthly" else None,
    )


@bp.route("/stages/serie", methods=["GET", "POST"])
@login_required
def series_create():
    """Plan several sessions at once: preview the dates, untick some, create the rest."""
    authorize(Permission.SCHEDULE)
    form = SeriesForm()
    _fill_choices(form)
    candidates = None
    if request.method == "GET":
        form.morning_start.data, form.morning_end.data = time(9, 30), time(12, 30)
        form.afternoon_start.data, form.afternoon_end.data = time(13, 30), time(16, 30)
    if request.method == "POST":
        # The date checkboxes come from the preview: accept any ISO date, validate below.
        form.selected.choices = select_choices((v, v) for v in request.form.getlist("selected"))
    if form.validate_on_submit():
        try:
            template = _settings(form)
            parts = _series_parts(form)
            # Validate the day's shape once, on the first date, with the session rules.
            first = [
                services.PartSpec(form.first_day.data + timedelta(days=offset), start, end)
                for offset, start, end in parts
            ]
            errors = services.validate_session_data(
                dataclasses.replace(template, parts=first), is_new=True, today=today_local()
            )
            if errors:
                raise DomainError(" ".join(errors))
            if form.create.data:
                try:
                    chosen = [date.fromisoformat(v) for v in form.selected.data]
                    created = services.create_series(chosen, template, parts, by=current_user)
                except DomainError as error:
                    db.session.rollback()
                    form.form_errors.append(error.message)
                else:
                    audit("session.series_created", details=f"{len(created)} stages")
                    db.session.commit()
                    flash(f"{len(created)} stages ont été programmés.", "success")
                    return redirect(url_for("calendar.list"))
            candidates = services.preview_series(_series_rule(form), template, parts)
            if not candidates:
                form.form_errors.append("Aucune date ne correspond à cette règle sur la période.")
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
    return render_template("scheduling/series_form.html", form=form, candidates=candidates, today=today_local())
