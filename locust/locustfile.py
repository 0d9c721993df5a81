"""Both apps under the same load: one task mix (one task per scenario), one user class per app.

Run through `leaklab load` (which passes --leaky-host/--fixed-host), or directly:
    locust -f locust/locustfile.py --config locust/locust.conf \
        --leaky-host http://127.0.0.1:8001 --fixed-host http://127.0.0.1:8002
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gevent
import leaks_view
import locust_exporter
import run_outcome
from locust import HttpUser, constant_pacing, events, tag
from locust.env import Environment
from locust.runners import WorkerRunner
from task_mix import Task, task_mix


def judge(response: Any, expected_key: str) -> None:
    """Pass a 200 whose JSON has expected_key; name saturation (JSON 503) as such."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict) and expected_key in body:
        response.success()
    elif response.status_code == 503 and isinstance(body, dict) and "resource" in body:
        response.failure(f"{run_outcome.SATURATED} {body['resource']}")
    else:
        text = (response.text or "")[:120]
        response.failure(f"HTTP {response.status_code}: {text}")


def _run(task: Task) -> Callable[[LeakLabUser], None]:
    def run(user: LeakLabUser) -> None:
        user.get(task.path, task.params(), task.expects)

    run.__name__ = task.name
    return tag(task.name)(run)  # `--tags NAME`: only that scenario's task


class LeakLabUser(HttpUser):
    """The shared task mix; subclasses only say which app they load."""

    abstract = True
    app = ""
    # Locust documents {task: weight}; its annotation knows only the list its metaclass makes
    tasks = {_run(t): t.weight for t in task_mix()}  # type: ignore[assignment]

    def wait_time(self) -> float:
        pacing = constant_pacing(self.environment.parsed_options.pace)
        return float(pacing(self))

    def get(self, path: str, params: dict[str, Any], expected_key: str) -> None:
        with self.client.get(
            path, params=params, name=f"{self.app} {path}", catch_response=True
        ) as response:
            judge(response, expected_key)


class LeakyUser(LeakLabUser):
    app = "leaky"


class FixedUser(LeakLabUser):
    app = "fixed"


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    group = parser.add_argument_group("leaklab")
    group.add_argument(
        "--leaky-host",
        env_var="LOCUST_LEAKY_HOST",
        default="http://127.0.0.1:8001",
        help="The leaky app's URL",
    )
    group.add_argument(
        "--fixed-host",
        env_var="LOCUST_FIXED_HOST",
        default="http://127.0.0.1:8002",
        help="The fixed app's URL",
    )
    group.add_argument(
        "--pace",
        type=float,
        env_var="LOCUST_PACE",
        default=0.5,
        help="Seconds between one user's tasks (constant pacing)",
    )
    group.add_argument(
        "--saturation",
        choices=["expected", "failure"],
        default="expected",
        env_var="LOCUST_SATURATION",
        help="Is a JSON 503 from a saturated app an expected result of the run?",
    )
    group.add_argument(
        "--shape",
        default="",
        env_var="LOCUST_SHAPE",
        help="Stage table for locust/shape.py (talk, ci, smoke)",
    )
    group.add_argument(
        "--prometheus-url",
        default="http://127.0.0.1:9090",
        env_var="LOCUST_PROMETHEUS_URL",
        help="Where the Leaks view (/leaks in the web UI) reads the figures",
    )
    group.add_argument(
        "--prometheus-step",
        type=float,
        default=1.0,
        env_var="LOCUST_PROMETHEUS_STEP",
        help="Prometheus's scrape interval in seconds (the Leaks view's time step)",
    )
    group.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        env_var="LOCUST_METRICS_PORT",
        help="Serve Locust's figures for Prometheus on this port (0: off)",
    )


def _keep_signals_flowing() -> None:
    """CPython runs a signal's handler in the main thread at its next bytecode. A SIGINT taken
    by another thread (gevent's resolver pool, numpy's BLAS pool) waited for the idle gevent
    loop, and Locust ignored Ctrl-C (seen: a hung `leaklab load`). A tick every 0.5 s."""
    while True:
        gevent.sleep(0.5)


@events.init.add_listener
def _configure(environment: Environment, **_kwargs: Any) -> None:
    gevent.spawn(_keep_signals_flowing)
    options = environment.parsed_options
    assert options is not None  # Locust's command line made this run
    LeakyUser.host = options.leaky_host
    FixedUser.host = options.fixed_host
    if isinstance(environment.runner, WorkerRunner):
        return
    if options.metrics_port:
        locust_exporter.serve(environment, options.web_host or "127.0.0.1", options.metrics_port)
    if environment.web_ui:
        leaks_view.install(environment, options.prometheus_url, options.prometheus_step)
