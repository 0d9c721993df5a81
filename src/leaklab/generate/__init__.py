"""Files built from the scenario registry (`leaklab.scenarios.SCENARIOS`), never edited by hand.

`make generate` (`python -m leaklab.generate`) rewrites them all: the Grafana dashboard, with
Grafana's own SDK (grafana-foundation-sdk, pinned to the compose file's Grafana 10.4), and the
Prometheus rules with their promtool tests. A unit test fails when a committed file differs
from what this would write now. Plain data in, text out: importing it pulls neither Flask nor
Locust.
"""

from __future__ import annotations

from pathlib import Path

from leaklab.paths import REPO
from leaklab.scenarios import SCENARIOS, Registry

COMMAND = "make generate"
RULES_DIR = Path("monitoring") / "prometheus" / "rules"
DASHBOARD = Path("dashboards") / "leaklab.json"


def render(registry: Registry = SCENARIOS) -> dict[Path, str]:
    """Every generated file, by its path relative to the repository, and its text."""
    from leaklab.generate import dashboard, promtool_tests, rules

    return {
        DASHBOARD: dashboard.dashboard_json(registry),
        RULES_DIR / rules.RULES_FILE: rules.rules_yaml(registry),
        RULES_DIR / promtool_tests.TEST_FILE: promtool_tests.tests_yaml(registry),
    }


def write(root: Path = REPO, registry: Registry = SCENARIOS) -> list[Path]:
    """Write every generated file under `root`; the paths whose text changed."""
    changed = []
    for relative, text in render(registry).items():
        path = root / relative
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed
