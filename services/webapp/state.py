"""The per-worker holder of the chosen strategies, their gauges and cross-worker reset."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil
from prometheus_client import Gauge

from leaklab.scenarios import Scenario
from webapp import metrics
from webapp.resources import Strategy, trim_heap

RESET_SIGNAL = signal.SIGUSR2
RESET_WAIT_SECONDS = 5.0  # the longest a reset waits for requests in flight, and they for it


@dataclass
class Resources:
    """What one worker holds; lives in `app.extensions["leaklab"]`.

    A worker serves requests on several threads (gthread), so the request count, the
    gauges and a reset change under one lock. A reset waits for the requests in flight
    (it must not close a connection a request is using) and holds new ones back meanwhile.
    """

    scenarios: list[Scenario]
    strategies: dict[str, Strategy]  # by scenario name: the variant's class for each
    multiproc_dir: str | None
    master_pid: int | None = None
    metrics: bool = True
    _active_requests: int = 0
    _reset_pending: bool = False
    _resets: int = 0
    _published: tuple[float, ...] = ()
    # reentrant: the reset signal's handler may interrupt a sync worker's request inside it
    _changed: threading.Condition = field(
        default_factory=lambda: threading.Condition(threading.RLock()), repr=False
    )
    # each figure's reader (the strategy's method the registry names) and its gauge, once
    _figures: list[tuple[Callable[[], float], Gauge]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._figures = [
            (getattr(self.strategies[scenario.name], spec.read), metrics.gauge(spec))
            for scenario in self.scenarios
            for spec in scenario.all_gauges
            if spec.read
        ]

    def publish(self) -> None:
        """Copy this worker's figures into the contract's gauges."""
        if not self.metrics:
            return
        with self._changed:
            figures = tuple(float(read()) for read, _gauge in self._figures)
            if figures == self._published:
                return  # unchanged: spare the request the writes to the multiprocess files
            for (_read, gauge), value in zip(self._figures, figures, strict=True):
                gauge.set(value)
            self._published = figures

    def request_started(self) -> None:
        with self._changed:
            # a reset is waiting for the requests in flight: do not start another meanwhile
            self._changed.wait_for(lambda: not self._reset_pending, timeout=RESET_WAIT_SECONDS)
            self._active_requests += 1

    def request_finished(self) -> None:
        with self._changed:
            self._active_requests -= 1
            self._changed.notify_all()  # a reset may be waiting for this request
            if self._reset_pending and self._active_requests == 0:
                self._release()
            else:
                self.publish()

    def release_all(self) -> dict[str, int]:
        """Close everything this worker's strategies hold, once its other requests are done.

        Called from a request (POST /admin/reset), or with none running.
        """
        with self._changed:
            self._reset_pending = True
            self._changed.wait_for(lambda: self._active_requests <= 1, RESET_WAIT_SECONDS)
            return self._release()

    def _release(self) -> dict[str, int]:
        self._reset_pending = False
        released = {name: strategy.reset() for name, strategy in self.strategies.items()}
        trim_heap()  # what the resets freed leaves the process: the next run's RSS starts clean
        self._resets += 1
        metrics.RESETS.set(self._resets)  # the acknowledgement reset_everywhere waits for
        self.publish()
        self._changed.notify_all()  # let held-back requests in
        return released

    def on_reset_signal(self, signum: int, frame: object) -> None:
        """A sibling worker asked for a reset: do it now, or after the running requests."""
        with self._changed:
            if self._active_requests:
                self._reset_pending = True
            else:
                self._release()

    def siblings(self) -> list[int]:
        if self.master_pid is None:
            return []
        try:
            children = psutil.Process(self.master_pid).children()
        except psutil.NoSuchProcess:
            return []
        return [p.pid for p in children if p.pid != os.getpid()]

    def reset_everywhere(self, timeout: float = 5.0) -> dict[str, object]:
        """Release here, signal the other workers, wait for each to acknowledge."""
        if not self.multiproc_dir:  # a single process: nothing to coordinate
            released = self.release_all()
            return {"released": released, "still_open": self._totals(), "workers": 1}
        before = self._totals()
        acks = metrics.resets_by_worker(self.multiproc_dir)
        self.release_all()
        siblings = []
        for pid in self.siblings():
            try:
                os.kill(pid, RESET_SIGNAL)
                siblings.append(pid)
            except ProcessLookupError:
                continue  # exited meanwhile: what it held went with it
        deadline = time.monotonic() + timeout
        waiting = set(siblings)
        while waiting and time.monotonic() < deadline:
            now = metrics.resets_by_worker(self.multiproc_dir)
            waiting = {
                pid
                for pid in waiting
                if now.get(pid, 0) <= acks.get(pid, 0) and psutil.pid_exists(pid)
            }
            if waiting:
                time.sleep(0.02)
        after = self._totals()
        return {
            "released": {k: before[k] - after[k] for k in before},
            "still_open": after,
            "workers": len(siblings) + 1,
            "unacknowledged": sorted(waiting),
        }

    def _totals(self) -> dict[str, int]:
        """What each scenario's strategy holds (its first leak's count), over all workers."""
        held = {s.name: s.leaks[0].held for s in self.scenarios}
        if not self.multiproc_dir:
            return {name: int(getattr(self.strategies[name], g.read)()) for name, g in held.items()}
        totals = metrics.multiprocess_totals(self.multiproc_dir, [g.name for g in held.values()])
        return {name: int(totals[g.name]) for name, g in held.items()}
