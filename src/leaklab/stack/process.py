"""Start, watch and stop local server processes; shared by the CLI and the test fixtures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

# Servers we started from this process. Holding them keeps Popen from warning that a
# server is "still running" when the launcher hands it over and lets go of it.
_started: dict[int, subprocess.Popen[bytes]] = {}


# Set in the environment of every server leaklab starts, so `down` finds them by it even
# when state.json is gone or unreadable (children such as Gunicorn's workers inherit it).
RUN_DIR_VAR = "LEAKLAB_STARTED_FOR"  # not LEAKLAB_RUN_DIR: a user may export that


class StackError(RuntimeError):
    """A server could not be started or stopped; the message says what to do."""


@dataclass(frozen=True)
class OsUser:
    """An unprivileged account to run a server as (PostgreSQL refuses root)."""

    name: str
    uid: int
    gid: int


# Ports this process has handed out: a port is only free until someone binds it, so two
# calls before either server starts could otherwise return the same one.
_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1", avoid: Collection[int] = ()) -> int:
    """A free TCP port on host, never one handed out before here or listed in avoid."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out and port not in avoid:
            _handed_out.add(port)
            return port


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text[-lines:])


def start(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: OsUser | None = None,
    run_dir: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start argv detached in its own session, output appended to log_path.

    run_dir tags the process (RUN_DIR_VAR) as belonging to that stack.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if run_dir is not None:
        env = {**(os.environ if env is None else env), RUN_DIR_VAR: str(run_dir.absolute())}
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                user=user.uid if user else None,
                group=user.gid if user else None,
                extra_groups=[] if user else None,
            )
        except FileNotFoundError as exc:
            raise StackError(f"cannot run {argv[0]}: not found") from exc
    _started[proc.pid] = proc
    return proc


def wait_until_ready(
    name: str,
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    log_path: Path,
    timeout: float = 30.0,
) -> None:
    """Poll ready() until it is true; fail with the log's tail if the process dies or stalls."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StackError(
                f"{name} exited with code {proc.returncode} while starting; "
                f"last lines of {log_path}:\n{log_tail(log_path)}"
            )
        try:
            if ready():
                return
        except Exception:  # noqa: BLE001 - any failure just means "not ready yet"
            pass
        time.sleep(0.1)
    raise StackError(
        f"{name} was not ready after {timeout:.0f} s; last lines of {log_path}:\n"
        f"{log_tail(log_path)}"
    )


def create_time(pid: int) -> float:
    return psutil.Process(pid).create_time()


def is_running(pid: int, started: float) -> bool:
    """True when pid is alive and is the process we started (not a reused pid)."""
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - started) < 1.0 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop(pid: int, started: float, sig: int = signal.SIGTERM, timeout: float = 15.0) -> bool:
    """Stop pid and its session, gracefully then forcefully; True when nothing is left."""
    if not is_running(pid, started):
        _reap(pid)
        return True
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        return True
    family = [psutil.Process(pid)]
    try:
        family += family[0].children(recursive=True)
    except psutil.NoSuchProcess:
        pass
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    _gone, alive = psutil.wait_procs(family, timeout=timeout)
    if alive:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _gone, alive = psutil.wait_procs(alive, timeout=5)
    _reap(pid)
    return not alive


def _reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie."""
    proc = _started.pop(pid, None)
    if proc is not None:
        proc.poll()
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
