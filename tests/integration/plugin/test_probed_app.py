"""leaklab.probe in an app leaklab never saw (probed_app.py): its /metrics names the line of
the endpoint that keeps a file open per call, in one process (the middleware line) and
under Gunicorn with two workers in multiprocess mode (the config hooks, no code change)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families
from target_server import start, stop

HERE = Path(__file__).resolve().parent
CALLS = 12


def files_line() -> str:
    lines = (HERE / "probed_app.py").read_text().splitlines()
    (number,) = [n + 1 for n, text in enumerate(lines) if "handle = open(" in text]
    return f"probed_app.py:{number} create.<locals>.files"  # origins: from Gunicorn's cwd


def memory_line() -> str:
    lines = (HERE / "probed_app.py").read_text().splitlines()
    (number,) = [n + 1 for n, text in enumerate(lines) if "_kept.append(" in text]
    return f"probed_app.py:{number} create.<locals>.memory"


def live_files(url: str) -> Counter[tuple[str, str]]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return Counter(
        {
            (s.labels["origin"], s.labels["endpoint"]): int(s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "leaklab_live_objects" and s.labels["kind"] == "file"
        }
    )


def _call(url: str) -> None:
    for path in ["/files"] * CALLS + ["/steady"] * CALLS:
        assert requests.get(f"{url}{path}", timeout=10).status_code == 200


def test_one_process_with_the_middleware_line(tmp_path: Path) -> None:
    proc, url = start(tmp_path / "probed.log", "probed", "probed_app:create()")
    try:
        _call(url)
        files = live_files(url)
    finally:
        stop(proc)
    assert files[(files_line(), "/files")] == CALLS, files
    assert sum(files.values()) == CALLS, files  # /steady keeps none


def test_gunicorn_workers_in_multiprocess_mode_with_the_config_hooks(tmp_path: Path) -> None:
    multiproc = tmp_path / "multiproc"
    multiproc.mkdir()
    proc, url = start(
        tmp_path / "probed-mp.log",
        "probed-mp",
        "probed_app:create(probe=False)",
        ("--workers", "2", "--config", str(HERE / "probed_gunicorn.conf.py")),
        {"PROMETHEUS_MULTIPROC_DIR": str(multiproc)},
    )
    try:
        _call(url)
        deadline = time.monotonic() + 5  # the other worker writes its counts each second
        while (files := live_files(url))[(files_line(), "/files")] < CALLS:
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
    finally:
        stop(proc)
    assert files[(files_line(), "/files")] == CALLS, files
