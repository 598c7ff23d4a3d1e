"""TCP helpers for tests, on 127.0.0.1 (or a test's own network, tests/operations/netns.py).

``TcpProxy`` forwards 127.0.0.1:<port> to a target and can be stopped and started. Stopping
closes the listening socket and cuts every forwarded connection, as a database server that goes
down would: pooled connections break, new ones are refused. Starting again listens on the same
port, so the application's URL stays valid and it can recover by itself. Freezing keeps every
connection open but forwards nothing more, either way, until thawed: a network partition or a
frozen server, as seen by a client that already holds connections.

``SilentServer`` accepts connections and never answers, as a database host behind a network
partition or frozen would look to a client whose connection the network still accepts.
"""
from __future__ import annotations

import socket
import sys
import threading
import time


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.host = host
        self.port: int | None = None
        self._server: socket.socket | None = None
        self._stopping = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Listen (on the same port as before, after a stop)."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.host, self.port or 0))
        server.listen(16)
        # accept() wakes up regularly to notice stop(): closing a socket another thread is
        # blocked on does not wake it up reliably on Linux.
        server.settimeout(0.05)
        self.port = server.getsockname()[1]
        self._server = server
        self._stopping.clear()
        self._spawn(self._accept_loop, server)

    def stop(self) -> None:
        """Refuse new connections and cut the open ones; returns once every thread is done."""
        self._stopping.set()
        self._flowing.set()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []
        if self._server is not None:
            self._server.close()
            self._server = None

    def freeze(self) -> None:
        """Forward nothing more (what arrives is held), connections kept open, new ones taken."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Forward again, what was held first."""
        self._flowing.set()

    def __enter__(self) -> TcpProxy:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, server: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._stopping.is_set():
                    _close(client)
                    _close(upstream)
                    return
                self._sockets.update((client, upstream))
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, destination: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while not self._flowing.wait(timeout=0.05):
                    if self._stopping.is_set():
                        return
                destination.sendall(data)
        except OSError:
            pass
        finally:
            # One side ended: end the other too, as a dropped TCP connection would.
            _close(source)
            _close(destination)


class SilentServer:
    """Accepts TCP connections on 127.0.0.1:<port>, reads nothing, answers nothing."""

    def __init__(self):
        self.port: int | None = None
        self.accepted = 0
        self._server: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SilentServer:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        server.settimeout(0.05)  # wake up to notice the stop, as TcpProxy does
        self.port = server.getsockname()[1]
        self._server = server
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock in self._held:
            _close(sock)
        if self._server is not None:
            self._server.close()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(client)  # kept open, silent, until the test ends
            self.accepted += 1


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.operations.tcp_proxy LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT``:
    a proxy in a process of its own (in another network namespace, tests/operations/netns.py),
    which prints « prêt » once it listens and serves until it is killed."""
    listen_host, listen_port, target_host, target_port = argv or sys.argv[1:]
    proxy = TcpProxy(target_host, int(target_port), host=listen_host)
    proxy.port = int(listen_port)
    proxy.start()
    print("prêt", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
