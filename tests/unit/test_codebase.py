"""The shape the code keeps (issue #11): small modules, each contract name spelled once."""

from __future__ import annotations

import re
from pathlib import Path

from leaklab.paths import REPO
from leaklab.scenarios import EXHAUSTED, RESETS, SCENARIOS, WORKER_FDS, WORKER_RSS, WORKER_THREADS

MAX_LINES = 400
CODE = ("src", "services", "locust", "bench")


def _python_files(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (REPO / top).rglob("*.py") if ".venv" not in p.parts)


def test_no_module_under_src_services_or_locust_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(REPO)): n
        for p in _python_files("src", "services", "locust")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_each_contract_metric_name_is_spelled_in_the_registry_only() -> None:
    """Outside src/leaklab/scenarios.py no code spells a contract metric's name."""
    gauges = [*SCENARIOS.gauges(), WORKER_RSS, WORKER_FDS, WORKER_THREADS, RESETS]
    words = {g.name for g in gauges} | {EXHAUSTED}
    registry = REPO / "src" / "leaklab" / "scenarios.py"
    spelled = {
        str(p.relative_to(REPO)): found
        for p in _python_files(*CODE)
        if p != registry
        and (found := sorted(w for w in words if re.search(rf"\b{re.escape(w)}\b", p.read_text())))
    }
    assert spelled == {}


def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by their base name (rootdir mode, no __init__.py below
    tests/): two files of one name stop the whole suite at collection."""
    seen: dict[str, list[str]] = {}
    for path in _python_files("tests"):
        if path.name.startswith("test_"):
            seen.setdefault(path.name, []).append(str(path.relative_to(REPO)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
