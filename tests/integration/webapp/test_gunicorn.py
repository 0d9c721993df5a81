"""How the apps' Gunicorn is run: its own control socket per app, and slow clients."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
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
    for variant, socket in sockets.items():
        assert socket.parent == stack.run_dir
        assert Path.home() / ".gunicorn" not in socket.parents
        assert _master_behind(socket) == masters[variant]

    with extra_app("fixed-other") as other:  # another master starts and stops meanwhile
        assert _control_socket(other.master) not in sockets.values()
    for variant, socket in sockets.items():
        assert socket.is_socket() and _master_behind(socket) == masters[variant]
