"""The tablet's sync: marks, signatures, refusals and the countersignature sent as one batch,
applied once however often (or however concurrently) it is sent; no mark before a half-day
begins, on every path; each bad item refused with its reason, the rest applied."""
import base64
import io
import threading
import uuid
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient

from stages.attendance.models import (
    AttendanceMark,
    AttendanceRevision,
    AttendanceSignature,
    AttendanceStatus,
    AttendanceSyncReceipt,
)
from stages.auth.models import AuditEntry, Role
from stages.extensions import db
from tests.conftest import requires_postgres
from tests.factories import PASSWORD
from tests.helpers import count_queries, login

DAY = date(2026, 3, 12)  # a Thursday: 9 h 30 – 12 h 30 and 13 h 30 – 16 h 30 in Paris
BEFORE_START = datetime(2026, 3, 12, 8, 0, tzinfo=timezone.utc)  # 9 h 00 in Paris
MORNING = datetime(2026, 3, 12, 10, 0, tzinfo=timezone.utc)  # 11 h 00: the morning has begun
NEXT_DAY = datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc)


def png(width: int = 300, height: int = 100, *, mode: str = "RGBA") -> str:
    """A signature as signature_pad gives it: a PNG data URL."""
    from PIL import Image, ImageDraw

    image = Image.new(mode, (width, height))
    ImageDraw.Draw(image).line([(10, 50), (width - 10, 20)], fill="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


SIGNATURE = png()


@pytest.fixture
def day(make):
    d = type("Day", (), {})()
    d.assoc = make.organization(name="APCARS")
    d.facilitator = make.user(Role.FACILITATOR, [d.assoc])
    d.organizer = make.user(Role.ORGANIZER, [d.assoc])
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=timezone.utc), tick=False):
        d.course = make.course(organizations=[d.assoc], facilitators=[d.facilitator], day=DAY, capacity=20)
        d.other = make.course(organizations=[d.assoc], facilitators=[d.facilitator], day=date(2026, 3, 19))
        d.people = [
            make.enrollment(make.measure(participant=make.participant(surname=f"NOM{i:02d}")), d.course)
            for i in range(16)
        ]
        d.stranger = make.enrollment(make.measure(), d.other)
    d.morning, d.afternoon = d.course.parts
    db.session.commit()
    return d


def item(kind: str, part, enrollment=None, *, at: datetime = MORNING, **values) -> dict:
    data = {"id": str(uuid.uuid4()), "type": kind, "part_id": part.id, "at": at.isoformat().replace("+00:00", "Z")}
    if enrollment is not None:
        data["enrollment_id"] = enrollment.id
    if kind == "mark":
        data.update(status="present", arrived="", left="", note="")
    if kind in ("signature", "countersignature"):
        data["image"] = SIGNATURE
    data.update(values)
    return data


def send(client, day, items):
    return client.post(f"/stages/{day.course.id}/presence/synchro", json={"items": items})


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def state() -> tuple:
    """Everything a sync can write, to compare before and after a replay."""
    return (
        sorted(db.session.execute(sa.select(
            AttendanceMark.enrollment_id, AttendanceMark.part_id, AttendanceMark.status, AttendanceMark.arrived_at,
        )).tuples()),
        count(AttendanceRevision), count(AttendanceSignature), count(AttendanceSyncReceipt),
    )


def a_batch(day, people: int = 10):
    """10 marks (one late at 9 h 50, seven absent), 3 signatures and the countersignature."""
    marks = [item("mark", day.morning, e, status="absent") for e in day.people[:people]]
    marks[0].update(status="late", arrived="09:50")
    marks[1].update(status="present")
    marks[2].update(status="left_early", left="12:00")
    signatures = [item("signature", day.morning, e) for e in day.people[:3]]
    return marks + signatures + [item("countersignature", day.morning)]


def test_a_batch_applies_once_however_often_it_is_sent(client, day):
    batch = a_batch(day)
    with time_machine.travel(MORNING + timedelta(minutes=30), tick=False):
        login(client, day.facilitator)
        answer = send(client, day, batch).get_json()
        assert [r["state"] for r in answer["results"]] == ["applied"] * len(batch)
        assert answer["csrf_token"]
        after = state()
        again = send(client, day, batch).get_json()
    assert [r["state"] for r in again["results"]] == ["duplicate"] * len(batch)
    assert state() == after
    marks = {m.enrollment_id: m for m in db.session.scalars(sa.select(AttendanceMark))}
    late = marks[day.people[0].id]
    assert late.status == AttendanceStatus.LATE and late.arrived_at == datetime(2026, 3, 12, 8, 50, tzinfo=timezone.utc)
    assert late.recorded_at == MORNING
    assert len(marks) == 10 and count(AttendanceRevision) == 10 and count(AttendanceSignature) == 4
    audit = db.session.scalars(sa.select(AuditEntry.details).where(AuditEntry.action == "attendance.synced")).all()
    assert audit == ["10 présences, 3 signatures, 1 contresignature (tablette)"]


def test_identical_batches_sent_at_once_apply_once(app, day):
    """Two devices (or a double send) posting the same batch at the same moment: one applies,
    the other finds every receipt taken and writes nothing (SQLite and PostgreSQL)."""
    batch = a_batch(day)
    barrier = threading.Barrier(2, timeout=20)
    answers = []
    email, url = day.facilitator.email, f"/stages/{day.course.id}/presence/synchro"

    def post():
        client = FlaskClient(app, app.response_class, use_cookies=True)
        client.post("/connexion", data={"email": email, "password": PASSWORD})
        barrier.wait()
        response = client.post(url, json={"items": batch})
        answers.append((response.status_code, response.get_json()))

    with time_machine.travel(MORNING + timedelta(minutes=30), tick=True):
        threads = [threading.Thread(target=post) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert len(answers) == 2
    applied = [a for code, a in answers if code == 200 and {r["state"] for r in a["results"]} == {"applied"}]
    assert len(applied) == 1, answers
    for code, a in answers:
        # The loser either saw every receipt taken, or (SQLite) waited and found them: never half.
        assert code == 200 and {r["state"] for r in a["results"]} in ({"applied"}, {"duplicate"}), (code, a)
    db.session.expire_all()
    assert count(AttendanceMark) == 10 and count(AttendanceRevision) == 10 and count(AttendanceSignature) == 4


@requires_postgres
def test_concurrent_batches_of_one_half_day_chain_in_turn(app, day):
    """Two tablets signing different people of one half-day at once: the chain stays one line."""
    email, url = day.facilitator.email, f"/stages/{day.course.id}/presence/synchro"
    batches = [[item("signature", day.morning, e) for e in day.people[i:i + 4]] for i in (0, 4)]
    with time_machine.travel(MORNING + timedelta(minutes=5), tick=True):
        client = FlaskClient(app, app.response_class, use_cookies=True)
        client.post("/connexion", data={"email": email, "password": PASSWORD})
        marks = [item("mark", day.morning, e) for e in day.people[:8]]
        assert {r["state"] for r in client.post(url, json={"items": marks}).get_json()["results"]} == {"applied"}
        barrier = threading.Barrier(2, timeout=20)
        codes = []

        def sign(batch):
            other = FlaskClient(app, app.response_class, use_cookies=True)
            other.post("/connexion", data={"email": email, "password": PASSWORD})
            barrier.wait()
            codes.append(other.post(url, json={"items": batch}).status_code)

        threads = [threading.Thread(target=sign, args=(batch,)) for batch in batches]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert codes == [200, 200]
    from stages.attendance.signatures import verify_chain

    check = verify_chain(day.morning.id)
    assert check.ok and check.entries == 8


def test_no_mark_before_the_half_day_begins_on_every_path(client, day):
    a = day.people[0]
    with time_machine.travel(BEFORE_START, tick=False):
        login(client, day.organizer)
        form = client.post(f"/stages/{day.course.id}/presence/{day.morning.id}",
                           data={f"status-{a.id}": "present"}, follow_redirects=True).get_data(as_text=True)
        everyone = client.post(f"/stages/{day.course.id}/presence/{day.morning.id}",
                               data={"all_present": "1"}, follow_redirects=True).get_data(as_text=True)
        page = client.get(f"/stages/{day.course.id}/presence/{day.morning.id}").get_data(as_text=True)
        answer = send(client, day, [item("mark", day.morning, a, at=BEFORE_START)]).get_json()
    message = "Cette demi-journée n&#39;a pas commencé : la présence pourra être saisie à partir du jeudi 12 mars 2026 à 9"
    assert message in form and message in everyone and message in page
    assert answer["results"][0]["ok"] is False
    assert answer["results"][0]["reason"].startswith("Cette demi-journée n'a pas commencé")
    assert count(AttendanceMark) == 0 and count(AttendanceRevision) == 0 and count(AttendanceSyncReceipt) == 0


def test_everyone_present_marks_the_people_left_blank(client, day):
    a, b = day.people[:2]
    with time_machine.travel(MORNING, tick=False):
        login(client, day.facilitator)
        client.post(f"/stages/{day.course.id}/presence/{day.morning.id}",
                    data={"all_present": "1", f"status-{a.id}": "absent"})
    marks = dict(db.session.execute(sa.select(AttendanceMark.enrollment_id, AttendanceMark.status)).tuples().all())
    assert marks[a.id] == AttendanceStatus.ABSENT and marks[b.id] == AttendanceStatus.PRESENT
    assert len(marks) == 16


def test_each_bad_item_is_refused_with_its_reason_and_the_rest_applied(client, day, make):
    from PIL import Image

    huge = io.BytesIO()
    Image.new("1", (20000, 20000)).save(huge, format="PNG")  # a few KB claiming 400 megapixels
    a, b = day.people[:2]
    items = [
        item("mark", day.morning, a),  # good
        item("mark", day.morning, day.stranger),
        item("mark", day.other.parts[0], a),
        item("mark", day.afternoon, a),  # the afternoon has not begun
        item("mark", day.morning, b, status="late"),  # no arrival time
        item("mark", day.morning, b, status="teleported"),
        item("signature", day.morning, a, image="data:image/png;base64,bm90IGEgcG5n"),
        item("signature", day.morning, a, image="data:image/svg+xml;base64,PHN2Zz4="),
        item("signature", day.morning, a, image="data:image/png;base64," + base64.b64encode(huge.getvalue()).decode()),
        item("signature", day.morning, a, image=png(1200, 400) + "A" * 300_000),
        item("signature", day.morning, b),  # b is not marked present
        {"id": "not-a-uuid", "type": "mark", "part_id": day.morning.id, "enrollment_id": a.id, "at": "2026-03-12T10:00:00Z"},
        item("mark", day.morning, b, at=MORNING + timedelta(days=1)),  # a clock far ahead
        item("signature", day.morning, a),  # good: a is marked present by the first item
    ]
    with time_machine.travel(MORNING, tick=False):
        login(client, day.facilitator)
        results = send(client, day, items).get_json()["results"]
    reasons = [r.get("reason") for r in results]
    assert [r["ok"] for r in results] == [True] + [False] * 12 + [True]
    assert reasons[1:13] == [
        "Cette personne n'est pas inscrite à ce stage.",
        "Cette demi-journée n'appartient pas à ce stage.",
        reasons[3],
        "Indiquez l'heure d'arrivée des personnes en retard.",
        "Statut de présence inconnu.",
        "La signature doit être une image PNG.",
        "La signature doit être une image PNG.",
        "La signature a des dimensions hors limites (2000 × 1000 au plus).",
        "La signature dépasse la taille permise (200 Ko).",
        "Seules les personnes présentes, en retard ou parties plus tôt signent la feuille.",
        "Identifiant de modification invalide.",
        "L'horloge de l'appareil est en avance : réglez l'heure de la tablette.",
    ]
    assert reasons[3].startswith("Cette demi-journée n'a pas commencé")
    assert count(AttendanceMark) == 1 and count(AttendanceRevision) == 1 and count(AttendanceSignature) == 1


def test_last_writer_wins_by_the_devices_clock_and_both_stay_in_the_revisions(client, day):
    a = day.people[0]
    with time_machine.travel(MORNING + timedelta(minutes=20), tick=False):
        login(client, day.organizer)
        # Online, at 11 h 20, someone marks a present…
        client.post(f"/stages/{day.course.id}/presence/{day.morning.id}", data={f"status-{a.id}": "present"})
        # …while an offline tablet had marked a absent at 11 h 10: it syncs later, and loses.
        older = send(client, day, [item("mark", day.morning, a, status="absent", at=MORNING + timedelta(minutes=10))])
        assert older.get_json()["results"][0]["state"] == "superseded"
        mark = db.session.scalar(sa.select(AttendanceMark))
        assert mark.status == AttendanceStatus.PRESENT
        # A tablet's later choice (11 h 25, sent with a clock a little ahead) wins.
        newer = send(client, day, [item("mark", day.morning, a, status="excused", at=MORNING + timedelta(minutes=25))])
        assert newer.get_json()["results"][0]["state"] == "applied"
    db.session.expire_all()
    assert db.session.scalar(sa.select(AttendanceMark)).status == AttendanceStatus.EXCUSED
    revisions = db.session.scalars(sa.select(AttendanceRevision.status).order_by(AttendanceRevision.id)).all()
    assert revisions == [AttendanceStatus.PRESENT, AttendanceStatus.ABSENT, AttendanceStatus.EXCUSED]


def test_after_the_countersignature_no_signature_is_taken(client, day):
    a, b = day.people[:2]
    with time_machine.travel(MORNING, tick=False):
        login(client, day.facilitator)
        send(client, day, [item("mark", day.morning, e) for e in (a, b)] + [item("signature", day.morning, a),
                                                                         item("countersignature", day.morning)])
        late = send(client, day, [item("signature", day.morning, b), item("refusal", day.morning, b),
                                  item("countersignature", day.morning)]).get_json()["results"]
    assert {r["reason"] for r in late} == {
        "La demi-journée est déjà contresignée : les signatures ne peuvent plus être modifiées."
    }
    # Marks may still be corrected: they are revisions, and the seal's record says what was sealed.
    assert count(AttendanceSignature) == 2


def test_the_sync_needs_a_login_and_answers_json(client, day):
    with time_machine.travel(MORNING, tick=False):
        response = send(client, day, a_batch(day))
        assert response.status_code == 401
        assert response.get_json()["error"] == "login" and "reconnectez-vous" in response.get_json()["message"]
        login(client, day.facilitator)
        unreadable = client.post(f"/stages/{day.course.id}/presence/synchro", json={"items": "x"})
    assert unreadable.status_code == 400 and unreadable.get_json()["message"] == "Le lot envoyé est illisible."


def test_the_sync_needs_a_csrf_token_that_the_token_endpoint_renews(client, day, csrf_enabled):
    import re

    with time_machine.travel(MORNING, tick=False):
        page = client.get("/connexion").get_data(as_text=True)
        login_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        client.post("/connexion", data={"email": day.facilitator.email, "password": PASSWORD, "csrf_token": login_token})
        refused = send(client, day, [item("mark", day.morning, day.people[0])])
        assert refused.status_code == 400 and refused.get_json()["error"] == "csrf"
        token = client.get(f"/stages/{day.course.id}/presence/jeton",
                           headers={"Accept": "application/json"}).get_json()["csrf_token"]
        accepted = client.post(f"/stages/{day.course.id}/presence/synchro",
                               json={"items": [item("mark", day.morning, day.people[0])]},
                               headers={"X-CSRFToken": token})
    assert accepted.status_code == 200 and accepted.get_json()["results"][0]["state"] == "applied"


def test_the_sync_is_scoped_like_the_attendance_form(client, day, make):
    outsider = make.user(Role.FACILITATOR, [make.organization(name="Autre")])
    with time_machine.travel(MORNING, tick=False):
        login(client, outsider)
        response = send(client, day, [item("mark", day.morning, day.people[0])])
    assert response.status_code == 403 and response.get_json()["error"] == "403"
    assert count(AttendanceMark) == 0


def test_a_batch_costs_the_same_statements_for_4_or_12_people(client, day):
    at = datetime(2026, 3, 12, 15, 0, tzinfo=timezone.utc)

    def statements(part, people):
        batch = [item("mark", part, e, at=at) for e in people] + [item("signature", part, e, at=at) for e in people]
        with count_queries() as counter:
            response = send(client, day, batch + [item("countersignature", part, at=at)])
        assert {r["state"] for r in response.get_json()["results"]} == {"applied"}
        return counter.count

    with time_machine.travel(at, tick=False):
        login(client, day.facilitator)
        client.get(f"/stages/{day.course.id}/presence/{day.morning.id}")  # the login's first request
        few = statements(day.morning, day.people[:4])
        many = statements(day.afternoon, day.people[4:])
    assert few == many


def test_form_save_of_16_people_costs_what_3_cost(client, day):
    def statements(people, status):
        data = {f"status-{e.id}": status for e in people}
        with count_queries() as counter:
            assert client.post(f"/stages/{day.course.id}/presence/{day.morning.id}", data=data).status_code == 302
        return counter.count

    with time_machine.travel(MORNING, tick=False):
        login(client, day.facilitator)
        assert statements(day.people[:3], "present") == statements(day.people, "absent")


def test_times_only_go_with_their_status(client, day):
    a = day.people[0]
    with time_machine.travel(MORNING, tick=False):
        login(client, day.facilitator)
        send(client, day, [item("mark", day.morning, a, status="present", arrived="09:50", left="12:00")])
    mark = db.session.scalar(sa.select(AttendanceMark))
    assert mark.arrived_at is None and mark.left_at is None


def test_what_was_recorded_on_the_day_syncs_the_next_morning_and_nothing_made_after(client, day):
    """A tablet offline all day sends its queue the next morning: judged by when each item was
    made. Made the day after, it is a correction: the form, with its reason."""
    a, b = day.people[:2]
    with time_machine.travel(NEXT_DAY, tick=False):
        login(client, day.facilitator)
        on_the_day = send(client, day, [item("mark", day.morning, a), item("signature", day.morning, a)])
        after = send(client, day, [item("mark", day.morning, b, at=NEXT_DAY),
                                   item("signature", day.morning, a, at=NEXT_DAY)])
    assert [r["state"] for r in on_the_day.get_json()["results"]] == ["applied", "applied"]
    reasons = {r["reason"] for r in after.get_json()["results"]}
    assert len(reasons) == 1 and reasons.pop().startswith("Cette demi-journée est passée")
    client.post("/deconnexion")
    with time_machine.travel(NEXT_DAY, tick=False):
        login(client, day.organizer)
        organizer = send(client, day, [item("mark", day.morning, b, at=NEXT_DAY)]).get_json()["results"][0]
    assert organizer["reason"].startswith("Après le jour de la demi-journée, la présence se corrige")


def test_the_day_of_the_course_keeps_its_times(day):
    assert [p.starts_at.time() for p in day.course.parts] == [time(8, 30), time(12, 30)]
