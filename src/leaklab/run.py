"""The measured run, written once: reset -> settle -> Locust -> settle -> window -> decide.

`leaklab check --run-time`, `leaklab demo`, `leaklab talk` and bench/detection.py measure
the same way, in steps, so a caller can show what it likes between them:

    run = MeasuredRun(state, plan, step)
    run.reset()                      # (warm up and) empty both apps; can Locust start?
    with run.load() as locust:       # settle, open the window, Locust for the block
        locust.wait()                # or: the talk's stages, then run.stop(locust, 25)
    result = run.decide(prometheus, apps)   # settled, window closed: the verdict

Its timing is here and nowhere else: Prometheus needs two scrapes to see a change (the
emptied apps before the window opens, the last requests after the load stops) and its
rules one evaluation more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from leaklab.load import LoadPlan, LocustRun, check_ready
from leaklab.measure import reset
from leaklab.settings import VARIANTS
from leaklab.stack.state import RunState
from leaklab.verdict import check as verdict
from leaklab.verdict.check import CheckResult
from leaklab.verdict.query import REQUESTS, Resource, Window

SETTLE_SCRAPES = 2  # scrapes Prometheus needs to show a change
SETTLE_BEFORE = 0.5  # seconds on top, before the window opens: the emptied apps are seen
SETTLE_AFTER = 1.0  # seconds on top, after the load: the last scrape and rule evaluation


def settle_before(step: float) -> float:
    """Seconds between emptying the apps and opening the window (step: the scrape interval)."""
    return SETTLE_SCRAPES * step + SETTLE_BEFORE


def settle_after(step: float) -> float:
    """Seconds between the end of the load and closing the window."""
    return SETTLE_SCRAPES * step + SETTLE_AFTER


def new_out_dir(run_dir: Path, suffix: str = "") -> Path:
    """Where one run's Locust reports, check.json and report/ go: load/<date-time><suffix>."""
    return run_dir / "load" / (time.strftime("%Y%m%d-%H%M%S") + suffix)


class MeasuredRun:
    """One Locust run at both apps of a running stack, and the window it is decided on.

    warm_up, when given, is called with each app's URL before that app is emptied (the
    talk's short burst: real apps are warm).
    """

    def __init__(
        self,
        state: RunState,
        plan: LoadPlan,
        step: float,
        warm_up: Callable[[str], object] | None = None,
    ) -> None:
        self.state, self.plan, self.step, self._warm_up = state, plan, step, warm_up
        self.load_started = 0.0  # time.monotonic() when Locust started
        self._start = 0.0  # time.time() when the window opened
        self._window: Window | None = None

    def reset(self) -> None:
        """Empty both apps, so the run starts from nothing even on a stack left running; then
        fail early if an app does not answer or a Locust port is taken."""
        for variant in VARIANTS:
            if self._warm_up is not None:
                self._warm_up(self.state.url(variant))
            reset(self.state, variant)
        check_ready(self.plan)

    @contextmanager
    def load(self) -> Iterator[LocustRun]:
        """Locust for the length of the block, inside the window: Prometheus sees the emptied
        apps before it opens and the last requests before it closes. Leaving the block stops
        Locust (as Ctrl-C would) if it still runs; an error leaves no window."""
        time.sleep(settle_before(self.step))
        start = self._start = time.time()
        self.load_started = time.monotonic()
        with LocustRun(self.plan) as locust:
            yield locust
        time.sleep(settle_after(self.step))
        self._window = Window(float(int(start)), float(int(time.time())), self.step)

    def stop(self, locust: LocustRun, at_least: float = 0.0) -> int:
        """Stop Locust once the load has run at_least seconds; its exit code."""
        time.sleep(max(0.0, at_least - (time.monotonic() - self.load_started)))
        return locust.stop()

    @property
    def window(self) -> Window:
        """The run's window, once `load()` has ended."""
        if self._window is None:
            raise RuntimeError("the measured run has no window before its load has ended")
        return self._window

    def decide_so_far(
        self, prometheus: str, apps: dict[str, str], resources: tuple[Resource, ...] | None = None
    ) -> CheckResult:
        """The verdict on the window so far, while Locust still runs (the talk waits for it)."""
        now = float(int(time.time() - self.step))  # the last scrape that surely landed
        window = Window(float(int(self._start)), max(now, self._start + self.step), self.step)
        return verdict.run_check(prometheus, apps, window, resources, REQUESTS)

    def decide(
        self,
        prometheus: str,
        apps: dict[str, str],
        resources: tuple[Resource, ...] | None = None,
        requests_selector: str = REQUESTS,
    ) -> CheckResult:
        """The verdict per app and resource on the run's window (resources: the contract)."""
        return verdict.run_check(prometheus, apps, self.window, resources, requests_selector)
