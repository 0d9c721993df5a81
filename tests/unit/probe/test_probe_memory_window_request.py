"""POST /leaklab/memory-window: one memory window when asked, token-guarded, bad input 4xx."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from leaklab import probe
from leaklab.probe.demand import WINDOW_PATH, WindowRequests
from leaklab.settings import ProbeSettings

TOKEN = "s3cret"
_kept: list[bytes] = []


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    _kept.append(bytes(8192))  # each request keeps 8 KiB: a memory leak at this line
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def probed_app() -> Iterator[Any]:
    probe.disable()
    wrapped = probe.middleware(
        app, root=__file__.rsplit("/", 1)[0], token=TOKEN, settings=ProbeSettings(memory_window=0)
    )
    try:
        yield wrapped
    finally:
        probe.disable()
        _kept.clear()


def call(
    wsgi: Any, path: str, method: str = "POST", query: str = "", auth: str = ""
) -> tuple[int, dict[str, Any]]:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(),
        **({"HTTP_AUTHORIZATION": auth} if auth else {}),
    }
    status: list[str] = []
    body = b"".join(wsgi(environ, lambda s, _h: status.append(s)))
    code = int(status[0].split()[0])
    return code, (json.loads(body) if path == WINDOW_PATH else {})


def metrics() -> dict[str, float]:
    text = generate_latest(REGISTRY).decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("leaklab_alloc"):
                key = sample.name + (
                    f"|{sample.labels['origin']}" if "origin" in sample.labels else ""
                )
                out[key] = sample.value
    return out


@pytest.mark.parametrize(
    ("method", "query", "auth", "status", "message"),
    [
        ("GET", "", f"Bearer {TOKEN}", 405, "POST"),
        ("POST", "", "", 401, "Bearer"),
        ("POST", "", "Bearer nope", 403, "wrong token"),
        ("POST", "seconds=soon", f"Bearer {TOKEN}", 400, "seconds must be a number"),
        ("POST", "seconds=0", f"Bearer {TOKEN}", 400, "more than 0"),
        ("POST", "seconds=nan", f"Bearer {TOKEN}", 400, "more than 0"),
        ("POST", "seconds=60", f"Bearer {TOKEN}", 400, "at most 10"),
    ],
)
def test_bad_requests_get_a_json_4xx_and_no_window(
    probed_app: Any, method: str, query: str, auth: str, status: int, message: str
) -> None:
    code, body = call(probed_app, WINDOW_PATH, method, query, auth)
    assert code == status and message in body["error"] and body["status"] == status


def test_a_refused_request_opens_no_window(probed_app: Any) -> None:
    for auth, query in (("", ""), ("Bearer nope", ""), (f"Bearer {TOKEN}", "seconds=0")):
        assert call(probed_app, WINDOW_PATH, query=query, auth=auth)[0] >= 400
    call(probed_app, "/orders", method="GET")
    time.sleep(1.5)  # past a tick of the probe's thread
    assert "leaklab_allocation_window_end_seconds" not in metrics()


def test_without_a_token_the_endpoint_is_off() -> None:
    probe.disable()
    wrapped = probe.middleware(app, settings=ProbeSettings(memory_window=0))
    try:
        code, body = call(wrapped, WINDOW_PATH, auth="Bearer anything")
    finally:
        probe.disable()
    assert code == 403 and "LEAKLAB_PROBE_TOKEN" in body["error"]


def test_a_window_asked_for_names_the_line_that_keeps_memory(probed_app: Any) -> None:
    asked = time.time()
    code, body = call(probed_app, WINDOW_PATH, query="seconds=1", auth=f"Bearer {TOKEN}")
    assert (code, body["window_seconds"]) == (202, 1.0)
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            call(probed_app, "/orders", method="GET")
            time.sleep(0.002)

    loader = threading.Thread(target=load)
    loader.start()
    try:
        deadline = time.monotonic() + 10
        while (
            time.monotonic() < deadline
            and metrics().get("leaklab_allocation_window_end_seconds", 0) < asked
        ):
            time.sleep(0.2)
    finally:
        stop.set()
        loader.join()
    found = metrics()
    assert found["leaklab_allocation_window_end_seconds"] >= asked + 1.0
    sites = {k.split("|", 1)[1]: v for k, v in found.items() if "|" in k}
    top = max(sites, key=lambda origin: sites[origin])
    assert top.startswith("test_probe_memory_window_request.py:") and top.endswith(" app"), sites
    assert sites[top] >= 10 * 8192


def test_each_worker_sees_a_request_once_and_never_an_older_one(tmp_path: Any) -> None:
    asker, watcher = WindowRequests(str(tmp_path)), WindowRequests(str(tmp_path))
    asker.ask(2.0)
    watcher.mark_seen()  # a worker started after that request: not for it
    assert watcher.asked() == 0.0
    asker.ask(1.5)
    assert watcher.asked() == 1.5
    assert watcher.asked() == 0.0  # once
    asker.ask(1.5)  # the same length again is a new request
    assert watcher.asked() == 1.5
