"""The convocation in the person's language, after the French: the PDF (Arabic shaped and set
right to left, Romanian with its letters), the email, and what stays French."""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from stages.auth.models import Role
from stages.enrollment import convocation
from stages.enrollment.convocation.translation import convocation_translation
from stages.enrollment.letter_texts import save_texts
from stages.enrollment.models import EnrollmentStatus, LegalFrame
from stages.extensions import db
from stages.mail import outbox
from tests.helpers import pdftotext as extracted_text

SESSION_DAY = date(2026, 3, 12)  # a Thursday
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots" / "convocations"


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    outbox().clear()
    yield
    outbox().clear()


@pytest.fixture
def enrolled(make):
    """A person summoned to a one-day course at the MJD, speaking ``language``."""
    org = make.organization(name="APCARS", email="stages@apcars.test", phone="01 23 45 67 89")
    venue = make.venue(name="MJD du 17e", address="16 rue Jacques Kellner", postal_code="75017",
                       city="Paris", access_instructions="Métro Guy Môquet (ligne 13).")
    course = make.course(venue, [org], day=SESSION_DAY)

    def build(language, frame=LegalFrame.COMPOSITION_PENALE, **measure_kw):
        person = make.participant(surname="HADDAD", first_names="Karim", language=language,
                                  email="karim.haddad@example.org")
        measure = make.measure(person, handling=org, frame=frame, case_reference="PQ-2026-0042",
                               decision_date=date(2026, 1, 10), deadline=date(2026, 7, 10),
                               **measure_kw)
        return make.enrollment(measure, course, status=EnrollmentStatus.ENROLLED)

    return build


def pdftotext(pdf: bytes) -> str:
    """The PDF's text as poppler reads it, Arabic presentation forms back to letters (NFKC),
    whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", extracted_text(pdf)).split())


def test_a_french_speaker_gets_the_french_letter_alone(enrolled):
    enrollment = enrolled("fr")
    assert convocation_translation(enrollment) is None
    text = pdftotext(convocation.convocation_pdf(enrollment))
    assert "Traduction" not in text and "fait foi" not in text


def test_a_language_without_a_catalog_gets_the_french_letter_alone(enrolled):
    assert convocation_translation(enrolled("ta")) is None


def test_the_romanian_letter_follows_the_french_that_alone_has_legal_force(enrolled):
    pdf = convocation.convocation_pdf(enrolled("ro"))
    text = pdftotext(pdf)
    french_end = text.index("Une traduction en roumain suit cette convocation, pour information : "
                            "seule la version française fait foi.")
    translation = text.index("Traducerea citației dumneavoastră (Română)")
    assert french_end < translation
    assert "Objet : convocation" in text[:translation]  # the French letter comes first, whole
    # The translation says the same things, in Romanian, in reading order, with its letters.
    for words in [
        "Numai versiunea în limba franceză a citației face credință.",
        "Persoana convocată: HADDAD Karim",
        "joi, 12 martie 2026, de la 9:30 la 12:30 și de la 13:30 la 16:30",
        "Compoziție penală (composition pénale, art. 41-2 CPP)",
        "Odată executată, compoziția penală se înscrie în buletinul nr. 1 al cazierului judiciar",
        "Compoziția penală nefiind executată, procurorul Republicii",
        "nu amână termenul-limită de efectuare a stagiului (vineri, 10 iulie 2026)",
    ]:
        assert words in text[translation:], words


def test_the_arabic_letter_is_shaped_and_reads_right_to_left(enrolled):
    pdf = convocation.convocation_pdf(enrolled("ar", frame=LegalFrame.SURSIS_PROBATOIRE))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "convocation-ar.pdf").write_bytes(pdf)
    raw = extracted_text(pdf)
    # Shaped: the letters are drawn in their joined forms (Arabic Presentation Forms-B).
    assert any("\ufe70" <= ch <= "\ufefc" for ch in raw)
    text = pdftotext(pdf)
    translation = text.index("ترجمة استدعائكم")
    assert text.index("Une traduction en arabe suit cette convocation") < translation
    for words in [
        "النسخة الفرنسية من الاستدعاء هي وحدها المعتمدة قانونا",
        "الشخص المستدعى",
        "وقف التنفيذ مع الوضع تحت الاختبار",
        "يجوز عندئذ لقاضي تطبيق العقوبات أن يلغي وقف التنفيذ",
        "السجل العدلي",
        "HADDAD Karim",
        "PQ-2026-0042",
    ]:
        assert unicodedata.normalize("NFKC", words) in text[translation:], words


def test_every_frame_and_fee_reads_translated(enrolled, make):
    """No French legal text left in a translation: each frame's texts have their catalog entry."""
    for frame in LegalFrame:
        kw = {"penalty_set_in_advance": False} if frame == LegalFrame.PEINE_STAGE else {}
        translation = convocation_translation(enrolled("en", frame=frame, fee_cents=12000, **kw))
        body = "\n".join(p for _, ps in translation.sections for p in ps)
        body = body.replace("peine de stage", "").replace("n° de parquet", "")
        for french in ("casier", "procureur", "stage", "Madame", "vous"):
            assert not re.search(rf"\b{french}\b", body), (frame, french)
        assert "€120.00" in body


def test_an_association_s_own_paragraphs_stay_french_and_the_translation_says_so(enrolled, make):
    enrollment = enrolled("es")
    organizer = make.user(Role.ORGANIZER, [enrollment.measure.handling_organization])
    save_texts(enrollment.measure.handling_organization,
               {"practical": "Un café est offert à 9 h."}, by=organizer)
    db.session.flush()
    text = pdftotext(convocation.convocation_pdf(enrollment))
    translation = text.index("Traducción de su citación")
    assert "Un café est offert à 9 h." in text[:translation]
    assert "Un café" not in text[translation:]
    assert "párrafos redactados solo en francés (Información práctica)" in text[translation:]


def test_the_convocation_email_adds_the_translation_after_the_french(enrolled, app):
    enrollment = enrolled("pt")
    message = convocation.convocation_email(enrollment, b"%PDF-")
    body = message.get_body(("plain",)).get_content()
    french = body.index("Vous trouverez ci-joint votre convocation")
    notice = body.index("Traduction pour information — seule la version française fait foi.")
    assert french < notice
    assert body.index("Só a versão francesa da convocatória faz fé.") > notice
    assert "- quinta-feira, 12 de março de 2026, das 9:30 às 12:30 e das 13:30 às 16:30" in body
    assert "Convocation" in message["Subject"] and "HADDAD" not in message["Subject"]
