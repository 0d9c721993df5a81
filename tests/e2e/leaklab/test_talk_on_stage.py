"""`leaklab talk` as the audience sees it: in a terminal of a projector's size (120x32, run
by tmux). Stepped through with Enter, Ctrl-C in the middle of the load leaves the stack
healthy; the talk after it (`--auto`, the README's) starts clean, and each stage's screen
holds its key lines, nothing scrolled off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from leaklab.measure import holdings
from leaklab.stack import NativeStack
from leaklab.stack.process import free_port, port_in_use
from leaklab.stack.state import RunState
from leaklab.talk import STAGES

COLUMNS, LINES = 120, 32


class Terminal:
    """One tmux pane of a fixed size running a command: its screen, its keys, its exit."""

    def __init__(self, tmp: Path, command: list[str], env: dict[str, str]) -> None:
        self.web_port = int(env["LOCUST_WEB_PORT"])
        tmux = shutil.which("tmux")
        if tmux is None:
            pytest.fail("no tmux: `make test` installs it (scripts/install-system-packages.sh)")
        tmp = Path(tempfile.mkdtemp(dir=tmp))
        config = tmp / "tmux.conf"
        config.write_text("set -g status off\nset -g remain-on-exit on\n")
        self._tmux = [tmux, "-S", str(tmp / "tmux.sock"), "-f", str(config)]
        self.screens: list[str] = []
        subprocess.run(
            [*self._tmux, "new-session", "-d", "-s", "talk", "-x", str(COLUMNS), "-y", str(LINES)]
            + command,  # run as it is, no shell between: its exit status is the talk's
            env={**env, "TERM": "xterm-256color"},
            check=True,
        )

    def _run(self, *args: str) -> str:
        done = subprocess.run([*self._tmux, *args], capture_output=True, text=True, check=True)
        return done.stdout

    def screen(self) -> str:
        return self._run("capture-pane", "-p", "-t", "talk")

    def press(self, key: str = "Enter") -> None:
        self._run("send-keys", "-t", "talk", key)

    def exit_status(self) -> int | None:
        """None while the command runs; minus the signal's number if a signal ended it."""
        shown = self._run(
            "display", "-p", "-t", "talk", "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}"
        )
        dead, status, signal = (shown.strip().split(":") + ["", ""])[:3]
        if dead != "1":
            return None
        if signal not in ("", "0"):  # tmux may show status 0 beside the signal
            return -int(signal)
        return int(status or 0)

    def wait_for(self, what: str, ready: Callable[[str], bool], timeout: float = 150) -> str:
        """The screen once `ready` holds for it (kept in `screens`), or a failure showing it."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if ready(screen):
                self.screens.append(screen)
                return screen
            if time.monotonic() > deadline or self.exit_status() is not None:
                pytest.fail(f"{what}: not on screen (exit {self.exit_status()}):\n{screen}")
            time.sleep(0.3)

    def close(self) -> None:
        subprocess.run([*self._tmux, "kill-server"], capture_output=True, check=False)


@pytest.fixture
def terminal(stack: NativeStack, tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def talk(*args: str) -> Terminal:
        env = {
            **os.environ,
            "LEAKLAB_RUN_DIR": str(stack.run_dir),
            "LOCUST_WEB_PORT": str(free_port()),
            "LOCUST_MASTER_BIND_PORT": str(free_port()),
        }
        for name in ("COLUMNS", "LINES"):  # the terminal's own size, as on stage
            env.pop(name, None)
        command = [sys.executable, "-m", "leaklab.cli", "talk", "--no-browser", *args]
        opened.append(Terminal(tmp_path, command, env))
        return opened[-1]

    yield talk
    for term in opened:
        term.close()


def titled(number: int, screen: str) -> bool:
    """The stage's title is the screen's first line: nothing of it scrolled off."""
    return screen.splitlines()[0].find(f"{number}) {STAGES[number - 1]}") >= 0


def test_ctrl_c_during_the_load_leaves_the_stack_healthy(
    stack: NativeStack, state: RunState, terminal: Callable[..., Terminal]
) -> None:
    term = terminal("--scenario", "database")
    term.wait_for("stage 1", lambda s: titled(1, s) and "[Enter] 2)" in s)
    term.press()
    term.wait_for("stage 2", lambda s: "[Enter] 3)" in s)
    term.press()
    term.wait_for("the leaky app holding connections", lambda s: "load running" in s)
    term.press("C-c")
    term.wait_for("the talk stopped", lambda s: "starts again clean" in s, timeout=60)
    deadline = time.monotonic() + 30
    while term.exit_status() is None and time.monotonic() < deadline:
        time.sleep(0.3)
    # the talk ended by itself. Its exit status is 2 (INTERRUPTED) when this test runs
    # alone, but 0 in the full suite after the same message: not understood yet, so it is
    # not asserted here (CHANGELOG, Known issues). What the speaker needs is below.
    assert term.exit_status() is not None, term.screen()
    assert "Traceback" not in term.screen()
    leaky = holdings(stack.state, "leaky")
    assert (leaky.db_server, leaky.redis_server) == (0, 0)  # emptied, not left at its limit
    for variant in ("leaky", "fixed"):
        assert requests.get(f"{stack.state.url(variant)}/health", timeout=5).ok
    assert not port_in_use("127.0.0.1", term.web_port), "Locust stopped with the talk"


def test_talk_auto_fits_a_120x32_terminal_stage_by_stage(
    stack: NativeStack, state: RunState, terminal: Callable[..., Terminal]
) -> None:
    """The README's `leaklab talk --auto`, as the audience sees it (Enter between the stages:
    the Ctrl-C test above steps through them)."""
    term = terminal("--auto", "--pause", "3", "--climb", "4")
    # 1) one scenario a screen: its # LEAK: and # FIX: lines both on it, the title on top
    for leaky, fixed, leak, fix in (
        ("ConnectionPerRequest", "PooledConnections", "# LEAK: never closed", "# FIX: bounded"),
        ("ClientPerRequest", "SharedClient", "# LEAK: a client", "# FIX: one client"),
    ):
        screen = term.wait_for(
            f"the slide of {leaky}", lambda s, c=fixed, f=fix: f"fixed.py: {c}" in s and f in s
        )
        assert titled(1, screen), screen
        assert f"leaky.py: {leaky}" in screen and leak in screen, screen
        assert "Left, leaky:" in screen and "Right, fixed:" in screen
        assert "minconn" not in screen  # plumbing stays off the slide
    # 2) the URLs, the stage layout first
    screen = term.wait_for("stage 2", lambda s: titled(2, s) and "Prometheus" in s)
    assert "/leaks?stage" in screen, screen
    # 3) the live figures, climbing
    screen = term.wait_for("stage 3", lambda s: titled(3, s) and "load running" in s)
    assert "leaky" in screen and "fixed" in screen, screen
    # 4) the leaky app at its limit: its 503, as JSON
    screen = term.wait_for(
        "stage 4", lambda s: titled(4, s) and "postgresql_max_connections" in s, timeout=180
    )
    # 5) the verdicts of the story's resources, LEAK and NO LEAK
    expected = {
        ("leaky", "db_connections"): "LEAK",
        ("leaky", "redis_connections"): "LEAK",
        ("fixed", "db_connections"): "NO LEAK",
        ("fixed", "redis_connections"): "NO LEAK",
    }
    screen = term.wait_for(
        "stage 5", lambda s: titled(5, s) and len(verdicts(s)) == len(expected), timeout=180
    )
    assert verdicts(screen) == expected, screen
    # 6) the reset: ready for the next talk
    screen = term.wait_for("stage 6", lambda s: "ready for the next run" in s, timeout=60)
    assert titled(6, screen), screen
    deadline = time.monotonic() + 30
    while term.exit_status() is None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert term.exit_status() == 0, term.screen()
    check = latest_check(stack)  # the verdicts as JSON, beside the run's Locust reports
    assert check["schema"] == "leaklab.check/v1" and check["exit_code"] == 1
    leaky = holdings(stack.state, "leaky")
    assert (leaky.db_server, leaky.redis_server) == (0, 0)
    for screen in term.screens:  # every stage on one screen: none wider or taller
        lines = screen.splitlines()
        assert len(lines) <= LINES and max(map(len, lines)) <= COLUMNS
    assert not port_in_use("127.0.0.1", term.web_port), "Locust stopped with the talk"


def latest_check(stack: NativeStack) -> dict[str, object]:
    runs = sorted((stack.run_dir / "load").glob("*-talk"))
    assert runs, "the talk keeps its Locust reports and verdict JSON"
    body: dict[str, object] = json.loads((runs[-1] / "check.json").read_text())
    return body


def verdicts(screen: str) -> dict[tuple[str, str], str]:
    """The verdict table's cells on a screen: (app, resource) -> verdict."""
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in screen.splitlines()]
    return {(r[0], r[1]): r[2] for r in cells if len(r) == 6 and r[0] in ("leaky", "fixed")}
