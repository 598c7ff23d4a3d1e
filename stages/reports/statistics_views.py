"""The statistics page: sessions, people, attendance, completion and delays for one year, drawn
as bar charts.

Its route belongs to the ``reports`` blueprint of ``stages.reports.views`` (endpoint
``reports.statistics``); that module imports this one at its end.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from flask_login import current_user, login_required

from stages.auth.permissions import Permission, authorize
# The view below is named ``statistics`` too (its endpoint is reports.statistics).
from stages.reports.statistics import statistics as compute_statistics
from stages.reports.views import bp
from stages.timeutil import today_local


# ---------------------------------------------------------------------------------------------
# Statistics


@dataclass
class Bar:
    label: str
    value: float
    text: str
    y: int
    width: int


@dataclass
class Chart:
    """A horizontal bar chart drawn as SVG by the template: geometry computed here."""

    id: str
    title: str
    bars: list[Bar]
    height: int
    label_width: int

    BAR_AREA = 360
    ROW = 26
    BAR = 18
    # Room for the value after the longest bar.
    VALUE_WIDTH = 80

    @property
    def width(self) -> int:
        return self.label_width + self.BAR_AREA + self.VALUE_WIDTH

    @property
    def description(self) -> str:
        return " ; ".join(f"{bar.label} : {bar.text}" for bar in self.bars)


def bar_chart(chart_id: str, title: str, items: list[tuple[str, float]], fmt=str) -> Chart:
    """Bars proportional to the largest value (an empty chart keeps its labels).

    The label column fits the longest label (about 7 px a character at 13 px), so legal frames'
    long names are not cut off while months keep a compact chart.
    """
    largest = max((value for _, value in items), default=0) or 1
    label_width = min(max(7 * max((len(label) for label, _ in items), default=0) + 16, 60), 340)
    bars = [
        Bar(label, value, fmt(value), 8 + index * Chart.ROW, round(Chart.BAR_AREA * value / largest))
        for index, (label, value) in enumerate(items)
    ]
    return Chart(chart_id, title, bars, 16 + len(items) * Chart.ROW, label_width)


def percent(rate: float | None) -> str:
    """« 66,7 % », or a dash when there is nothing to divide."""
    return "—" if rate is None else f"{rate * 100:.1f}".replace(".", ",") + "\u00a0%"


def days(value: float | None) -> str:
    """« 42 jours », « 42,5 jours »."""
    if value is None:
        return "—"
    text = f"{value:.1f}".rstrip("0").rstrip(".").replace(".", ",")
    return f"{text} jour{'s' if value >= 2 else ''}"


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
