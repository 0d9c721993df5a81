"""`leaklab talk --auto` end to end on the real stack: the six stages, the verdicts, the reset
(stepped through with Enter in a 120x32 terminal: test_talk_on_stage.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from leaklab.measure import holdings
from leaklab.stack import NativeStack
from leaklab.stack.process import free_port, port_in_use
from leaklab.stack.state import RunState
from leaklab.talk import STAGES

LEAKLAB = [sys.executable, "-m", "leaklab.cli"]


def talk(
    stack: NativeStack, *args: str, stdin: str | None = None, web_port: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LEAKLAB_RUN_DIR": str(stack.run_dir),
        "LOCUST_WEB_PORT": str(web_port or free_port()),
        "LOCUST_MASTER_BIND_PORT": str(free_port()),
        "COLUMNS": "160",
    }
    return subprocess.run(
        [*LEAKLAB, "talk", "--no-browser", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def verdict_cells(output: str) -> dict[tuple[str, str], str]:
    return {
        (cells[0], cells[1]): cells[2]
        for line in output.splitlines()
        if line.startswith(("│ leaky ", "│ fixed "))
        for cells in [[c.strip() for c in line.split("│")[1:-1]]]
        if len(cells) == 6
    }


def latest_check(stack: NativeStack) -> dict[str, object]:
    runs = sorted((stack.run_dir / "load").glob("*-talk"))
    assert runs, "the talk keeps its Locust reports and verdict JSON"
    body: dict[str, object] = json.loads((runs[-1] / "check.json").read_text())
    return body


def assert_the_story(result: subprocess.CompletedProcess[str], stack: NativeStack) -> None:
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    positions = [out.index(f"{n}) {title}") for n, title in enumerate(STAGES, start=1)]
    assert positions == sorted(positions), "the stages come in order"
    # 1) the code slide: the marked lines of both files
    assert "# LEAK: never" in out  # the rest of the comment may wrap under it
    assert "# FIX: bounded, shared" in out
    # 2) the URLs to open
    assert "/leaks" in out and "Prometheus" in out
    # 4) the leaky app's JSON 503 at max_connections, the fixed app's few connections
    assert '"resource": "postgresql_max_connections"' in out
    # 5) the verdicts, on screen and as JSON
    cells = verdict_cells(out)
    for resource in ("db_connections", "redis_connections"):
        assert cells[("leaky", resource)] == "LEAK", cells
        assert cells[("fixed", resource)] == "NO LEAK", cells
    check = latest_check(stack)
    assert check["schema"] == "leaklab.check/v1" and check["exit_code"] == 1
    # 6) the reset: the leaky app holds nothing, server-side
    assert "ready for the next run, no restart" in out
    leaky = holdings(stack.state, "leaky")
    assert (leaky.db_server, leaky.redis_server) == (0, 0)
    assert "Traceback" not in result.stderr


def test_talk_auto_runs_the_whole_story(stack: NativeStack, state: RunState) -> None:
    port = free_port()
    result = talk(stack, "--auto", "--pause", "0", "--climb", "4", web_port=port)
    assert_the_story(result, stack)
    assert not port_in_use("127.0.0.1", port), "Locust stopped with the talk"


# Enter between the stages: test_talk_on_stage.py, in a terminal of a projector's size.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--pause", "-1"), "--pause"),
        (("--shape", "nope"), "--shape"),
    ],
)
def test_bad_options_get_a_message_and_exit_2(
    stack: NativeStack, args: tuple[str, ...], message: str
) -> None:
    result = talk(stack, "--auto", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
