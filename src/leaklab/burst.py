"""A short, bounded burst of real requests at an app (the demo's warm-up before Locust)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import requests
from prometheus_client.parser import text_string_to_metric_families

from leaklab.scenarios import API_REQUESTS, WORKER_RSS, Scenario

REQUESTS_COUNT = API_REQUESTS.partition("{")[0]  # flask_http_request_duration_seconds_count

ENDPOINTS = ("/api/database", "/api/redis")
# A fresh app's memory settles over its first hundreds of requests at each endpoint
# (allocator arenas, each gthread thread's first use, pools and caches filling): measured on
# the fixed app, 140-2,780 KiB over the first 300 at each of the nine endpoints, 4-400 over
# the next 300, 0-116 over the third (the threshold: 150 per 300). Real apps are warm.
WARM_UP_REQUESTS = 600  # served per endpoint before a measured run; an app warm already: none
WARM_UP_CLIENTS = 32  # concurrent, kept-alive: as many connections as a load's users open
WARM_UP_ROUND = 300  # then rounds of this many, while memory still grows
SETTLE_ROUNDS = 4  # at most (a leaking app never settles: it is emptied after anyway)
# the memory threshold (64 B per request): at 256 B the fixed app, called warm, still grew
# 169 B per request over the first third of a 20,000-request run (72 B at 64 B)
SETTLED_BYTES_PER_REQUEST = 64
SETTLE_SECONDS = 45  # per app, for the settle rounds: the leaky app's took 170 s, uncapped
SETTLE_OK_SHARE = 0.9  # a round answered less than this with 2xx: exhausted, i.e. leaking


def burst(
    url: str,
    requests_per_endpoint: int,
    concurrency: int = 4,
    paths: Sequence[str] = ENDPOINTS,
    keep_alive: bool = False,
) -> Counter[int]:
    """Send N requests to each endpoint of one app; count the status codes.

    keep_alive: each thread reuses its connection, as Locust's users do (else one per request).
    """
    each = [p for p in paths for _ in range(requests_per_endpoint)]
    local = threading.local()

    def get(path: str) -> requests.Response:
        if not keep_alive:
            return requests.get(f"{url}{path}", timeout=30)
        if not hasattr(local, "session"):
            local.session = requests.Session()
        session: requests.Session = local.session
        return session.get(f"{url}{path}", timeout=30)

    def one(path: str) -> int:
        try:
            return get(path).status_code
        except requests.RequestException:
            return 0  # no answer at all

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return Counter(pool.map(one, each))


def served(url: str) -> tuple[Counter[str], float]:
    """Requests the app has served per route, and its workers' RSS, from its /metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    counts: Counter[str] = Counter()
    rss = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == REQUESTS_COUNT:
                counts[sample.labels.get("path", "")] += int(sample.value)
            elif sample.name == WORKER_RSS.name:
                rss += sample.value
    return counts, rss


def warm_up(
    scenarios: Iterable[Scenario], requests_per_endpoint: int = WARM_UP_REQUESTS
) -> Callable[[str], object]:
    """What a measured run calls with each app's URL before emptying it: bursts at each
    endpoint of the scenarios it drives, as concurrent as a load, until the app has served
    `requests_per_endpoint` there and its memory has settled (a warm app gets none). Settling
    stops at an endpoint whose round was mostly refused (exhausted: a leak, which never
    settles) and after SETTLE_SECONDS per app."""
    paths = [s.endpoint for s in scenarios]

    def warm(url: str) -> Counter[int]:
        codes: Counter[int] = Counter()
        deadline = time.monotonic() + SETTLE_SECONDS
        for path in paths:
            done, rss = served(url)
            count, rounds = requests_per_endpoint - done[path], 0
            while count > 0:
                answered = burst(url, count, WARM_UP_CLIENTS, [path], keep_alive=True)
                codes += answered
                now = served(url)[1]
                settled = now - rss < SETTLED_BYTES_PER_REQUEST * count
                ok = sum(n for code, n in answered.items() if 200 <= code < 300)
                exhausted = ok < SETTLE_OK_SHARE * count
                rss, rounds = now, rounds + 1
                more = not (settled or exhausted) and rounds <= SETTLE_ROUNDS
                count = WARM_UP_ROUND if more and time.monotonic() < deadline else 0
        return codes

    return warm
