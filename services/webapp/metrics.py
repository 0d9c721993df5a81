"""The metric contract, multiprocess-correct under Gunicorn.

Gauges are defined once at import (the factory runs many times in tests) and use
`live*` modes so a dead worker's share vanishes with `mark_process_dead`.
Per-worker RSS, fds and threads are read at scrape time for every live worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import psutil
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from webapp.multiproc import RetireSafeCollector, read_metrics

DB_OPEN = Gauge(
    "leaklab_db_connections_open",
    "PostgreSQL connections the app holds open",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "leaklab_db_pool_max",
    "Capacity of the app's PostgreSQL pools, summed over workers (0: no pool)",
    multiprocess_mode="livesum",
)
DB_POOL_IN_USE = Gauge(
    "leaklab_db_pool_in_use",
    "PostgreSQL connections checked out by requests",
    multiprocess_mode="livesum",
)
REDIS_OPEN = Gauge(
    "leaklab_redis_connections_open",
    "Redis connections the app holds open",
    multiprocess_mode="livesum",
)
REDIS_POOL_MAX = Gauge(
    "leaklab_redis_pool_max",
    "Capacity of the app's Redis connection pools, summed over workers (0: unbounded)",
    multiprocess_mode="livesum",
)
EXHAUSTED = Counter(
    "leaklab_exhausted",
    "Requests refused with a 503 because a resource was exhausted",
    ["resource"],
)
REDIS_POOLS = Gauge(
    "leaklab_redis_pools",
    "Live redis-py connection pools",
    multiprocess_mode="livesum",
)
RESETS = Gauge(
    "leaklab_worker_resets",
    "Resets (POST /admin/reset) each live worker has carried out",
    multiprocess_mode="liveall",
)


class WorkerProcessCollector(Collector):
    """RSS, open fds and threads of every live Gunicorn worker, read when scraped."""

    def __init__(self, master_pid: Callable[[], int | None]) -> None:
        self._master_pid = master_pid

    def _workers(self) -> list[psutil.Process]:
        master = self._master_pid()
        if master is None:
            return [psutil.Process()]
        try:
            return psutil.Process(master).children()
        except psutil.NoSuchProcess:
            return [psutil.Process()]

    def collect(self) -> Iterator[Metric]:
        rss = GaugeMetricFamily(
            "leaklab_worker_resident_memory_bytes", "RSS of each live worker", labels=["pid"]
        )
        fds = GaugeMetricFamily(
            "leaklab_worker_open_fds", "Open file descriptors of each live worker", labels=["pid"]
        )
        threads = GaugeMetricFamily(
            "leaklab_worker_threads", "Threads of each live worker", labels=["pid"]
        )
        for proc in self._workers():
            try:
                with proc.oneshot():
                    figures = (proc.memory_info().rss, proc.num_fds(), proc.num_threads())
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue  # exited between listing and reading: it is not live
            pid = str(proc.pid)
            rss.add_metric([pid], figures[0])
            fds.add_metric([pid], figures[1])
            threads.add_metric([pid], figures[2])
        yield from (rss, fds, threads)


class _Registries(Collector):
    """Collect from several registries as one (single-process mode)."""

    def __init__(self, registries: Iterable[CollectorRegistry]) -> None:
        self._registries = list(registries)

    def collect(self) -> Iterator[Metric]:
        for registry in self._registries:
            yield from registry.collect()


def exposition(
    multiproc_dir: str | None,
    app_registry: CollectorRegistry,
    master_pid: Callable[[], int | None],
) -> bytes:
    """Render /metrics: every worker's files in multiprocess mode, plus live process figures."""
    registry = CollectorRegistry(auto_describe=False)
    if multiproc_dir:
        RetireSafeCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Registries([REGISTRY, app_registry]))
    registry.register(WorkerProcessCollector(master_pid))
    return generate_latest(registry)


def _samples(multiproc_dir: str) -> Iterator[Sample]:
    for metric in read_metrics(multiproc_dir):
        yield from metric.samples


def multiprocess_totals(multiproc_dir: str, names: Iterable[str]) -> dict[str, float]:
    """Sum the current values of the named metrics over live workers."""
    totals = dict.fromkeys(names, 0.0)
    for sample in _samples(multiproc_dir):
        if sample.name in totals:
            totals[sample.name] += sample.value
    return totals


def resets_by_worker(multiproc_dir: str) -> dict[int, float]:
    """How many resets each live worker has carried out."""
    return {
        int(sample.labels["pid"]): sample.value
        for sample in _samples(multiproc_dir)
        if sample.name == "leaklab_worker_resets"
    }
