"""Stopping Locust: headless, a SIGINT first (its reports), then, if it does not listen, the
end; in web-UI mode, the report kept from the web UI, then a SIGTERM."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from leaklab import load
from leaklab.load import LoadPlan, LocustRun

DEAF = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(120)"
POLITE = (
    "import time\ntry:\n    time.sleep(120)\nexcept KeyboardInterrupt:\n    raise SystemExit(0)"
)


@dataclass(frozen=True)
class Plan(LoadPlan):
    """A stand-in for Locust's master: a process that does or does not heed SIGINT."""

    code: str = ""

    def master_argv(self) -> list[str]:
        return [sys.executable, "-c", self.code]


def plan(tmp_path: Path, code: str, headless: bool = True) -> Plan:
    return Plan("http://127.0.0.1:1", "http://127.0.0.1:2", tmp_path, headless=headless, code=code)


def test_a_master_that_heeds_sigint_ends_with_its_own_exit_code(tmp_path: Path) -> None:
    with LocustRun(plan(tmp_path, POLITE)) as run:
        time.sleep(0.5)  # the handler is in place
        assert run.stop() == 0


def test_a_master_that_ignores_sigint_is_ended_after_the_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "STOP_GRACE", 1.0)
    with LocustRun(plan(tmp_path, DEAF)) as run:
        time.sleep(0.5)
        started = time.monotonic()
        run.interrupt()  # what `leaklab load` does on SIGTERM, then it waits
        code = run.wait()
    assert code != 0 and time.monotonic() - started < 15


def test_a_web_ui_run_is_ended_by_sigterm_at_once(tmp_path: Path) -> None:
    # Locust's web UI has been seen to ignore SIGINT; its SIGTERM shutdown still fires
    # `quitting` and closes the CSVs (the report is fetched from the web UI before)
    with LocustRun(plan(tmp_path, DEAF, headless=False)) as run:
        time.sleep(0.5)
        started = time.monotonic()
        code = run.stop()
    assert code == -15 and time.monotonic() - started < 5
