"""Test helpers: logging in, counting SQL statements, a real SMTP server, config overrides,
checking that a form's edits are saved, a PDF's text as a reader's tool extracts it."""
from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from stages.extensions import db
from tests.factories import PASSWORD


def login(client, user, password: str = PASSWORD):
    """Log ``user`` in through the real login form; returns the response."""
    return client.post(
        "/connexion", data={"email": user.email, "password": password}, follow_redirects=False
    )


class QueryCounter:
    """Counts the SQL statements sent to the database while active."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)


@contextmanager
def count_queries():
    """``with count_queries() as counter: ...`` then ``counter.count``."""
    counter = QueryCounter()
    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", counter._on_execute)
    try:
        yield counter
    finally:
        sa.event.remove(engine, "before_cursor_execute", counter._on_execute)


def search(client, url: str, term: str, **filters) -> str:
    """Search ``term`` with the list's search form (a POST: names stay out of URLs, see
    stages.auth.search_terms); returns the URL the form redirects to, which shows the results."""
    response = client.post(url, data={"q": term, "recherche": "1", **filters})
    assert response.status_code == 302, (url, response.status_code)
    location = response.headers["Location"]
    assert term not in location
    return location


def queries_for(client, url: str) -> int:
    """The number of SQL statements one GET of ``url`` sends (asserting it succeeds)."""
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return counter.count


@contextmanager
def override_config(app, **values):
    """Override app settings for one test and put them back afterwards."""
    saved = {key: app.config.get(key) for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(saved)


def free_port() -> int:
    """A TCP port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpCollector:
    """An aiosmtpd handler that keeps each envelope, and answers every message with ``reply``
    (a test may change it between sends)."""

    def __init__(self, reply: str = "250 Message accepted for delivery"):
        self.reply = reply
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return self.reply


@contextmanager
def smtp_server(app, reply: str | None = None):
    """A real SMTP server on 127.0.0.1 that the app sends to while the block runs."""
    from aiosmtpd.controller import Controller

    handler = SmtpCollector(reply) if reply else SmtpCollector()
    # SMTPUTF8 lets the server answer in French (« 550 refusé »).
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True)
    controller.start()
    try:
        with override_config(app, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port,
                             SMTP_STARTTLS=False, SMTP_USER=None):
            yield handler
    finally:
        controller.stop()
def course_edit_form(course, parts, *, confirm: bool = False, **overrides) -> dict:
    """The course edit form as an organizer would post it: the course's own settings with other
    half-days, ``parts`` as (day, "HH:MM", "HH:MM"). ``confirm`` ticks the confirmation step."""
    data = {
        "title": course.title,
        "venue": str(course.venue_id),
        "capacity": str(course.capacity),
        "min_participants": str(course.min_participants),
        "fee": f"{course.fee_cents / 100:.2f}",
        "organizations": [str(o.id) for o in course.organizations],
        "facilitators": [str(u.id) for u in course.facilitators],
        "notes": course.notes or "",
        "save": "1",
    }
    for index in range(4):
        day, start, end = parts[index] if index < len(parts) else ("", "", "")
        data[f"parts-{index}-day"] = day.isoformat() if day else ""
        data[f"parts-{index}-start"] = start
        data[f"parts-{index}-end"] = end
    if confirm:
        data["confirm"] = "1"
    data.update(overrides)
    return data


def flashes(client) -> list[str]:
    """The messages flashed since the last call (read and cleared, as a page would)."""
    with client.session_transaction() as state:
        return [message for _category, message in state.pop("_flashes", [])]


# --- Edits saved -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    """One field of a form: the value posted before and after the change, how to read it back
    from the saved object, and what it reads before and after."""

    name: str
    before: object
    after: object
    read: Callable
    stored_before: object
    stored_after: object


def form_with(fields: list[FieldChange], changed: str | None = None, **extra) -> dict:
    """The form as posted: every field at its old value except ``changed`` ("*": all of them).
    A value None is not posted (a box left unticked)."""
    data = {f.name: (f.after if changed in (f.name, "*") else f.before) for f in fields}
    data.update(extra)
    return {name: value for name, value in data.items() if value is not None}


def assert_saved(saved, fields: list[FieldChange], changed: str | None) -> None:
    """``changed`` reads back its new value (all of them for "*"), every other field its old one:
    a write skipped, or a value written into the wrong column, fails here."""
    got = {f.name: f.read(saved) for f in fields}
    wanted = {
        f.name: f.stored_after if changed in (f.name, "*") else f.stored_before for f in fields
    }
    assert got == wanted


def fresh(model, ident):
    """``model`` ``ident`` as another request would read it: from the database, not memory."""
    db.session.expire_all()
    return db.session.get(model, ident)


def pdftotext(pdf: bytes, *options: str) -> str:
    """The PDF's text as ``pdftotext`` (poppler) extracts it, the tool a reader would use:
    ``-enc UTF-8`` unless ``options`` are given (``-layout``). A machine without it fails the
    test, never skips it (``.ci/run`` installs Debian's poppler-utils)."""
    if shutil.which("pdftotext") is None:
        raise AssertionError("pdftotext is missing: apt-get install poppler-utils (.ci/run does it)")
    command = ["pdftotext", *(options or ("-enc", "UTF-8")), "-", "-"]
    return subprocess.run(command, input=pdf, capture_output=True, check=True).stdout.decode()


@dataclass(frozen=True)
class DrawnText:
    """A piece of text as drawn on a PDF page: where it starts (points) and its font size."""

    text: str
    x: float
    y: float
    size: float


def drawn_texts(pdf: bytes) -> list[DrawnText]:
    """Every non-blank piece of text of every page, in drawing order, with its position: the
    text matrix placed by the graphics one (pypdf's visitor)."""
    import io

    from pypdf import PdfReader

    drawn = []

    def visit(text, cm, tm, _font, size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            drawn.append(DrawnText(text.strip(), x, y, size))

    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(visitor_text=visit)
    return drawn
