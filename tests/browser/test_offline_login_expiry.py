"""A login that expires while the tablet is offline loses nothing (issue 15), in Chromium.

The facilitator prepares the day, opens the attendance of a half-day that has begun and loses
the network (the page's, by DevTools emulation, and the service worker's, through the ``Gate``
relay of ``test_offline_attendance``). Five people are marked (one late, with an arrival time)
and two sign on the screen. Meanwhile, on the server, the facilitator's login reaches its end
(its ``LoginSession`` row is past ``expires_at``, as after ``SESSION_LIFETIME``: the cookies stay,
the server no longer honours them), and an organizer marks one of the two signers absent.

The network comes back: the sync is refused with a 401, the page says « Connexion expirée » with
a link to log in again, and the queue stays whole on the device (the database has none of it).
The person follows the link, logs in, and lands back on the attendance page, which sends the
queue with the token of the new page. The database then holds exactly those marks, revisions and
the one valid signature: the other signature is refused (its signer is absent by the organizer's
later choice), shown with its French reason, and has left the queue.

No retry anywhere: each wait has an explicit condition and a timeout, and fails the test.
"""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from stages.attendance import services
from stages.attendance.models import (
    AttendanceMark,
    AttendanceRevision,
    AttendanceSignature,
    AttendanceStatus,
    AttendanceSyncReceipt,
    SignatureKind,
)
from stages.attendance.signatures import verify_chain
from stages.auth.models import LoginSession, Role, User
from stages.extensions import db
from stages.scheduling.models import CoursePart
from stages.timeutil import hhmm, now_utc
from tests.browser.conftest import MISSING, SKIP_REASON
from tests.browser.test_offline_attendance import (
    SYNC_TIMEOUT,
    Gate,
    counts,
    pending_text,
    queued_items,
    refresh,
    row,
    set_network,
    sign,
    tap,
    wait_for,
)
from tests.factories import PASSWORD

if MISSING:
    pytest.skip(SKIP_REASON, allow_module_level=True)

SURNAMES = ("ARNAUD", "BERNARD", "CARON", "DUBOIS", "ESTEVE")
ONLY_PRESENT_SIGN = "Seules les personnes présentes, en retard ou parties plus tôt signent la feuille."

# Every sync POST of the pages that follow, with the CSRF token it carried and the answer's
# status (installed before any script of a new document runs: the page syncs as it opens).
RECORD_SYNC_POSTS = """
(() => {
  const original = window.fetch;
  window.__syncPosts = [];
  window.fetch = function (url, options) {
    const answer = original.apply(this, arguments);
    if (options && options.method === "POST" && String(url).endsWith("/presence/synchro")) {
      const token = (options.headers || {})["X-CSRFToken"];
      answer.then((r) => window.__syncPosts.push({token, status: r.status}),
                  () => window.__syncPosts.push({token, status: 0}));
    }
    return answer;
  };
})();
"""


def alert_text(journey) -> str:
    return journey.driver.execute_script(
        "var a = document.querySelector('[data-sync-alert]'); return a.hidden ? '' : a.textContent"
    )


def page_token(journey) -> str:
    return journey.css("#attendance-form input[name='csrf_token']").get_attribute("value")


def test_login_expired_offline_keeps_the_queue_until_logged_in_again(journey, make, live_server, csrf_enabled):
    association = make.organization(name="Association Ariane")
    facilitator = make.user(Role.FACILITATOR, organizations=[association], full_name="Farid Intervenant")
    organizer = make.user(Role.ORGANIZER, organizations=[association], full_name="Olga Organisatrice")
    # The live server runs on the real clock: a half-day that began 30 to 40 minutes ago.
    now = now_utc()
    start = (now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 10)
    course = make.course_at(
        [(start, now + timedelta(hours=3))],
        organizations=[association], facilitators=[facilitator], capacity=8,
    )
    people = [
        make.enrollment(make.measure(make.participant(surname=surname), handling=association), course)
        for surname in SURNAMES
    ]
    zone = course.venue.timezone
    arrival = start + timedelta(minutes=5)
    email, facilitator_id, organizer_id, course_id = facilitator.email, facilitator.id, organizer.id, course.id
    part_id = course.parts[0].id
    ids = [e.id for e in people]
    # One late; two sign on the tablet, and the second is then marked absent on the server.
    late, signer, made_absent = ids[0], ids[1], ids[2]
    db.session.commit()
    attendance_path = f"/stages/{course_id}/presence/{part_id}"

    gate = Gate(int(live_server.rsplit(":", 1)[1]))
    journey.base_url = gate.url
    driver = journey.driver
    recorder = None
    try:
        journey.set_viewport(768, 1024)
        journey.log_in(email, PASSWORD)
        journey.get(f"/stages/{course_id}", "stage-du-jour")
        journey.click(journey.link("Préparer la journée hors ligne"), "preparer")
        wait_for(journey, "return document.querySelector('[data-offline-prepare]').dataset.ready === '1'"
                 " || /échoué/.test(document.querySelector('[data-prepare-status]').textContent)",
                 "the preparation to end", 20)
        assert journey.css("[data-prepare-status]").text.startswith("Prêt : "), journey.css("[data-prepare-status]").text

        journey.get(attendance_path, "presence-en-ligne")
        wait_for(journey, "return navigator.serviceWorker.controller !== null"
                 " && document.getElementById('attendance-form').dataset.ready === '1'",
                 "the page to be controlled by the course's service worker")
        assert pending_text(journey) == "0 modification en attente"
        first_token = page_token(journey)
        names = {i: row(journey, i).find_element("css selector", ".attendance-name").text.strip() for i in ids}

        # --- Offline: five marks (one late) and two signatures -----------------------------------
        set_network(driver, online=False)
        gate.cut()
        wait_for(journey, "return !navigator.onLine", "the page to be offline")

        tap(journey, row(journey, late).find_element("css selector", ".segmented-late"))
        driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            journey.css(f"#arrived-{late}"), hhmm(arrival, zone),
        )
        tap(journey, journey.button("Tout le monde présent"))
        wait_for(journey, "return document.querySelector('[data-pending-count]').textContent"
                 " === '5 modifications en attente'", "5 marks in the queue")
        sign(journey, journey.css(f"[data-sign='{signer}']"), "signature-valable")
        sign(journey, journey.css(f"[data-sign='{made_absent}']"), "signature-bientot-refusee")
        wait_for(journey, "return document.querySelector('[data-pending-count]').textContent"
                 " === '7 modifications en attente'", "7 changes in the queue")
        batch = queued_items(journey)
        assert sorted(item["type"] for item in batch) == ["mark"] * 5 + ["signature"] * 2
        batch_ids = {item["id"] for item in batch}
        mark_items = {item["enrollment_id"]: item for item in batch if item["type"] == "mark"}
        signature_items = {item["enrollment_id"]: item for item in batch if item["type"] == "signature"}
        assert sorted(signature_items) == sorted([signer, made_absent])

        # --- Meanwhile, on the server ------------------------------------------------------------
        refresh()
        assert counts() == dict.fromkeys(counts(), 0)  # nothing went through the cut network
        # The facilitator's login ends: its one open session (this browser's) is past its end.
        ended = db.session.execute(
            sa.update(LoginSession)
            .where(LoginSession.user_id == facilitator_id, LoginSession.revoked_at.is_(None),
                   LoginSession.expires_at > now_utc())
            .values(expires_at=now_utc() - timedelta(seconds=1))
        ).rowcount
        assert ended == 1
        # An organizer, on another device, marks the second signer absent (after the tablet's mark).
        services.record_marks(
            db.session.get(CoursePart, part_id),
            [services.MarkInput(enrollment_id=made_absent, status=AttendanceStatus.ABSENT)],
            by=db.session.get(User, organizer_id),
        )
        db.session.commit()

        # --- The network comes back: the login has expired, the queue stays ---------------------
        gate.restore()
        set_network(driver, online=True)
        wait_for(journey, "var a = document.querySelector('[data-sync-alert]');"
                 " return !a.hidden && a.textContent.indexOf('Connexion expirée') !== -1",
                 "« Connexion expirée »", SYNC_TIMEOUT)
        driver.execute_script("window.scrollTo(0, 0)")
        journey.step("connexion-expiree")
        login_link = journey.css("[data-sync-alert] a")
        assert login_link.text == "Se reconnecter"
        target = urlsplit(login_link.get_attribute("href"))
        assert target.path == "/connexion" and parse_qs(target.query) == {"next": [attendance_path]}
        assert pending_text(journey) == "7 modifications en attente"
        assert {item["id"] for item in queued_items(journey)} == batch_ids
        assert all(row(journey, i).get_attribute("data-state") == "pending" for i in ids)
        refresh()
        assert counts() == {"AttendanceMark": 1, "AttendanceRevision": 1, "AttendanceSignature": 0,
                            "AttendanceSyncReceipt": 0}  # only the organizer's mark
        assert db.session.scalars(sa.select(AttendanceRevision.client_id)).all() == [None]

        # --- Logging in again through the link: back on the page, the queue goes ----------------
        recorder = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                          {"source": RECORD_SYNC_POSTS})["identifier"]
        journey.click(login_link, "reconnexion")
        assert journey.path() == "/connexion?" + target.query
        journey.css("#email").send_keys(email)
        journey.css("#password").send_keys(PASSWORD)
        journey.click(journey.button("Se connecter"), "retour-presence")
        assert journey.path() == attendance_path
        wait_for(journey, "return document.getElementById('attendance-form').dataset.ready === '1'"
                 " && document.querySelector('[data-pending-count]').textContent === '0 modification en attente'",
                 "the queue to be sent after the new login", SYNC_TIMEOUT)
        journey.step("synchronise-apres-reconnexion")
        posts = driver.execute_script("return window.__syncPosts")
        assert posts and posts[0]["status"] == 200, posts
        assert posts[0]["token"] and posts[0]["token"] != first_token, posts  # the new page's token
        assert queued_items(journey) == []

        shown = alert_text(journey)
        assert "Connexion expirée" not in shown, shown
        assert "Modifications refusées par le serveur :" in shown, shown
        assert f"{names[made_absent]} (signature) : {ONLY_PRESENT_SIGN}" in shown, shown
        assert row(journey, made_absent).find_element("css selector", "[data-signature-state]").text == (
            f"Signature refusée — {ONLY_PRESENT_SIGN}")
        assert row(journey, signer).find_element("css selector", "[data-signature-state]").text.startswith("Signé à ")
        # The tablet's « Présent·e » for that person lost to the organizer's later « Absent·e »:
        # the row does not claim it was saved.
        assert row(journey, made_absent).get_attribute("data-state") == "superseded"
        assert row(journey, made_absent).find_element("css selector", "[data-row-state]").text == (
            "remplacé par une modification plus récente faite ailleurs — rechargez la page pour la voir")
        assert all(row(journey, i).get_attribute("data-state") == "saved" for i in ids if i != made_absent)
        assert journey.css("[data-synced-at]").text.startswith("synchronisé à ")

        # --- The database: exactly what the tablet recorded, the refused signature aside ----------
        refresh()
        assert counts() == {"AttendanceMark": 5, "AttendanceRevision": 6, "AttendanceSignature": 1,
                            "AttendanceSyncReceipt": 6}
        marks = {m.enrollment_id: m for m in db.session.scalars(sa.select(AttendanceMark))}
        assert sorted(marks) == sorted(ids) and {m.part_id for m in marks.values()} == {part_id}
        assert marks[late].status == AttendanceStatus.LATE and marks[late].arrived_at == arrival
        assert all(marks[i].status == AttendanceStatus.PRESENT for i in (ids[1], ids[3], ids[4]))
        assert marks[made_absent].status == AttendanceStatus.ABSENT  # the later choice wins
        assert marks[made_absent].updated_by_id == organizer_id
        revisions = db.session.scalars(sa.select(AttendanceRevision)).all()
        assert sorted(r.client_id for r in revisions if r.client_id) == sorted(i["id"] for i in mark_items.values())
        assert [r.changed_by_id for r in revisions if r.client_id is None] == [organizer_id]
        receipts = {r.client_id: r.state for r in db.session.scalars(sa.select(AttendanceSyncReceipt))}
        assert receipts == {item["id"]: "applied" for item in mark_items.values()} | {
            mark_items[made_absent]["id"]: "superseded", signature_items[signer]["id"]: "applied"}
        (entry,) = db.session.scalars(sa.select(AttendanceSignature)).all()
        assert (entry.kind, entry.enrollment_id, entry.client_id) == (
            SignatureKind.SIGNATURE, signer, signature_items[signer]["id"])
        assert entry.recorded_by_id == facilitator_id and entry.image_sha256
        assert verify_chain(part_id).ok
        journey.assert_accessible()
    finally:
        if recorder is not None:
            driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": recorder})
        set_network(driver, online=True)
        gate.close()
        driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": gate.url, "storageTypes": "all"})
