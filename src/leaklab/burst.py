"""A short, bounded burst of real requests at an app (the demo's warm-up before Locust)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import requests

from leaklab.scenarios import Scenario

ENDPOINTS = ("/api/database", "/api/redis")
# A fresh worker's memory settles over its first thousands of requests (allocator arenas,
# each gthread thread's first use): measured on the fixed app, ~420 B per request over the
# first 2,000 at one endpoint, ~25 over the next 2,000. Real apps are warm.
WARM_UP_REQUESTS = 150  # per endpoint, before each measured run


def burst(
    url: str,
    requests_per_endpoint: int,
    concurrency: int = 4,
    paths: Sequence[str] = ENDPOINTS,
) -> Counter[int]:
    """Send N requests to each endpoint of one app; count the status codes."""
    each = [p for p in paths for _ in range(requests_per_endpoint)]

    def one(path: str) -> int:
        try:
            return requests.get(f"{url}{path}", timeout=30).status_code
        except requests.RequestException:
            return 0  # no answer at all

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return Counter(pool.map(one, each))


def warm_up(
    scenarios: Iterable[Scenario], requests_per_endpoint: int = WARM_UP_REQUESTS
) -> Callable[[str], object]:
    """What a measured run calls with each app's URL before emptying it: a burst at the
    endpoints of the scenarios it drives, as concurrent as the load."""
    paths = [s.endpoint for s in scenarios]
    return lambda url: burst(url, requests_per_endpoint, concurrency=8, paths=paths)
