"""Which live processes belong to a run directory, and one `up` or `down` at a time in it.

The pids in state.json go stale when a server is restarted by hand (`pg_ctl restart`,
a crashed app restarted from a shell). Before anything is stopped or deleted, leaklab
looks for what really holds the recorded port or data directory, so it can adopt a
healthy replacement, stop it on `down`, and never delete files a live process holds.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from leaklab.stack.process import RUN_DIR_VAR, StackError


def tagged(run_dir: Path) -> list[psutil.Process]:
    """Live processes started for run_dir (by the environment tag), session leaders first."""
    wanted = str(run_dir.absolute())
    me = psutil.Process()
    spared = {me.pid} | {p.pid for p in me.parents()}  # never the caller or its shell
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid in spared or proc.status() == psutil.STATUS_ZOMBIE:
                continue
            if proc.environ().get(RUN_DIR_VAR) == wanted:
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return sorted(found, key=lambda p: (not _leads_session(p), p.pid))


def _leads_session(proc: psutil.Process) -> bool:
    try:
        return os.getsid(proc.pid) == proc.pid
    except OSError:
        return False


def listening_on(port: int) -> psutil.Process | None:
    """The process that listens on a TCP port (the parent when several share the socket)."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    pids = {
        c.pid
        for c in connections
        if c.pid and c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
    }
    for pid in sorted(pids):
        try:
            proc = psutil.Process(pid)
            if proc.ppid() not in pids:  # Gunicorn: the master, not a worker
                return proc
        except psutil.NoSuchProcess:
            continue
    return None


def postmaster(data_dir: Path) -> psutil.Process | None:
    """The live postmaster that holds data_dir, from its postmaster.pid (None if none does)."""
    try:
        first = (data_dir / "postmaster.pid").read_text().splitlines()[0]
        proc = psutil.Process(int(first.strip()))
        if proc.status() == psutil.STATUS_ZOMBIE or "postgres" not in proc.name():
            return None  # a stale file whose pid was reused by something else
        return proc
    except (OSError, IndexError, ValueError, psutil.NoSuchProcess, psutil.AccessDenied):
        return None


@contextmanager
def run_lock(run_dir: Path, say: Callable[[str], None], timeout: float = 300.0) -> Iterator[None]:
    """Hold the run directory's lock: a second `up` waits for the first instead of racing it.

    The lock is an flock on the directory itself: no lock file to leave behind.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another leaklab is starting or stopping the stack in {run_dir}; waiting for it")
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StackError(
                            f"another leaklab still holds the lock on {run_dir} after "
                            f"{timeout:.0f} s; see 'leaklab status'"
                        ) from None
                    time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
