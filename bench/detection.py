"""How fast and how finely the verdict decides, and how often it is wrong.

Prints, measured in one run on this machine:
  1. requests and seconds from the start of load to a confident LEAK, for the PostgreSQL and
     the Redis leak (median over --runs live runs), and the fixed app's verdicts in those runs;
  2. the smallest RSS leak per request decided as LEAK within 20,000 requests: known rates
     (256 B, 1 KiB, 4 KiB, 16 KiB per request) injected into replays of the fixed app's real,
     recorded RSS series (its block-bootstrapped residuals);
  3. false LEAKs and UNDECIDED on 20 replays of the fixed app with nothing injected;
  4. how often the 95 % interval contains the injected rate;
  5. false LEAKs watched continuously (re-decided after every point, as the Leaks view
     does): --trials no-leak series per kind under the noise model M
     (leaklab.verdict.noise), the memory ones with the fixed app's recorded residuals on top.
With --json FILE it writes db_requests_to_leak, redis_requests_to_leak,
rss_smallest_leak_bytes_per_request, false_leak_runs, false_leak_trials and coverage_min.
It starts its own native stack on free ports in a temporary directory and stops it after.
Run: .venv/bin/python bench/detection.py [--runs 5] [--trials 300] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from leaklab import durations
from leaklab.load import LoadPlan
from leaklab.run import MeasuredRun
from leaklab.stack import NativeStack
from leaklab.stack.native import private_stack
from leaklab.stack.state import RunState
from leaklab.verdict.noise import KINDS, MEMORY, false_leaks
from leaklab.verdict.query import CONTRACT, REQUESTS, Prometheus, Window, read_app
from leaklab.verdict.slope import theil_sen
from leaklab.verdict.stats import Rules, Series, Verdict, decide

RATES = (128, 256, 1024, 4096, 16384)  # bytes per request
BUDGET = 20_000  # requests
RSS = next(r for r in CONTRACT if r.name == "rss")


def load(
    stack: NativeStack,
    state: RunState,
    out: Path,
    seconds: int,
    users: int,
    pace: float,
    fixed_only: bool = False,
) -> Window:
    """One measured run (leaklab.run, as `leaklab check --run-time`); its window."""
    fixed = state.url("fixed")
    plan = LoadPlan(
        leaky_url=fixed if fixed_only else state.url("leaky"),
        fixed_url=fixed,
        out_dir=out,
        users=users,
        spawn_rate=users,
        run_time=durations.text(seconds),
        headless=True,
        pace=pace,
        metrics_port=state.locust_metrics_port,
        master_port=stack.settings.locust_master_port,
        quiet=True,
    )
    run = MeasuredRun(state, plan, stack.settings.step_seconds)
    run.reset()
    with run.load() as locust:
        locust.wait()
    return run.window


def first_leak(series: Series, rules: Rules, times: np.ndarray) -> tuple[float, float] | None:
    """Requests and seconds at the first prefix of the run decided LEAK."""
    for k in range(rules.min_points, len(series.requests) + 1):
        prefix = Series(
            series.requests[:k],
            series.values[:k],
            None if series.segments is None else series.segments[:k],
            None if series.exhausted is None else series.exhausted[:k],
        )
        if decide(prefix, rules).verdict is Verdict.LEAK:
            return float(np.nanmax(series.requests[:k])), float(times[k - 1] - times[0])
    return None


def block_replay(residuals: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n, block = len(residuals), max(2, int(round(len(residuals) ** (1 / 3))))
    starts = rng.integers(0, n - block + 1, size=-(-n // block))
    return np.concatenate([residuals[s : s + block] for s in starts])[:n]


def time_to_leak(
    stack: NativeStack, prom: Prometheus, runs: int, seconds: int
) -> dict[str, float | None]:
    """Part 1: live runs, requests and seconds to the first LEAK; the fixed app's verdicts."""
    state = stack.state
    print(f"1. Time to a confident LEAK ({runs} live runs, 20 users, {seconds} s each)")
    found: dict[str, list[tuple[float, float]]] = {
        "db_connections": [],
        "redis_connections": [],
    }
    fixed_verdicts: list[str] = []
    for run in range(runs):
        window = load(stack, state, stack.run_dir / f"run{run}", seconds, 20, 0.25)
        leaky = read_app(prom, 'app="leaky"', CONTRACT, REQUESTS, window)
        fixed = read_app(prom, 'app="fixed"', CONTRACT, REQUESTS, window)
        for name in found:
            rules = next(r for r in CONTRACT if r.name == name).rules(leaky.bounds[name])
            hit = first_leak(leaky.resources[name], rules, window.times)
            if hit:
                found[name].append(hit)
        for r in CONTRACT:
            rules = r.rules(fixed.bounds[r.name])
            fixed_verdicts.append(decide(fixed.resources[r.name], rules).verdict.value)
    medians: dict[str, float | None] = {
        name: statistics.median(h[0] for h in hits) if hits else None
        for name, hits in found.items()
    }
    for name, hits in found.items():
        if hits:
            print(
                f"   {name:<18} median {statistics.median(h[0] for h in hits):6.0f} "
                f"requests, {statistics.median(h[1] for h in hits):4.0f} s "
                f"(decided in {len(hits)}/{runs} runs; target <= 60 requests)"
            )
        else:
            print(f"   {name:<18} never decided")
    print(
        f"   fixed app, every resource, live runs: "
        f"{fixed_verdicts.count('LEAK')} LEAK, "
        f"{fixed_verdicts.count('UNDECIDED')} UNDECIDED, "
        f"{fixed_verdicts.count('NO LEAK')} NO LEAK of {len(fixed_verdicts)}"
    )
    return medians


def rss_replays(stack: NativeStack, prom: Prometheus, trials: int) -> dict[str, float | None]:
    """Parts 2-4: the fixed app's RSS recorded, replayed with known leaks and with none."""
    print("\n2-4. RSS: the fixed app recorded at full speed, replayed with injected leaks")
    state = stack.state
    window = load(stack, state, stack.run_dir / "recording", 60, 40, 0.02, fixed_only=True)
    recorded = read_app(prom, 'app="fixed"', (RSS,), REQUESTS, window).resources["rss"]
    ok = np.isfinite(recorded.requests) & np.isfinite(recorded.values)
    x, y = recorded.requests[ok], recorded.values[ok]
    scale = BUDGET / max(x[-1], 1.0)  # stretch the recording to the budget
    x = x * scale
    slope = theil_sen(x, y) or 0.0
    residuals = y - slope * x - np.median(y - slope * x)
    print(
        f"   recording: {recorded.requests[ok][-1]:.0f} requests in 60 s, "
        f"{len(x)} points, stretched x{scale:.1f} to {BUDGET} requests; own drift "
        f"{slope * 1000 / 1024:.1f} KiB per 1,000 (removed for the replays)"
    )
    rng = np.random.default_rng(7)
    rules = RSS.rules()
    smallest: float | None = None
    coverages = []
    for rate in RATES:
        needed, covered, leaks = [], 0, 0
        for _rep in range(10):
            values = 40 * 2**20 + block_replay(residuals, rng) + rate * x
            series = Series(x, values)
            d = decide(series, rules)
            leaks += d.verdict is Verdict.LEAK
            if d.fit and d.fit.ci_low_per_1k <= rate * 1000 <= d.fit.ci_high_per_1k:
                covered += 1
            hit = first_leak(series, rules, np.arange(len(x), dtype=float))
            if hit:
                needed.append(hit[0])
        if leaks == 10 and smallest is None:
            smallest = rate
        coverages.append(covered / 10)
        when = f"median {statistics.median(needed):6.0f} requests" if needed else "never"
        print(
            f"   {rate:>6} B/request: LEAK in {leaks}/10 replays within {BUDGET}; "
            f"first LEAK {when}; 95 % CI covers the rate in {covered}/10"
        )
    verdicts = [
        decide(Series(x, 40 * 2**20 + block_replay(residuals, rng)), rules).verdict
        for _ in range(20)
    ]
    print(
        f"   nothing injected, 20 replays: {verdicts.count(Verdict.LEAK)} LEAK, "
        f"{verdicts.count(Verdict.UNDECIDED)} UNDECIDED, "
        f"{verdicts.count(Verdict.NO_LEAK)} NO LEAK; the recording as it is: "
        f"{decide(recorded, rules).verdict.value}"
    )
    print(f"\n5. Watched continuously: {trials} no-leak series per kind under the noise model M")
    false_runs = 0
    for kind in KINDS:
        extra = residuals if kind is MEMORY else None  # the fixed app's own, on top
        found = false_leaks(kind, trials, seed=15, residuals=extra)
        false_runs += found
        print(f"   {kind.name:<7} ever LEAK in {found}/{trials} (the guarantee: at most 1 %)")
    return {
        "rss_smallest_leak_bytes_per_request": smallest,
        "coverage_min": min(coverages),
        "false_leak_runs": false_runs,
        "false_leak_trials": trials * len(KINDS),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("--trials", type=int, default=300, help="no-leak series per kind")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with private_stack() as stack:
        prom = Prometheus(stack.state.url("prometheus"))
        medians = time_to_leak(stack, prom, args.runs, args.seconds)
        figures = {
            "db_requests_to_leak": medians["db_connections"],
            "redis_requests_to_leak": medians["redis_connections"],
            **rss_replays(stack, prom, args.trials),
        }
    print("\n" + json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
