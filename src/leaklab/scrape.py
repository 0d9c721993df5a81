"""Read a target's /metrics directly (the Prometheus text format): no Prometheus server.

The plugin scrapes each URL itself every step. A selector is a metric name with optional
label matchers (`m`, `m{pool="db"}`, `=` `!=` `=~` `!~`); its value is the sum of the
matching samples over every URL (replicas add up).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import requests
from prometheus_client.parser import text_string_to_metric_families

from leaklab.verdict.origins import Census

TIMEOUT = 2.0
START_TIME = "process_start_time_seconds"  # a new value: the process restarted
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$")


class ScrapeError(RuntimeError):
    """A URL did not answer with Prometheus text."""


@dataclass(frozen=True)
class Selector:
    """A metric and the label matchers its samples must pass."""

    metric: str
    matchers: tuple[tuple[str, str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Selector:
        """`m` or `m{a="b",c=~"d.*"}`; ValueError names what is wrong."""
        match = _SELECTOR.match(text)
        if not match:
            raise ValueError(f'{text!r} is not a metric selector such as m or m{{a="b"}}')
        body, matchers = (match.group(2) or "").strip(), []
        position = 0
        while position < len(body):
            part = _MATCHER.match(body, position)
            if not part:
                raise ValueError(f"{text!r}: cannot read the label matchers {body!r}")
            matchers.append((part.group(1), part.group(2), part.group(3)))
            position = part.end()
        return cls(match.group(1), tuple(matchers))

    def passes(self, labels: Mapping[str, str]) -> bool:
        for name, op, value in self.matchers:
            have = labels.get(name, "")
            if op == "=" and have != value or op == "!=" and have == value:
                return False
            if op in ("=~", "!~") and (re.fullmatch(value, have) is None) == (op == "=~"):
                return False
        return True


def _samples(text: str) -> Iterable[tuple[str, Mapping[str, str], float]]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, sample.labels, float(sample.value)


def scrape_text(url: str, session: requests.Session | None = None) -> str:
    getter = session or requests
    try:
        response = getter.get(url, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise ScrapeError(f"{url}: {exc.__class__.__name__}") from None
    if response.status_code != 200:
        raise ScrapeError(f"{url}: HTTP {response.status_code}")
    return response.text


def read(text: str, selectors: Mapping[str, Selector]) -> dict[str, float]:
    """Each selector's sum over the samples of one scrape (absent: not in the dict)."""
    by_metric: dict[str, list[tuple[str, Selector]]] = {}
    for name, selector in selectors.items():
        by_metric.setdefault(selector.metric, []).append((name, selector))
    out: dict[str, float] = {}
    try:
        for metric, labels, value in _samples(text):
            for name, selector in by_metric.get(metric, ()):
                if selector.passes(labels):
                    out[name] = out.get(name, 0.0) + value
    except ValueError as exc:
        raise ScrapeError(f"not Prometheus text: {exc}") from None
    return out


def metric_names(text: str) -> set[str]:
    """The sample names a scrape exposes (what the plugin can judge by default)."""
    try:
        return {name for name, _labels, _value in _samples(text)}
    except ValueError as exc:
        raise ScrapeError(f"not Prometheus text: {exc}") from None


def census(texts: Iterable[str]) -> Census:
    """Where the live objects were made, summed over the scrapes of every URL (replicas add
    up); empty when no target exports leaklab_live_objects / leaklab_allocated_bytes."""
    found = Census()
    try:
        for text in texts:
            for name, labels, value in _samples(text):
                found.add_sample(name, labels, value)
    except ValueError as exc:
        raise ScrapeError(f"not Prometheus text: {exc}") from None
    return found
