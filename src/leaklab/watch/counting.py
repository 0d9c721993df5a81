"""Requests sent per request name: the plugin's own counters, the verdict's x-axis.

Locust's statistics are cleared on every new start and on Reset Stats; these are not (a
reset read as a drop would be a fall in every resource per request). Where users run (a
local runner, or each worker) every request is counted; a worker sends what it counted
since its last report with Locust's own report to the master, which adds them up: exact on
one process, at the workers' report interval (3 s) when distributed.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

REPORT_KEY = "leaklab_requests"


class RequestCounter:
    def __init__(self) -> None:
        self._totals: Counter[str] = Counter()
        self._unsent: Counter[str] = Counter()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """A new run starts from nothing."""
        with self._lock:
            self._totals.clear()
            self._unsent.clear()

    def on_request(self, name: str, **_kwargs: Any) -> None:
        """Locust's request event, where users run."""
        with self._lock:
            self._totals[name] += 1
            self._unsent[name] += 1

    def on_report_to_master(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """A worker: what it counted since its last report goes with the report."""
        with self._lock:
            data[REPORT_KEY] = dict(self._unsent)
            self._unsent.clear()

    def on_worker_report(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """The master: add a worker's counts."""
        counts = data.get(REPORT_KEY)
        if isinstance(counts, dict):
            with self._lock:
                self._totals.update({str(k): int(v) for k, v in counts.items()})

    def totals(self) -> dict[str, float]:
        with self._lock:
            return {name: float(count) for name, count in self._totals.items()}
