"""Two independent readers of the .ics the application writes, for tests that follow events.

``read_icalendar`` uses the ``icalendar`` package (the one the application writes with);
``read_icaljs`` uses Mozilla's ical.js (Thunderbird's parser, vendored under ``vendor/``) run by
Node.js, offline. Both return the same plain structure, so a test can check they agree:
``{"method": ..., "events": [{"uid", "sequence", "status", "start", "end", "tzid"}]}`` with
times as UTC ISO strings.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timezone
from pathlib import Path

import pytest
from icalendar import Calendar

SCRIPT = Path(__file__).with_name("read_ics.cjs")


def read_icalendar(body: bytes) -> dict:
    """The calendar as the ``icalendar`` package reads it; fails on any component error."""
    calendar = Calendar.from_ical(body)
    for component in calendar.walk():
        assert component.errors == [], (component.name, component.errors)
    method = calendar.get("METHOD")
    return {
        "method": str(method) if method is not None else None,
        "events": [
            {
                "uid": str(event["UID"]),
                "sequence": int(event.get("SEQUENCE", 0)),
                "status": str(event.get("STATUS")) if event.get("STATUS") else None,
                "start": _iso(event.decoded("DTSTART")),
                "end": _iso(event.decoded("DTEND")),
                "tzid": event["DTSTART"].params.get("TZID"),
            }
            for event in calendar.walk("VEVENT")
        ],
    }


def _iso(moment) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def read_icaljs(*bodies: bytes) -> list[dict]:
    """The calendars as Mozilla's ical.js reads them (one Node.js process for all)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("needs Node.js to run Mozilla's ical.js (Debian package nodejs)")
    result = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps([body.decode("utf-8") for body in bodies]),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def read_both(*bodies: bytes) -> list[dict]:
    """Each calendar read by both parsers, checked to agree; returns the ``icalendar`` reading."""
    ours = [read_icalendar(body) for body in bodies]
    theirs = read_icaljs(*bodies)
    for mine, other in zip(ours, theirs, strict=True):
        assert mine["method"] == other["method"]
        assert [
            (e["uid"], e["sequence"], e["status"], e["start"], e["end"], e["tzid"])
            for e in mine["events"]
        ] == [
            (e["uid"], e["sequence"], e["status"], e["start"], e["end"], e["tzid"])
            for e in other["events"]
        ]
    return ours


def uid_sequences(reading: dict) -> dict[str, int]:
    """UID → SEQUENCE of one reading."""
    return {event["uid"]: event["sequence"] for event in reading["events"]}
