"""The probe's metrics, in one process or in prometheus-client's multiprocess mode.

One process: a Collector on the default registry counts the live objects when scraped.
Multiprocess (Gunicorn with PROMETHEUS_MULTIPROC_DIR): the worker that answers a scrape
cannot read its siblings' objects, so each worker writes its own counts into its
multiprocess files, `livesum` gauges (a dead worker's share goes with
`mark_process_dead`): every second from the probe's thread, and just before its own
scrape (`publish`). The app's existing /metrics (a MultiProcessCollector) reads them.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Gauge, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from leaklab.probe.kinds import EXPORTED
from leaklab.probe.memory import MemoryWindows, Window
from leaklab.probe.registry import Registry

LIVE_OBJECTS = "leaklab_live_objects"
ALLOCATED_BYTES = "leaklab_allocated_bytes"
WINDOW_SECONDS = "leaklab_allocation_window_seconds"
LIVE_HELP = "Live objects of each kind (not closed, checked at scrape), by where they were made"
ALLOCATED_HELP = (
    "Bytes allocated at each top site during the last tracemalloc window and still held"
)
WINDOW_HELP = "Length of the last tracemalloc window"
WINDOW_END = "leaklab_allocation_window_end_seconds"
WINDOW_END_HELP = "When the last tracemalloc window closed (Unix time; the earliest worker's)"

# Written only in multiprocess mode (never registered: the MultiProcessCollector reads
# their files); defined once, at import.
_LIVE = Gauge(
    LIVE_OBJECTS,
    LIVE_HELP,
    ["kind", "origin", "endpoint"],
    multiprocess_mode="livesum",
    registry=None,
)
_ALLOCATED = Gauge(
    ALLOCATED_BYTES,
    ALLOCATED_HELP,
    ["origin", "endpoint"],
    multiprocess_mode="livesum",
    registry=None,
)
_WINDOW: list[Gauge] = []  # made at the first window: absent until one has run
_WINDOW_END: list[Gauge] = []  # made when a worker's probe starts: 0 until its first window


def multiprocess() -> bool:
    """prometheus-client writes to PROMETHEUS_MULTIPROC_DIR (decided when it was imported)."""
    return values.ValueClass is not values.MutexValue


def _live_rows(registry: Registry) -> Iterator[tuple[tuple[str, str, str], int]]:
    for kind, counts in sorted(registry.live(EXPORTED).items()):
        for (origin, endpoint), count in counts.items():
            yield (kind, origin, endpoint), count


class ProbeCollector(Collector):
    """Counts at scrape time (one process): the default registry's share of the probe."""

    def __init__(self, registry: Registry, windows: MemoryWindows) -> None:
        self.registry, self.windows = registry, windows

    def collect(self) -> Iterator[Metric]:
        live = GaugeMetricFamily(LIVE_OBJECTS, LIVE_HELP, labels=["kind", "origin", "endpoint"])
        for labels, count in _live_rows(self.registry):
            live.add_metric(list(labels), count)
        yield live
        window = self.windows.last
        if window is not None:
            allocated = GaugeMetricFamily(
                ALLOCATED_BYTES, ALLOCATED_HELP, labels=["origin", "endpoint"]
            )
            for origin, held, _growth in window.sites:
                allocated.add_metric([origin, ""], held)
            yield allocated
            yield GaugeMetricFamily(WINDOW_SECONDS, WINDOW_HELP, value=window.seconds)
            yield GaugeMetricFamily(WINDOW_END, WINDOW_END_HELP, value=window.ended)


class Publisher:
    """Writes this worker's counts into its multiprocess files (multiprocess mode)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._live: set[tuple[str, str, str]] = set()
        self._allocated: set[tuple[str, str]] = set()

    def live(self) -> None:
        rows = dict(_live_rows(self.registry))
        for gone in self._live - rows.keys():
            _LIVE.labels(*gone).set(0)
        for labels, count in rows.items():
            _LIVE.labels(*labels).set(count)
        self._live = set(rows)

    def window(self, window: Window) -> None:
        rows = {(origin, ""): held for origin, held, _growth in window.sites}
        for gone in self._allocated - rows.keys():
            _ALLOCATED.labels(*gone).set(0)
        for labels, held in rows.items():
            _ALLOCATED.labels(*labels).set(held)
        self._allocated = set(rows)
        if not _WINDOW:
            _WINDOW.append(
                Gauge(WINDOW_SECONDS, WINDOW_HELP, multiprocess_mode="livemax", registry=None)
            )
        _WINDOW[0].set(window.seconds)
        self.started()
        _WINDOW_END[0].set(window.ended)

    def started(self) -> None:
        """In a worker, before its first window: its window end is 0 until one closes, so
        the earliest of the live workers' (livemin) is past a request only once every
        worker's window has closed."""
        if not _WINDOW_END:
            _WINDOW_END.append(
                Gauge(WINDOW_END, WINDOW_END_HELP, multiprocess_mode="livemin", registry=None)
            )
