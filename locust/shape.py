"""A repeatable ramp: the stage table named by --shape (leaklab.stages holds the tables)."""

from __future__ import annotations

from locust import LoadTestShape

from leaklab import stages


class StagedShape(LoadTestShape):
    """Warm-up, ramp, steady: users and spawn rate per stage, then stop."""

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options if self.runner else None
        name = options.shape if options else ""
        return stages.tick(name or "ci", self.get_run_time())  # type: ignore[no-untyped-call]
