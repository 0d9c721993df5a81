"""`leaklab scenarios`: the registry as a user (or a script) sees it, no stack needed."""

from __future__ import annotations

import json
import subprocess
import sys

from leaklab.scenarios import SCENARIOS
from leaklab.verdict.query import contract


def leaklab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leaklab.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_json_lists_every_scenario_with_its_endpoints_and_the_resources_check_judges() -> None:
    result = leaklab("scenarios", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [s["name"] for s in listed] == SCENARIOS.names()
    assert len(listed) >= 9 and listed[:2] == [
        {**listed[0], "name": "database"},
        {**listed[1], "name": "redis"},
    ]
    judged = {r.name for r in contract()}
    for entry in listed:
        assert entry["endpoints"] and all(e.startswith("/api/") for e in entry["endpoints"])
        assert entry["resources"] and set(entry["resources"]) <= judged
    assert listed[0]["resources"] == ["db_connections"]
    by_name = {s["name"]: s for s in listed}
    assert by_name["executors"]["resources"] == ["executor_threads", "threads"]  # and the OS's
    assert all(s["source"].startswith("https://") for s in listed), "each names a public source"


def test_the_table_names_each_scenario_and_its_endpoint() -> None:
    result = leaklab("scenarios")
    assert result.returncode == 0, result.stderr
    for scenario in SCENARIOS:
        assert scenario.name in result.stdout and scenario.endpoint in result.stdout


def test_a_bad_option_is_one_line_and_exit_2() -> None:
    result = leaklab("scenarios", "--yaml")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "--yaml" in result.stderr
