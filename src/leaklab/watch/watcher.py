"""Read the target's resources every step while the run lasts: the recording's points.

From the metrics URLs themselves (no Prometheus needed), or from a Prometheus with the
target's label matchers. With no --leak-resource given, the resources are the well-known
metrics the target exposes (leaklab.verdict.known), found at the first read that works.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

import requests

from leaklab.recording import Recording
from leaklab.scrape import (
    START_TIME,
    ScrapeError,
    Selector,
    census,
    metric_names,
    read,
    scrape_text,
)
from leaklab.verdict.known import known_metrics
from leaklab.verdict.origins import Census
from leaklab.verdict.query import Prometheus, QueryError, Resource, census_at, with_matchers
from leaklab.watch.options import LeakOptions

log = logging.getLogger("leaklab")


class NothingToJudge(RuntimeError):
    """The target exposes none of the metrics leaklab knows, and none was given."""


class Watcher:
    """One run's reads; `point()` once per step (the plugin's greenlet calls it)."""

    def __init__(self, options: LeakOptions, counts: Callable[[], dict[str, float]]) -> None:
        self.options = options
        self._counts = counts
        self._session = requests.Session()
        self._warned: set[str] = set()
        self.recording: Recording | None = None
        if options.resources:
            self.recording = Recording(options.resources, options.step, options.source)

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning("leaklab: %s", message)

    def _found(self, exposed: set[str]) -> Recording:
        known = known_metrics()
        resources = tuple(known[m] for m in known if m in exposed)
        if not resources:
            raise NothingToJudge(
                "the target exposes none of the metrics leaklab knows "
                "(process_resident_memory_bytes, process_open_fds, ...): "
                "give them as --leak-resource NAME=METRIC@THRESHOLD"
            )
        log.info("leaklab: judging %s", ", ".join(f"{r.name} ({r.selector})" for r in resources))
        return Recording(resources, self.options.step, self.options.source)

    def point(self) -> None:
        counts, at = self._counts(), time.time()
        if self.options.prometheus:
            self._from_prometheus(at, counts)
        else:
            self._from_metrics(at, counts)

    def _from_metrics(self, at: float, counts: dict[str, float]) -> None:
        texts = []
        for url in self.options.metrics:
            try:
                texts.append(scrape_text(url, self._session))
            except ScrapeError as exc:
                self._warn(url, f"cannot read {exc}; that point is left out")
                return
        if self.recording is None:
            exposed = set().union(*(metric_names(t) for t in texts))
            self.recording = self._found(exposed)
        selectors = {r.name: Selector.parse(r.selector) for r in self.recording.resources}
        per_url = [read(text, {**selectors, START_TIME: Selector(START_TIME)}) for text in texts]
        values: dict[str, float] = {}
        for name in selectors:
            if all(name in one for one in per_url):  # a replica without it: unknown, not 0
                values[name] = sum(one[name] for one in per_url)
        started = tuple(one.get(START_TIME, 0.0) for one in per_url)
        self.recording.add(at, counts, values, started if any(started) else (), census(texts))

    def _query(self, expr: str) -> list[dict[str, object]]:
        url = f"{self.options.prometheus}/api/v1/query"
        try:
            body = self._session.get(url, params={"query": expr}, timeout=5).json()
        except (requests.RequestException, ValueError) as exc:
            raise ScrapeError(f"{url}: {exc.__class__.__name__}") from None
        if body.get("status") != "success":
            raise ScrapeError(f"{url}: {body.get('error', 'query refused')}")
        result: list[dict[str, object]] = body["data"]["result"]
        return result

    def _from_prometheus(self, at: float, counts: dict[str, float]) -> None:
        matchers = self.options.selector
        try:
            if self.recording is None:
                names = "|".join(re.escape(m) for m in known_metrics())
                exposing = with_matchers('{__name__=~"' + names + '"}', matchers)
                found = self._query(f"group by (__name__) ({exposing})")
                exposed = {str(r["metric"].get("__name__")) for r in found}  # type: ignore[attr-defined]
                self.recording = self._found(exposed)
            values = {}
            for resource in self.recording.resources:
                result = self._query(f"sum({with_matchers(resource.selector, matchers)})")
                if result:
                    values[resource.name] = float(result[0]["value"][1])  # type: ignore[index]
        except ScrapeError as exc:
            self._warn("prometheus", f"cannot read {exc}; that point is left out")
            return
        self.recording.add(at, counts, values, census=self._census(at))

    def _census(self, at: float) -> Census | None:
        """Where the target's live objects were made, from Prometheus (None: not read now)."""
        try:
            return census_at(Prometheus(self.options.prometheus, 5.0), self.options.selector, at)
        except QueryError as exc:
            self._warn("origins", f"cannot read the origins: {exc}")
            return None

    def resources(self) -> tuple[Resource, ...]:
        return self.recording.resources if self.recording else ()
