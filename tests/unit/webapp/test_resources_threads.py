"""A worker's request count and resets under threads (gthread): no server needed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from leaklab.scenarios import SCENARIOS
from webapp.state import Resources


class Recorder:
    """Database and Cache at once: records what was in flight at each reset."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.in_flight_at_reset: list[int] = []

    def reset(self) -> int:
        self.in_flight_at_reset.append(self.in_flight)
        return 0

    def open_connections(self) -> int:
        return 0

    def pool_max(self) -> int:
        return 0

    def in_use(self) -> int:
        return 0

    def pools(self) -> int:
        return 0

    def __getattr__(self, figure: str) -> Callable[[], int]:
        """Every other figure a scenario's gauges read: 0."""
        return lambda: 0


def _resources(recorder: Recorder) -> Resources:
    return Resources(
        scenarios=list(SCENARIOS),
        strategies=dict.fromkeys(SCENARIOS.names(), recorder),
        multiproc_dir=None,
        metrics=False,
    )


def _request(resources: Resources, recorder: Recorder, seconds: float) -> None:
    resources.request_started()
    recorder.in_flight += 1
    time.sleep(seconds)  # a connection in use
    recorder.in_flight -= 1
    resources.request_finished()


def test_a_reset_waits_for_the_requests_in_flight_and_holds_new_ones_back() -> None:
    recorder = Recorder()
    resources = _resources(recorder)
    slow = threading.Thread(target=_request, args=(resources, recorder, 0.5))
    slow.start()
    time.sleep(0.1)

    def reset_request() -> None:  # POST /admin/reset, on another thread of the worker
        resources.request_started()
        resources.release_all()
        resources.request_finished()

    resetting = threading.Thread(target=reset_request)
    resetting.start()
    time.sleep(0.1)
    late = threading.Thread(target=_request, args=(resources, recorder, 0.0))
    late.start()  # arrives while the reset waits: held back until it is done
    for thread in (slow, resetting, late):
        thread.join(timeout=10)
    # every scenario's strategy reset once, with nothing in use
    assert recorder.in_flight_at_reset == [0] * len(SCENARIOS)
    assert resources._active_requests == 0


def test_a_reset_signal_during_requests_is_carried_out_by_the_last_one() -> None:
    recorder = Recorder()
    resources = _resources(recorder)
    requests = [
        threading.Thread(target=_request, args=(resources, recorder, 0.2)) for _ in range(4)
    ]
    for thread in requests:
        thread.start()
    time.sleep(0.05)
    resources.on_reset_signal(0, None)  # what a sibling's SIGUSR2 runs, requests in flight
    assert recorder.in_flight_at_reset == []
    for thread in requests:
        thread.join(timeout=10)
    assert recorder.in_flight_at_reset == [0] * len(SCENARIOS)
