"""« Courriers »: an association's organizers write paragraphs of its convocations around the
fixed legal core; each change is a kept version, audited, and the letter names the versions."""
import io

import pypdf
import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role
from stages.enrollment import convocation
from stages.enrollment.letter_texts import LEGAL_CORE
from stages.enrollment.models import LetterText
from stages.extensions import db
from tests.helpers import login


def text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_paragraphs_are_versioned_and_the_letter_names_the_versions(client, make):
    apcars = make.organization(name="APCARS")
    organizer = make.user(Role.ORGANIZER, [apcars])
    enrollment = make.enrollment(make.measure(handling=apcars), make.course(organizations=[apcars]))
    db.session.commit()
    assert f"Modèle : {LEGAL_CORE} ; textes de l'association : aucun." in text(convocation.convocation_pdf(enrollment))
    login(client, organizer)
    url = f"/organisations/{apcars.id}/courriers"
    client.post(url, data={"welcome": "Le stage est animé par une juriste et une ancienne victime.",
                           "practical": "Un café est offert à l'accueil.", "closing": ""})
    client.post(url, data={"welcome": "Le stage est animé par une juriste et une survivante.",
                           "practical": "Un café est offert à l'accueil.", "closing": ""})
    letter = text(convocation.convocation_pdf(db.session.get(type(enrollment), enrollment.id)))
    assert "Le stage est animé par une juriste et une survivante." in letter
    assert "ancienne victime" not in letter and "Un café est offert à l'accueil." in letter
    assert "textes de l'association : présentation du stage v2 du" in letter
    assert "informations pratiques v1 du" in letter
    versions = db.session.scalars(sa.select(LetterText.version).where(LetterText.slot == "welcome")
                                  .order_by(LetterText.version)).all()
    assert versions == [1, 2]  # the first one is kept
    details = db.session.scalars(sa.select(AuditEntry.details).where(AuditEntry.action == "letter.texts_changed")
                                 .order_by(AuditEntry.id)).all()
    assert details == ["Présentation du stage v1, Informations pratiques v1", "Présentation du stage v2"]


def test_too_long_a_paragraph_is_refused_and_nothing_saved(client, make):
    apcars = make.organization(name="APCARS")
    login(client, make.user(Role.ORGANIZER, [apcars]))
    html = client.post(f"/organisations/{apcars.id}/courriers",
                       data={"welcome": "x" * 1501, "practical": "ok", "closing": ""}).get_data(as_text=True)
    assert "Présentation du stage : 1500 caractères au plus." in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LetterText)) == 0


def test_only_the_associations_organizers_and_admins_write_its_letters(client, make):
    apcars, other = make.organization(name="APCARS"), make.organization(name="Autre")
    login(client, make.user(Role.ORGANIZER, [other]))
    assert client.get(f"/organisations/{apcars.id}/courriers").status_code == 403
    client.post("/deconnexion")
    login(client, make.user(Role.FACILITATOR, [apcars]))
    assert client.get(f"/organisations/{apcars.id}/courriers").status_code == 403
