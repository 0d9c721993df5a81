"""The leaklab command on a corrupt state.json and on a closed pipe, as a user runs it.

The corrupt-state cases start no server: they fail while reading the state, and the
leaky app's port is held by the test, so a command that read past the corruption would
stop at "port in use" (a different message) instead of starting a stack.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from leaklab.stack import NativeStack
from leaklab.stack.process import RUN_DIR_VAR, free_port

LEAKLAB = [sys.executable, "-m", "leaklab.cli"]

SERVICE = {
    "name": "leaky",
    "url": "http://127.0.0.1:1",
    "pid": 4242,
    "started": 1.0,
    "log": "",
    "stop_signal": 15,
    "external": False,
}
STATE = {
    "services": {"leaky": SERVICE},
    "database_admin_url": "",
    "admin_token": "",
    "postgres_home": "",
    "locust_metrics_port": 0,
    "redis_admin_url": "",
    "app_urls": {},
    "connection_limits": {},
}


def _json(**changes: object) -> bytes:
    return json.dumps({**STATE, **changes}).encode()


def _service(**changes: object) -> bytes:
    return _json(services={"leaky": {**SERVICE, **changes}})


CORRUPT: dict[str, bytes | None] = {  # None: state.json is a directory
    "garbage bytes": b"\x00\xff\xfe garbage \x89",
    "empty file": b"",
    "empty object": b"{}",
    "an extra key": _json(extra=1),
    "a string pid": _service(pid="4242"),
    "a JSON list": b"[]",
    "a directory": None,
    "a missing key in a service": json.dumps(
        {**STATE, "services": {"leaky": {k: v for k, v in SERVICE.items() if k != "pid"}}}
    ).encode(),
    "a wrong type": _service(external="no"),
}
COMMANDS = {
    "status": ["status"],
    "up": ["up"],
    "load": ["load", "--headless", "--run-time", "1s"],
    "check --since": ["check", "--since", "1m"],
}


def run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LEAKLAB, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A run directory of its own, the stack's servers not given from outside, and the
    leaky app's port taken: nothing can start."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        environ = {
            k: v
            for k, v in os.environ.items()
            if k not in ("LEAKLAB_PROMETHEUS_URL", "LEAKLAB_DATABASE_URL", "LEAKLAB_REDIS_URL")
        }
        yield {
            **environ,
            "LEAKLAB_RUN_DIR": str(tmp_path / "run"),
            "LEAKLAB_LEAKY_PORT": str(held.getsockname()[1]),
            "LEAKLAB_FIXED_PORT": str(free_port()),
            "LEAKLAB_PROMETHEUS_PORT": str(free_port()),
            "COLUMNS": "80",  # narrow: a message must stay one line however long
        }


def corrupt(env: dict[str, str], content: bytes | None) -> Path:
    state = Path(env["LEAKLAB_RUN_DIR"]) / "state.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        state.mkdir()
    else:
        state.write_bytes(content)
    return state


def assert_one_line(result: subprocess.CompletedProcess[str], *says: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for text in says:
        assert text in lines[0], lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())
@pytest.mark.parametrize("content", CORRUPT.values(), ids=CORRUPT.keys())
def test_a_corrupt_state_is_one_line_and_exit_2(
    env: dict[str, str], content: bytes | None, command: list[str]
) -> None:
    state = corrupt(env, content)
    result = run(env, *command)
    assert_one_line(result, f"leaklab: {state} is corrupt: ", "run 'leaklab down'")
    assert "is in use" not in result.stderr  # it stopped at the state, not at the ports


@pytest.mark.parametrize(
    "content",
    [CORRUPT["garbage bytes"], CORRUPT["a string pid"]],
    ids=["garbage bytes", "a string pid"],
)
def test_down_on_a_corrupt_state_stops_what_belongs_to_the_run_and_says_so(
    env: dict[str, str], content: bytes
) -> None:
    state = corrupt(env, content)
    run_dir = Path(env["LEAKLAB_RUN_DIR"]).absolute()
    # a server of this run, tagged as leaklab tags them, detached as leaklab starts them
    # (not our child, or it would linger as our zombie), that no readable state names
    started = subprocess.run(
        [
            "bash",
            "-c",
            f'setsid "{sys.executable}" -c "import time; time.sleep(120)" '
            ">/dev/null 2>&1 </dev/null & echo $!",
        ],
        env={**os.environ, RUN_DIR_VAR: str(run_dir)},
        capture_output=True,
        text=True,
        check=True,
    )
    stray = psutil.Process(int(started.stdout))
    try:
        result = run(env, "down")
        assert_one_line(
            result, f"{state} was corrupt", "stopped 1 process(es)", "'leaklab up' starts afresh"
        )
        assert not _alive(stray)
        assert not state.exists()
        again = run(env, "status")  # the remedy worked: the run directory is clean
        assert again.returncode == 2 and "no stack" in again.stderr
    finally:
        if _alive(stray):
            stray.kill()


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_down_on_a_state_that_is_a_directory_is_one_line(env: dict[str, str]) -> None:
    state = corrupt(env, None)
    assert_one_line(run(env, "down"), str(state))


# -- a reader that goes away ------------------------------------------------------------


def closed_stream(env: dict[str, str], stream: str, *args: str) -> int:
    """Run leaklab with stdout or stderr a pipe nobody reads: its reader closed at once."""
    read, write = os.pipe()
    out, err = (write, subprocess.DEVNULL) if stream == "stdout" else (subprocess.DEVNULL, write)
    proc = subprocess.Popen([*LEAKLAB, *args], env=env, stdout=out, stderr=err)
    os.close(read)  # before the interpreter is even up: its first write finds no reader
    os.close(write)
    return proc.wait(timeout=60)


@pytest.mark.parametrize(
    ("stream", "args", "code"),
    [
        ("stdout", ("--version",), 0),
        ("stdout", ("--help",), 0),
        ("stderr", ("status",), 2),  # no stack here
        ("stderr", ("check", "--since", "0s"), 2),
    ],
)
def test_a_closed_pipe_does_not_change_the_exit_code(
    env: dict[str, str], stream: str, args: tuple[str, ...], code: int
) -> None:
    assert run(env, *args).returncode == code
    assert closed_stream(env, stream, *args) == code


def test_status_piped_into_head_exits_as_status_does(stack: NativeStack) -> None:
    env = {**os.environ, "LEAKLAB_RUN_DIR": str(stack.run_dir), "COLUMNS": "160"}
    plain = run(env, "status").returncode
    piped = subprocess.run(
        ["bash", "-c", 'set -o pipefail; "$@" | head -1 >/dev/null', "bash", *LEAKLAB, "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert piped.returncode == plain, piped.stderr
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr
    # and when the reader has certainly gone before the second table is written
    proc = subprocess.Popen(
        [*LEAKLAB, "status"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    errors = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == plain
    assert b"Traceback" not in errors
