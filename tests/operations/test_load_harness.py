"""The load test (bench/load.py) fails loudly: a worker death in gunicorn's log, a reset
connection, never a request sent twice. Its own pieces, without running the 2-minute test."""
from __future__ import annotations

import socket
import threading

import pytest

from bench.load import Client, TransportError, worker_deaths

BOOTS = "\n".join([
    "[2026-12-04 14:18:01 +0000] [100] [INFO] Starting gunicorn 27.0.1",
    "[2026-12-04 14:18:01 +0000] [100] [INFO] Listening at: http://127.0.0.1:40000 (100)",
    "[2026-12-04 14:18:01 +0000] [100] [INFO] Using worker: gthread",
    "[2026-12-04 14:18:01 +0000] [101] [INFO] Booting worker with pid: 101",
    "[2026-12-04 14:18:01 +0000] [102] [INFO] Booting worker with pid: 102",
])
STOP = "\n".join([
    "[2026-12-04 14:19:05 +0000] [100] [INFO] Handling signal: int",
    "[2026-12-04 14:19:05 +0000] [101] [INFO] Worker exiting (pid: 101)",
    "[2026-12-04 14:19:05 +0000] [102] [INFO] Worker exiting (pid: 102)",
    "[2026-12-04 14:19:06 +0000] [100] [INFO] Shutting down: Master",
])


def test_a_clean_run_has_no_death():
    assert worker_deaths(BOOTS, BOOTS + "\n" + STOP, workers=2) == []


@pytest.mark.parametrize("lines", [
    # faulthandler, then the arbiter, for a crash in C code
    ["Fatal Python error: Segmentation fault", "",
     "[2026-12-04 14:18:30 +0000] [100] [WARNING] Worker (pid:101) was sent SIGSEGV!",
     "[2026-12-04 14:18:30 +0000] [103] [INFO] Booting worker with pid: 103"],
    ["[2026-12-04 14:18:30 +0000] [100] [ERROR] Worker (pid:101) was sent SIGKILL! Perhaps out of memory?"],
    ["[2026-12-04 14:18:30 +0000] [100] [ERROR] Worker (pid:101) exited with code 1."],
    ["[2026-12-04 14:18:30 +0000] [100] [CRITICAL] WORKER TIMEOUT (pid:101)"],
    ["[2026-12-04 14:18:30 +0000] [100] [WARNING] Worker with pid 101 was terminated due to signal 11"],
    # a worker that left on its own (exit code 0) before the stop, and its replacement
    ["[2026-12-04 14:18:30 +0000] [101] [INFO] Worker exiting (pid: 101)"],
    ["[2026-12-04 14:18:30 +0000] [103] [INFO] Booting worker with pid: 103"],
])
def test_every_sign_of_a_dead_worker_fails_the_run(lines):
    during = BOOTS + "\n" + "\n".join(lines)
    assert worker_deaths(during, during + "\n" + STOP, workers=2)


def test_a_crash_while_stopping_counts_too():
    crash = "[2026-12-04 14:19:05 +0000] [100] [WARNING] Worker (pid:102) was sent SIGSEGV!"
    assert worker_deaths(BOOTS, BOOTS + "\n" + STOP + "\n" + crash, workers=2) == [crash]


class OneShotServer:
    """Answers the first request on a connection (keep-alive), then resets the connection on
    the next one after reading it, as a worker that dies mid-request would; counts requests."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"

    def __init__(self):
        self.requests = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                for answer in (True, False):
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data:
                        break
                    self.requests += 1
                    if answer:
                        conn.sendall(self.ANSWER)
                    else:  # RST instead of an answer
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        break

    def close(self):
        self.server.close()


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_reset_is_an_error_and_nothing_is_sent_again(method):
    server = OneShotServer()
    try:
        client = Client(server.port)
        assert client.request("GET", "/")[0] == 200
        with pytest.raises(TransportError):
            client.request(method, "/enregistrer", {"status-1": "present"} if method == "POST" else None)
        assert server.requests == 2  # the first request and the one reset: none sent again
        assert client.calls == client.sends
    finally:
        server.close()


def test_the_client_keeps_a_cookie_whose_value_holds_1970_and_drops_an_expired_one():
    """A signed session value may hold any four digits: only the attributes expire a cookie."""
    client = Client(1)
    client.set_cookie("session=.eJx1970Abc.Z1970x.sig; HttpOnly; Path=/; SameSite=Lax")
    assert client.cookies == {"session": ".eJx1970Abc.Z1970x.sig"}
    client.set_cookie("remember_token=abc; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
    client.set_cookie("session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/")
    assert client.cookies == {}
