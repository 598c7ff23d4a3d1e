// Reads iCalendar texts with Mozilla's ical.js (vendored beside this file) and prints, as JSON,
// what the tests compare: METHOD, and per VEVENT its UID, SEQUENCE, STATUS and UTC times.
// Input: a JSON array of .ics texts on standard input. Used by tests/calendar_feeds/parsers.py.
"use strict";
const path = require("path");
const ICAL = require(path.join(__dirname, "vendor", "ical.es5.min.cjs"));

function read(text) {
  const calendar = new ICAL.Component(ICAL.parse(text));
  for (const vtimezone of calendar.getAllSubcomponents("vtimezone")) {
    ICAL.TimezoneService.register(vtimezone);
  }
  return {
    method: calendar.getFirstPropertyValue("method"),
    events: calendar.getAllSubcomponents("vevent").map((vevent) => {
      const event = new ICAL.Event(vevent);
      return {
        uid: event.uid,
        sequence: event.sequence,
        status: vevent.getFirstPropertyValue("status"),
        start: event.startDate.toJSDate().toISOString(),
        end: event.endDate.toJSDate().toISOString(),
        tzid: event.startDate.timezone || event.startDate.zone.tzid,
      };
    }),
  };
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  process.stdout.write(JSON.stringify(JSON.parse(input).map(read)));
});
