"""The plugin at an app it never saw: requests to a LEAK, and how well it names the endpoint.

The app is tests/integration/plugin/target_app.py (plain Flask + prometheus_client under
Gunicorn, one worker): /memory keeps 4 KiB per call, /files keeps an open file per call,
/steady keeps nothing. Locust runs with `import leaklab.locust` (that directory's
locustfile), headless, 20 users at 10 requests/s each, a fresh app per run. Prints, from one
run on this machine:
  1. per leaking endpoint alone: the requests in the shortest run (of -t 5s, 8s, 12s, 20s,
     30s) whose end-of-run verdict was LEAK, and the exit code;
  2. the steady endpoint alone at the longest run: its verdicts and exit code;
  3. all three mixed for --seconds: each endpoint's growth per request against the truth
     (4096 B, 1 fd), as a ratio, and the verdicts per endpoint (a file kept open holds its
     buffer too: /files leaks memory as well, which the plugin names).
Run: .venv/bin/python bench/plugin.py [--seconds 45]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from leaklab.paths import REPO

HERE = REPO / "tests" / "integration" / "plugin"
sys.path.insert(0, str(HERE))
from target_server import serving  # type: ignore[import-not-found]  # noqa: E402

BIN = Path(sys.executable).parent
_RUNS = itertools.count()
LENGTHS = (5, 8, 12, 20, 30)
TRUTH = {"rss": ("/memory", 4096.0), "fds": ("/files", 1.0)}


def plugin_run(tmp: Path, paths: str, seconds: float, *extra: str) -> tuple[int, dict[str, Any]]:
    """One fresh target app and one plugin-enabled headless Locust run; (exit code, JSON)."""
    run = next(_RUNS)
    out_json = tmp / f"leak-{run}.json"
    with serving(tmp / f"app-{run}.log") as url:
        locust = subprocess.run(
            [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--host", url]
            + ["--headless", "-u", "20", "-r", "20", "-t", f"{seconds:g}s", "--only-summary"]
            + ["--leak-metrics", f"{url}/metrics", "--leak-json", str(out_json), *extra],
            cwd=tmp,
            env={**os.environ, "TARGET_PATHS": paths},
            capture_output=True,
            timeout=seconds + 90,
            check=False,
        )
    result = json.loads(out_json.read_text()) if out_json.exists() else {}
    return locust.returncode, result


def resources(result: dict[str, Any]) -> dict[str, Any]:
    return dict(result.get("apps", {}).get("target", {}).get("resources", {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=45, help="the mixed run's length")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leaklab-bench-plugin-") as name:
        tmp = Path(name)
        print("1. Each leaking endpoint alone: the shortest run whose verdict is LEAK")
        for resource, (path, _truth) in TRUTH.items():
            for seconds in LENGTHS:
                code, result = plugin_run(tmp, path, seconds)
                judged = resources(result).get(resource, {})
                if judged.get("verdict") == "LEAK":
                    print(
                        f"   {path:<8} {resource}: LEAK after {judged['requests_analysed']:.0f} "
                        f"requests (a {seconds} s run), exit code {code}"
                    )
                    break
            else:
                print(f"   {path:<8} {resource}: no LEAK within {LENGTHS[-1]} s")
        code, result = plugin_run(tmp, "/steady", LENGTHS[-1])
        verdicts = {n: r["verdict"] for n, r in resources(result).items()}
        print(f"2. /steady alone, {LENGTHS[-1]} s: {verdicts}, exit code {code}")
        code, result = plugin_run(tmp, "/memory,/files,/steady", args.seconds)
        print(f"3. Mixed, {args.seconds:g} s (exit code {code}): growth per request vs the truth")
        for resource, (path, truth) in TRUTH.items():
            judged = resources(result).get(resource, {})
            for e in judged.get("endpoints", []):
                ratio = e["growth_per_request"] / truth if e["growth_per_request"] else 0.0
                mark = f"{ratio:.3f} of the truth" if e["name"] == path else "(not injected)"
                print(
                    f"   {resource:<4} {e['name']:<8} {e['verdict']:<9} "
                    f"{e['growth_per_request']:.4g} per request {mark}"
                )


if __name__ == "__main__":
    main()
