"""At an external limit the leaky app answers a JSON 503 naming it, and survives a reset."""

import json

import psutil
import requests

from leaklab.stack import NativeStack
from leaklab.stack.state import RunState


def _workers(stack: NativeStack, variant: str) -> set[int]:
    return {p.pid for p in psutil.Process(stack.state.services[variant].pid).children()}


def _until_503(url: str, limit: int) -> tuple[int, dict[str, str]]:
    for sent in range(1, limit + 1):
        response = requests.get(url, timeout=10)
        if response.status_code == 503:
            return sent, response.json()
        assert response.status_code == 200
    raise AssertionError(f"no 503 after {limit} requests")


def _exhausted(state: RunState, resource: str) -> float:
    text = requests.get(f"{state.url('leaky')}/metrics", timeout=5).text
    named = f'resource="{resource}"'
    return sum(
        float(x.rsplit(" ", 1)[1])
        for x in text.splitlines()
        if x.startswith("leaklab_exhausted_total{") and named in x
    )


def _details_only_in_the_log(stack: NativeStack, body: dict[str, str], detail: str) -> None:
    """The client learns which resource, the log what the server or the OS said."""
    assert set(body) == {"error", "resource", "status"}, body
    assert detail not in json.dumps(body)
    log = (stack.run_dir / "logs" / "leaky.log").read_text()
    assert f"503: {body['resource']} exhausted: " in log and detail in log


def _alive_then_recovers(stack: NativeStack, state: RunState, workers: set[int], path: str) -> None:
    """The same workers still answer; after /admin/reset the endpoint serves again."""
    assert _workers(stack, "leaky") == workers
    for _ in range(5):
        assert requests.get(f"{state.url('leaky')}/health", timeout=5).status_code == 200
    reset = requests.post(
        f"{state.url('leaky')}/admin/reset",
        headers={"Authorization": f"Bearer {state.admin_token}"},
        timeout=10,
    )
    assert reset.status_code == 200
    assert requests.get(f"{state.url('leaky')}{path}", timeout=10).status_code == 200


def test_postgres_max_connections(stack: NativeStack, state: RunState) -> None:
    workers = _workers(stack, "leaky")
    limit = stack.settings.pg_max_connections
    sent, body = _until_503(f"{state.url('leaky')}/api/database", limit + 10)
    assert sent <= limit
    assert body["resource"] == "postgresql_max_connections"
    assert "exhausted" in body["error"]
    _details_only_in_the_log(stack, body, "too many")

    again = requests.get(f"{state.url('leaky')}/api/database", timeout=10)
    assert again.status_code == 503  # still saturated
    assert _exhausted(state, "postgresql_max_connections") >= 2
    _alive_then_recovers(stack, state, workers, "/api/database")


def test_worker_open_file_limit(stack: NativeStack, state: RunState) -> None:
    workers = _workers(stack, "leaky")
    nofile = stack.settings.worker_nofile
    sent, body = _until_503(f"{state.url('leaky')}/api/redis", 2 * nofile)
    assert body["resource"] == "worker_open_files"
    _details_only_in_the_log(stack, body, f"of {nofile} file descriptors open")
    _alive_then_recovers(stack, state, workers, "/api/redis")


def test_the_fixed_app_never_saturates(stack: NativeStack, state: RunState) -> None:
    for path in ("/api/database", "/api/redis"):
        for _ in range(150):
            assert requests.get(f"{state.url('fixed')}{path}", timeout=10).status_code == 200
