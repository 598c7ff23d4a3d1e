"""« Paramètres » of an organization: validated, audited, and used by the next document or
measure (an association's letterhead, signatory and fee per frame; an authority's deadline)."""
import io

import sqlalchemy as sa

from stages.auth.models import AuditEntry, Role
from stages.enrollment import settings
from stages.enrollment.models import AssociationSettings, LegalFrame
from stages.extensions import db
from tests.helpers import login


def png_bytes(size=(120, 60), fmt="PNG") -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, "navy").save(buffer, format=fmt)
    return buffer.getvalue()


def url(org) -> str:
    return f"/organisations/{org.id}/parametres"


def test_an_admin_sets_an_associations_documents_and_fees(client, make):
    apcars = make.organization(name="APCARS")
    login(client, make.user(Role.ADMIN))
    response = client.post(url(apcars), data={
        "letterhead": "Association loi 1901 — SIRET 123 456 789 00012",
        "signatory_name": "Claire Dupuis", "signatory_title": "Directrice",
        "payment_instructions": "Chèque à l'ordre de l'APCARS, à apporter le jour du stage.",
        f"fee-{LegalFrame.COMPOSITION_PENALE.value}": "180",
        f"fee-{LegalFrame.ALTERNATIVE_POURSUITES.value}": "150,50",
        "logo": (io.BytesIO(png_bytes()), "logo.png"),
    }, content_type="multipart/form-data", follow_redirects=True)
    assert "Paramètres enregistrés" in response.get_data(as_text=True)
    row = db.session.get(AssociationSettings, apcars.id)
    assert (row.signatory_name, row.signatory_title) == ("Claire Dupuis", "Directrice")
    assert row.logo_sha256 and settings.letterhead(apcars).logo.startswith(b"\x89PNG")
    assert settings.default_fee(apcars, LegalFrame.COMPOSITION_PENALE) == 18000
    assert settings.default_fee(apcars, LegalFrame.ALTERNATIVE_POURSUITES) == 15050
    entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "organization.settings_changed"))
    assert "Nom de la personne signataire" in entry.details and "Logo" in entry.details


def test_bad_settings_are_refused_in_french_and_nothing_is_saved(client, make):
    apcars = make.organization(name="APCARS")
    login(client, make.user(Role.ADMIN))
    for data, message in (
        ({f"fee-{LegalFrame.COMPOSITION_PENALE.value}": "500"}, "le montant est compris entre 0 et 450 €"),
        ({f"fee-{LegalFrame.COMPOSITION_PENALE.value}": "cent"}, "indiquez un nombre"),
        ({"logo": (io.BytesIO(b"GIF89a not a logo"), "logo.gif")}, "Le logo est illisible"),
        ({"logo": (io.BytesIO(png_bytes((3000, 100))), "big.png")}, "Le logo dépasse 2000 pixels"),
        ({"signatory_name": "x" * 121}, "Nom de la personne signataire : 120 caractères au plus."),
    ):
        html = client.post(url(apcars), data={"signatory_name": "Claire", **data},
                           content_type="multipart/form-data").get_data(as_text=True)
        assert message in html.replace("&#39;", "'"), message
    assert db.session.get(AssociationSettings, apcars.id) is None
    assert settings.frame_defaults(apcars) == []


def test_an_authoritys_usual_deadline_per_frame(client, make):
    from datetime import date

    parquet = make.authority(name="Parquet de Strasbourg")
    parquet.address = "1 quai Finkmatt, 67000 Strasbourg"
    paris = make.authority(name="Parquet de Paris")
    paris.address = "Parvis du Tribunal de Paris, 75017 Paris"
    login(client, make.user(Role.ADMIN))
    for court in (parquet, paris):
        client.post(url(court), data={f"days-{LegalFrame.COMPOSITION_PENALE.value}": "120",
                                      f"fee-{LegalFrame.COMPOSITION_PENALE.value}": "99"})
    assert settings.default_deadline(parquet, LegalFrame.COMPOSITION_PENALE, date(2026, 3, 1)) == date(2026, 6, 29)
    # 120 days after 26 November 2026: Good Friday 2027, a holiday in Alsace (and Easter Monday
    # after it), a working day in Paris.
    assert settings.default_deadline(paris, LegalFrame.COMPOSITION_PENALE, date(2026, 11, 26)) == date(2027, 3, 26)
    assert settings.default_deadline(parquet, LegalFrame.COMPOSITION_PENALE, date(2026, 11, 26)) == date(2027, 3, 30)
    assert settings.default_fee(parquet, LegalFrame.COMPOSITION_PENALE) is None  # not an association's
    assert "Délai habituel par cadre" in client.get(url(parquet)).get_data(as_text=True)


def test_only_admins_open_the_settings(client, make):
    apcars = make.organization(name="APCARS")
    login(client, make.user(Role.ORGANIZER, [apcars]))
    assert client.get(url(apcars)).status_code == 403


def test_a_change_shows_on_the_next_convocation_and_attestation(client, make):
    """Set on « Paramètres », used by the documents produced afterwards (an attestation already
    issued keeps its bytes)."""
    from datetime import date, datetime, timezone

    import pypdf
    import time_machine

    from stages.certificates import document, issuing
    from stages.enrollment import convocation
    from stages.enrollment.models import Payer

    apcars = make.organization(name="APCARS", email="stages@apcars.test")
    admin = make.user(Role.ADMIN)
    course = make.course(organizations=[apcars], day=date(2026, 3, 16))
    measure = make.measure(handling=apcars, fee_cents=18000, payer=Payer.PARTICIPANT)
    enrollment = make.enrollment(measure, course)
    db.session.commit()

    def text(pdf):
        reader = pypdf.PdfReader(io.BytesIO(pdf))
        return " ".join(" ".join(page.extract_text() for page in reader.pages).split()), reader

    before, _ = text(convocation.convocation_pdf(enrollment))
    assert "le service des stages" in before and "Claire Dupuis" not in before
    login(client, admin)
    client.post(url(apcars), data={
        "signatory_name": "Claire Dupuis", "signatory_title": "Directrice",
        "letterhead": "Association loi 1901 agréée", "payment_instructions": "chèque à l'ordre de l'APCARS.",
        "logo": (io.BytesIO(png_bytes()), "logo.png"),
    }, content_type="multipart/form-data")
    after, reader = text(convocation.convocation_pdf(db.session.get(type(enrollment), enrollment.id)))
    assert "Claire Dupuis Directrice" in after and "Association loi 1901 agréée" in after
    assert "modalités de paiement : chèque à l'ordre de l'APCARS." in after
    assert len(reader.pages[0].images) == 2  # the logo, and the confirmation page's QR code
    # The attestation issued after the change is signed by the association's signatory.
    course, enrollments = make.closed_course_with(people=1, organizations=[apcars], handling=apcars,
                                                  day=date(2026, 3, 16))
    db.session.commit()
    with time_machine.travel(datetime(2026, 3, 20, 10, 0, tzinfo=timezone.utc), tick=False):
        certificate = issuing.issue_for_course(course, by=make.user(Role.ORGANIZER, [apcars]))[0]
    attestation, _ = text(document.certificate_pdf(certificate))
    assert "Claire Dupuis, Directrice" in attestation


def test_a_new_measure_takes_the_association_fee_and_the_authority_deadline(client, make):
    from datetime import date, timedelta

    from stages.enrollment.models import LegalMeasure
    from stages.timeutil import today_local

    apcars = make.organization(name="APCARS")
    parquet = make.authority(name="Parquet de Colmar")
    login(client, make.user(Role.ADMIN))
    client.post(url(apcars), data={f"fee-{LegalFrame.COMPOSITION_PENALE.value}": "165"})
    client.post(url(parquet), data={f"days-{LegalFrame.COMPOSITION_PENALE.value}": "120"})
    client.post("/deconnexion")
    login(client, make.user(Role.ORGANIZER, [apcars]))
    decision = today_local() - timedelta(days=10)
    response = client.post("/personnes/nouvelle", data={
        "surname": "Martin", "first_names": "Paul", "birth_date": "1975-04-02", "birth_place": "Lyon",
        "address": "", "postal_code": "", "city": "", "phone": "", "email": "",
        "frame": "composition_penale", "authority": str(parquet.id), "handling_organization": str(apcars.id),
        "case_reference": "26000111", "facts_date": "", "decision_date": decision.isoformat(),
        "final_date": "", "deadline": "", "fee": "", "payer": "participant", "payment_status": "due",
        "certificate_recipient": "",
    })
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    measure = db.session.scalar(sa.select(LegalMeasure))
    assert measure.fee_cents == 16500 and measure.deadline == decision + timedelta(days=120)
    assert isinstance(measure.deadline, date)
