"""`import leaklab.locust` in a user's own locustfile, at an app leaklab never saw.

Each case is a Gunicorn app of its own (tests/integration/plugin/target_app.py: plain
Flask and prometheus_client) and a headless Locust run with the plugin reading its
/metrics directly; the runs go at once (bounded by -t) and each test checks one of them:
the exit code, the JSON (schema leaklab.check/v1) and the endpoints it names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from target_server import start
from test_probed_app import files_line, memory_line

from leaklab.paths import REPO
from leaklab.stack.process import free_port

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
RUN_TIME = "40s"
KEPT = 4096  # target_app.KEPT: bytes /memory keeps per call
PROBED_KEPT = 32768  # probed_app.KEPT
TOKEN = "plugin-test-probe-token"  # the probed app's LEAKLAB_PROBE_TOKEN, given to the plugin
SCHEMA = json.loads((REPO / "docs" / "check.schema.json").read_text())


@dataclass
class Case:
    paths: str
    extra: tuple[str, ...] = ()
    app: str = "target_app:app"
    env: dict[str, str] | None = None


CASES = {
    "mixed": Case("/memory,/files,/steady"),  # one leaks memory, one fds, one nothing
    "steady": Case("/steady"),
    "cached": Case("/cached"),  # a bounded cache: fills, then plateaus
    "distributed": Case("/memory", ("--processes", "2")),
    # leaklab.probe's one line in the app (probed_app.py): the verdicts name the lines, the
    # memory's from a window the plugin asks for once memory reads LEAK. A steady mix: this
    # case is about origins, and phases of three endpoints left the fd leak UNDECIDED once
    "probed": Case(
        "/files,/memory,/steady",
        ("--leak-probe-token", TOKEN, "--leak-mix", "steady"),
        app="probed_app:create()",
        env={"LEAKLAB_PROBE_TOKEN": TOKEN},
    ),
}


@dataclass
class Run:
    code: int
    output: str
    result: dict[str, Any]

    def resource(self, name: str) -> dict[str, Any]:
        return dict(self.result["apps"]["target"]["resources"][name])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    tmp = tmp_path_factory.mktemp("plugin")
    apps, locusts = [], {}
    try:
        for name, case in CASES.items():
            proc, url = start(tmp / f"{name}-app.log", name, case.app, env=case.env)
            apps.append(proc)
            argv = [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--host", url]
            argv += ["--headless", "-u", "20", "-r", "20", "-t", RUN_TIME, "--only-summary"]
            argv += ["--leak-metrics", f"{url}/metrics", "--leak-json", str(tmp / f"{name}.json")]
            master = str(free_port())  # --processes: the forked workers connect to --master-port
            argv += ["--master-bind-port", master, "--master-port", master, *case.extra]
            env = {**os.environ, "TARGET_PATHS": case.paths}
            locusts[name] = subprocess.Popen(
                argv, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        out = {}
        for name, locust in locusts.items():
            output = locust.communicate(timeout=150)[0].decode()
            path = tmp / f"{name}.json"
            result = json.loads(path.read_text()) if path.exists() else {}
            out[name] = Run(locust.returncode, output, result)
        yield out
    finally:
        for proc in [*locusts.values(), *apps]:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_a_memory_leak_fails_the_run_and_names_its_endpoint(runs: dict[str, Run]) -> None:
    run = runs["mixed"]
    assert run.code == 4, run.output[-3000:]  # LEAK, no failed request
    jsonschema.validate(run.result, SCHEMA)
    rss = run.resource("rss")
    assert rss["verdict"] == "LEAK", rss
    by_name = {e["name"]: e for e in rss["endpoints"]}
    memory = by_name["/memory"]
    assert memory["verdict"] == "LEAK", rss["endpoints"]
    assert abs(memory["growth_per_request"] / KEPT - 1) <= 0.25, memory
    assert by_name["/steady"]["verdict"] != "LEAK", rss["endpoints"]
    assert "target rss: LEAK from /memory" in run.output


def test_an_fd_leak_is_named_at_one_fd_per_call(runs: dict[str, Run]) -> None:
    fds = runs["mixed"].resource("fds")
    assert fds["verdict"] == "LEAK", fds
    by_name = {e["name"]: e for e in fds["endpoints"]}
    assert by_name["/files"]["verdict"] == "LEAK"
    assert abs(by_name["/files"]["growth_per_request"] - 1) <= 0.25, by_name["/files"]
    assert by_name["/steady"]["verdict"] != "LEAK" and by_name["/memory"]["verdict"] != "LEAK", fds


def test_with_the_probe_the_fd_leak_names_the_line_that_opens_the_files(
    runs: dict[str, Run],
) -> None:
    run = runs["probed"]
    assert run.code == 4, run.output[-3000:]
    jsonschema.validate(run.result, SCHEMA)
    fds = run.resource("fds")
    assert fds["verdict"] == "LEAK", fds
    top = fds["origins"][0]
    assert (top["where"], top["endpoint"]) == (files_line(), "/files"), fds["origins"]
    assert top["count"] > 100 and top["growth"] > 100, top
    assert f"target fds: LEAK, made at {files_line().split()[0]}" in run.output, run.output[-3000:]


def test_with_the_probe_and_its_token_the_memory_leak_names_where_it_was_allocated(
    runs: dict[str, Run],
) -> None:
    run = runs["probed"]
    rss = run.resource("rss")
    assert rss["verdict"] == "LEAK", rss
    assert "asked" in run.output and "for a memory window" in run.output, run.output[-3000:]
    top = rss["origins"][0]
    assert (top["where"], top["endpoint"]) == (memory_line(), None), rss["origins"]
    assert top["growth"] > 20 * PROBED_KEPT, top  # bytes still live from the window's calls
    assert f"allocated at {memory_line().split()[0]}" in run.output, run.output[-3000:]


def test_a_steady_app_passes(runs: dict[str, Run]) -> None:
    run = runs["steady"]
    assert run.code == 0, run.output[-3000:]
    verdicts = {n: r["verdict"] for n, r in run.result["apps"]["target"]["resources"].items()}
    assert set(verdicts) == {"rss", "fds"} and "LEAK" not in verdicts.values(), verdicts


def test_a_cache_that_fills_and_plateaus_is_no_leak(runs: dict[str, Run]) -> None:
    run = runs["cached"]
    assert run.code == 0, run.output[-3000:]
    assert run.resource("rss")["verdict"] != "LEAK", run.resource("rss")


def test_distributed_the_master_decides_on_the_workers_counts(runs: dict[str, Run]) -> None:
    run = runs["distributed"]
    assert run.code == 4, run.output[-3000:]
    rss = run.resource("rss")
    assert rss["verdict"] == "LEAK" and rss["requests_analysed"] > 1000, rss
