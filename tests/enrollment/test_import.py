"""Import of referral lists: preview, all-or-nothing import, re-imports, bad files, CLI and page."""
from __future__ import annotations

import csv
import io
import os
import time
import zipfile
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from stages.auth.models import AuditEntry, Role
from stages.enrollment import importer
from stages.enrollment.importer import ImportFileError, Outcome
from stages.enrollment.models import DecisionProcedure, LegalFrame, LegalMeasure, Participant, PaymentStatus
from stages.spreadsheets import safe_cell, safe_row
from stages.extensions import db
from stages.auth.models import OrganizationKind
from tests.helpers import count_queries, login

HEADERS = [
    "Nom", "Prénom(s)", "Date de naissance", "Lieu de naissance", "Adresse", "Code postal", "Ville",
    "Téléphone", "Courriel", "Cadre", "Autorité", "N° de parquet", "Date des faits",
    "Date de décision", "Date limite", "Montant", "Payeur", "Statut du paiement",
    "Destinataire de l'attestation",
]
SURNAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre",
    "Moreau", "Simon", "Laurent", "Michel", "García", "Da Silva", "N'Diaye", "Lebrun", "Roux",
    "Faure", "Mercier",
]
FIRST_NAMES = [
    "Jean", "Pierre", "Mohamed", "Éric", "François", "Stéphane", "Jérôme", "Loïc", "Karim",
    "Thierry", "Nicolas", "Hervé", "Sébastien", "Antoine", "Julien", "Yannick", "Olivier",
    "Rachid", "Frédéric", "Gaël",
]
FRAMES = [
    "Composition pénale", "composition_penale", "Alternative aux poursuites", "Ordonnance pénale",
    "Peine de stage", "Sursis probatoire",
]


def fr(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def referral(i: int, authority: str = "Parquet de Paris") -> dict:
    """A realistic row of a parquet's referral list; ``i`` makes it unique."""
    decision = date(2025, 1, 6) + timedelta(days=i % 200)
    return {
        "Nom": SURNAMES[i % 20],
        "Prénom(s)": FIRST_NAMES[(i // 20) % 20],
        "Date de naissance": fr(date(1965, 1, 1) + timedelta(days=i % 12_000)),
        "Lieu de naissance": "Paris 11e",
        "Adresse": f"{i + 1} rue de la République",
        "Code postal": "75011",
        "Ville": "Paris",
        "Téléphone": "+33 6 12 34 56 78",
        "Courriel": f"personne{i}@exemple.fr",
        "Cadre": FRAMES[i % len(FRAMES)],
        "Autorité": authority,
        "N° de parquet": f"25{i:09d}",
        "Date des faits": fr(decision - timedelta(days=40)),
        "Date de décision": fr(decision),
        "Date limite": fr(decision + timedelta(days=180)),
        "Montant": "180,00 €",
        "Payeur": "La personne convoquée",
        "Statut du paiement": "À payer",
        "Destinataire de l'attestation": "Parquet de Paris — bureau des alternatives",
    }


def to_csv(rows: list[dict], delimiter=";", encoding="utf-8-sig", headers=HEADERS) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(headers)
    writer.writerows([row.get(h, "") for h in headers] for row in rows)
    return buffer.getvalue().encode(encoding)


def to_xlsx(rows: list[list], headers=HEADERS) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Orientations"
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    workbook.close()
    return buffer.getvalue()


@pytest.fixture
def orgs(make):
    """The referring parquet and the association that runs the courses."""
    parquet = make.organization(
        OrganizationKind.PARQUET, name="Parquet de Paris", short_name="Parquet Paris"
    )
    apcars = make.organization(name="APCARS", short_name="APCARS")
    return parquet, apcars


@pytest.fixture
def upload_dir(app, tmp_path):
    """Uploaded files go to a temporary folder, not the project's instance/."""
    app.config["IMPORT_UPLOAD_DIR"] = str(tmp_path / "imports")
    yield tmp_path / "imports"
    app.config.pop("IMPORT_UPLOAD_DIR")


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def import_bytes(content: bytes, association, filename="liste.csv", **kw):
    return importer.run_import(importer.read_table(content, filename), association, **kw)


# ---------------------------------------------------------------------------------------------
# The story of the issue: 3 bad rows among 100, the fixed file, then the same file again


def test_bad_rows_block_everything_then_fixed_file_imports_and_reimport_adds_nothing(orgs):
    _, apcars = orgs
    rows = [referral(i) for i in range(100)]
    bad = [dict(row) for row in rows]
    bad[10]["Date de décision"] = "31/02/2025"  # line 12: no such day
    bad[40]["Date limite"] = fr(date(2025, 1, 1))  # line 42: before the decision
    bad[70]["Cadre"] = "Travail d'intérêt général"  # line 72: not a frame of this course

    report = import_bytes(to_csv(bad), apcars)
    assert not report.ok
    assert [(e.line, e.column) for e in report.errors] == [
        (12, "Date de décision"), (42, "Date limite"), (72, "Cadre"),
    ]
    assert "n'existe pas" in report.errors[0].message
    assert "La date limite doit suivre la date de la décision." in str(report.errors[1])
    assert str(report.errors[2]).startswith("Ligne 72, colonne « Cadre » : Cadre inconnu")
    db.session.commit()
    assert count(LegalMeasure) == 0 and count(Participant) == 0

    report = import_bytes(to_csv(rows), apcars)
    db.session.commit()
    assert report.ok and report.created == 100
    assert count(LegalMeasure) == 100 and count(Participant) == 100
    measure = db.session.scalars(
        sa.select(LegalMeasure).where(LegalMeasure.case_reference == "25000000003")
    ).one()
    # « Ordonnance pénale » in a list: the complementary penalty, and the procedure kept.
    assert measure.frame == LegalFrame.STAGE_CONTRAVENTION
    assert measure.procedure == DecisionProcedure.ORDONNANCE_PENALE
    assert measure.fee_cents == 18_000 and measure.payment_status == PaymentStatus.DUE
    assert measure.handling_organization == apcars
    assert measure.participant.surname == "THOMAS"

    report = import_bytes(to_csv(rows), apcars)
    db.session.commit()
    assert report.ok and report.created == 0 and len(report.already_imported) == 100
    assert "100 déjà importées" in report.summary()
    assert count(LegalMeasure) == 100


def test_reimport_is_recognized_in_another_order_case_and_format(orgs):
    _, apcars = orgs
    rows = [referral(i) for i in range(6)]
    import_bytes(to_csv(rows), apcars)
    db.session.commit()
    shuffled = [dict(row, Nom=row["Nom"].upper(), **{"N° de parquet": " " + row["N° de parquet"]})
                for row in reversed(rows)]
    report = import_bytes(to_csv(shuffled, delimiter=","), apcars)
    assert len(report.already_imported) == 6 and not report.to_create


def test_person_on_file_gets_the_new_measure(orgs, make):
    parquet, apcars = orgs
    known = make.participant(surname="MARTIN", first_names="Jean", birth_date=date(1965, 1, 1))
    row = referral(0)  # Martin Jean, born 01/01/1965
    row["Nom"], row["Prénom(s)"] = "Martín", "jean"  # accents and case do not hide a person
    report = import_bytes(to_csv([row, referral(1)]), apcars)
    db.session.commit()
    assert [r.remark for r in report.rows] == [
        "rattachée à une personne existante", "nouvelle personne",
    ]
    assert len(report.attached) == 1 and report.created == 2
    assert count(Participant) == 2  # known + Bernard
    measures = db.session.get(Participant, known.id).measures
    assert [m.case_reference for m in measures] == ["25000000000"]


def test_measure_typed_by_hand_is_not_imported_twice(orgs, make):
    parquet, apcars = orgs
    person = make.participant(surname="MARTIN", first_names="Jean", birth_date=date(1965, 1, 1))
    make.measure(
        person, parquet, case_reference="25 000000000", frame=LegalFrame.COMPOSITION_PENALE
    )
    report = import_bytes(to_csv([referral(0)]), apcars)
    assert report.rows[0].outcome == Outcome.ALREADY_RECORDED
    assert report.created == 0


def test_concurrent_imports_of_the_same_rows_cannot_both_write(orgs):
    _, apcars = orgs
    table = importer.read_table(to_csv([referral(0)]), "liste.csv")
    first, second = (importer.plan_import(table, apcars) for _ in range(2))
    importer.create_from_plan(first)
    db.session.commit()
    with pytest.raises(sa.exc.IntegrityError):  # the unique import key; the caller rolls back
        importer.create_from_plan(second)
    db.session.rollback()
    assert count(LegalMeasure) == 1 and count(Participant) == 1


def test_duplicates_inside_one_file(orgs):
    _, apcars = orgs
    first, second = referral(0), referral(1)
    copy = dict(first)
    # Same person, another case: one person, two measures.
    other_case = dict(first, **{"N° de parquet": "25999999999", "Cadre": "Sursis probatoire"})
    report = import_bytes(to_csv([first, second, copy, other_case]), apcars)
    assert report.ok
    assert [r.remark for r in report.rows] == [
        "nouvelle personne", "nouvelle personne", "doublon de la ligne 2 : ignorée",
        "même personne qu'à la ligne 2",
    ]
    db.session.commit()
    assert count(LegalMeasure) == 3 and count(Participant) == 2

    variant = dict(second, **{"Date limite": fr(date(2025, 12, 31))})
    report = import_bytes(to_csv([referral(2), second, variant]), apcars)
    assert [(e.line, e.column) for e in report.errors] == [(4, None)]
    assert "qu'à la ligne 3" in report.errors[0].message


# ---------------------------------------------------------------------------------------------
# Bad input


def test_wrong_encoding_is_refused_clearly(orgs):
    _, apcars = orgs
    content = to_csv([referral(0)]).replace(b"Paris", b"\x81\x8d\x90")  # not cp1252 either
    with pytest.raises(ImportFileError, match="ni en UTF-8 ni en Windows-1252"):
        importer.read_table(content, "liste.csv")
    utf16_without_bom = to_csv([referral(0)], encoding="utf-16-le")
    with pytest.raises(ImportFileError, match="CSV UTF-8"):
        importer.read_table(utf16_without_bom, "liste.csv")


def test_windows_1252_is_accepted_and_said(orgs):
    _, apcars = orgs
    row = dict(referral(8), Nom="Lefèvre", **{"Prénom(s)": "Éric"})
    report = import_bytes(to_csv([row], encoding="cp1252"), apcars)
    assert report.ok
    assert "encodage Windows-1252" in report.notes[0]
    assert report.rows[0].display_name == "LEFÈVRE Éric"


def test_missing_columns_are_named(orgs):
    _, apcars = orgs
    headers = [h for h in HEADERS if h not in ("Date limite", "Autorité")]
    with pytest.raises(ImportFileError) as caught:
        importer.plan_import(importer.read_table(to_csv([referral(0)], headers=headers)), apcars)
    assert "Colonnes obligatoires absentes : « Autorité », « Date limite »" in caught.value.message


def test_oversized_empty_and_non_csv_files_are_refused(orgs):
    with pytest.raises(ImportFileError, match="20,0 Mo : la limite est de 10 Mo"):
        importer.read_table(b"Nom;Pr\xc3\xa9nom\n" + b"x" * (20 * 1024 * 1024), "liste.csv")
    with pytest.raises(ImportFileError, match="vide"):
        importer.read_table(b"  \n", "liste.csv")
    with pytest.raises(ImportFileError, match=r"\.xls \(Excel 97-2003\)"):
        importer.read_table(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500, "liste.xls")
    with pytest.raises(ImportFileError, match="n'a pas pu être lu"):
        importer.read_table(b"PK\x03\x04 not really a zip", "liste.xlsx")
    with pytest.raises(ImportFileError, match="Classeur Excel"):
        importer.read_table(b"Nom;Prenom\nMartin;Jean\n", "liste.xlsx")
    with pytest.raises(ImportFileError, match="mal formé à la ligne 3"):
        content = 'Nom;Prénom\nMartin;Jean\n"Dubois;Éric\nThomas;Loïc\n'.encode()
        importer.read_table(content, "liste.csv")
    with pytest.raises(ImportFileError, match="aucune ligne de données"):
        importer.read_table(to_csv([]), "liste.csv")


def test_too_many_rows_are_refused(orgs):
    body = "Nom;Prénom(s)\n" + "Martin;Jean\n" * (importer.MAX_ROWS + 1)
    with pytest.raises(ImportFileError, match="plus de 20\u202f000 lignes"):
        importer.read_table(body.encode(), "liste.csv")


def test_formula_injection_is_refused_in_text_cells(orgs):
    _, apcars = orgs
    rows = [
        dict(referral(0), Nom='=HYPERLINK("http://x","y")'),
        dict(referral(1), Ville="@SUM(A1:A2)"),
        dict(referral(2), Adresse="\t=1+1"),
        dict(referral(3), **{"N° de parquet": "-2+3"}),
        # A phone number or an amount with a sign is no formula.
        dict(referral(4), Téléphone="+33 1 44 32 51 51", Montant="+180"),
    ]
    report = import_bytes(to_csv(rows), apcars)
    assert [(e.line, e.column) for e in report.errors] == [
        (2, "Nom"), (3, "Ville"), (4, "Adresse"), (5, "N° de parquet"),
    ]
    assert all("interprétable comme une formule" in e.message for e in report.errors)
    assert 'HYPERLINK' not in " ".join(str(e) for e in report.errors)  # cells are not echoed
    assert [r.line for r in report.rows] == [6]
    assert count(LegalMeasure) == 0


@pytest.mark.parametrize("invisible", ["\u200b", "\ufeff", " \u200b\u2060 ", "\u00ad"])
def test_formula_behind_invisible_characters_is_refused(orgs, invisible):
    """A zero-width space or a byte order mark before « = » must not slip past the guard (the
    characters are dropped when the text is stored, and the formula would be stored with them)."""
    _, apcars = orgs
    rows = [
        dict(referral(0), Nom=invisible + '=HYPERLINK("http://x","y")'),
        dict(referral(1), Ville=invisible + "@SUM(A1:A2)"),
        dict(referral(2), Adresse="\uff1d1+1"),  # a full-width « = », folded to « = » by NFKC
        dict(referral(3), Nom=invisible + "Mercier"),
    ]
    report = import_bytes(to_csv(rows), apcars)
    assert [(e.line, e.column) for e in report.errors] == [(2, "Nom"), (3, "Ville"), (4, "Adresse")]
    assert all("interprétable comme une formule" in e.message for e in report.errors)
    assert [r.participant.surname for r in report.rows] == ["Mercier"]


def test_control_characters_and_placeholders(orgs):
    _, apcars = orgs
    rows = [
        dict(referral(0), Nom="Mar\x07tin"),
        dict(referral(1), Nom="Ber\u200bnard", Adresse="12 rue X\nBâtiment B", Téléphone="-"),
    ]
    report = import_bytes(to_csv(rows), apcars)
    assert [(e.line, e.column) for e in report.errors] == [(2, "Nom")]
    assert "caractère de contrôle" in report.errors[0].message
    person = report.rows[0].participant
    assert (person.surname, person.address) == ("Bernard", "12 rue X Bâtiment B")
    assert person.phone is None


def test_headers_are_matched_loosely_below_a_title_line(orgs):
    _, apcars = orgs
    headers = [
        "NOM", "prenom", "Date De Naissance", "Cadre juridique", "Autorité prescriptrice",
        "Numéro de parquet", "Date de la décision", "Échéance", "Montant du stage", "Colonne libre",
    ]
    keys = ["Nom", "Prénom(s)", "Date de naissance", "Cadre", "Autorité", "N° de parquet",
            "Date de décision", "Date limite", "Montant"]
    row = referral(5)
    lines = ["Orientations du parquet de Paris — janvier 2025", ";".join(headers),
             ";".join([row[k] for k in keys] + ["note"])]
    table = importer.read_table("\n".join(lines).encode(), "liste.csv")
    report = importer.plan_import(table, apcars)
    assert report.ok, report.errors
    assert any("ligne 2" in note for note in report.notes)
    assert any("« Colonne libre »" in note for note in report.notes)
    assert report.rows[0].line == 3
    assert report.rows[0].measure.authority.name == "Parquet de Paris"


def test_amounts_dates_and_authority_by_short_name(orgs):
    _, apcars = orgs
    rows = [
        dict(referral(0), Montant="180", Autorité="parquet paris"),
        dict(referral(1), Montant="65,5 €", **{"Date limite": "2025-08-01"}),
        dict(referral(2), Montant="1 500 €"),
        dict(referral(3), Montant="cent euros"),
        dict(referral(4), Autorité="APCARS"),
        dict(referral(5), Autorité="Parquet de Lyon", **{"Date de naissance": "1/2/85"}),
    ]
    report = import_bytes(to_csv(rows), apcars)
    assert [(e.line, e.column) for e in report.errors] == [
        (4, "Montant"), (5, "Montant"), (6, "Autorité"), (7, "Date de naissance"), (7, "Autorité"),
    ]
    assert "450 €" in report.errors[0].message
    assert "n'est pas une autorité prescriptrice" in report.errors[2].message
    assert "Autorité inconnue « Parquet de Lyon »" in report.errors[4].message
    fees = [r.measure.fee_cents for r in report.rows]
    assert fees == [18_000, 6_550]
    assert report.rows[1].measure.deadline == date(2025, 8, 1)


# ---------------------------------------------------------------------------------------------
# XLSX and delimiters


def xlsx_row(i: int) -> list:
    """A row as typed in Excel: real date cells, numbers where Excel makes numbers."""
    row = referral(i)
    decision = date(2025, 1, 6) + timedelta(days=i)
    return [
        row["Nom"], row["Prénom(s)"], date(1965, 1, 1) + timedelta(days=i), "Lyon",
        "3 place Bellecour",
        1000, "Bourg-en-Bresse", 612345678, row["Courriel"], row["Cadre"], "Parquet de Paris",
        int(row["N° de parquet"]), decision - timedelta(days=30), decision,
        decision + timedelta(days=180), 180, "Dispensé", "Payé", None,
    ]


def test_xlsx_with_real_date_cells(orgs):
    _, apcars = orgs
    report = import_bytes(to_xlsx([xlsx_row(i) for i in range(5)]), apcars, filename="liste.xlsx")
    assert report.ok, report.errors
    assert report.notes[0] == "Classeur XLSX, feuille « Orientations »."
    db.session.commit()
    measure = db.session.scalars(sa.select(LegalMeasure).order_by(LegalMeasure.id)).first()
    assert measure.decision_date == date(2025, 1, 6)
    assert measure.deadline == date(2025, 7, 5)
    assert measure.case_reference == "25000000000"
    assert measure.fee_cents == 18_000 and measure.payment_status == PaymentStatus.PAID
    assert measure.participant.postal_code == "01000"
    assert measure.participant.phone == "+33612345678"  # E.164, the leading 0 restored
    assert measure.participant.birth_date == date(1965, 1, 1)


def test_xlsx_formulas(orgs):
    _, apcars = orgs
    rows = [xlsx_row(i) for i in range(3)]
    rows[0][0] = '=HYPERLINK("http://x","y")'  # written by openpyxl as a real formula
    rows[1][14] = "=N3+180"  # a computed deadline, but the file was never opened in Excel
    report = import_bytes(to_xlsx(rows), apcars, filename="liste.xlsx")
    assert [(e.line, e.column) for e in report.errors] == [(2, "Nom"), (3, "Date limite")]
    assert "formule" in report.errors[0].message
    assert "résultat n'est pas enregistré" in report.errors[1].message


def test_xlsx_that_is_not_a_workbook(orgs):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    with pytest.raises(ImportFileError, match=r"\.ods"):
        importer.read_table(buffer.getvalue(), "liste.xlsx")


@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_delimiters(orgs, delimiter):
    _, apcars = orgs
    report = import_bytes(to_csv([referral(i) for i in range(3)], delimiter=delimiter), apcars)
    assert report.ok and len(report.to_create) == 3
    assert report.rows[2].participant.address == "3 rue de la République"


# ---------------------------------------------------------------------------------------------
# Volume


def test_5000_rows_import_in_a_few_seconds(orgs):
    _, apcars = orgs
    content = to_csv([referral(i) for i in range(5000)])
    started = time.perf_counter()
    table = importer.read_table(content, "liste.csv")
    # No query per row: the organizations once, import keys and people by 500 with IN (...).
    with count_queries() as planning:
        report = importer.plan_import(table, apcars)
    assert planning.count <= 25
    importer.create_from_plan(report)
    db.session.commit()
    first = time.perf_counter() - started
    assert report.created == 5000 and count(Participant) == 5000

    started = time.perf_counter()
    with count_queries() as again_queries:
        report = import_bytes(content, apcars)
    again = time.perf_counter() - started
    assert report.created == 0 and len(report.already_imported) == 5000
    assert again_queries.count <= 25
    print(f"\n5 000 lignes : import {first:.1f} s, ré-import {again:.1f} s")
    assert first < 60  # a loose guard only: the query counts above are what must not regress


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_dry_run_then_import(runner, orgs, tmp_path):
    db.session.commit()
    path = tmp_path / "orientations.csv"
    path.write_bytes(to_csv([referral(i) for i in range(4)]))

    result = runner.invoke(args=["stages", "import-referrals", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "4 lignes lues : 4 mesures à créer" in result.output
    assert "rien n'a été enregistré" in result.output
    assert count(LegalMeasure) == 0

    args = ["stages", "import-referrals", str(path), "--association", "apcars"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "4 mesures importées pour APCARS." in result.output
    assert count(LegalMeasure) == 4
    assert db.session.scalars(sa.select(AuditEntry.details).where(
        AuditEntry.action == "referrals.imported")).one().startswith("4 mesures")

    result = runner.invoke(args=["stages", "import-referrals", str(path)])
    assert result.exit_code == 0
    assert "4 déjà importées" in result.output and "Ligne 2 : déjà importée" in result.output
    assert count(LegalMeasure) == 4


def test_cli_errors_exit_non_zero_and_write_nothing(runner, orgs, make, tmp_path):
    rows = [referral(i) for i in range(3)]
    rows[1]["Date limite"] = "bientôt"
    path = tmp_path / "orientations.csv"
    path.write_bytes(to_csv(rows))
    db.session.commit()
    result = runner.invoke(args=["stages", "import-referrals", str(path)])
    assert result.exit_code == 1
    assert "Ligne 3, colonne « Date limite » : Date illisible" in result.output
    assert count(LegalMeasure) == 0

    big = tmp_path / "enorme.csv"
    big.write_bytes(b"x" * (20 * 1024 * 1024 + 1))
    result = runner.invoke(args=["stages", "import-referrals", str(big)])
    assert result.exit_code == 1 and "la limite est de 10 Mo" in result.output

    make.organization(name="Fondation Scelles", short_name="Fondation Scelles")
    db.session.commit()
    result = runner.invoke(args=["stages", "import-referrals", str(path)])
    assert result.exit_code == 1
    assert "--association (associations : APCARS, Fondation Scelles)" in result.output


# ---------------------------------------------------------------------------------------------
# Upload page


def upload(client, content: bytes, association, filename="liste.csv"):
    data = {"file": (io.BytesIO(content), filename), "association": str(association.id)}
    if len(content) < 100_000:
        return client.post("/personnes/import", data=data, content_type="multipart/form-data")
    # Werkzeug's test client spools a big multipart body to a temporary file it never closes
    # (a ResourceWarning): encode the body in memory instead.
    data["file"] = FileStorage(io.BytesIO(content), filename=filename)
    boundary, body = encode_multipart(data)
    return client.post(
        "/personnes/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )


def test_upload_preview_then_import(client, make, orgs, upload_dir):
    parquet, apcars = orgs
    make.participant(surname="MARTIN", first_names="Jean", birth_date=date(1965, 1, 1))
    login(client, make.user(Role.ORGANIZER, [apcars]))
    assert "Colonnes attendues" in client.get("/personnes/import").get_data(as_text=True)

    response = upload(client, to_csv([referral(i) for i in range(3)]), apcars)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Importer 3 mesures" in html
    assert "rattachée à une personne existante" in html
    assert "BERNARD Jean" in html and "Ordonnance pénale" not in html  # lines 2-4 only
    stored = list(upload_dir.iterdir())
    assert len(stored) == 1 and stored[0].suffix == ".csv" and stored[0].stat().st_size > 0
    assert count(LegalMeasure) == 0

    token = stored[0].stem
    response = client.post("/personnes/import/confirmer", data={"token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/")
    assert count(LegalMeasure) == 3 and count(Participant) == 3
    assert list(upload_dir.iterdir()) == []
    entry = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "referrals.imported")
    ).one()
    assert entry.details.startswith("3 mesures (1 rattachées") and entry.user_id is not None
    home = client.get("/").get_data(as_text=True)
    assert "3 mesures importées pour APCARS, dont 1 rattachée" in home

    # The same token cannot import twice.
    response = client.post("/personnes/import/confirmer", data={"token": token})
    assert response.status_code == 302 and count(LegalMeasure) == 3


def test_upload_with_errors_shows_them_and_keeps_nothing(client, make, orgs, upload_dir):
    _, apcars = orgs
    login(client, make.user(Role.ORGANIZER, [apcars]))
    rows = [referral(i) for i in range(3)]
    rows[2]["Nom"] = '=HYPERLINK("http://x","y")'
    html = upload(client, to_csv(rows), apcars).get_data(as_text=True)
    assert "Lignes à corriger" in html and "Rien n'a été importé" in html
    assert "contenu interprétable comme une formule".lower() in html.lower()
    assert "Importer" not in html.split("Lignes à corriger")[1].split("</table>")[1]
    assert not upload_dir.exists() or list(upload_dir.iterdir()) == []

    xls = b"\xd0\xcf\x11\xe0" + b"\0" * 100
    html = upload(client, xls, apcars, "liste.xls").get_data(as_text=True)
    assert "Seuls les fichiers .csv et .xlsx sont acceptés." in html
    html = upload(client, to_csv([referral(0)], headers=HEADERS[:5]), apcars).get_data(as_text=True)
    assert "Colonnes obligatoires absentes" in html


def test_upload_too_large(client, make, orgs, upload_dir):
    _, apcars = orgs
    login(client, make.user(Role.ORGANIZER, [apcars]))
    response = upload(client, b"x" * (20 * 1024 * 1024), apcars)
    assert response.status_code == 413
    assert "10 Mo au maximum" in response.get_data(as_text=True)
    # Under the request limit but over the importer's: a form error.
    html = upload(client, b"Nom;" + b"x" * (11 * 1024 * 1024), apcars).get_data(as_text=True)
    assert "la limite est de 10 Mo" in html


def test_upload_is_for_organizers_of_the_association(client, make, orgs, upload_dir):
    parquet, apcars = orgs
    other = make.organization(name="Fondation Scelles", short_name="Scelles")
    response = client.get("/personnes/import")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]
    for role, scope in ((Role.FACILITATOR, [apcars]), (Role.LIAISON, [parquet])):
        login(client, make.user(role, scope))
        assert client.get("/personnes/import").status_code == 403
        assert upload(client, to_csv([referral(0)]), apcars).status_code == 403
        client.post("/deconnexion")
    login(client, make.user(Role.ORGANIZER, [apcars]))
    html = upload(client, to_csv([referral(0)]), other).get_data(as_text=True)
    assert "Fondation Scelles" not in html  # not among the choices
    assert count(LegalMeasure) == 0


def test_stale_uploads_are_purged(client, make, orgs, upload_dir):
    _, apcars = orgs
    upload_dir.mkdir(parents=True)
    old = upload_dir / "x.csv"
    old.write_bytes(b"data")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    login(client, make.user(Role.ORGANIZER, [apcars]))
    client.get("/personnes/import")
    assert not old.exists()


# ---------------------------------------------------------------------------------------------
# Exports


def test_safe_cell_escapes_formulas_for_exports():
    assert safe_cell('=HYPERLINK("http://x","y")') == '\'=HYPERLINK("http://x","y")'
    for risky in ("+33 6", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "  =1+1"):
        assert safe_cell(risky) == "'" + risky
    for harmless in ("Dupont", "", None, 180, -5, 1.5, date(2025, 1, 1), "Jean-Pierre"):
        assert safe_cell(harmless) == harmless
    assert safe_row(["=1", "a", 2]) == ["'=1", "a", 2]
