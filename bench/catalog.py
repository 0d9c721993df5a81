"""Every scenario, one measured run each: requests to a confident LEAK, and the fixed app.

For each scenario of the registry: a measured run as `leaklab check --scenario NAME
--run-time S` makes it (warm-up, reset, Locust at that endpoint only, the window), then
  - leaky: for each resource the scenario declares, the requests at the first prefix of the
    run decided LEAK (re-deciding after every scrape) and the verdict on the whole run;
  - fixed: the verdicts on every resource of the contract (LEAK / NO LEAK / UNDECIDED).
It prints one Markdown table (the README's) from one run on this machine. Its own native
stack on free ports in a temporary directory, stopped after.
Run: .venv/bin/python bench/catalog.py [--seconds 20] [--scenario NAME ...]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
from detection import first_leak, prefix_rules

from leaklab import durations
from leaklab.burst import warm_up
from leaklab.load import stack_plan
from leaklab.run import MeasuredRun
from leaklab.scenarios import SCENARIOS, Scenario
from leaklab.stack import NativeStack
from leaklab.stack.native import private_stack
from leaklab.story import STACK_APPS
from leaklab.verdict.check import decide_app
from leaklab.verdict.query import REQUESTS, Prometheus, contract, read_app
from leaklab.verdict.stats import Verdict


def measure(stack: NativeStack, scenario: Scenario, seconds: int) -> str:
    """One scenario's row of the table."""
    state = stack.state
    plan = stack_plan(
        stack,
        stack.run_dir / scenario.name,
        state,
        users=20,
        spawn_rate=20,
        pace=0.25,
        run_time=durations.text(seconds),
        headless=True,
        scenarios=(scenario.name,),
    )
    run = MeasuredRun(state, plan, stack.settings.step_seconds, warm_up=warm_up([scenario]))
    run.reset()
    with run.load() as locust:
        locust.wait()
    prom, resources = Prometheus(stack.prometheus_url()), contract()
    by_name = {r.name: r for r in resources}
    leaky = read_app(prom, STACK_APPS["leaky"], resources, REQUESTS, run.window)
    fixed = read_app(prom, STACK_APPS["fixed"], resources, REQUESTS, run.window)
    firsts, verdicts = [], []
    decided = decide_app(leaky, resources)
    for name in scenario.resources:
        hit = first_leak(
            leaky.resources[name], prefix_rules(leaky, by_name[name]), run.window.times
        )
        firsts.append(f"{name} {hit[0]:.0f}" if hit else f"{name} never")
        verdicts.append(decided[name].verdict.value)
    fixed_verdicts = Counter(d.verdict for d in decide_app(fixed, resources).values())
    fixed_cell = ", ".join(f"{fixed_verdicts[v]} {v.value}" for v in Verdict if fixed_verdicts[v])
    served = float(np.nanmax(leaky.requests))
    return (
        f"| `{scenario.name}` | {', '.join(firsts)} | {'/'.join(verdicts)} | "
        f"{served:.0f} | {fixed_cell} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="load per scenario")
    parser.add_argument("--scenario", action="append", choices=SCENARIOS.names())
    args = parser.parse_args()
    chosen = SCENARIOS.select(args.scenario or ())
    print(f"{len(chosen)} scenarios, 20 users at 4 requests/s each, {args.seconds} s each\n")
    print(
        "| scenario | leaky: requests to a confident LEAK | leaky verdict | leaky requests "
        "| fixed: every resource |"
    )
    print("|---|---|---|---|---|")
    with private_stack() as stack:
        for scenario in chosen:
            print(measure(stack, scenario, args.seconds), flush=True)


if __name__ == "__main__":
    main()
