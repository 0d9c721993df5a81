"""How fast and how finely the verdict decides, how often it is wrong, and against what.

Prints, measured in one run on this machine:
  1. requests and seconds from the start of load to a confident LEAK for the PostgreSQL and
     the Redis leak, each run alone (only its endpoint, a point every 250 ms; median over
     --runs live runs), and the fixed app's verdicts in those runs;
  2. the smallest RSS leak per request decided as LEAK in every replay at 20,000 requests:
     known rates (128 B to 16 KiB per request) injected into replays of the fixed app's
     real, recorded RSS series (a run paced to 20,000 requests; its block-bootstrapped
     residuals), the same replays for every rate;
  3. those replays with nothing injected, and the recording as it is, watched continuously;
  4. how often the 95 % interval contains the injected rate (--coverage-replays);
  5. false LEAKs watched continuously (re-decided after every point, as the Leaks view
     does): --trials no-leak series per kind under the noise model M
     (leaklab.verdict.noise), the memory ones with the fixed app's recorded residuals on top;
  6. the alert rules teams use today (bench/peers.py: deriv > 0 held, predict_linear) and
     leaklab on the same 15-minute series under M: false alarms and requests to an alarm.
With --json FILE it writes db_requests_to_leak, redis_requests_to_leak,
rss_smallest_leak_bytes_per_request, false_leak_runs and false_leak_trials (parts 3 and 5),
coverage_min and peers. It starts its own native stack on free ports in a temporary
directory and stops it after; --recording FILE saves the fixed app's RSS there, or replays
it (parts 2-6 only).
Run: .venv/bin/python bench/detection.py [--runs 3] [--trials 300] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
from peers import PEERS, first_alarm, limit_for

from leaklab import durations
from leaklab.burst import warm_up
from leaklab.load import LoadPlan
from leaklab.run import MeasuredRun
from leaklab.scenarios import SCENARIOS
from leaklab.stack import NativeStack
from leaklab.stack.native import private_stack
from leaklab.stack.state import RunState
from leaklab.verdict.check import decide_app, rules_of
from leaklab.verdict.noise import (
    COUNT,
    KINDS,
    MEMORY,
    Kind,
    block_resample,
    false_leaks,
    first_leak_at,
    no_leak,
)
from leaklab.verdict.query import (
    CONTRACT,
    REQUESTS,
    AppData,
    Prometheus,
    Resource,
    Window,
    read_app,
)
from leaklab.verdict.slope import theil_sen
from leaklab.verdict.stats import Rules, Series, Verdict, decide

RATES = (128, 256, 1024, 4096, 16384)  # bytes per request
SCRAPE = "250ms"  # counts cross their bound between two scrapes: finer scrapes see it sooner
COUNT_LEAKS = {"database": "db_connections", "redis": "redis_connections"}  # scenario: resource
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
    scenarios: tuple[str, ...] = (),
    step: float = 1.0,
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
        scenarios=scenarios,
    )
    # warm first, as `check` does: a cold app's memory rises for thousands of requests
    # (the fixed app's recording grew ~1 KiB per request over its first third, cold)
    warm = warm_up(SCENARIOS.select(scenarios))  # none named: all, as the load drives
    run = MeasuredRun(state, plan, step, warm_up=warm)
    run.reset()
    with run.load() as locust:
        locust.wait()
    return run.window


def first_leak(
    series: Series, rules: Callable[[int], Rules], times: np.ndarray
) -> tuple[float, float] | None:
    """Requests and seconds at the first prefix of the run decided LEAK, as the Leaks view
    re-decides the run so far (rules(k): the rules the first k points give)."""
    for k in range(2, len(series.requests) + 1):  # a bound decides from two points
        prefix = Series(
            series.requests[:k],
            series.values[:k],
            None if series.segments is None else series.segments[:k],
            None if series.exhausted is None else series.exhausted[:k],
        )
        if decide(prefix, rules(k)).verdict is Verdict.LEAK:
            return float(np.nanmax(series.requests[:k])), float(times[k - 1] - times[0])
    return None


def prefix_rules(data: AppData, resource: Resource) -> Callable[[int], Rules]:
    """The rules `decide_app` gives the first k points (the in-flight bound reads users)."""

    def rules(k: int) -> Rules:
        prefix = AppData(data.requests[:k], data.segments[:k])
        series = data.resources[resource.name]
        prefix.resources[resource.name] = Series(series.requests[:k], series.values[:k])
        prefix.bounds[resource.name] = data.bounds.get(resource.name)
        prefix.users = None if data.users is None else data.users[:k]
        return rules_of(prefix, resource)

    return rules


def time_to_leak(
    stack: NativeStack, prom: Prometheus, runs: int, seconds: int
) -> dict[str, float | None]:
    """Part 1: live runs of each count leak alone, requests to the first LEAK; the fixed
    app's verdicts in the same runs."""
    state = stack.state
    step = stack.settings.step_seconds
    print(
        f"1. Time to a confident LEAK ({runs} live runs per leak, 20 users, {seconds} s each, "
        f"only the leak's endpoint, a point every {step:g} s)"
    )
    found: dict[str, list[tuple[float, float]]] = {}
    fixed_verdicts: list[str] = []
    fixed_leaks: list[str] = []
    for scenario, name in COUNT_LEAKS.items():
        resource = next(r for r in CONTRACT if r.name == name)
        found[name] = []
        for run in range(runs):
            out = stack.run_dir / f"{scenario}{run}"
            window = load(stack, state, out, seconds, 20, 0.25, scenarios=(scenario,), step=step)
            leaky = read_app(prom, 'app="leaky"', CONTRACT, REQUESTS, window)
            fixed = read_app(prom, 'app="fixed"', CONTRACT, REQUESTS, window)
            hit = first_leak(leaky.resources[name], prefix_rules(leaky, resource), window.times)
            if hit:
                found[name].append(hit)
            decided = decide_app(fixed, CONTRACT)
            fixed_verdicts += [d.verdict.value for d in decided.values()]
            fixed_leaks += [
                f"{scenario} run {run}, {n}: {d.reason}"
                for n, d in decided.items()
                if d.verdict is Verdict.LEAK
            ]
    medians: dict[str, float | None] = {
        name: statistics.median(h[0] for h in hits) if hits else None
        for name, hits in found.items()
    }
    for name, hits in found.items():
        if hits:
            print(
                f"   {name:<18} median {statistics.median(h[0] for h in hits):6.0f} "
                f"requests, {statistics.median(h[1] for h in hits):4.1f} s "
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
    for line in fixed_leaks:
        print(f"     LEAK in {line}")
    return medians


def record(stack: NativeStack, prom: Prometheus) -> Series:
    """The fixed app's RSS over a 60 s run paced to the budget's 20,000 requests (a faster
    run squeezed onto the budget multiplied its noise per request)."""
    users, seconds = 40, 60
    pace = users * seconds / BUDGET  # seconds between one user's requests
    window = load(
        stack, stack.state, stack.run_dir / "recording", seconds, users, pace, fixed_only=True
    )
    return read_app(prom, 'app="fixed"', (RSS,), REQUESTS, window).resources["rss"]


def rss_replays(
    recorded: Series, trials: int, replays: int, coverage_replays: int
) -> tuple[dict[str, float | None], np.ndarray]:
    """Parts 2-5: the fixed app's RSS recorded (or a saved recording), replayed with known
    leaks and with none; the figures, and the recording's residuals (for part 6)."""
    print("\n2-4. RSS: the fixed app recorded, replayed with injected leaks")
    ok = np.isfinite(recorded.requests) & np.isfinite(recorded.values)
    x, y = recorded.requests[ok], recorded.values[ok]
    scale = BUDGET / max(x[-1], 1.0)  # onto the budget (about 1: the recording is paced to it)
    x = x * scale
    slope = theil_sen(x, y) or 0.0
    residuals = y - slope * x - np.median(y - slope * x)
    print(
        f"   recording: {recorded.requests[ok][-1]:.0f} requests in 60 s, "
        f"{len(x)} points, x{scale:.2f} onto {BUDGET} requests; own drift "
        f"{slope * 1000 / 1024:.1f} KiB per 1,000 (removed for the replays)"
    )
    rng = np.random.default_rng(7)
    rules = RSS.rules()
    # one set of replays for every rate (common random numbers: the rates compare paired)
    noises = [block_resample(residuals, len(residuals), rng) for _ in range(replays)]
    smallest: float | None = None
    for rate in RATES:
        needed, leaks = [], 0
        for noise in noises:
            series = Series(x, 40 * 2**20 + noise + rate * x)
            leaks += decide(series, rules).verdict is Verdict.LEAK
            at = first_leak_at(series, rules)  # re-decided after every point
            if at is not None:
                needed.append(float(x[at]))
        if leaks == replays and smallest is None:
            smallest = rate
        when = f"median {statistics.median(needed):6.0f} requests" if needed else "never"
        print(
            f"   {rate:>6} B/request: LEAK in {leaks}/{replays} replays at {BUDGET} requests; "
            f"first LEAK {when}"
        )
    # Theil-Sen and the bootstrap are equivariant: the interval of y + r x is the interval
    # of y moved by r, so the interval covers every injected rate alike: one figure, on
    # more replays than the rates'
    covered = 0
    for _ in range(coverage_replays):
        d = decide(Series(x, 40 * 2**20 + block_resample(residuals, len(x), rng)), rules)
        covered += bool(d.fit and d.fit.ci_low_per_1k <= 0 <= d.fit.ci_high_per_1k)
    print(
        f"   95 % CI covers the injected rate in {covered}/{coverage_replays} replays "
        "(the same at every rate)"
    )
    watched = sum(first_leak_at(Series(x, 40 * 2**20 + n), rules) is not None for n in noises)
    as_is = first_leak_at(Series(recorded.requests[ok], y), rules) is not None
    print(
        f"   nothing injected, watched continuously: {watched}/{replays} replays ever LEAK; "
        f"the recording as it is: ever LEAK {as_is}, at its end "
        f"{decide(recorded, rules).verdict.value}"
    )
    print(f"\n5. Watched continuously: {trials} no-leak series per kind under the noise model M")
    false_runs = 0
    for kind in KINDS:
        extra = residuals if kind is MEMORY else None  # the fixed app's own, on top
        found = false_leaks(kind, trials, seed=15, residuals=extra)
        false_runs += found
        print(f"   {kind.name:<7} ever LEAK in {found}/{trials} (the guarantee: at most 1 %)")
    figures = {
        "rss_smallest_leak_bytes_per_request": smallest,
        "coverage_min": covered / coverage_replays,
        "false_leak_runs": false_runs + watched + as_is,
        "false_leak_trials": trials * len(KINDS) + replays + 1,
    }
    return figures, residuals


def against_peers(trials: int, residuals: np.ndarray) -> dict[str, dict[str, object]]:
    """Part 6: leaklab and the alert rules teams use today on the same 15-minute series
    under M (one point a second, 40 requests each): how often each fires with no leak, and
    how many requests a known leak takes to fire it."""
    seconds, per_second = 900, 40.0
    injected = {MEMORY: (256.0, 1024.0), COUNT: (0.01,)}  # per request
    print(
        f"\n6. Against the alert rules in use today: {trials} no-leak series per kind, "
        f"{seconds} s at {per_second:.0f} requests/s, under M"
    )
    rng = np.random.default_rng(21)
    judges = ["leaklab", *(p.name for p in PEERS)]
    out: dict[str, dict[str, object]] = {j: {} for j in judges}
    for kind in KINDS:
        memory = kind is MEMORY
        fired = dict.fromkeys(judges, 0)
        to_alarm: dict[str, dict[float, list[float]]] = {
            j: {r: [] for r in injected[kind]} for j in judges
        }
        for _ in range(trials):
            extra = residuals if memory else None
            base = no_leak(kind, rng, seconds, per_second, residuals=extra)
            for rate in (0.0, *injected[kind]):
                series = Series(base.requests, base.values + rate * base.requests, base.segments)
                if rate and kind.whole:
                    series = Series(series.requests, np.round(series.values), series.segments)
                for judge in judges:
                    at = _alarm(judge, series, kind)
                    if rate == 0.0:
                        fired[judge] += at is not None
                    elif at is not None:
                        to_alarm[judge][rate].append(float(series.requests[at]))
        for judge in judges:
            medians = {  # the median over series where it fired, if most did
                f"{r:g}": statistics.median(v) if len(v) > trials // 2 else None
                for r, v in to_alarm[judge].items()
            }
            out[judge][kind.name] = {
                "false_alarm_runs": fired[judge],
                "trials": trials,
                "requests_to_alarm": medians,
            }
            when = ", ".join(
                f"{r}/request: " + (f"{m:,.0f} requests" if m is not None else "mostly never")
                for r, m in medians.items()
            )
            print(
                f"   {kind.name:<7} {judge:<42} fires with no leak in "
                f"{fired[judge]}/{trials}; {when}"
            )
    return out


def _alarm(judge: str, series: Series, kind: Kind) -> int | None:
    """The point at which one judge first says leak (None: never)."""
    y = np.asarray(series.values, dtype=float)
    if judge == "leaklab":  # re-decided every 5 s (the Leaks view: every 2 s)
        every = 5
        x, values, seg = series.arrays()
        at = first_leak_at(Series(x[::every], values[::every], seg[::every]), kind.rules)
        return None if at is None else at * every
    peer = next(p for p in PEERS if p.name == judge)
    return first_alarm(peer, y, limit_for(y, memory=kind is MEMORY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=25)
    parser.add_argument("--trials", type=int, default=300, help="no-leak series per kind")
    parser.add_argument("--replays", type=int, default=40, help="replays per injected rate")
    parser.add_argument(
        "--coverage-replays", type=int, default=200, help="replays for the interval's coverage"
    )
    parser.add_argument("--peer-trials", type=int, default=20, help="series per kind, part 6")
    parser.add_argument(
        "--recording",
        type=Path,
        help="an .npz of the fixed app's RSS: replayed if it exists (no live runs), else saved",
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    medians: dict[str, float | None] = dict.fromkeys(COUNT_LEAKS.values())
    if args.recording and args.recording.exists():  # replay a saved recording, no live runs
        saved = np.load(args.recording)
        print(f"0. Replaying {args.recording} (no live runs: part 1 skipped)")
        replayed, residuals = rss_replays(
            Series(saved["requests"], saved["values"]),
            args.trials,
            args.replays,
            args.coverage_replays,
        )
    else:
        with private_stack(scrape_interval=SCRAPE) as stack:
            prom = Prometheus(stack.state.url("prometheus"))
            medians = time_to_leak(stack, prom, args.runs, args.seconds)
            recorded = record(stack, prom)
            if args.recording:
                np.savez(args.recording, requests=recorded.requests, values=recorded.values)
            replayed, residuals = rss_replays(
                recorded, args.trials, args.replays, args.coverage_replays
            )
    figures: dict[str, object] = {
        "db_requests_to_leak": medians["db_connections"],
        "redis_requests_to_leak": medians["redis_connections"],
        **replayed,
        "peers": against_peers(args.peer_trials, residuals),
    }
    print("\n" + json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
