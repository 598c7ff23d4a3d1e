"""The day of the course on a tablet without a network (issue 15, « Must show »), in Chromium.

The facilitator prepares the day online (« Préparer la journée hors ligne »: the course's
service worker keeps its attendance pages and their files), opens the attendance of a half-day
that has begun, and loses the network. Ten people are marked (one late, with an arrival time),
three sign on the screen and the facilitator countersigns; the page is reloaded while still
offline (it opens from the worker's copy and shows what waits in the IndexedDB queue); the
network comes back, the queue is sent, and the database holds exactly those marks, revisions
and signatures. The same batch sent again changes nothing. The attendance page is then checked
at 390×844 and 768×1024: no horizontal scrolling, no serious or critical axe-core finding.

How the network is cut. ``Network.emulateNetworkConditions`` (DevTools protocol) takes the PAGE
offline: its own requests fail and ``navigator.onLine`` turns false, so the page's script queues
instead of sending. That emulation does not apply to the service worker's own fetches (another
target), which would still reach the server. So the browser never talks to the live server
directly: every request goes through ``Gate``, a small TCP relay in this module that the test
cuts (open connections reset, new ones reset at once: "server unreachable") and restores. The
browser's origin is the gate's address, so the worker, its scope and its cache belong to it.
While cut, the database is checked to be untouched: nothing went through.

No retry anywhere: each wait has an explicit condition and a timeout, and fails the test.
"""
from __future__ import annotations

import select
import socket
import struct
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from stages.attendance.models import (
    AttendanceMark,
    AttendanceRevision,
    AttendanceSignature,
    AttendanceStatus,
    AttendanceSyncReceipt,
    SignatureKind,
)
from stages.attendance.signatures import verify_chain
from stages.auth.models import Role
from stages.extensions import db
from stages.timeutil import hhmm, now_utc
from tests.browser.conftest import MISSING, SKIP_REASON
from tests.factories import PASSWORD

if MISSING:
    pytest.skip(SKIP_REASON, allow_module_level=True)

SURNAMES = ("ARNAUD", "BERNARD", "CARON", "DUBOIS", "ESTEVE", "FABRE", "GARNIER", "HENRY", "IMBERT", "JOLY")
SYNC_TIMEOUT = 20


class Gate:
    """A TCP relay from a local port to the live server, that the test can cut and restore."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.is_open = True
        self.refused = 0
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="gate", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if not self.is_open:
                self.refused += 1
                _reset(client)
                continue
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._pairs.add((client, server))
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        ends = {client: server, server: client}
        try:
            while True:
                ready, _, _ = select.select(list(ends), [], [], 1.0)
                for end in ready:
                    data = end.recv(65536)
                    if not data:
                        return
                    ends[end].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._pairs.discard((client, server))
            for end in (client, server):
                try:
                    end.close()
                except OSError:
                    pass

    def cut(self) -> None:
        """Unreachable from now on: every open connection is reset, new ones too."""
        self.is_open = False
        with self._lock:
            pairs, self._pairs = list(self._pairs), set()
        for client, server in pairs:
            _reset(client)
            _reset(server)

    def restore(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


# --- Browser helpers ----------------------------------------------------------------------


def wait_for(journey, script: str, what: str, timeout: float = 10, *args):
    """Wait until ``script`` (a JS expression's body, ``return …``) is truthy; fail otherwise."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(journey.driver, timeout).until(lambda d: d.execute_script(script, *args))
    except TimeoutException:
        state = journey.driver.execute_script(
            "var s = document.querySelector('.save-status'), a = document.querySelector('[data-sync-alert]');"
            "return [s && s.textContent, a && a.textContent, document.title].join(' | ')"
        )
        raise AssertionError(f"waited {timeout} s for {what}; page: {state}") from None


def set_network(driver, online: bool) -> None:
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": not online, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def pending_text(journey) -> str:
    return journey.css("[data-pending-count]").text


def tap(journey, element) -> None:
    """Scroll ``element`` to the middle of the screen (not under the sticky save bar), then tap it."""
    journey.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def row(journey, enrollment_id: int):
    return journey.css(f".attendance-row[data-enrollment='{enrollment_id}']")


def draw_signature(journey) -> None:
    """Three strokes across the canvas, as a finger would."""
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = journey.css("#signature-dialog [data-signature-canvas]")
    actions = ActionChains(journey.driver)
    actions.move_to_element_with_offset(canvas, -90, 10).click_and_hold()
    for dx, dy in ((20, -30), (20, 40), (20, -40), (20, 30), (30, -10)):
        actions.move_by_offset(dx, dy)
    actions.release().perform()


def sign(journey, opener, step: str) -> None:
    tap(journey, opener)
    wait_for(journey, "return document.getElementById('signature-dialog').open", "the signature dialog")
    draw_signature(journey)
    journey.step(step)
    journey.css("#signature-dialog [data-pad-accept]").click()
    wait_for(journey, "return !document.getElementById('signature-dialog').open", "the dialog to close")


def queued_items(journey) -> list[dict]:
    """What waits in the page's IndexedDB queue (the items as they are sent)."""
    return journey.driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const open = indexedDB.open("stages-presence");
        open.onsuccess = () => {
          const request = open.result.transaction("queue").objectStore("queue").getAll();
          request.onsuccess = () => done(request.result.map((entry) => entry.item));
          request.onerror = () => done({error: String(request.error)});
        };
        open.onerror = () => done({error: String(open.error)});
        """
    )


def no_horizontal_overflow(journey) -> None:
    widths = journey.driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal scrolling at {widths[1]} px: page {widths[0]} px wide"


def refresh() -> None:
    db.session.rollback()
    db.session.expire_all()


def counts() -> dict:
    return {
        model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (AttendanceMark, AttendanceRevision, AttendanceSignature, AttendanceSyncReceipt)
    }


# --- The journey --------------------------------------------------------------------------


def test_attendance_and_signatures_offline_then_synced(journey, make, live_server, csrf_enabled):
    association = make.organization(name="Association Ariane")
    facilitator = make.user(Role.FACILITATOR, organizations=[association], full_name="Farid Intervenant")
    # The live server runs on the real clock: a half-day that began 30 to 40 minutes ago, and an
    # afternoon that has not begun (the offline copy keeps its page too).
    now = now_utc()
    start = (now - timedelta(minutes=30)).replace(second=0, microsecond=0)
    start -= timedelta(minutes=start.minute % 10)
    end = now + timedelta(hours=3)
    course = make.course_at(
        [(start, end), (end + timedelta(hours=1), end + timedelta(hours=4))],
        organizations=[association], facilitators=[facilitator], capacity=12,
    )
    people = [
        make.enrollment(make.measure(make.participant(surname=surname), handling=association), course)
        for surname in SURNAMES
    ]
    zone = course.venue.timezone
    arrival = start + timedelta(minutes=5)
    email, course_id = facilitator.email, course.id
    part_id, afternoon_id = (p.id for p in course.parts)
    ids = [e.id for e in people]
    late, signers = ids[0], ids[1:4]
    db.session.commit()

    gate = Gate(int(live_server.rsplit(":", 1)[1]))
    journey.base_url = gate.url
    driver = journey.driver
    try:
        journey.set_viewport(768, 1024)
        journey.log_in(email, PASSWORD)
        journey.get(f"/stages/{course_id}", "stage-du-jour")
        journey.click(journey.link("Préparer la journée hors ligne"), "preparer")
        wait_for(journey, "return document.querySelector('[data-offline-prepare]').dataset.ready === '1'"
                 " || /échoué/.test(document.querySelector('[data-prepare-status]').textContent)",
                 "the preparation to end", 20)
        status = journey.css("[data-prepare-status]").text
        assert status.startswith("Prêt : 8 pages et fichiers enregistrés sur cet appareil, valables jusqu'au"), status
        journey.step("journee-preparee")

        journey.get(f"/stages/{course_id}/presence/{part_id}", "presence-en-ligne")
        wait_for(journey, "return navigator.serviceWorker.controller !== null"
                 " && document.getElementById('attendance-form').dataset.ready === '1'",
                 "the page to be controlled by the course's service worker")
        assert pending_text(journey) == "0 modification en attente"
        no_horizontal_overflow(journey)

        # --- The network goes: the page's and the worker's --------------------------------
        set_network(driver, online=False)
        gate.cut()
        wait_for(journey, "return !navigator.onLine", "the page to be offline")

        tap(journey, row(journey, late).find_element("css selector", ".segmented-late"))
        assert "indiquez l'heure d'arrivée" in row(journey, late).find_element("css selector", "[data-row-state]").text
        arrived = journey.css(f"#arrived-{late}")
        assert arrived.is_displayed()
        driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            arrived, hhmm(arrival, zone),
        )
        for enrollment_id in signers:
            tap(journey, row(journey, enrollment_id).find_element("css selector", ".segmented-present"))
        tap(journey, journey.button("Tout le monde présent"))
        wait_for(journey, "return document.querySelector('[data-pending-count]').textContent"
                 " === '10 modifications en attente'", "10 marks in the queue")
        assert not journey.css(f"#left-{ids[5]}").is_displayed()  # no time field for « Présent·e »
        journey.step("dix-presences-hors-ligne")

        for number, enrollment_id in enumerate(signers, 1):
            sign(journey, journey.css(f"[data-sign='{enrollment_id}']"), f"signature-{number}")
        tap(journey, journey.css("[data-countersign]"))
        wait_for(journey, "return document.getElementById('signature-dialog').open", "the countersignature dialog")
        assert journey.css("[data-signature-unsigned]").text == "7 personnes présentes n'ont pas encore signé."
        journey.css("[data-pad-cancel]").click()
        sign(journey, journey.css("[data-countersign]"), "contresignature")
        wait_for(journey, "return document.querySelector('[data-pending-count]').textContent"
                 " === '14 modifications en attente'", "14 changes in the queue")
        assert all(not b.is_displayed() for b in journey.all("[data-sign]"))  # sealed
        journey.step("quatorze-en-attente")

        # --- Reloaded while offline: from the worker's copy, with what waits on the device -----
        refused_before = gate.refused
        driver.refresh()
        journey._wait_loaded()
        wait_for(journey, "return document.getElementById('attendance-form').dataset.ready === '1'",
                 "the page from the offline copy")
        assert gate.refused > refused_before  # the worker tried the network, which was cut
        assert pending_text(journey) == "14 modifications en attente"
        assert journey.css(f"input[name='status-{late}'][value='late']").is_selected()
        assert journey.css(f"#arrived-{late}").get_attribute("value") == hhmm(arrival, zone)
        for enrollment_id in ids[1:]:
            assert journey.css(f"input[name='status-{enrollment_id}'][value='present']").is_selected()
        for enrollment_id in ids:
            assert row(journey, enrollment_id).get_attribute("data-state") == "pending"
        for enrollment_id in signers:
            assert row(journey, enrollment_id).find_element(
                "css selector", "[data-signature-state]").text == "Signé — en attente de synchronisation"
        assert journey.css("[data-countersignature-state]").text == "Contresignée — en attente de synchronisation."
        journey.step("recharge-hors-ligne")
        batch = queued_items(journey)
        assert sorted(item["type"] for item in batch) == ["countersignature"] + ["mark"] * 10 + ["signature"] * 3
        refresh()
        assert counts() == dict.fromkeys(counts(), 0)  # nothing reached the server

        # --- The network comes back: the queue goes ------------------------------------------
        gate.restore()
        set_network(driver, online=True)
        wait_for(journey, "return document.querySelector('[data-pending-count]').textContent"
                 " === '0 modification en attente'", "the queue to be sent", SYNC_TIMEOUT)
        assert not journey.css("[data-sync-alert]").is_displayed(), journey.css("[data-sync-alert]").text
        assert journey.css("[data-synced-at]").text.startswith("synchronisé à ")
        for enrollment_id in ids:
            assert row(journey, enrollment_id).get_attribute("data-state") == "saved"
        journey.step("synchronise")

        refresh()
        marks = {m.enrollment_id: m for m in db.session.scalars(sa.select(AttendanceMark))}
        assert sorted(marks) == sorted(ids) and {m.part_id for m in marks.values()} == {part_id}
        assert marks[late].status == AttendanceStatus.LATE and marks[late].arrived_at == arrival
        assert all(marks[i].status == AttendanceStatus.PRESENT and marks[i].arrived_at is None for i in ids[1:])
        revisions = db.session.scalars(sa.select(AttendanceRevision)).all()
        mark_items = {item["id"]: item for item in batch if item["type"] == "mark"}
        assert sorted(r.client_id for r in revisions) == sorted(mark_items)
        assert {r.mark_id for r in revisions} == {m.id for m in marks.values()}
        entries = db.session.scalars(sa.select(AttendanceSignature).order_by(AttendanceSignature.seq)).all()
        assert [e.kind for e in entries] == [SignatureKind.SIGNATURE] * 3 + [SignatureKind.COUNTERSIGNATURE]
        assert sorted(e.enrollment_id for e in entries[:3]) == sorted(signers)
        assert entries[3].enrollment_id is None and entries[3].recorded_by.email == email
        assert all(e.image_sha256 and e.part_id == part_id for e in entries)
        assert verify_chain(part_id).ok
        before = counts()
        assert before == {"AttendanceMark": 10, "AttendanceRevision": 10, "AttendanceSignature": 4,
                          "AttendanceSyncReceipt": 14}
        updated = {i: marks[i].updated_at for i in ids}

        # --- The same batch again: nothing changes --------------------------------------------
        answer = driver.execute_async_script(
            """
            const [tokenUrl, syncUrl, items, done] = arguments;
            fetch(tokenUrl, {credentials: "same-origin"}).then((r) => r.json()).then((t) =>
              fetch(syncUrl, {method: "POST", credentials: "same-origin",
                              headers: {"Content-Type": "application/json", "X-CSRFToken": t.csrf_token},
                              body: JSON.stringify({items})}))
              .then((r) => r.json().then((body) => done({status: r.status, body})))
              .catch((e) => done({error: String(e)}));
            """,
            f"/stages/{course_id}/presence/jeton", f"/stages/{course_id}/presence/synchro", batch,
        )
        assert answer.get("status") == 200, answer
        assert [r["state"] for r in answer["body"]["results"]] == ["duplicate"] * 14, answer
        refresh()
        assert counts() == before
        assert {m.enrollment_id: m.updated_at for m in db.session.scalars(sa.select(AttendanceMark))} == updated

        # --- Phone and tablet sizes ------------------------------------------------------------
        for width, height in ((390, 844), (768, 1024)):
            journey.set_viewport(width, height)
            journey.get(f"/stages/{course_id}/presence/{part_id}", f"presence-{width}")
            wait_for(journey, "return document.getElementById('attendance-form').dataset.ready === '1'", "the page")
            no_horizontal_overflow(journey)
            journey.get(f"/stages/{course_id}/presence/{afternoon_id}", f"apres-midi-{width}")
            assert "n'a pas commencé" in journey.text()
            no_horizontal_overflow(journey)
        journey.assert_accessible()
    finally:
        set_network(driver, online=True)
        gate.close()
        driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": gate.url, "storageTypes": "all"})
