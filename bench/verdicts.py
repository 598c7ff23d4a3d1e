"""The speed targets of issue 13 (item 9), judged on one run of ``bench.run``, mode by mode.

- **The admin's national calendar**: its p95 at most twice its p50 (a tail that is the page's
  own work, not garbage-collector pauses).
- **The busiest association's feed**, which the issue gives targets of its own: built, p95 at
  most 60 ms; served from its copy in the database (its validator unchanged), p95 at most 5 ms.
  These two rows are judged on those figures, not on the floor: a feed of 1,230 half-days is
  content, not a page.
- **Every key page** (the issue's list: the other rows not marked as context): its p95 at most
  8 times the floor's, the floor being the cheapest request measured in the same run and mode
  (normally the trivial route ``/__bench_floor``; if a page's p95 came out lower, that page).

Both compare figures of the same run, so another process slowing the machine slows both sides;
what such noise still does to a p95 is for the reader of the figures (bench/README.md).
Pure functions over the report's dictionaries: ``tests/operations/test_bench_verdicts.py``
feeds them made-up numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

ADMIN_CALENDAR = "calendar_admin"
TAIL_LIMIT = 2.0  # admin calendar: p95 ≤ 2 × p50
FLOOR_LIMIT = 8.0  # each key page: p95 ≤ 8 × the floor's p95
# The busiest feed's own targets (issue 13, « Must show »): p95 in ms.
OWN_TARGETS = {"ical_busiest": 60.0, "ical_busiest_cached": 5.0}


@dataclass(frozen=True)
class Verdict:
    """One target checked on one page of one mode."""

    mode: str
    key: str
    label: str
    target: str  # "tail" (p95 ÷ p50), "floor" (p95 ÷ the floor's p95) or "ms" (p95 ÷ its target)
    p50_ms: float
    p95_ms: float
    ratio: float
    limit: float

    @property
    def passed(self) -> bool:
        return self.ratio <= self.limit

    def line(self) -> str:
        """One line of the report: the figures, the ratio against its limit, PASS or FAIL."""
        what = {"tail": "p95 ÷ p50", "floor": "p95 ÷ plancher"}.get(self.target, "p95 ÷ cible")
        return (f"  {'PASS' if self.passed else 'FAIL'}  [{self.mode}] {self.label:<46} "
                f"p50 {self.p50_ms:7.1f} ms  p95 {self.p95_ms:7.1f} ms  "
                f"{what} {self.ratio:5.2f} (≤ {self.limit:g})")


def floor_of(run: dict) -> tuple[str, float]:
    """The cheapest request of a run: (its label, its p95 in ms)."""
    candidates = [run["floor"], *run["pages"]]
    cheapest = min(candidates, key=lambda measure: measure["p95_ms"])
    return cheapest["label"], cheapest["p95_ms"]


def run_verdicts(mode: str, run: dict) -> list[Verdict]:
    """The admin calendar's tail and each key page against the floor, in one mode's run."""
    found = []
    _floor_label, floor = floor_of(run)
    for page in run["pages"]:
        if page["key"] == ADMIN_CALENDAR:
            found.append(Verdict(mode, page["key"], page["label"], "tail", page["p50_ms"],
                                 page["p95_ms"], _ratio(page["p95_ms"], page["p50_ms"]),
                                 TAIL_LIMIT))
        if page["key"] in OWN_TARGETS:
            target = OWN_TARGETS[page["key"]]
            found.append(Verdict(mode, page["key"], f'{page["label"]} (cible {target:g} ms)', "ms",
                                 page["p50_ms"], page["p95_ms"], _ratio(page["p95_ms"], target),
                                 1.0))
        elif not page.get("extra"):
            found.append(Verdict(mode, page["key"], page["label"], "floor", page["p50_ms"],
                                 page["p95_ms"], _ratio(page["p95_ms"], floor), FLOOR_LIMIT))
    return found


def report_verdicts(report: dict) -> list[Verdict]:
    """Every verdict of a report, for the largest scale measured, mode by mode."""
    scales = list(report["scales"])
    runs = report["scales"][scales[-1]]["runs"]
    return [verdict for mode, run in runs.items() for verdict in run_verdicts(mode, run)]


def verdict_text(report: dict) -> tuple[str, bool]:
    """The PASS/FAIL lines of a report and whether every target was met."""
    scales = list(report["scales"])
    runs = report["scales"][scales[-1]]["runs"]
    lines = []
    for mode, run in runs.items():
        label, floor = floor_of(run)
        lines.append(f"[{mode}] plancher : {label}, p95 {floor:.2f} ms "
                     f"(limite des pages clés : {FLOOR_LIMIT:g} × = {FLOOR_LIMIT * floor:.1f} ms)")
        lines.extend(verdict.line() for verdict in run_verdicts(mode, run))
    verdicts = report_verdicts(report)
    passed = all(verdict.passed for verdict in verdicts)
    failed = sum(not verdict.passed for verdict in verdicts)
    lines.append("RÉUSSI : tous les objectifs sont atteints." if passed
                 else f"ÉCHEC : {failed} objectif(s) sur {len(verdicts)} non atteint(s).")
    return "\n".join(lines), passed


def _ratio(value: float, base: float) -> float:
    return round(value / base, 2) if base > 0 else float("inf")
