"""The benchmark's PASS/FAIL lines (bench/verdicts.py), on made-up runs."""
from __future__ import annotations

import json

import pytest

from bench.run import main
from bench.verdicts import floor_of, run_verdicts, verdict_text


def _measure(key, p50, p95, extra=False):
    return {"key": key, "label": key, "p50_ms": p50, "p95_ms": p95, "extra": extra}


def _run(*pages, floor=(1.0, 1.5)):
    return {"floor": _measure("floor", *floor), "pages": list(pages)}


def _report(**runs):
    return {"scales": {"0.01": {"runs": {}}, "1.0": {"runs": runs}}}


def _by_page(verdicts):
    return {(v.key, v.target): (v.ratio, v.passed) for v in verdicts}


def test_key_pages_are_judged_against_eight_times_the_floor():
    run = _run(_measure("calendar", 9.0, 12.0), _measure("participant", 10.0, 12.1))
    assert _by_page(run_verdicts("gunicorn", run)) == {
        ("calendar", "floor"): (8.0, True),  # exactly 8 × 1.5 ms passes
        ("participant", "floor"): (8.07, False),
    }


def test_the_busiest_feed_is_judged_on_its_own_targets_not_the_floor():
    run = _run(_measure("ical_busiest", 28.0, 59.0), _measure("ical_busiest_cached", 4.0, 5.2))
    assert _by_page(run_verdicts("in-process", run)) == {
        ("ical_busiest", "ms"): (0.98, True),  # 59 ms ≤ 60 ms, though 39 × the floor
        ("ical_busiest_cached", "ms"): (1.04, False),  # 5.2 ms > 5 ms
    }


def test_the_floor_is_the_cheapest_request_of_the_run():
    run = _run(_measure("ical_304", 0.8, 1.0), _measure("session", 7.0, 9.0), floor=(1.0, 2.0))
    assert floor_of(run) == ("ical_304", 1.0)
    assert _by_page(run_verdicts("in-process", run))[("session", "floor")] == (9.0, False)


def test_admin_calendar_is_judged_on_its_own_tail_only():
    """A context row: p95 ≤ 2 × p50, never against the floor."""
    calm = _run(_measure("calendar_admin", 40.0, 80.0, extra=True))
    tail = _run(_measure("calendar_admin", 40.0, 80.5, extra=True))
    assert _by_page(run_verdicts("m", calm)) == {("calendar_admin", "tail"): (2.0, True)}
    assert _by_page(run_verdicts("m", tail)) == {("calendar_admin", "tail"): (2.01, False)}


def test_other_context_rows_are_not_judged():
    run = _run(_measure("ical_busiest_gzip", 5.0, 7.0, extra=True))
    assert run_verdicts("m", run) == []


def test_a_single_failure_in_any_mode_fails_the_run():
    good = _run(_measure("calendar", 5.0, 6.0), _measure("calendar_admin", 40.0, 60.0, extra=True))
    bad = _run(_measure("calendar", 5.0, 6.0), _measure("calendar_admin", 40.0, 200.0, extra=True))
    text, passed = verdict_text(_report(**{"in-process": good, "gunicorn": good}))
    assert passed and "FAIL" not in text and text.count("PASS") == 4
    text, passed = verdict_text(_report(**{"in-process": good, "gunicorn": bad}))
    assert not passed
    assert [line.split()[0:2] for line in text.splitlines() if "FAIL" in line] == [
        ["FAIL", "[gunicorn]"]]
    assert text.endswith("ÉCHEC : 1 objectif(s) sur 4 non atteint(s).")


def test_only_the_largest_scale_is_judged():
    """The small database's run is there for the scale ratios, not for the targets."""
    report = {"scales": {"0.01": {"runs": {"m": _run(_measure("calendar", 5.0, 99.0))}},
                         "1.0": {"runs": {"m": _run(_measure("calendar", 5.0, 6.0))}}}}
    assert verdict_text(report)[1] is True


def _full_measure(key, p50, p95, extra=False):
    return {"key": key, "label": key, "requests": 100, "p50_ms": p50, "p95_ms": p95,
            "mean_ms": p50, "queries": 3, "queries_max": 3, "cpu_p50_ms": p50, "cpu_p95_ms": p95,
            "target_ms": None, "note": "", "extra": extra}


def _saved_run(tmp_path, admin_p95):
    run = {"floor": _full_measure("floor", 1.0, 1.5),
           "pages": [_full_measure("calendar", 6.0, 9.0),
                     _full_measure("calendar_admin", 40.0, admin_p95, extra=True)]}
    report = {"database": "postgresql", "machine": {"cpus": 2, "python": "3.11.7"},
              "load_average_1min": [1.0, 1.0],
              "scales": {"given": {"context": {}, "runs": {"in-process": run}}}}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(report))
    return path


def test_check_exits_with_status_1_on_a_failure_only(tmp_path, capsys):
    """``python -m bench.run --show FILE --check``: the exit status a script can test."""
    main(["--show", str(_saved_run(tmp_path, 70.0)), "--check"])
    assert "RÉUSSI" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        main(["--show", str(_saved_run(tmp_path, 90.0)), "--check"])
    assert stopped.value.code == 1
    assert "FAIL  [in-process] calendar_admin" in capsys.readouterr().out
    main(["--show", str(_saved_run(tmp_path, 90.0))])  # without --check: printed, no exit
