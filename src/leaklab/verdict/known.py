"""Metrics whose leak thresholds leaklab knows, so a user judging them needs no numbers.

A target's Prometheus endpoint is searched for these by name: prometheus-client's own
process metrics, the leaklab contract's gauges (from the registry), and the pool and
thread gauges of well-known libraries and runtimes. Thresholds are growth per 1,000
requests; those of the process figures are the contract's own (calibrated on the fixed
app, bench/detection.py), the others count objects, where a leak is about one per request
and a bounded pool grows by nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from leaklab.scenarios import RSS, THREADS, MiB
from leaklab.verdict.query import Resource, contract

SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{.*\})?\s*$")


@dataclass(frozen=True)
class Known:
    """A metric leaklab can judge with no threshold given."""

    name: str  # the resource's name in verdicts and JSON
    metric: str
    threshold_per_1k: float
    unit: str
    source: str  # who exports it (the README's table)

    @property
    def resource(self) -> Resource:
        memory = self.unit == "bytes"  # judged as the contract judges RSS
        return Resource(
            self.name,
            self.metric,
            self.threshold_per_1k,
            self.unit,
            warmup_requests=RSS.warmup_requests if memory else 0.0,
            noise_multiple=RSS.noise_multiple if memory else 0.0,
            noise_grain=RSS.noise_grain if memory else 0.0,
        )


PROCESS = "prometheus-client"
WELL_KNOWN: tuple[Known, ...] = (
    Known("rss", "process_resident_memory_bytes", RSS.threshold_per_1k, "bytes", PROCESS),
    Known("fds", "process_open_fds", 4.0, "fds", PROCESS),
    Known("threads", "process_threads", THREADS.threshold_per_1k, "threads", "psutil exporters"),
    Known("goroutines", "go_goroutines", 1.0, "goroutines", "Go's client"),
    Known("jvm_threads", "jvm_threads_live_threads", 1.0, "threads", "Micrometer"),
    Known("hikari_connections", "hikaricp_connections", 1.0, "connections", "HikariCP"),
    Known("node_handles", "nodejs_active_handles_total", 1.0, "handles", "prom-client (Node)"),
    Known("heap", "nodejs_heap_size_used_bytes", 0.5 * MiB, "bytes", "prom-client (Node)"),
)


def metric_name(selector: str) -> str | None:
    """The metric a selector reads (m or m{labels}); None for an expression."""
    match = SELECTOR.match(selector)
    return match.group(1) if match else None


def known_metrics() -> dict[str, Resource]:
    """Every metric judged without a threshold given, by metric name."""
    known = {k.metric: k.resource for k in WELL_KNOWN}
    for resource in contract():
        known.setdefault(resource.selector, resource)
    return known


def known_by_name() -> dict[str, Resource]:
    """The same, by resource name (rss, fds, db_connections...)."""
    by_name = {r.name: r for r in contract()}
    for k in WELL_KNOWN:
        by_name.setdefault(k.name, k.resource)
    return by_name


def defaults_for(name: str, selector: str) -> Resource | None:
    """The threshold and unit for NAME=SELECTOR with none given: by the metric, then the name."""
    metric = metric_name(selector)
    base = known_metrics().get(metric or "") or known_by_name().get(name)
    if base is None:
        return None
    return Resource(
        name,
        selector,
        base.threshold_per_1k,
        base.unit,
        warmup_requests=base.warmup_requests,
        noise_multiple=base.noise_multiple,
        noise_grain=base.noise_grain,
        exhausted=base.exhausted if base.name == name else (),
    )
