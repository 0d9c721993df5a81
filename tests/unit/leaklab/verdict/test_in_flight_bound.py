"""A count held per request in flight, with no bound declared: physics gives one."""

from __future__ import annotations

import numpy as np

from leaklab.verdict.check import decide_app
from leaklab.verdict.query import AppData, Resource
from leaklab.verdict.stats import Series, Verdict

HELD = Resource("db_connections", "db_connections_open", 2.0, "connections", in_flight=True)
NOT_HELD = Resource("loggers", "loggers", 2.0, "loggers")
USERS = 20
PER_SCRAPE = 20  # requests between two scrapes


def _app(values: np.ndarray, resource: Resource = HELD, users: float = USERS) -> AppData:
    requests = PER_SCRAPE * np.arange(len(values), dtype=float)
    data = AppData(requests=requests, segments=np.zeros(len(values), dtype=np.int64))
    data.resources[resource.name] = Series(requests, values)
    data.bounds[resource.name] = 0.0  # the leaky app declares none: "0 means unbounded"
    data.users = np.full(len(values), users)
    return data


def _leak(points: int) -> np.ndarray:
    return 2.0 + PER_SCRAPE * np.arange(points, dtype=float)  # one per request


def test_one_per_request_is_leak_two_scrapes_after_it_passes_the_users_in_flight() -> None:
    # 2 at the start + 20 users + 2 for health checks: 24 can be legal, 42 and 62 in two
    # scrapes running cannot
    d = decide_app(_app(_leak(4)), (HELD,))[HELD.name]
    assert d.verdict is Verdict.LEAK, d.reason
    assert "users' requests in flight" in d.reason and "24" in d.reason, d.reason
    assert d.requests <= 3 * PER_SCRAPE
    # one scrape above it is not enough (a restarting worker's old and new connections)
    assert decide_app(_app(_leak(3)), (HELD,))[HELD.name].verdict is Verdict.UNDECIDED


def test_a_pool_growing_to_the_users_and_staying_is_never_leak() -> None:
    rng = np.random.default_rng(0)
    filled = np.minimum(2.0 + np.arange(40) * 3, 2.0 + USERS) - rng.integers(0, 3, 40)
    filled[0] = 2.0
    filled[20:22] += 1  # a health check or a scrape in flight too, twice running
    d = decide_app(_app(filled), (HELD,))[HELD.name]
    assert d.verdict is not Verdict.LEAK, d.reason


def test_without_users_or_for_a_count_not_held_per_request_there_is_no_such_bound() -> None:
    assert decide_app(_app(_leak(4), users=0), (HELD,))[HELD.name].verdict is Verdict.UNDECIDED
    leak = _leak(4)
    assert decide_app(_app(leak, NOT_HELD), (NOT_HELD,))[NOT_HELD.name].verdict is (
        Verdict.UNDECIDED
    )
