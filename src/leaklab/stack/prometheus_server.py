"""Prometheus natively: the compose config rendered with local targets, then started."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
import yaml

from leaklab.stack.process import StackError, start, wait_until_ready


def render_config(
    template: Path, targets: Mapping[str, str], scrape_interval: str
) -> dict[str, Any]:
    """Rewrite the compose config's targets (service:port) to native ones (127.0.0.1:port).

    Targets with no native counterpart are dropped, and so are scrape jobs left empty:
    the native stack runs fewer services than compose. Rule files are made absolute, as
    the rendered file lives elsewhere.
    """
    config: dict[str, Any] = yaml.safe_load(template.read_text())
    config["rule_files"] = [str(template.parent / p) for p in config.get("rule_files", [])]
    config.setdefault("global", {})
    config["global"]["scrape_interval"] = scrape_interval
    config["global"]["evaluation_interval"] = scrape_interval
    jobs = []
    for job in config.get("scrape_configs", []):
        statics = []
        for static in job.get("static_configs", []):
            native = [targets[t] for t in static.get("targets", []) if t in targets]
            if native:
                statics.append({**static, "targets": native})
        if statics:
            jobs.append({**job, "static_configs": statics})
    config["scrape_configs"] = jobs
    return config


def data_dir(run_dir: Path) -> Path:
    """Prometheus's history: kept across down/up (so `check --since` still works) until wiped."""
    return run_dir / "prometheus" / "data"


def init_and_start(
    run_dir: Path, port: int, config: Mapping[str, Any]
) -> tuple[str, subprocess.Popen[bytes]]:
    """Start Prometheus on 127.0.0.1:port with config, on the history kept in run_dir."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise StackError(
            "prometheus not found. Install it: Debian/Ubuntu 'sudo apt-get install "
            "prometheus', macOS 'brew install prometheus'"
        )
    home = run_dir / "prometheus"
    data = data_dir(run_dir)
    data.mkdir(parents=True, exist_ok=True)
    config_path = home / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    log = run_dir / "logs" / "prometheus.log"
    proc = start(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1d",
            "--web.enable-lifecycle",
        ],
        log,
        run_dir=run_dir,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_ready("Prometheus", proc, lambda: _ready(url), log)
    return url, proc


def _ready(url: str) -> bool:
    return requests.get(f"{url}/-/ready", timeout=2).status_code == 200


def target_health(url: str) -> list[dict[str, str]]:
    """Every active scrape target as Prometheus sees it."""
    response = requests.get(f"{url}/api/v1/targets", params={"state": "active"}, timeout=5)
    response.raise_for_status()
    return [
        {
            "job": t["labels"].get("job", ""),
            "app": t["labels"].get("app", ""),
            "url": t["scrapeUrl"],
            "health": t["health"],
            "error": t.get("lastError", ""),
        }
        for t in response.json()["data"]["activeTargets"]
    ]


def all_scraped(url: str, expected: int) -> bool:
    """True once Prometheus knows `expected` targets and has scraped each at least once."""
    targets = target_health(url)
    return len(targets) == expected and all(t["health"] != "unknown" for t in targets)
