"""The plugin asks a probed app for a memory window once, when memory first reads LEAK
(--leak-probe-token), at the app behind each --leak-metrics URL (a real local server)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from leaklab.verdict.check import AppVerdict, CheckResult
from leaklab.verdict.query import AppData, Window, contract
from leaklab.verdict.stats import Decision, Verdict
from leaklab.watch import windows
from leaklab.watch.windows import WindowAsker, memory_leaks


def result(leaking: set[str]) -> CheckResult:
    grid = np.arange(0.0, 600.0, 20.0)
    data = AppData(requests=grid, segments=np.zeros(len(grid), dtype=np.int64))
    decisions = {
        r.name: Decision(Verdict.LEAK if r.name in leaking else Verdict.NO_LEAK, "", 600.0)
        for r in contract()
    }
    app = AppVerdict("target", "", data, decisions)
    return CheckResult("http://127.0.0.1:1/metrics", Window(0, 60, 1), contract(), [app])


class App:
    """An app's /leaklab/memory-window: records each POST, answers `status`."""

    def __init__(self, status: int) -> None:
        self.status, self.posts = status, []  # type: list[tuple[str, str | None]]
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                app.posts.append((self.path, self.headers.get("Authorization")))
                self.send_response(app.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metrics"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def app(request: pytest.FixtureRequest) -> Iterator[App]:
    served = App(getattr(request, "param", 202))
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture(autouse=True)
def look_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(windows, "LOOK_EVERY", 0.0)


def test_only_allocation_resources_read_leak_ask_for_a_window() -> None:
    assert memory_leaks(result({"rss", "db_connections", "fds"})) == ["rss"]
    assert memory_leaks(result({"db_connections", "fds"})) == []


def test_asks_once_when_memory_first_reads_leak_with_the_token(app: App) -> None:
    asker = WindowAsker((app.url,), "s3cret")
    asker.poll(lambda: result({"fds"}))
    asker.poll(lambda: None)  # too few points for a verdict yet
    assert app.posts == []
    asker.poll(lambda: result({"rss"}))
    asker.poll(lambda: result({"rss"}))
    assert app.posts == [("/leaklab/memory-window?seconds=2", "Bearer s3cret")]


def test_without_a_token_it_never_decides_nor_asks(app: App) -> None:
    asker = WindowAsker((app.url,), "")

    def decide() -> CheckResult:
        raise AssertionError("no token: no verdict is fitted for it")

    asker.poll(decide)
    assert app.posts == []


@pytest.mark.parametrize("app", [401], indirect=True)
def test_a_refused_token_is_one_warning_and_no_second_ask(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    asker = WindowAsker((app.url,), "wrong")
    with caplog.at_level(logging.WARNING, logger="leaklab"):
        asker.poll(lambda: result({"rss"}))
        asker.poll(lambda: result({"rss"}))
    assert len(app.posts) == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"leaklab: no memory window: {app.url.removesuffix('/metrics')}/leaklab/memory-window "
        "answered 401 (no leaklab.probe, or another token)"
    ]
