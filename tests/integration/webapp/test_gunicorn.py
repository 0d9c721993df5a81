"""How the apps' Gunicorn is run: its own control socket per app, and slow clients."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests
from extra_app import ExtraAppFactory
from gunicorn.ctl.client import ControlClient

from leaklab.stack import NativeStack
from leaklab.stack.state import RunState

VARIANTS = ("leaky", "fixed")


def _control_socket(master: int, timeout: float = 10.0) -> Path:
    """The one Unix socket bound to a path in the Gunicorn master: its control socket.

    The master closes it around every fork and opens it again: wait for it.
    """
    deadline = time.monotonic() + timeout
    while True:
        paths = {conn.laddr for conn in psutil.Process(master).net_connections(kind="unix")}
        paths.discard("")  # socketpairs and the like have no path
        if paths or time.monotonic() > deadline:
            (path,) = paths
            return Path(str(path))
        time.sleep(0.05)


def _master_behind(socket: Path) -> int:
    with ControlClient(str(socket), timeout=5) as client:
        return int(client.send_command("show stats")["pid"])


def test_each_app_has_its_own_control_socket_in_the_run_directory(
    stack: NativeStack, state: RunState, extra_app: ExtraAppFactory
) -> None:
    """Gunicorn 27's default, ~/.gunicorn/gunicorn.ctl, was one socket for every master on
    the machine: the last to start took it, and any that stopped deleted it for all."""
    masters = {variant: state.services[variant].pid for variant in VARIANTS}
    sockets = {variant: _control_socket(pid) for variant, pid in masters.items()}
    assert sockets["leaky"] != sockets["fixed"]
    for variant, path in sockets.items():
        assert path.parent == stack.run_dir
        assert Path.home() / ".gunicorn" not in path.parents
        assert _master_behind(path) == masters[variant]

    with extra_app("fixed-other") as other:  # another master starts and stops meanwhile
        assert _control_socket(other.master) not in sockets.values()
    for variant, path in sockets.items():
        assert path.is_socket() and _master_behind(path) == masters[variant]


HALF_LINES = 6  # clients per app that send half a request line, then nothing
SILENT = 4  # clients per app that connect and send nothing


@contextmanager
def _slow_client(url: str, first_bytes: bytes) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", urlsplit(url).port or 80), timeout=5)
    try:
        if first_bytes:
            sock.sendall(first_bytes)
        yield sock
    finally:
        sock.close()


def test_health_answers_within_2_s_while_slow_clients_hold_connections(state: RunState) -> None:
    """Issue #12: two clients sending half a request line made a sync app unavailable for 30 s.

    Held past gthread's 5 s wait for a new connection's first bytes.
    """
    urls = [state.url(variant) for variant in VARIANTS]
    with ExitStack() as slow:
        for url in urls:
            for _ in range(HALF_LINES):
                slow.enter_context(_slow_client(url, b"GET /health HT"))
            for _ in range(SILENT):
                slow.enter_context(_slow_client(url, b""))
        time.sleep(0.5)  # accepted, and the half lines read
        answered = 0
        deadline = time.monotonic() + 6.5
        while time.monotonic() < deadline:
            for url in urls:
                started = time.monotonic()
                response = requests.get(f"{url}/health", timeout=2)
                assert response.status_code == 200
                assert time.monotonic() - started < 2
                answered += 1
            time.sleep(0.1)
    assert answered > 20
    for url in urls:  # the slow clients are gone: nothing stays stuck
        assert requests.get(f"{url}/api/database?id=1", timeout=5).status_code == 200
