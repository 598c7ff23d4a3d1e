"""A local fake of Brevo's transactional SMS API, for the tests and the benchmark: an
``http.server`` in a thread on 127.0.0.1 that answers ``POST /v3/transactionalSMS/send`` as the
documentation says (201, ``{"messageId": …}``), checks the ``api-key`` header, and keeps every
request. Never the network."""
from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "xkeysib-test-0000"


class FakeBrevo:
    """Start with ``with FakeBrevo() as brevo:``; ``brevo.url`` is the API base to configure."""

    def __init__(self, *, delay: float = 0.0):
        self.requests: list[dict] = []
        self.fail_with: int | None = None  # an HTTP status to answer instead of 201
        self.delay = delay
        self._ids = itertools.count(1511882900176220)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if fake.delay:
                    threading.Event().wait(fake.delay)
                if self.path != "/v3/transactionalSMS/send":
                    return self._answer(404, {"code": "not_found"})
                if self.headers.get("api-key") != API_KEY:
                    return self._answer(401, {"code": "unauthorized", "message": "Key not found"})
                if fake.fail_with:
                    return self._answer(fake.fail_with, {"code": "error", "message": "refused +33600000000"})
                payload = json.loads(body)
                for field in ("sender", "recipient", "content"):
                    if not payload.get(field):
                        return self._answer(400, {"code": "missing_parameter", "message": field})
                with fake._lock:
                    message_id = next(fake._ids)
                    fake.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "json": payload, "messageId": message_id})
                self._answer(201, {"messageId": message_id})

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeBrevo:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def config(self) -> dict:
        """The application settings that point at this fake."""
        return {"SMS_BACKEND": "brevo", "SMS_BREVO_API_URL": self.url, "SMS_BREVO_API_KEY": API_KEY}
