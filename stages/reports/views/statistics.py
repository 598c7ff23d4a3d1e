"""The statistics page: courses, people, attendance, completion and delays for one year, drawn
as bar charts."""
from __future__ import annotations

from flask import render_template, request
from flask_login import current_user, login_required

from stages.auth.permissions import Permission, authorize
from stages.reports.charts import bar_chart, days, percent
from stages.reports.statistics import compute_statistics
from stages.reports.views.blueprint import bp
from stages.timeutil import today_local


@bp.route("/statistiques")
@login_required
def statistics():
    """Sessions, people, attendance, completion and delays for one year, in the user's scope."""
    authorize(Permission.MEASURE_VIEW)
    this_year = today_local().year
    year = request.args.get("annee", this_year, type=int)
    if not 2000 <= year <= this_year + 5:
        year = this_year
    stats = compute_statistics(current_user, year)
    years = sorted({y for y, _ in stats.years} | {this_year, year}, reverse=True)
    charts = {
        "years": bar_chart("stages-par-annee", "Stages par année", [(str(y), n) for y, n in stats.years]),
        "months": bar_chart("stages-par-mois", f"Stages par mois en {year}", stats.months),
        "frames": bar_chart("personnes-par-cadre", f"Personnes par cadre légal en {year}", stats.frames),
        "outcomes": bar_chart("issues", f"Issues des stages clôturés en {year}", stats.outcomes),
        "delays": bar_chart(
            "delais", f"Délai entre la décision et le stage en {year}", stats.delays.histogram
        ),
    }
    return render_template(
        "reports/statistics.html",
        stats=stats,
        charts=charts,
        year=year,
        years=years,
        percent=percent,
        days=days,
    )
