"""Memory origins: short tracemalloc windows, never tracemalloc left on.

Left on, tracemalloc costs 0.27-0.39x throughput at one frame and 0.06-0.11x at ten, and
`stop()` drops every trace, so a window is: start, snapshot, wait, snapshot, stop. The
sites are ranked by growth between the two snapshots; what a site allocated during the
window and still holds at its end is what it is shown with. A leak that keeps what each
request allocates (a memo keyed by time, a receipt held by atexit) tops the ranking within
a window of a second of load; transient allocations are freed before the second snapshot.
Each site is the innermost application frame of the allocation's traceback (as for
objects), its function found from the file's code objects (tracemalloc keeps lines only).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
import tracemalloc
from collections import Counter
from dataclasses import dataclass

from leaklab.probe.sites import Sites

TOP = 10


@dataclass(frozen=True)
class Window:
    """The result of one window: (origin, bytes still held, growth) most growth first."""

    seconds: float
    sites: list[tuple[str, int, int]]
    ended: float = 0.0  # time.time() when it closed


class MemoryWindows:
    """Runs a window every `every` seconds, `seconds` long (0: none), and one when asked
    (`demand`), when ticked by the probe's thread."""

    def __init__(self, sites: Sites, seconds: float, every: float, frames: int) -> None:
        self.sites = sites
        self.seconds, self.every, self.frames = seconds, every, frames
        self.last: Window | None = None
        self._first: tracemalloc.Snapshot | None = None
        self._started = 0.0
        self._next = 0.0
        self._length = seconds  # of the window open now
        self._demanded = 0.0  # the length of one asked for, not yet opened

    def schedule(self, now: float, first_in: float) -> None:
        self._next = now + first_in

    def demand(self, seconds: float) -> None:
        """One window of `seconds` at the next tick (after a memory LEAK: where it grows)."""
        self._demanded = seconds

    def tick(self, now: float) -> Window | None:
        """Open a window when one is due, close it when it has lasted; the closed one."""
        if self._first is None:
            if self._demanded:
                length, self._demanded = self._demanded, 0.0
                next_due = self._next
                if self._open(now):
                    self._length = length
                self._next = next_due  # the periodic ones keep their pace
            elif self.seconds and now >= self._next:
                self._length = self.seconds
                self._open(now)
            return None
        if now - self._started < self._length:
            return None
        return self._close(now)

    def run(self, seconds: float) -> Window | None:
        """One window now, blocking for its length (None: tracemalloc is someone else's)."""
        start = time.monotonic()
        if not self._open(start):
            return None
        time.sleep(seconds)
        return self._close(time.monotonic())

    def _open(self, now: float) -> bool:
        self._next = now + self.every
        if tracemalloc.is_tracing():  # the app traces for itself: leave its traces alone
            return False
        tracemalloc.start(self.frames)
        self._first = tracemalloc.take_snapshot()
        self._started = now
        return True

    def _close(self, now: float) -> Window:
        second = tracemalloc.take_snapshot()
        tracemalloc.stop()
        first, self._first = self._first, None
        try:
            return self._rank(first, second, now)
        finally:
            del first, second
            _give_back()  # the traces' memory: else a window reads as a step in RSS

    def _rank(
        self, first: tracemalloc.Snapshot | None, second: tracemalloc.Snapshot, now: float
    ) -> Window:
        before = self._held(first) if first is not None else Counter()
        after = self._held(second)
        growth = {origin: size - before.get(origin, 0) for origin, size in after.items()}
        ranked = sorted(growth, key=lambda o: growth[o], reverse=True)[:TOP]
        sites = [(o, after[o], growth[o]) for o in ranked]
        self.last = Window(now - self._started, sites, time.time())
        return self.last

    def _held(self, snapshot: tracemalloc.Snapshot) -> Counter[str]:
        """Bytes held by origin: traces grouped by traceback first (few distinct ones)."""
        by_traceback: Counter[tuple[tuple[str, int], ...]] = Counter()
        raw = getattr(snapshot.traces, "_traces", None)  # (domain, size, frames, total)
        if isinstance(raw, list):
            for trace in raw:
                by_traceback[trace[2]] += trace[1]  # frames: innermost first
        else:
            for trace in snapshot.traces:
                frames = tuple((f.filename, f.lineno) for f in reversed(trace.traceback))
                by_traceback[frames] += trace.size
        held: Counter[str] = Counter()
        for frames, size in by_traceback.items():
            origin = self.sites.of_lines(frames)
            if origin is not None:
                held[origin] += size
        return held


def _give_back() -> None:
    """Return the freed heap to the OS (glibc's malloc_trim; elsewhere nothing): tracemalloc's
    tables and the snapshots are megabytes, freed at the end of a window but kept by malloc,
    and a leak check of the app's RSS would read them as growth."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass
