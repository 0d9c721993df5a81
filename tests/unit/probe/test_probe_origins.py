"""leaklab.probe without servers: origins, kinds, liveness, the bound, endpoints, export."""

from __future__ import annotations

import atexit
import gc
import logging
import os
import pathlib
import sysconfig
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpcore
import httpx
import psycopg
import psycopg2
import psycopg_pool
import pytest
import requests
from helper_open import open_kept
from httpcore._sync.connection_pool import PoolByteStream
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from leaklab import probe
from leaklab.probe.memory import MemoryWindows
from leaklab.probe.registry import OTHER, Key
from leaklab.probe.sites import APP, LIBRARY, Classifier, Sites
from leaklab.settings import ProbeSettings, SettingsError

HERE = Path(__file__).resolve().parent
ME = "test_probe_origins.py"


def line(text: str) -> int:
    """The line of this file that holds text (once, after this function)."""
    lines = (HERE / ME).read_text().splitlines()
    found = [n + 1 for n, source in enumerate(lines) if text in source and "line(" not in source]
    assert len(found) == 1, (text, found)
    return found[0]


def live(p: probe.Probe, kind: str) -> Counter[Key]:
    return p.registry.live().get(kind, Counter())


def test_a_file_is_named_at_the_application_line_past_the_stdlib(
    probed: probe.Probe, tmp_path: Path
) -> None:
    kept = pathlib.Path(tmp_path / "a.log").open("a")  # noqa: SIM115 (through the stdlib)
    assert live(probed, "file")[(f"{ME}:{line('kept = pathlib')} {_test_name()}", "")] == 1
    kept.close()
    assert live(probed, "file") == Counter()  # closed: not live, and forgotten


def _test_name() -> str:
    return "test_a_file_is_named_at_the_application_line_past_the_stdlib"


def test_files_named_by_str_or_bytes_are_recorded_but_not_the_kernels_pseudo_files(
    probed: probe.Probe, tmp_path: Path
) -> None:
    by_str = open(str(tmp_path / "s.log"), "a")  # noqa: SIM115
    by_bytes = open(str(tmp_path / "b.log").encode(), "a")  # noqa: SIM115
    proc = open("/proc/self/stat", "rb")  # noqa: SIM115 (psutil's, many a second)
    by_fd = open(os.dup(by_str.fileno()), "a", closefd=True)  # noqa: SIM115
    try:
        assert sum(live(probed, "file").values()) == 3  # str, bytes, fd: not /proc
    finally:
        for handle in (by_str, by_bytes, proc, by_fd):
            handle.close()


def test_a_helper_module_is_passed_over_and_its_caller_named(
    probed: probe.Probe, tmp_path: Path
) -> None:
    handle = open_kept(str(tmp_path / "b.log"))  # the helper opens it
    test = "test_a_helper_module_is_passed_over_and_its_caller_named"
    origin = f"{ME}:{line('handle = open_kept')} {test}"
    assert live(probed, "file")[(origin, "")] == 1
    handle.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # unclosed on purpose: freed
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_object_the_collector_frees_is_no_longer_counted(
    probed: probe.Probe, tmp_path: Path
) -> None:
    handles = [open(tmp_path / "c.log", "a") for _ in range(3)]  # noqa: SIM115
    assert sum(live(probed, "file").values()) == 3
    del handles
    gc.collect()
    assert sum(live(probed, "file").values()) == 0  # CPython closed them: weakly held


def test_an_executors_threads_are_named_where_the_executor_was_made(probed: probe.Probe) -> None:
    release = threading.Event()
    pool = ThreadPoolExecutor(max_workers=2)  # the pool's origin
    futures = [pool.submit(release.wait, 5) for _ in range(2)]
    plain = threading.Thread(target=release.wait, args=(5,))
    plain.start()  # a thread of its own
    threads = live(probed, "thread")
    name = "test_an_executors_threads_are_named_where_the_executor_was_made"
    assert threads[(f"{ME}:{line('pool = ThreadPoolExecutor')} {name}", "")] == 2
    assert threads[(f"{ME}:{line('plain.start()')} {name}", "")] == 1
    release.set()
    for future in futures:
        future.result()
    pool.shutdown(wait=True)
    plain.join()
    assert live(probed, "thread") == Counter()  # ended: not live


def test_loggers_and_exit_hooks_live_until_dropped(probed: probe.Probe) -> None:
    name = "leaklab.test.probe.one"
    logger = logging.getLogger(name)
    logging.getLogger(name)  # the same logger again: not a second one

    def hook() -> None:
        pass

    atexit.register(hook)
    test = "test_loggers_and_exit_hooks_live_until_dropped"
    assert live(probed, "logger") == {(f"{ME}:{line('logger = logging.getLogger')} {test}", ""): 1}
    assert live(probed, "exit_hook") == {(f"{ME}:{line('atexit.register(hook)')} {test}", ""): 1}
    atexit.unregister(hook)
    logging.Logger.manager.loggerDict.pop(logger.name)
    assert live(probed, "logger") == Counter() and live(probed, "exit_hook") == Counter()


def test_at_most_20_origins_a_kind_the_rest_under_other(
    probed: probe.Probe, tmp_path: Path
) -> None:
    kept = []
    for n in range(25):  # 25 sites: a function compiled at a line of its own each
        source = "\n" * n + "def make(path):\n    return open(path, 'a')\n"
        namespace: dict[str, Any] = {}
        exec(compile(source, str(HERE / "generated.py"), "exec"), namespace)
        kept.append(namespace["make"](tmp_path / f"{n}.log"))
    files = live(probed, "file")
    assert len(files) == 21 and files[(OTHER, "")] == 5, files  # 20 origins, and other
    for handle in kept:
        handle.close()


def test_the_endpoint_is_the_requests_route_or_its_first_segments(
    probed: probe.Probe, tmp_path: Path
) -> None:
    kept: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        kept.append(open(tmp_path / "d.log", "a"))  # noqa: SIM115
        start_response("200 OK", [])
        return [b""]

    wrapped = probe.middleware(app)
    wrapped({"PATH_INFO": "/api/orders/123/items"}, lambda *a: None)

    class Rule:
        rule = "/api/orders/<int:order>"

    class Request:
        url_rule = Rule()

    wrapped({"PATH_INFO": "/api/orders/7", "werkzeug.request": Request()}, lambda *a: None)
    endpoints = Counter(endpoint for _origin, endpoint in live(probed, "file"))
    assert endpoints == {"/api/orders": 1, "/api/orders/<int:order>": 1}
    kept.append(open(tmp_path / "e.log", "a"))  # noqa: SIM115 (outside a request)
    assert Counter(e for _o, e in live(probed, "file"))[""] == 1
    for handle in kept:
        handle.close()


def test_the_default_registry_serves_the_counts_at_scrape_time(
    probed: probe.Probe, tmp_path: Path
) -> None:
    handle = open(tmp_path / "f.log", "a")  # noqa: SIM115 (scraped while open)
    origin = f"{ME}:{line('(scraped while open)')} {_scraped()}"
    assert _scrape()[("file", origin, "")] == 1
    handle.close()
    assert ("file", origin, "") not in _scrape()  # closed since: gone at the next scrape


def _scraped() -> str:
    return "test_the_default_registry_serves_the_counts_at_scrape_time"


def _scrape() -> dict[tuple[str, str, str], float]:
    text = generate_latest(REGISTRY).decode()
    return {
        (s.labels["kind"], s.labels["origin"], s.labels["endpoint"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "leaklab_live_objects"
    }


_held: list[bytes] = []


def _memo(n: int) -> None:
    _held.append(bytes(16384) + n.to_bytes(4, "big"))  # kept: the leak the window must name


def test_a_memory_window_names_the_line_that_keeps_what_it_allocates() -> None:
    windows = MemoryWindows(Sites(Classifier.of(str(HERE))), 0.3, 60.0, 4)
    stop = threading.Event()

    def leak() -> None:
        n = 0
        while not stop.is_set():
            _memo(n)
            n += 1
            time.sleep(0.002)

    worker = threading.Thread(target=leak)
    worker.start()
    try:
        window = windows.run(0.3)
    finally:
        stop.set()
        worker.join()
        _held.clear()
    assert window is not None
    origin, held, growth = window.sites[0]
    assert origin == f"{ME}:{line('_held.append(bytes(16384)')} _memo", window.sites[:3]
    assert held >= 10 * 16384 and growth >= 10 * 16384


def test_probe_settings_name_the_variable() -> None:
    assert not ProbeSettings.from_env({"LEAKLAB_PROBE": "off"}).enabled
    settings = ProbeSettings.from_env({})
    assert settings.memory_window == 0 and settings.enabled  # windows only when asked
    for env, named in [
        ({"LEAKLAB_PROBE": "0"}, "LEAKLAB_PROBE must be 'on' or 'off'"),
        ({"LEAKLAB_PROBE_MEMORY_WINDOW": "soon"}, "LEAKLAB_PROBE_MEMORY_WINDOW must be"),
        (
            {"LEAKLAB_PROBE_MEMORY_WINDOW": "500ms", "LEAKLAB_PROBE_MEMORY_EVERY": "600ms"},
            "LEAKLAB_PROBE_MEMORY_EVERY must be at least",
        ),
    ]:
        try:
            ProbeSettings.from_env(env)
        except SettingsError as exc:
            assert named in str(exc)
        else:
            raise AssertionError(f"{env} was taken")


def test_off_leaves_the_app_alone() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return [b""]

    assert probe.middleware(app, settings=ProbeSettings(enabled=False)) is app
    assert probe.current() is None


def test_disable_puts_every_patched_original_back() -> None:
    """Each class attribute and module function a hook replaced (through patch: psycopg's
    connect, once replaced by assignment, stayed): later tests see the libraries as they were."""
    owners = [psycopg.Connection, psycopg_pool.ConnectionPool, httpx.Client]
    owners += [httpcore.HTTPConnection, PoolByteStream, psycopg2, requests.Session, atexit]

    def attributes() -> dict[tuple[str, str], object]:
        return {(str(o), name): value for o in owners for name, value in vars(o).items()}

    probe.disable()
    before = attributes()
    assert probe.enable(str(HERE), settings=ProbeSettings(memory_window=0)) is not None
    try:
        patched = attributes()
        assert {k for k in before if patched.get(k) is not before[k]} >= {
            (str(psycopg.Connection), "__init__"),
            (str(httpx.Client), "send"),
        }
    finally:
        probe.disable()
    after = attributes()
    assert {k for k in before if after.get(k) is not before[k]} == set()


def test_the_middleware_serves_metrics_for_an_app_without_them(
    probed: probe.Probe, tmp_path: Path
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise AssertionError("the app is not asked for /metrics")

    handle = open(tmp_path / "g.log", "a")  # noqa: SIM115
    statuses: list[str] = []
    body = b"".join(
        probe.middleware(app, metrics_path="/metrics")(
            {"PATH_INFO": "/metrics"}, lambda status, headers: statuses.append(status)
        )
    )
    handle.close()
    assert statuses == ["200 OK"]
    assert b'leaklab_live_objects{endpoint="",kind="file"' in body


def test_an_app_installed_in_site_packages_is_still_the_apps_code() -> None:
    installed = Path(sysconfig.get_paths()["purelib"]) / "shop"
    plain = Classifier.of(str(HERE))
    assert plain.classify(str(installed / "views.py")) == (LIBRARY, "shop/views.py")
    declared = Classifier.of(str(HERE), [str(installed / "db.py")], {str(installed): "src/shop"})
    assert declared.classify(str(installed / "views.py")) == (APP, "src/shop/views.py")
    assert declared.classify(str(installed / "db.py"))[0] == LIBRARY  # a helper: passed over
