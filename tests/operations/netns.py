"""A TCP path to a server that a test can cut as a network partition does: packets dropped,
no reset, no end of connection, so a client learns of it only by its own timers.

The path crosses a network namespace made for the test (root, iproute2): the client connects
to a proxy inside the namespace, across a veth pair, and that proxy reaches the server through
a second proxy on the host side. ``cut()`` adds a blackhole route to the namespace's address:
what the client sends there is dropped silently. ``restore()`` takes it away.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.operations.tcp_proxy import TcpProxy

PROJECT = Path(__file__).resolve().parents[2]
INSIDE_PORT = 5432


def unavailable_reason() -> str | None:
    """Why this machine cannot make such a path (None when it can)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs iproute2 (ip)"
    return None


class CuttablePath:
    """``with CuttablePath(host, port) as path:`` connect to ``path.host``:``path.port``."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        tag = os.getpid()
        self.namespace, self.host_link, self.inner_link = f"stg{tag}", f"stgh{tag}", f"stgn{tag}"
        subnet = f"10.213.{tag % 250}"
        self.outer_address, self.host = f"{subnet}.1", f"{subnet}.2"
        self.port = INSIDE_PORT
        self._outer: TcpProxy | None = None
        self._inner: subprocess.Popen | None = None
        self._cut = False

    def __enter__(self) -> CuttablePath:
        _ip("netns", "add", self.namespace)
        try:
            _ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.inner_link)
            _ip("link", "set", self.inner_link, "netns", self.namespace)
            _ip("addr", "add", f"{self.outer_address}/30", "dev", self.host_link)
            _ip("link", "set", self.host_link, "up")
            _ip("addr", "add", f"{self.host}/30", "dev", self.inner_link, namespace=self.namespace)
            _ip("link", "set", self.inner_link, "up", namespace=self.namespace)
            self._outer = TcpProxy(*self.target, host=self.outer_address)
            self._outer.start()
            self._inner = subprocess.Popen(
                ["ip", "netns", "exec", self.namespace, sys.executable, "-m",
                 "tests.operations.tcp_proxy", self.host, str(self.port), self.outer_address,
                 str(self._outer.port)],
                cwd=PROJECT, stdout=subprocess.PIPE, text=True,
            )
            if self._inner.stdout.readline().strip() != "prêt":
                raise RuntimeError("le proxy de l'espace de noms n'a pas démarré")
        except BaseException:
            self.__exit__()
            raise
        return self

    def cut(self) -> None:
        _ip("route", "add", "blackhole", f"{self.host}/32")
        self._cut = True

    def restore(self) -> None:
        """Take the blackhole away (nothing to do if the path was not cut)."""
        if self._cut:
            _ip("route", "del", "blackhole", f"{self.host}/32")
            self._cut = False

    def __exit__(self, *exc) -> None:
        self.restore()
        if self._inner is not None:
            self._inner.kill()
            self._inner.wait()
            self._inner.stdout.close()
        if self._outer is not None:
            self._outer.stop()
        # Deleting the namespace deletes its end of the veth pair, and so the pair.
        subprocess.run(["ip", "netns", "del", self.namespace], check=False)


def _ip(*args: str, namespace: str | None = None) -> None:
    command = ["ip", "netns", "exec", namespace, "ip", *args] if namespace else ["ip", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} : {done.stderr.strip()}")
