"""Every catalog scenario on the real stack: leaky climbs one per request (its server sees
it too), fixed stays within its bound, a reset releases it all, and at a limit the leaky
app answers a JSON 503 naming it with its workers alive."""

from __future__ import annotations

import random

import psutil
import pytest
import requests

from leaklab.burst import burst
from leaklab.measure import holdings, reset
from leaklab.scenarios import SCENARIOS, Scenario
from leaklab.stack import NativeStack
from leaklab.stack.state import RunState

CATALOG = [s for s in SCENARIOS if not s.story]
N = 12  # requests per check: a handful, each a new tenant, session, thread, entry...


def _one(url: str, scenario: Scenario) -> requests.Response:
    n = random.randint(1, scenario.request.n_max)
    params = {scenario.request.param: scenario.request.template.format(n=n)}
    return requests.get(f"{url}{scenario.endpoint}", params=params, timeout=15)


def _send(state: RunState, variant: str, scenario: Scenario, count: int) -> None:
    for _ in range(count):
        response = _one(state.url(variant), scenario)
        assert response.status_code == 200, response.text
        assert scenario.request.expects in response.json()


def _process(stack: NativeStack, variant: str) -> dict[str, int]:
    """fds and threads of the app's workers, as the OS counts them."""
    fds = threads = 0
    for worker in psutil.Process(stack.state.services[variant].pid).children():
        fds += worker.num_fds()
        threads += worker.num_threads()
    return {"fds": fds, "threads": threads}


@pytest.mark.parametrize("scenario", CATALOG, ids=lambda s: s.name)
def test_leaky_holds_one_more_per_request_and_its_server_sees_it(
    stack: NativeStack, state: RunState, scenario: Scenario
) -> None:
    before, os_before = holdings(state, "leaky"), _process(stack, "leaky")
    _send(state, "leaky", scenario, N)
    after, os_after = holdings(state, "leaky"), _process(stack, "leaky")
    workers = stack.settings.workers
    for leak in scenario.leaks:
        grown = after.held(leak.resource) - before.held(leak.resource)
        # one per request; a pub/sub client's first publish takes one more per worker
        assert N <= grown <= N + workers, (leak.resource, grown)
        if leak.server is not None:
            seen = after.server[leak.resource] - before.server[leak.resource]
            assert seen >= N, f"{leak.server.source} sees {seen} more, not {N}"
    for resource in set(scenario.judged) & {"fds", "threads"}:
        # the OS counts the workers' other sockets too (scrapes, clients) as they come and go
        assert os_after[resource] - os_before[resource] >= N - workers, resource


@pytest.mark.parametrize("scenario", CATALOG, ids=lambda s: s.name)
def test_fixed_stays_within_its_bound_under_concurrency(
    stack: NativeStack, state: RunState, scenario: Scenario
) -> None:
    url = state.url("fixed")
    codes = burst(url, 4 * N, concurrency=8, paths=[scenario.endpoint])
    assert codes == {200: 4 * N}
    first, os_first = holdings(state, "fixed"), _process(stack, "fixed")
    codes = burst(url, 4 * N, concurrency=8, paths=[scenario.endpoint])
    assert codes == {200: 4 * N}
    second, os_second = holdings(state, "fixed"), _process(stack, "fixed")
    for leak in scenario.leaks:
        held = second.held(leak.resource)
        if leak.bound is not None:  # a pool or a cache: full at most
            assert 0 < held <= second.app_metrics[leak.bound.name], (leak.resource, held)
        else:  # nothing kept past a request: as many as before (one logger per worker)
            assert held <= first.held(leak.resource), leak.resource
        if leak.server is not None:
            assert second.server[leak.resource] <= max(held, 0) + stack.settings.workers
    # another 48 requests leave the workers' fds and threads where they were
    assert os_second["threads"] <= os_first["threads"]
    assert os_second["fds"] <= os_first["fds"] + 2 * stack.settings.workers


@pytest.mark.parametrize("scenario", CATALOG, ids=lambda s: s.name)
def test_a_reset_releases_what_leaky_holds(state: RunState, scenario: Scenario) -> None:
    _send(state, "leaky", scenario, N)
    answer = reset(state, "leaky")
    assert answer["released"][scenario.name] >= N  # type: ignore[index]
    after = holdings(state, "leaky")
    for leak in scenario.leaks:
        assert after.held(leak.resource) == 0, leak.resource
        if leak.server is not None:
            assert after.server[leak.resource] == 0, leak.resource


LIMITED = [s for s in CATALOG if any(leak.exhausted for leak in s.leaks)]


@pytest.mark.parametrize("scenario", LIMITED, ids=lambda s: s.name)
def test_at_its_limit_leaky_answers_a_json_503_and_its_workers_live(
    stack: NativeStack, state: RunState, scenario: Scenario
) -> None:
    workers = {p.pid for p in psutil.Process(stack.state.services["leaky"].pid).children()}
    url = state.url("leaky")
    refused = None
    for _ in range(1500):
        response = _one(url, scenario)
        if response.status_code == 503:
            refused = response.json()
            break
        assert response.status_code == 200, response.text
    assert refused is not None, "no limit reached in 1,500 requests"
    names = {r for leak in scenario.leaks for r in leak.exhausted}
    assert refused["resource"] in names, refused
    assert set(refused) == {"error", "resource", "status"}
    assert {p.pid for p in psutil.Process(stack.state.services["leaky"].pid).children()} == (
        workers
    )
    assert requests.get(f"{url}/health", timeout=5).status_code == 200
    reset(state, "leaky")
    assert _one(url, scenario).status_code == 200  # serving again after the reset
