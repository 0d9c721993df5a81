"""Retire a dead worker's multiprocess files without losing its counts, and read them safely.

`mark_process_dead` only drops live gauges. Counters and histograms of dead
workers must keep counting (or rates see a reset), but one file per dead pid
grows the directory for ever. So their values are folded into one archive file
per type, and the dead pid's files are removed.

The master retires while workers render /metrics from the same directory. A
reader that listed a file just before it was removed failed the scrape with a
500 (FileNotFoundError), and one that read both the archive and the not yet
removed file counted the dead worker twice, then once: a counter going
backwards. So the fold and the removal happen under an exclusive flock of a lock
file in the directory, and every read under a shared one.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from prometheus_client import multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

_ARCHIVED_TYPES = ("counter", "histogram", "summary")
_HEADER = 8  # bytes: the used-size word and its padding
LOCK_FILE = ".retire.lock"  # not *.db: prometheus-client never reads it
log = logging.getLogger(__name__)


class LockTimeout(RuntimeError):
    """The exclusive lock was not granted in time (a reader holds it for ever)."""


@contextmanager
def _locked(path: str, exclusive: bool, timeout: float = 10.0) -> Iterator[None]:
    fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if exclusive:  # polled, so a stuck reader cannot hang Gunicorn's master
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(f"{path}: no exclusive lock in {timeout:.0f} s") from None
                    time.sleep(0.005)
        else:
            fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


def retire_worker(pid: int, path: str) -> list[str]:
    """Fold pid's counters into the archive and remove every file of pid; return removed names.

    Without the lock in time, the files stay: their counts are still right, the
    directory just keeps one more pid.
    """
    try:
        with _locked(path, exclusive=True):
            multiprocess.mark_process_dead(pid, path)
            removed = []
            for typ in _ARCHIVED_TYPES:
                dead = os.path.join(path, f"{typ}_{pid}.db")
                if os.path.exists(dead):
                    _fold_into(dead, os.path.join(path, f"{typ}_archive.db"))
                    os.remove(dead)
                    removed.append(os.path.basename(dead))
            for stale in glob.glob(os.path.join(path, f"gauge_*_{pid}.db")):
                os.remove(stale)  # non-live gauge modes (such as the exporter's info gauge)
                removed.append(os.path.basename(stale))
            return removed
    except LockTimeout as exc:
        log.warning("worker %d: files left in place: %s", pid, exc)
        return []


def _fold_into(source: str, archive: str) -> None:
    archived = MmapedDict(archive)
    try:
        for key, value, timestamp, _pos in MmapedDict.read_all_values_from_file(source):
            old, _ = archived.read_value(key)
            archived.write_value(key, old + value, timestamp)
    finally:
        archived.close()


def read_metrics(path: str, attempts: int = 5) -> Iterable[Metric]:
    """Merge every worker's files, under the shared lock.

    A file removed by someone else all the same is skipped, and so is an empty one: a
    worker creates its file, then sizes it, and one killed in between leaves it empty
    until the master retires it.
    """
    with _locked(path, exclusive=False):
        vanished: set[str] = set()
        for _attempt in range(attempts):
            files = [f for f in glob.glob(os.path.join(path, "*.db")) if _has_values(f, vanished)]
            try:
                return list(MultiProcessCollector.merge(files, accumulate=True))
            except FileNotFoundError as exc:
                vanished.add(str(exc.filename))
        raise RuntimeError(f"{path}: files kept vanishing while read: {sorted(vanished)}")


def _has_values(file: str, vanished: set[str]) -> bool:
    if file in vanished:
        return False
    try:
        return os.stat(file).st_size >= _HEADER  # it only grows: readable from now on
    except FileNotFoundError:
        return False


class RetireSafeCollector(MultiProcessCollector):
    """prometheus-client's multiprocess collector, reading as `read_metrics` does."""

    def collect(self) -> Iterable[Metric]:
        return read_metrics(self._path)
