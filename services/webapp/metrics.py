"""The metric contract, multiprocess-correct under Gunicorn.

The gauges are the registry's (leaklab.scenarios): named there, created here once per
process, in `live*` modes so a dead worker's share vanishes with `mark_process_dead`.
Per-worker RSS, fds and threads are read at scrape time for every live worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import psutil
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from leaklab import scenarios
from webapp.multiproc import RetireSafeCollector, read_metrics

_GAUGES: dict[str, Gauge] = {}


def gauge(spec: scenarios.Gauge) -> Gauge:
    """The prometheus-client gauge of a registry figure, created once per process.

    `livesum`: a dead worker's share vanishes with `mark_process_dead`.
    """
    if spec.suffix not in _GAUGES:
        _GAUGES[spec.suffix] = Gauge(spec.name, spec.help, multiprocess_mode="livesum")
    return _GAUGES[spec.suffix]


for _spec in scenarios.SCENARIOS.gauges():  # defined at import: the factory runs many times
    gauge(_spec)

EXHAUSTED = Counter(
    scenarios.EXHAUSTED,
    "Requests refused with a 503 because a resource was exhausted, by request path",
    ["resource", "path"],
)
RESETS = Gauge(scenarios.RESETS.name, scenarios.RESETS.help, multiprocess_mode="liveall")


class WorkerProcessCollector(Collector):
    """RSS, open fds and threads of every live Gunicorn worker, read when scraped; with an
    upstream port, also each worker's sockets to it in any state (CLOSE_WAIT included)."""

    def __init__(self, master_pid: Callable[[], int | None], upstream_port: int = 0) -> None:
        self._master_pid = master_pid
        self._upstream_port = upstream_port

    def _workers(self) -> list[psutil.Process]:
        master = self._master_pid()
        if master is None:
            return [psutil.Process()]
        try:
            return psutil.Process(master).children()
        except psutil.NoSuchProcess:
            return [psutil.Process()]

    def collect(self) -> Iterator[Metric]:
        specs = [scenarios.WORKER_RSS, scenarios.WORKER_FDS, scenarios.WORKER_THREADS]
        if self._upstream_port:
            specs.append(scenarios.WORKER_UPSTREAM_SOCKETS)
        families = [GaugeMetricFamily(spec.name, spec.help, labels=["pid"]) for spec in specs]
        for proc in self._workers():
            try:
                figures = self._figures(proc)
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue  # exited between listing and reading: it is not live
            for family, figure in zip(families, figures, strict=False):
                family.add_metric([str(proc.pid)], figure)
        yield from families

    def _figures(self, proc: psutil.Process) -> list[float]:
        with proc.oneshot():
            figures: list[float] = [proc.memory_info().rss, proc.num_fds(), proc.num_threads()]
        if self._upstream_port:
            sockets = proc.net_connections(kind="tcp")
            figures.append(sum(1 for c in sockets if c.raddr and c.raddr[1] == self._upstream_port))
        return figures


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
    upstream_port: int = 0,
) -> bytes:
    """Render /metrics: every worker's files in multiprocess mode, plus live process figures."""
    registry = CollectorRegistry(auto_describe=False)
    if multiproc_dir:
        RetireSafeCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Registries([REGISTRY, app_registry]))
    registry.register(WorkerProcessCollector(master_pid, upstream_port))
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
        if sample.name == scenarios.RESETS.name
    }
