"""Importing a parquet's own list: no « Autorité » column (the authority is chosen at upload),
headers as each court writes them, and the columns nobody recognized assigned by the organizer
once, then remembered for that authority."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from stages.auth.models import AuditEntry, OrganizationKind, Role
from stages.enrollment import importer
from stages.enrollment.importer import ImportFileError
from stages.enrollment.importer.columns import header_key, recognize
from stages.enrollment.models import ImportColumnMapping, LegalFrame, LegalMeasure, Participant
from stages.extensions import db
from tests.helpers import login

SURNAMES = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
            "Lefèvre", "Moreau", "Simon", "Laurent", "Michel", "Garçon", "Da Silva", "N'Diaye",
            "Lebœuf", "Roux", "Faure", "Mercier"]
FIRST_NAMES = ["Jérôme", "Loïc", "François", "Éric", "Hervé", "Gaël"]
# The header row of a list as a parquet's office exports it: no authority (it is the parquet's
# own list), its own words for the deadline, a unit after the amount.
PARQUET_HEADERS = [
    "N° parquet", "NOM", "Prénom", "Né(e) le", "Lieu de naissance", "Adresse", "CP", "Ville",
    "Nature de la mesure", "Date de la décision", "Date limite d'exécution", "Montant (€)",
]


def fr(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def parquet_row(i: int) -> list[str]:
    decision = date(2025, 2, 3) + timedelta(days=i)
    return [
        f"25{i:09d}", SURNAMES[i % 20].upper(), FIRST_NAMES[(i // 20) % 6],
        fr(date(1968, 5, 17) + timedelta(days=211 * i)), "Paris 17e", f"{i + 1} rue de Lévis",
        "75017", "Paris", "Composition pénale" if i % 2 else "Alternative aux poursuites",
        fr(decision), fr(decision + timedelta(days=180)), "180,00\u00a0€",
    ]


def excel_csv(headers: list[str], rows: list[list[str]]) -> bytes:
    """What Excel's « CSV (séparateur : point-virgule) » writes on a French Windows: Windows-1252
    (« € » is 0x80, the no-break space before it 0xA0), « ; », CRLF, no byte order mark, quotes
    only where a cell needs them, dates as shown (JJ/MM/AAAA)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue().encode("cp1252")


@pytest.fixture
def office(make):
    o = type("Office", (), {})()
    o.parquet = make.organization(
        OrganizationKind.PARQUET, name="Parquet de Paris", short_name="Parquet Paris"
    )
    o.creteil = make.organization(
        OrganizationKind.PARQUET, name="Parquet de Créteil", short_name="Parquet Créteil"
    )
    o.apcars = make.organization(name="APCARS", short_name="APCARS")
    o.organizer = make.user(Role.ORGANIZER, [o.apcars])
    return o


@pytest.fixture
def upload_dir(app, tmp_path):
    app.config["IMPORT_UPLOAD_DIR"] = str(tmp_path / "imports")
    yield tmp_path / "imports"
    app.config.pop("IMPORT_UPLOAD_DIR")


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def upload(client, content: bytes, office, authority=None, review=False, filename="liste.csv"):
    data = {"file": (io.BytesIO(content), filename), "association": str(office.apcars.id),
            "authority": str(authority.id) if authority else "0"}
    if review:
        data["review_columns"] = "y"
    return client.post("/personnes/import", data=data, content_type="multipart/form-data")


def confirm(client, upload_dir):
    (stored,) = upload_dir.iterdir()
    return client.post("/personnes/import/confirmer", data={"token": stored.stem})


# ---------------------------------------------------------------------------------------------
# Headers as the courts write them


@pytest.mark.parametrize("header, field", [
    ("N° de parquet", "case_reference"), ("Numéro parquet", "case_reference"),
    ("NUMERO DE PARQUET", "case_reference"), ("Nº parquet", "case_reference"),
    ("No. parquet", "case_reference"), ("Date limite", "deadline"),
    ("Date limite d'exécution", "deadline"), ("DATE LIMITE D'EXECUTION", "deadline"),
    ("Échéance", "deadline"), ("echeance", "deadline"), ("Montant (€)", "fee_cents"),
    ("Montant en euros", "fee_cents"), ("Montant [EUR]", "fee_cents"),
    ("Date de la décision", "decision_date"), ("Date décision", "decision_date"),
    ("Date de naissance (jj/mm/aaaa)", "birth_date"), ("Né(e) le", "birth_date"),
    ("Né(e) à", "birth_place"), ("Prénom(s)", "first_names"), ("PRENOMS", "first_names"),
    ("Nature de la mesure", "frame"), ("Mandant", "authority"), ("E-mail", "email"),
])
def test_header_variants_are_recognized(header, field):
    assert recognize(header).field == field


@pytest.mark.parametrize("header", ["Fin de délai", "Observations", "(€)", "N°", "Date", ""])
def test_other_headers_are_not_guessed(header):
    assert recognize(header) is None


def test_header_key_is_what_remembered_choices_are_filed_under():
    assert header_key("  Fin de DÉLAI ") == header_key("Fin de délai") == "findelai"
    assert header_key("N° de parquet") == header_key("Numéro parquet") == "numeroparquet"


# ---------------------------------------------------------------------------------------------
# The issue: 40 rows of a parquet's list, refused wholesale before


def test_parquet_list_needs_its_authority_and_is_then_imported_whole(office, tmp_path):
    content = excel_csv(PARQUET_HEADERS, [parquet_row(i) for i in range(40)])
    assert content.count(b"\r\n") == 41 and b"\x80" in content and not content.startswith(b"\xef")
    table = importer.read_table(content, "orientations.csv")
    with pytest.raises(ImportFileError, match="Colonne obligatoire absente : « Autorité »"):
        importer.plan_import(table, office.apcars)  # nobody said whose list it is

    report = importer.run_import(table, office.apcars, authority=office.parquet)
    assert report.ok, report.errors[:3]
    assert report.created == 40 and len(report.to_create) == 40
    assert "séparateur « point-virgule », encodage Windows-1252" in report.notes[0]
    assert "Autorité prescriptrice de chaque ligne : Parquet de Paris (choisie à l'import)." in report.notes
    fed = {a.header: a.field for a in report.columns}
    assert fed["Date limite d'exécution"] == "deadline" and fed["Montant (€)"] == "fee_cents"
    assert fed["N° parquet"] == "case_reference" and fed["Nature de la mesure"] == "frame"
    db.session.commit()
    measures = db.session.scalars(sa.select(LegalMeasure).order_by(LegalMeasure.id)).all()
    assert {m.authority_id for m in measures} == {office.parquet.id}
    first = measures[0]
    assert first.case_reference == "25000000000" and first.frame == LegalFrame.ALTERNATIVE_POURSUITES
    assert first.deadline == date(2025, 8, 2) and first.fee_cents == 18_000
    assert first.participant.surname == "MARTIN" and first.participant.birth_date == date(1968, 5, 17)
    assert db.session.get(Participant, measures[8].participant_id).surname == "LEFÈVRE"


def test_a_filled_authority_column_still_overrides_the_chosen_authority(office):
    headers = [*PARQUET_HEADERS, "Autorité"]
    rows = [[*parquet_row(0), ""], [*parquet_row(1), "Parquet Créteil"]]
    table = importer.read_table(excel_csv(headers, rows), "liste.csv")
    report = importer.plan_import(table, office.apcars, authority=office.parquet)
    assert report.ok, report.errors
    assert [r.measure.authority.name for r in report.rows] == ["Parquet de Paris", "Parquet de Créteil"]
    assert any("celle de la colonne « Autorité », ou Parquet de Paris" in n for n in report.notes)


def test_upload_with_the_authority_chosen_then_import(client, office, upload_dir):
    login(client, office.organizer)
    page = client.get("/personnes/import").get_data(as_text=True)
    assert "Autorité prescriptrice" in page and "Parquet de Créteil" in page
    content = excel_csv(PARQUET_HEADERS, [parquet_row(i) for i in range(40)])

    html = upload(client, content, office).get_data(as_text=True)  # authority left to the file
    assert "Colonne obligatoire absente : « Autorité »" in html
    assert count(LegalMeasure) == 0

    html = upload(client, content, office, authority=office.parquet).get_data(as_text=True)
    assert "Importer 40 mesures" in html
    assert "Autorité prescriptrice choisie : <strong>Parquet de Paris</strong>" in html
    # The preview says which column fed which field.
    assert "Date limite d&#39;exécution</th>\n          <td>Date limite (intitulé reconnu)" in html
    response = confirm(client, upload_dir)
    assert response.status_code == 302
    assert count(LegalMeasure) == 40
    assert db.session.scalars(sa.select(LegalMeasure.authority_id).distinct()).all() == [office.parquet.id]
    assert list(upload_dir.iterdir()) == []


def test_cli_takes_the_authority(runner, office, tmp_path):
    path = tmp_path / "orientations.csv"
    path.write_bytes(excel_csv(PARQUET_HEADERS, [parquet_row(i) for i in range(40)]))
    db.session.commit()
    result = runner.invoke(args=["stages", "import-referrals", str(path), "--dry-run"])
    assert result.exit_code == 1 and "Colonne obligatoire absente : « Autorité »" in result.output

    args = ["stages", "import-referrals", str(path), "--authority", "parquet paris"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "« Date limite d'exécution » : Date limite (intitulé reconnu)" in result.output
    assert "40 mesures importées pour APCARS." in result.output
    assert db.session.scalars(sa.select(LegalMeasure.authority_id).distinct()).all() == [office.parquet.id]

    result = runner.invoke(args=["stages", "import-referrals", str(path), "--authority", "Lyon"])
    assert result.exit_code == 1
    assert "Autorité prescriptrice inconnue : Lyon (autorités : Parquet Créteil, Parquet Paris)" in result.output


# ---------------------------------------------------------------------------------------------
# Unknown headers: the organizer says what they hold, once per authority

# The same list from a court that calls the deadline « Fin de délai » and adds its own remarks.
OTHER_HEADERS = [*PARQUET_HEADERS[:10], "Fin de délai", PARQUET_HEADERS[11], "Observations"]
DEADLINE, REMARKS = 10, 12


def other_list(start: int, count: int) -> bytes:
    return excel_csv(OTHER_HEADERS, [[*parquet_row(i), "RAS"] for i in range(start, start + count)])


def choices(**overrides) -> dict[str, str]:
    """The mapping form's fields: each recognized column as its header says, then overrides."""
    data = {f"column_{i}": recognize(h).field for i, h in enumerate(OTHER_HEADERS) if recognize(h)}
    data.update({f"column_{position}": field for position, field in overrides.items()})
    return data


def test_unknown_columns_are_assigned_once_then_remembered_for_the_authority(
    client, office, upload_dir, runner, tmp_path
):
    login(client, office.organizer)
    response = upload(client, other_list(0, 5), office, authority=office.parquet)
    assert response.status_code == 302 and response.headers["Location"].endswith("/personnes/import/colonnes")
    page = client.get("/personnes/import/colonnes").get_data(as_text=True)
    assert "Fin de délai" in page and "Par exemple : 02/08/2025 ; 03/08/2025 ; 04/08/2025" in page
    assert "retenus pour les prochaines listes de\n  <strong>Parquet de Paris</strong>" in page
    assert count(LegalMeasure) == 0

    # A column left « à choisir », a field given twice: said, nothing remembered.
    html = client.post("/personnes/import/colonnes", data=choices(**{str(DEADLINE): "deadline"}) | {
        f"column_{REMARKS}": ""}).get_data(as_text=True)
    assert "Choisissez le champ de cette colonne" in html
    html = client.post("/personnes/import/colonnes", data=choices(
        **{str(DEADLINE): "decision_date", str(REMARKS): "ignore"})).get_data(as_text=True)
    assert "« Date de décision » est déjà fourni par la colonne « Date de la décision »" in html
    assert count(ImportColumnMapping) == 0

    html = client.post("/personnes/import/colonnes", data=choices(
        **{str(DEADLINE): "deadline", str(REMARKS): "ignore"})).get_data(as_text=True)
    assert "Importer 5 mesures" in html
    assert "Date limite (choisi pour cet import)" in html
    assert "Observations</th>\n          <td>non importée" in html
    remembered = db.session.execute(sa.select(
        ImportColumnMapping.authority_id, ImportColumnMapping.header_key, ImportColumnMapping.field)
        .order_by(ImportColumnMapping.header_key)).all()
    assert remembered == [(office.parquet.id, "findelai", "deadline"),
                          (office.parquet.id, "observations", "ignore")]
    assert db.session.scalars(sa.select(AuditEntry.details).where(
        AuditEntry.action == "referrals.columns_remembered")).one() == "2 choix de colonne"
    assert confirm(client, upload_dir).status_code == 302
    assert count(LegalMeasure) == 5
    assert db.session.scalar(sa.select(LegalMeasure.deadline).where(
        LegalMeasure.case_reference == "25000000000")) == date(2025, 8, 2)

    # The next list of the same parquet goes straight to the preview.
    response = upload(client, other_list(5, 3), office, authority=office.parquet)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Importer 3 mesures" in html
    assert "Fin de délai</th>\n          <td>Date limite (choix mémorisé pour cette autorité)" in html
    assert confirm(client, upload_dir).status_code == 302
    assert count(LegalMeasure) == 8

    # Another parquet's list: its choices are its own.
    response = upload(client, other_list(8, 2), office, authority=office.creteil)
    assert response.status_code == 302 and "/colonnes" in response.headers["Location"]

    # The command line applies the choices remembered for the authority it is given.
    path = tmp_path / "suite.csv"
    path.write_bytes(other_list(10, 2))
    result = runner.invoke(args=["stages", "import-referrals", str(path), "--authority", "Parquet Paris"])
    assert result.exit_code == 0, result.output
    assert "« Fin de délai » : Date limite (choix mémorisé pour cette autorité)" in result.output
    assert count(LegalMeasure) == 10


def test_recognized_columns_can_be_reviewed_and_a_choice_forgotten(client, office, upload_dir):
    login(client, office.organizer)
    content = excel_csv(PARQUET_HEADERS, [parquet_row(i) for i in range(3)])
    response = upload(client, content, office, authority=office.parquet, review=True)
    assert response.status_code == 302  # every column offered, though all were recognized
    page = client.get("/personnes/import/colonnes").get_data(as_text=True)
    assert page.count("<select") == len(PARQUET_HEADERS)
    recognized = {f"column_{i}": recognize(h).field for i, h in enumerate(PARQUET_HEADERS)}
    # The « Lieu de naissance » column of this parquet holds something else: not imported.
    html = client.post("/personnes/import/colonnes", data=recognized | {"column_4": "ignore"}).get_data(as_text=True)
    assert "Importer 3 mesures" in html
    assert db.session.execute(sa.select(ImportColumnMapping.header_key, ImportColumnMapping.field)).all() == [
        ("lieunaissance", "ignore")]
    html = upload(client, content, office, authority=office.parquet).get_data(as_text=True)
    assert "Lieu de naissance</th>\n          <td>non importée" in html
    # Back to what the header says: the remembered choice is forgotten.
    upload(client, content, office, authority=office.parquet, review=True)
    client.post("/personnes/import/colonnes", data=recognized)
    assert count(ImportColumnMapping) == 0


def test_without_an_authority_the_choices_are_for_this_import_only(client, office, upload_dir):
    login(client, office.organizer)
    headers = [*OTHER_HEADERS, "Autorité"]
    rows = [[*parquet_row(i), "RAS", "Parquet Paris"] for i in range(2)]
    response = upload(client, excel_csv(headers, rows), office)
    assert response.status_code == 302
    page = client.get("/personnes/import/colonnes").get_data(as_text=True)
    assert "Ces choix valent pour cet import seulement" in page
    data = choices(**{str(DEADLINE): "deadline", str(REMARKS): "ignore"}) | {"column_13": "authority"}
    html = client.post("/personnes/import/colonnes", data=data).get_data(as_text=True)
    assert "Importer 2 mesures" in html
    assert count(ImportColumnMapping) == 0
    assert confirm(client, upload_dir).status_code == 302
    assert count(LegalMeasure) == 2


def test_the_mapping_step_needs_a_file_of_this_session(client, office, upload_dir):
    login(client, office.organizer)
    response = client.get("/personnes/import/colonnes")
    assert response.status_code == 302 and response.headers["Location"].endswith("/personnes/import")
    response = client.post("/personnes/import/colonnes", data={"column_0": "surname"})
    assert response.status_code == 302
    assert count(ImportColumnMapping) == 0
