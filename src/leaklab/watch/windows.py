"""Ask a probed target for a memory window once its memory reads LEAK (--leak-probe-token).

The probe's memory windows are off by default (a worker's first leaves a step in its RSS,
which the run would read as growth), so a memory leak's allocation sites exist only if the
app is asked while the load still runs. The plugin asks each --leak-metrics URL's app once,
the first time a memory resource reads LEAK; the run's own load feeds the window, and the
census at the run's end names its sites. A run that ends within a few seconds of that
LEAK ends before the window closes, and gets no sites.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from leaklab.memory_sites import allocated, ask_window
from leaklab.verdict.check import CheckResult
from leaklab.verdict.stats import Verdict

log = logging.getLogger("leaklab")

LOOK_EVERY = 5.0  # seconds between looks at the verdicts (each look fits every resource)


def memory_leaks(result: CheckResult) -> list[str]:
    """The resources read LEAK that allocation sites explain (RSS, a heap), any app."""
    return sorted(
        {
            name
            for app in result.apps
            for name, decision in app.decisions.items()
            if decision.verdict is Verdict.LEAK and allocated(name)
        }
    )


class WindowAsker:
    """Looks at the verdicts every LOOK_EVERY seconds until a memory LEAK, then asks once."""

    def __init__(self, metrics: tuple[str, ...], token: str) -> None:
        self.metrics, self.token = metrics, token
        self.asked = not (metrics and token)  # nothing to ask: done already
        self._looked = time.monotonic()

    def poll(self, decide: Callable[[], CheckResult | None]) -> None:
        now = time.monotonic()
        if self.asked or now - self._looked < LOOK_EVERY:
            return
        self._looked = now
        result = decide()
        leaking = memory_leaks(result) if result is not None else []
        if not leaking:
            return
        self.asked = True
        for url in self.metrics:
            why = ask_window(url, self.token)
            if why is None:
                log.info("leaklab: %s LEAK: asked %s for a memory window", ", ".join(leaking), url)
            else:
                log.warning("leaklab: no memory window: %s", why)
