"""The admin page of the audit log: access, filters, Paris dates, paging, CSV export."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role
from stages.extensions import db
from tests.helpers import count_queries, login

UTC = timezone.utc


def entry(at, action="test.action", user=None, participant_id=None, details=None, **kw):
    """An audit entry at a given moment (the log is append-only: built, never edited)."""
    item = AuditEntry(
        at=at, action=action, user_id=user.id if user else None,
        participant_id=participant_id, details=details, **kw,
    )
    db.session.add(item)
    return item


def bulk_entries(count: int, users, action="test.bulk", start=datetime(2026, 1, 1, tzinfo=UTC)):
    """``count`` entries, one minute apart, spread over ``users`` and participants."""
    db.session.execute(
        sa.insert(AuditEntry),
        [
            {
                "at": start + timedelta(minutes=i),
                "action": action,
                "user_id": users[i % len(users)].id,
                "participant_id": 1000 + i % 37,
                "object_type": "Participant",
                "object_id": 1000 + i % 37,
                "details": f"n°{i:04d}",
            }
            for i in range(count)
        ],
    )


@pytest.fixture
def admin(make):
    return make.user(Role.ADMIN, full_name="Alice Admin")


def rows_of(html: str) -> str:
    """The table body of the page (where entries are listed)."""
    return html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""


def test_only_admins_read_the_log(client, make):
    org = make.organization()
    organizer = make.user(Role.ORGANIZER, [org])
    response = client.get("/admin/journal")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    login(client, organizer)
    assert client.get("/admin/journal").status_code == 403
    assert client.get("/admin/journal/export.csv").status_code == 403
    assert db.session.scalar(
        sa.select(sa.func.count()).where(AuditEntry.action == "audit_log.exported")
    ) == 0


def test_filters_by_user_participant_action_and_paris_days(client, make, admin):
    bob = make.user(Role.ORGANIZER, full_name="Bob Orga")
    # 23:30 UTC on 1 March is already 2 March in Paris (UTC+1 in winter).
    entry(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "participant.viewed", admin, 7, "marque-A")
    entry(datetime(2026, 3, 1, 22, 30, tzinfo=UTC), "measure.saved", bob, 8, "marque-B")
    entry(datetime(2026, 3, 5, 10, 0, tzinfo=UTC), "jobs.custom_action", None, None, "marque-C")
    login(client, admin)

    def shown(query: str) -> set[str]:
        response = client.get(f"/admin/journal?{query}")
        assert response.status_code == 200
        body = rows_of(response.get_data(as_text=True))
        return {marker for marker in ("marque-A", "marque-B", "marque-C") if marker in body}

    assert shown("") == {"marque-A", "marque-B", "marque-C"}
    assert shown(f"utilisateur={bob.id}") == {"marque-B"}
    assert shown("utilisateur=aucun") == {"marque-C"}
    assert shown("personne=7") == {"marque-A"}
    assert shown("action=measure.saved") == {"marque-B"}
    assert shown("du=2026-03-02&au=2026-03-02") == {"marque-A"}
    assert shown("au=2026-03-01") == {"marque-B"}
    assert shown("du=2026-03-03") == {"marque-C"}
    assert shown(f"utilisateur={admin.id}&du=2026-03-02&au=2026-03-04") == {"marque-A"}

    html = client.get("/admin/journal").get_data(as_text=True)
    # Actions are offered with their French label, or their code when none is known.
    assert ">Consultation du dossier d&#39;une personne (participant.viewed)</option>" in html
    assert ">jobs.custom_action</option>" in html
    assert "Bob Orga" in html.split('id="utilisateur"', 1)[1].split("</select>", 1)[0]


def test_bad_filters_are_ignored_with_a_french_message(client, admin):
    entry(datetime(2026, 3, 1, 12, tzinfo=UTC), details="marque-A")
    login(client, admin)
    for query, message in [
        ("personne=abc", "Le n° de personne doit être un nombre entier"),
        ("personne=99999999999", "Le n° de personne doit être un nombre entier"),
        ("du=2026-13-01", "Date de début invalide"),
        ("du=2026-03-05&au=2026-03-01", "La date de début suit la date de fin"),
        ("utilisateur=%C2%B2", "Utilisateur inconnu"),
    ]:
        response = client.get(f"/admin/journal?{query}")
        assert response.status_code == 200, query
        html = response.get_data(as_text=True)
        assert message in html, query
        assert "marque-A" in rows_of(html), query


def test_fifty_a_page_newest_first(client, make, admin):
    bulk_entries(120, [admin])
    login(client, admin)
    html = client.get("/admin/journal?action=test.bulk").get_data(as_text=True)
    body = rows_of(html)
    assert body.count("<tr>") == 50
    assert body.index("n°0119") < body.index("n°0118")
    assert "n°0069" not in body and "n°0070" in body
    assert "Page 1 sur 3 — 120 résultats" in html
    # The next page link keeps the filter.
    assert "action=test.bulk" in html.split('rel="next"', 1)[0].rsplit("href=", 1)[1]
    last = rows_of(client.get("/admin/journal?action=test.bulk&page=3").get_data(as_text=True))
    assert last.count("<tr>") == 20 and "n°0000" in last


def test_csv_export_is_excel_friendly_inert_and_audited(client, make, admin):
    bob = make.user(Role.ORGANIZER, full_name="Bob Orga")
    entry(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "participant.viewed", bob, 7, "=HYPERLINK(\"http://x\")", ip="10.0.0.1")
    entry(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "measure.saved", bob, 8, "autre")
    entry(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "measure.saved", admin, 7, "pas bob")
    login(client, admin)
    response = client.get(f"/admin/journal/export.csv?utilisateur={bob.id}&personne=7")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="journal-audit-') and "Bob" not in disposition
    raw = response.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Date et heure (Paris)", "Utilisateur", "N° utilisateur", "Action"]
    assert len(rows) == 2
    line = rows[1]
    assert line[0] == "02/03/2026 00:30:00"  # Paris time
    assert line[1:5] == ["Bob Orga", str(bob.id), "Consultation du dossier d'une personne", "participant.viewed"]
    assert line[7:9] == ["7", "10.0.0.1"]
    assert line[9] == "'=HYPERLINK(\"http://x\")"  # formula made inert
    exported = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "audit_log.exported")
    ).one()
    assert exported.user_id == admin.id
    assert exported.details == f"journal d'audit, csv, 1 lignes, utilisateur n° {bob.id}, personne n° 7"
    assert exported.participant_id is None

    # The next export lists the previous one (and not itself).
    rows = list(csv.reader(io.StringIO(
        client.get("/admin/journal/export.csv?action=audit_log.exported").get_data().decode("utf-8-sig")
    ), delimiter=";"))
    assert len(rows) == 2 and rows[1][1] == "Alice Admin"


@pytest.mark.parametrize("url", ["/admin/journal", "/admin/journal?personne=1003", "/admin/journal/export.csv"])
def test_query_count_does_not_grow_with_the_log(client, make, admin, url):
    users = [make.user(Role.ORGANIZER) for _ in range(5)]
    bulk_entries(10, users)
    login(client, admin)

    def queries() -> int:
        with count_queries() as counter:
            response = client.get(url)
            assert response.status_code == 200
            response.get_data()  # the CSV is streamed: count the queries that read it too
        return counter.count

    small = queries()
    bulk_entries(290, users, start=datetime(2026, 2, 1, tzinfo=UTC))
    assert queries() == small
