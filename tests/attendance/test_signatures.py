"""The émargement électronique's chain: immutable in the database, sealed by the
countersignature, voided only by an organizer with a reason, verifiable, erased at retention."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from stages.attendance import signatures
from stages.attendance.models import AttendanceSignature, SignatureKind
from stages.auth.models import AuditEntry, Role
from stages.errors import DomainError
from stages.extensions import db
from stages.timeutil import now_utc
from tests.attendance.test_sync import MORNING, NEXT_DAY, item, png, send
from tests.attendance.test_sync import day as day  # noqa: F401 (the fixture)
from tests.helpers import login


@pytest.fixture
def sealed(client, day):
    """The morning: 3 people marked present, 2 signed, 1 refused, the facilitator countersigned."""
    a, b, c = day.people[:3]
    with time_machine.travel(MORNING, tick=False):
        login(client, day.facilitator)
        batch = [item("mark", day.morning, e) for e in (a, b, c)] + [
            item("signature", day.morning, a, image=png(300, 100)), item("signature", day.morning, b, image=png(320, 110)),
            item("refusal", day.morning, c), item("countersignature", day.morning, image=png(400, 120)),
        ]
        assert {r["state"] for r in send(client, day, batch).get_json()["results"]} == {"applied"}
    db.session.expire_all()
    return day


def entries(part):
    return db.session.scalars(
        sa.select(AttendanceSignature).where(AttendanceSignature.part_id == part.id).order_by(AttendanceSignature.seq)
    ).all()


def test_the_chain_verifies_and_names_each_entry(sealed):
    chain = entries(sealed.morning)
    assert [e.kind for e in chain] == [
        SignatureKind.SIGNATURE, SignatureKind.SIGNATURE, SignatureKind.REFUSAL, SignatureKind.COUNTERSIGNATURE,
    ]
    assert chain[0].previous_hash == signatures.genesis(sealed.morning.id)
    assert all(later.previous_hash == earlier.chain_hash for earlier, later in zip(chain, chain[1:]))
    assert chain[-1].record_sha256 and chain[-1].recorded_by_id == sealed.facilitator.id
    check = signatures.verify_chain(sealed.morning.id)
    assert check.ok and check.entries == 4 and check.head == chain[-1].chain_hash


@pytest.mark.parametrize("column, value", [
    ("image", b"\x89PNG\r\n\x1a\nforged"), ("enrollment_id", None), ("signed_at", "2026-03-12 07:00:00"),
    ("chain_hash", "0" * 64), ("erased_at", "2026-03-12 07:00:00"),
])
def test_the_database_refuses_to_rewrite_a_signature(sealed, column, value):
    entry = entries(sealed.morning)[0]
    with pytest.raises(sa.exc.DatabaseError, match="never rewritten"):
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE attendance_signatures SET {column} = :v WHERE id = :id"),
                         {"v": value, "id": entry.id})


def test_the_database_refuses_a_signature_after_the_countersignature(sealed):
    head = entries(sealed.morning)[-1]
    row = signatures.new_row(client_id=str(uuid.uuid4()), kind=SignatureKind.REFUSAL, signed_at=MORNING,
                             by=sealed.facilitator, user_agent="", enrollment_id=sealed.people[5].id)
    row.update(part_id=sealed.morning.id, seq=head.seq + 1, previous_hash=head.chain_hash, chain_hash="f" * 64)
    with pytest.raises(sa.exc.DatabaseError, match="countersigned"):
        with db.engine.begin() as conn:
            conn.execute(sa.insert(AttendanceSignature), [row])


def test_voiding_needs_an_organizer_and_a_reason(client, sealed):
    entry = entries(sealed.morning)[1]
    url = f"/stages/{sealed.course.id}/presence/{sealed.morning.id}/signatures"
    with time_machine.travel(MORNING + timedelta(minutes=10), tick=False):
        login(client, sealed.facilitator)
        page = client.get(url).get_data(as_text=True)
        assert "Chaîne d'intégrité vérifiée : 4 entrées" in page and "NOM01" in page and "Motif" not in page
        with pytest.raises(DomainError, match="Seule une personne organisatrice"):
            signatures.void(db.session.get(AttendanceSignature, entry.id), "Erreur", by=sealed.facilitator,
                            client_id=str(uuid.uuid4()))
        db.session.rollback()
        assert client.post(url, data={"entry": entry.id, "reason": "Erreur"}, follow_redirects=True).status_code == 200
        assert len(entries(sealed.morning)) == 4
        client.post("/deconnexion")
        login(client, sealed.organizer)
        blank = client.post(url, data={"entry": entry.id, "reason": "  "}, follow_redirects=True).get_data(as_text=True)
        assert "Indiquez le motif de l&#39;annulation." in blank
        done = client.post(url, data={"entry": entry.id, "reason": "Signature de la mauvaise personne"},
                           follow_redirects=True).get_data(as_text=True)
    assert "La signature est annulée" in done and "Annulée" in done
    chain = entries(sealed.morning)
    assert chain[-1].kind == SignatureKind.VOID and chain[-1].voids_id == entry.id
    assert chain[-1].reason == "Signature de la mauvaise personne"
    assert signatures.verify_chain(sealed.morning.id).ok
    assert db.session.scalar(sa.select(AuditEntry.details).where(AuditEntry.action == "attendance.signature_voided")) \
        == "Signature n° 2 — Signature de la mauvaise personne"
    sheet = signatures.sheets([sealed.morning.id])[sealed.morning.id]
    assert set(sheet.live) == {sealed.people[0].id, sealed.people[2].id}


def test_voiding_the_countersignature_reopens_the_half_day(client, sealed):
    seal = entries(sealed.morning)[-1]
    with time_machine.travel(MORNING + timedelta(minutes=10), tick=False):
        signatures.void(seal, "Contresignée trop tôt", by=sealed.organizer, client_id=str(uuid.uuid4()))
        db.session.commit()
        d = sealed.people[3]
        results = send(client, sealed, [item("mark", sealed.morning, d), item("signature", sealed.morning, d),
                                        item("countersignature", sealed.morning)]).get_json()["results"]
    assert {r["state"] for r in results} == {"applied"}
    assert signatures.verify_chain(sealed.morning.id).ok


def test_a_removed_entry_breaks_the_chain(sealed):
    chain = entries(sealed.morning)
    with db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM attendance_signatures WHERE id = :id"), {"id": chain[1].id})
    check = signatures.verify_chain(sealed.morning.id)
    assert not check.ok and check.broken_at == 3


def test_retention_erases_the_drawings_and_the_chain_still_verifies(sealed):
    enrollment_ids = sa.select(sa.literal(sealed.people[0].id))
    signatures.erase_images(enrollment_ids, now_utc())
    db.session.commit()
    first = entries(sealed.morning)[0]
    assert first.image is None and first.erased_at is not None and first.image_sha256
    assert signatures.verify_chain(sealed.morning.id).ok


def test_the_signatures_page_is_for_the_course_staff(client, make, sealed):
    url = f"/stages/{sealed.course.id}/presence/{sealed.morning.id}/signatures"
    login(client, make.user(Role.FACILITATOR, [make.organization(name="Autre")]))
    assert client.get(url).status_code == 403
    client.post("/deconnexion")
    with time_machine.travel(NEXT_DAY, tick=False):
        login(client, sealed.organizer)
        assert client.get(url).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "signatures.viewed")) == 1


def test_sealing_records_the_marks(sealed):
    from stages.attendance.models import AttendanceMark

    marks = db.session.execute(sa.select(
        AttendanceMark.enrollment_id, AttendanceMark.status, AttendanceMark.arrived_at, AttendanceMark.left_at,
    ).where(AttendanceMark.part_id == sealed.morning.id)).tuples().all()
    assert entries(sealed.morning)[-1].record_sha256 == signatures.record_digest(marks)
    assert now_utc() > datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_the_sign_in_sheet_shows_the_signatures_and_the_record_hash(client, sealed):
    import io

    from pypdf import PdfReader

    url = f"/stages/{sealed.course.id}/emargement.pdf"
    with time_machine.travel(MORNING + timedelta(minutes=10), tick=False):
        signed = client.get(url)
        blank = client.get(url + "?vierge=1")
    pages = PdfReader(io.BytesIO(signed.data)).pages
    text = "".join(page.extract_text() for page in pages)
    seal = entries(sealed.morning)[-1]
    # Two drawn signatures and the countersignature, as images in their cells (three drawings).
    assert sum(len(page.images) for page in pages) == 3
    assert seal.chain_hash in text.replace("\n", "")
    assert "Refus de signer" in text and "Chaîne d'intégrité vérifiée" in text
    assert "Contresignée par" in text and sealed.facilitator.full_name in text
    paper = PdfReader(io.BytesIO(blank.data)).pages[0]
    assert len(paper.images) == 0 and seal.chain_hash not in paper.extract_text()
    assert blank.headers["Content-Disposition"].endswith('-vierge.pdf"')
