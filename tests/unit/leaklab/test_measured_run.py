"""The measured run (leaklab.run): its steps in order, its timing in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leaklab import run as measured
from leaklab.load import LoadPlan
from leaklab.stack.state import RunState


class FakeLocust:
    def __init__(self, plan: LoadPlan, log: list[str]) -> None:
        self.log = log

    def __enter__(self) -> FakeLocust:
        self.log.append("locust starts")
        return self

    def __exit__(self, *_exc: object) -> None:
        self.log.append("locust ends")

    def wait(self) -> int:
        self.log.append("locust runs")
        return 0

    def stop(self) -> int:
        self.log.append("locust stopped")
        return 0


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    steps: list[str] = []
    clock = iter(range(1000, 2000, 10))
    monkeypatch.setattr(measured, "LocustRun", lambda plan: FakeLocust(plan, steps))
    monkeypatch.setattr(measured, "reset", lambda _state, variant: steps.append(f"reset {variant}"))
    monkeypatch.setattr(measured, "check_ready", lambda _plan: steps.append("ready"))
    monkeypatch.setattr(measured.time, "sleep", lambda s: steps.append(f"sleep {s:g}"))
    monkeypatch.setattr(measured.time, "time", lambda: float(next(clock)))
    return steps


class State:
    def url(self, name: str) -> str:
        return f"http://{name}"


def _run(tmp_path: Path, **options: Any) -> measured.MeasuredRun:
    plan = LoadPlan(leaky_url="http://leaky", fixed_url="http://fixed", out_dir=tmp_path)
    state: RunState = State()  # type: ignore[assignment]
    return measured.MeasuredRun(state, plan, step=1.0, **options)


def test_reset_settle_locust_settle_window(tmp_path: Path, log: list[str]) -> None:
    run = _run(tmp_path, warm_up=lambda url: log.append(f"warm {url}"))
    run.reset()
    with run.load() as locust:
        locust.wait()
    assert log == [
        "warm http://leaky",
        "reset leaky",
        "warm http://fixed",
        "reset fixed",
        "ready",
        "sleep 2.5",  # two scrapes and a half: the emptied apps are seen
        "locust starts",
        "locust runs",
        "locust ends",
        "sleep 3",  # two scrapes and the rules' evaluation after the load
    ]
    assert (run.window.start, run.window.end, run.window.step) == (1000.0, 1010.0, 1.0)


def test_the_timing_follows_the_scrape_interval() -> None:
    assert measured.settle_before(5.0) == 10.5 and measured.settle_after(5.0) == 11.0


def test_no_window_before_the_load_ends_nor_after_an_error(tmp_path: Path, log: list[str]) -> None:
    run = _run(tmp_path)
    with pytest.raises(RuntimeError, match="no window"):
        run.window  # noqa: B018
    with pytest.raises(KeyboardInterrupt), run.load():
        raise KeyboardInterrupt
    assert log[-1] == "locust ends"  # Locust stopped, no settling, no window
    with pytest.raises(RuntimeError, match="no window"):
        run.window  # noqa: B018


def test_stop_keeps_the_load_at_least_as_long_as_asked(
    tmp_path: Path, log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _run(tmp_path)
    with run.load() as locust:
        monkeypatch.setattr(measured.time, "monotonic", lambda: run.load_started + 10.0)
        run.stop(locust, at_least=25.0)  # type: ignore[arg-type]
    assert log[-4:-1] == ["sleep 15", "locust stopped", "locust ends"]
