"""After a memory LEAK: where the memory was allocated, read from a window asked for then.

Memory windows are off in the apps by default (a worker's first leaves a step in its RSS,
which a measured run would read as growth), so the allocation sites of a memory leak are
read once it is decided: ask every worker for one window (`POST /leaklab/memory-window`,
token-guarded), keep a short bounded burst at the run's endpoints while it lasts (tracemalloc
sees only what is allocated during the window), then read `leaklab_allocated_bytes` from the
app's /metrics once every worker's window has closed. A few seconds, after the verdict: the
measured run's window is already closed, so the step falls outside it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests
from prometheus_client.parser import text_string_to_metric_families

from leaklab.probe.demand import WINDOW_PATH
from leaklab.probe.export import WINDOW_END
from leaklab.scenarios import SCENARIOS
from leaklab.scrape import ScrapeError, census
from leaklab.verdict.check import AppVerdict, CheckResult
from leaklab.verdict.origins import Census, origins_of
from leaklab.verdict.stats import Verdict

WINDOW_SECONDS = 2.0
CLIENTS = 8  # concurrent, kept-alive: a load's worth, so every worker serves during its window
MAX_REQUESTS = 4000  # the burst's bound, whatever happens
TICK_MARGIN = 3.0  # seconds past the window: each worker looks for the request every second


def ask_window(url: str, token: str, seconds: float = WINDOW_SECONDS) -> str | None:
    """Ask the app at `url` (any URL of it: its /metrics will do) for a memory window in
    every worker; None when it was taken, else why not, in a few words."""
    parts = urlsplit(url)
    endpoint = f"{parts.scheme}://{parts.netloc}{WINDOW_PATH}"
    try:
        response = requests.post(
            endpoint,
            params={"seconds": f"{seconds:g}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except requests.RequestException as exc:
        return f"{endpoint}: {exc.__class__.__name__}"
    if response.status_code != 202:
        return f"{endpoint} answered {response.status_code} (no leaklab.probe, or another token)"
    return None


def window_end(url: str) -> float:
    """When the last window closed: the earliest of the live workers' (0: none yet)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    ends = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == WINDOW_END
    ]
    return min(ends, default=0.0)


def _burst_until(url: str, paths: Sequence[str], stop: threading.Event) -> int:
    """GETs at the paths, CLIENTS at a time, until stop is set or MAX_REQUESTS are sent."""
    sent = [0]
    lock = threading.Lock()

    def client() -> None:
        with requests.Session() as session:
            i = 0
            while not stop.is_set():
                with lock:
                    if sent[0] >= MAX_REQUESTS:
                        return
                    sent[0] += 1
                try:
                    session.get(f"{url}{paths[i % len(paths)]}", timeout=10)
                except requests.RequestException:
                    pass  # an exhausted leaky app answers 503 or not at all: still a request
                i += 1

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        for _ in range(CLIENTS):
            pool.submit(client)
    return sent[0]


def allocation_sites(
    url: str, token: str, paths: Sequence[str], seconds: float = WINDOW_SECONDS
) -> Census | None:
    """The app's allocation sites over one window with load at `paths` (None: the app has no
    probe, refused the token, or no window closed in time)."""
    asked = time.time()
    if ask_window(url, token, seconds) is not None:
        return None
    stop = threading.Event()
    burst = threading.Thread(target=_burst_until, args=(url, paths, stop), daemon=True)
    burst.start()
    deadline = asked + seconds + TICK_MARGIN + 5.0
    try:
        while time.time() < deadline:
            time.sleep(0.5)
            try:
                if window_end(url) >= asked + seconds:
                    break
            except (requests.RequestException, ScrapeError, ValueError):
                continue
        else:
            return None
    finally:
        stop.set()
        burst.join(timeout=30)
    try:
        return census([requests.get(f"{url}/metrics", timeout=10).text])
    except (requests.RequestException, ScrapeError):
        return None


def allocated(resource: str) -> bool:
    """Whether allocation sites explain the resource (RSS, a heap), as the registry says."""
    source = SCENARIOS.origins(resource)
    return source is not None and source.allocations


Groups = dict[tuple[str, ...], list[str]]  # endpoints to load -> the resources they locate


def unlocated(result: CheckResult, paths: Sequence[str]) -> dict[str, Groups]:
    """Per app, its memory resources read LEAK with no allocation site known yet, grouped by
    the endpoints to load during their window: a scenario's own resource, its endpoint only
    (tracemalloc cannot tell which request allocated); a process-wide one (RSS), the
    endpoints that grow it, else all the run's `paths`."""
    out: dict[str, Groups] = {}
    own = {leak.resource: s.endpoint for s in SCENARIOS for leak in s.leaks}
    for app in result.apps:
        for name, decision in app.decisions.items():
            if decision.verdict is not Verdict.LEAK or not allocated(name):
                continue
            if any(o.unit == "bytes" for o in app.origins.get(name, [])):
                continue
            load = (own[name],) if name in own else _growers(result, app, name) or tuple(paths)
            out.setdefault(app.name, {}).setdefault(load, []).append(name)
    return out


def _growers(result: CheckResult, app: AppVerdict, name: str) -> tuple[str, ...]:
    """The endpoints a process-wide resource's growth comes from: the leaking scenarios that
    grow it (the registry's `judged`), else the endpoints its fit attributes it to (not
    the ones refused once it ran out: a saturated app's refusals are anyone's)."""
    run = [s for s in SCENARIOS if not result.scenarios or s.name in result.scenarios]
    leaking = [
        s.endpoint
        for s in run
        if name in s.judged
        and any(
            d.verdict is Verdict.LEAK
            for r in s.resources
            if r != name and (d := app.decisions.get(r)) is not None
        )
    ]
    fitted = [
        e.name
        for e in app.endpoints.get(name, [])
        if e.verdict is Verdict.LEAK and e.basis == "regression"
    ]
    return tuple(leaking or fitted)


def locate(result: CheckResult, urls: dict[str, str], token: str, paths: Sequence[str]) -> int:
    """Add allocation sites to each memory LEAK that has none (apps by name -> URL), one
    window per set of endpoints; how many resources got some."""
    located = 0
    for app_name, groups in unlocated(result, paths).items():
        if app_name not in urls:
            continue
        app = next(a for a in result.apps if a.name == app_name)
        for load, names in groups.items():
            found = allocation_sites(urls[app_name], token, load)
            if found is None:
                continue
            for name, origins in origins_of(names, found, None).items():
                if origins:
                    app.origins[name] = origins
                    located += 1
    return located
