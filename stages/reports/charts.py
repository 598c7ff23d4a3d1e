"""Bar charts drawn as SVG by the templates (no script, no CDN): the geometry and the French
formatting of the values."""
from __future__ import annotations

from dataclasses import dataclass

from stages.wording import ngettext


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
    return ngettext("%(text)s jour", "%(text)s jours", value, text=text)
