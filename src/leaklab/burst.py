"""A short, bounded burst of real requests at both apps (the demo before Locust)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

ENDPOINTS = ("/api/database", "/api/redis")


def burst(url: str, requests_per_endpoint: int, concurrency: int = 4) -> Counter[int]:
    """Send N requests to each endpoint of one app; count the status codes."""
    paths = [p for p in ENDPOINTS for _ in range(requests_per_endpoint)]

    def one(path: str) -> int:
        try:
            return requests.get(f"{url}{path}", timeout=30).status_code
        except requests.RequestException:
            return 0  # no answer at all

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return Counter(pool.map(one, paths))
