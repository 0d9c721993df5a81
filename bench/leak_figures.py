"""Print what each app holds, server-side, after 50 requests, and leaky after 500 more.

Starts its own native stack on free ports in a temporary directory and stops it after.
Run: .venv/bin/python bench/leak_figures.py [--first 50] [--more 500]
"""

from __future__ import annotations

import argparse
import time

from leaklab.burst import burst
from leaklab.measure import Holdings, holdings, reset
from leaklab.stack.native import private_stack


def _row(label: str, h: Holdings, codes: str) -> str:
    rss = ", ".join(f"{v / 2**20:.1f}" for v in sorted(h.worker_rss.values()))
    return f"{label:<34} {codes:<22} {h.db_server:>5} {h.redis_server:>6} {rss:>18}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--first", type=int, default=50)
    parser.add_argument("--more", type=int, default=500)
    args = parser.parse_args()
    started = time.monotonic()
    with private_stack() as stack:
        settings, state = stack.settings, stack.state
        print(
            f"stack up in {time.monotonic() - started:.1f} s "
            f"(PostgreSQL max_connections={settings.pg_max_connections}, "
            f"{settings.workers} workers per app, ulimit -n inherited)"
        )
        print(f"{'':<34} {'answers':<22} {'PG':>5} {'Redis':>6} {'RSS per worker, MiB':>18}")
        for variant in ("leaky", "fixed"):
            reset(state, variant)
            print(_row(f"{variant}: idle", holdings(state, variant), "-"))
            codes = burst(state.url(variant), args.first)
            print(
                _row(
                    f"{variant}: after {args.first}+{args.first} requests",
                    holdings(state, variant),
                    _codes(codes),
                )
            )
        codes = burst(state.url("leaky"), args.more)
        print(
            _row(
                f"leaky: after {args.more}+{args.more} more",
                holdings(state, "leaky"),
                _codes(codes),
            )
        )
        released = reset(state, "leaky")
        print(f"leaky: /admin/reset released {released['released']}")


def _codes(codes: dict[int, int]) -> str:
    return ", ".join(f"{n}x{code}" for code, n in sorted(codes.items()))


if __name__ == "__main__":
    main()
