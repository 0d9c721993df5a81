"""leaklab.probe in our apps: /metrics names the line that made each leaked object.

The lines are found in leaky.py's and fixed.py's source by what they do, never written
down here: moving a line moves the origin the test expects.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable

import requests
from extra_app import ExtraAppFactory
from prometheus_client.parser import text_string_to_metric_families

from leaklab.burst import burst
from leaklab.memory_sites import WINDOW_SECONDS, allocation_sites, window_end
from leaklab.paths import REPO
from leaklab.probe.demand import WINDOW_PATH
from leaklab.scenarios import SCENARIOS, Scenario
from leaklab.stack import NativeStack
from leaklab.stack.state import RunState

WEBAPP = REPO / "services" / "webapp"
N = 5  # requests per endpoint
PUBLISHED = 1.2  # seconds: every worker has written its counts (each second)


def line_of(variant: str, cls: str, text: str) -> str:
    """The origin of the first line of class `cls` in `variant`.py that contains `text`."""
    lines = (WEBAPP / f"{variant}.py").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"class {cls}"))
    for number in range(start + 1, len(lines)):
        if text in lines[number]:
            body = lines[start:number]
            method = [m for line in body if (m := re.match(r"    def (\w+)", line))][-1][1]
            return f"services/webapp/{variant}.py:{number + 1} {cls}.{method}"
    raise AssertionError(f"{text!r} not in {cls}")


Live = Counter[tuple[str, str, str]]  # (kind, origin, endpoint) -> live objects


def live_objects(url: str) -> Live:
    text = requests.get(f"{url}/metrics", timeout=10).text
    live: Live = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "leaklab_live_objects":
                labels = sample.labels
                live[(labels["kind"], labels["origin"], labels["endpoint"])] += int(sample.value)
    return live


def until(url: str, done: Callable[[Live], bool], timeout: float = 5.0) -> Live:
    """/metrics until done: the worker that answers writes its counts now, the others each
    second."""
    deadline = time.monotonic() + timeout
    while True:
        live = live_objects(url)
        if done(live) or time.monotonic() > deadline:
            return live
        time.sleep(0.25)


def send(url: str, scenario: Scenario, count: int = N) -> None:
    for _ in range(count):
        n = random.randint(1, scenario.request.n_max)
        params = {scenario.request.param: scenario.request.template.format(n=n)}
        response = requests.get(f"{url}{scenario.endpoint}", params=params, timeout=15)
        assert response.status_code == 200, response.text


# Each scenario's leaked objects: the kind and the line of the leaky class that makes them.
LEAKY = {
    "database": ("pg_connection", "ConnectionPerRequest", "pg_connect("),
    "redis": ("redis_connection", "ClientPerRequest", "from_url("),
    "tenant_engines": ("sqlalchemy_engine", "EnginePerTenant", "create_engine("),
    "http_sessions": ("http_session", "SessionPerRequest", "requests.Session()"),
    "executors": ("thread", "ExecutorPerRequest", "ThreadPoolExecutor("),
    "pubsub": ("redis_connection", "SubscriptionPerRequest", "subscribed("),
    "loggers": ("logger", "LoggerPerRequest", "getLogger("),
    "files": ("file", "FilePerRequest", "open("),
    "exit_hooks": ("exit_hook", "ExitHookPerRequest", "atexit.register("),
}
# Through a pool: the connections go back to the leaked pool, shown at the pool's origin.
ALSO = {
    "tenant_engines": ("pg_connection", "EnginePerTenant", "create_engine("),
    "http_sessions": ("socket", "SessionPerRequest", "requests.Session()"),
    "loggers": ("file", "LoggerPerRequest", "FileHandler("),
}


def test_the_leaky_app_names_each_scenarios_leaky_line(state: RunState) -> None:
    url = state.url("leaky")
    expected = {}
    for scenario in SCENARIOS:
        if scenario.name not in LEAKY:
            continue
        send(url, scenario)
        made = [LEAKY[scenario.name], *([ALSO[scenario.name]] if scenario.name in ALSO else [])]
        for kind, cls, text in made:
            expected[(kind, line_of("leaky", cls, text), scenario.endpoint)] = N
    live = until(url, lambda live: all(live[key] >= n for key, n in expected.items()))
    missing = {key: live[key] for key, n in expected.items() if live[key] < n}
    assert not missing, (missing, sorted(k for k in live if k[0] in {k[0] for k in missing}))


def test_the_fixed_app_shows_its_pools_origins_bounded(stack: NativeStack, state: RunState) -> None:
    url = state.url("fixed")
    database, cache = SCENARIOS.get("database"), SCENARIOS.get("redis")
    assert burst(url, 40, concurrency=8, paths=[database.endpoint, cache.endpoint]) == {200: 80}
    pool = (
        "pg_connection",
        line_of("fixed", "PooledConnections", "ThreadedConnectionPool("),
        "",
    )
    live = until(url, lambda live: live[pool] > 0)
    per_kind = Counter(kind for kind, _origin, _endpoint in live)
    assert 0 < live[pool] <= stack.settings.db_pool_max * stack.settings.workers, live[pool]
    assert max(per_kind.values()) <= 20 * stack.settings.workers, per_kind
    # nothing the fixed app makes per request stays: no origin grows with the requests
    time.sleep(PUBLISHED)
    before = live_objects(url)
    send(url, database, 2 * N)
    time.sleep(PUBLISHED)
    after = live_objects(url)
    grown = {k: after[k] - before[k] for k in after if after[k] - before[k] >= 2 * N}
    assert not grown, grown


def allocated(url: str) -> dict[str, float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return {
        s.labels["origin"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "leaklab_allocated_bytes" and s.value > 0
    }


def test_a_window_asked_for_after_a_memory_leak_names_the_memos_and_the_exit_hooks_lines(
    extra_app: ExtraAppFactory, state: RunState
) -> None:
    """Windows are off by default; `check` asks every worker for one after a memory LEAK."""
    memo, receipts = SCENARIOS.get("memo"), SCENARIOS.get("exit_hooks")
    expected = {
        line_of("leaky", "MemoPerTimestamp", "return price_sheet("),
        line_of("leaky", "ExitHookPerRequest", "Receipt(order)"),
    }
    with extra_app("leaky-asked-window", "leaky", workers=2) as app:
        burst(app.url, 40, concurrency=4, paths=[memo.endpoint, receipts.endpoint])
        assert allocated(app.url) == {}  # no window unless asked
        refused = requests.post(f"{app.url}{WINDOW_PATH}", timeout=5)
        assert refused.status_code == 401 and "token" in refused.json()["error"]
        asked = time.time()
        found = allocation_sites(app.url, state.admin_token, [memo.endpoint, receipts.endpoint])
        assert found is not None, app.log.read_text()[-2000:]
        ended = window_end(app.url)
    sites = {where: held for (where, _endpoint), held in found.allocated.items() if held > 0}
    assert expected <= set(sites), sites
    assert sites[line_of("leaky", "MemoPerTimestamp", "return price_sheet(")] >= 10 * 16384
    # the earliest of both workers' window ends: each ran its own window after the request
    assert ended >= asked + WINDOW_SECONDS
