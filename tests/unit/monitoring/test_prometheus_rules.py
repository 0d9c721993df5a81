"""The Prometheus config and rules, checked and unit-tested by the real promtool."""

import shutil
import subprocess
from pathlib import Path

import yaml

from leaklab.paths import PROMETHEUS_CONFIG
from leaklab.stack.native import COMPOSE_TARGETS
from leaklab.stack.prometheus_server import render_config

RULES = PROMETHEUS_CONFIG.parent / "rules"
PROMTOOL = shutil.which("promtool")  # installed with Prometheus by `make test`


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL, "promtool not found: run make test (it installs Prometheus)"
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, check=False)


def test_the_compose_config_is_valid() -> None:
    result = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rendered_native_config_is_valid(tmp_path: Path) -> None:
    targets = {t: f"127.0.0.1:{9000 + i}" for i, t in enumerate(COMPOSE_TARGETS.values())}
    rendered = tmp_path / "prometheus.yml"
    rendered.write_text(yaml.safe_dump(render_config(PROMETHEUS_CONFIG, targets, "1s")))
    result = promtool("check", "config", str(rendered))
    assert result.returncode == 0, result.stdout + result.stderr
    rules = yaml.safe_load((PROMETHEUS_CONFIG.parent / "rules" / "leaklab.rules.yml").read_text())
    expected = sum(len(group["rules"]) for group in rules["groups"])
    assert f"{expected} rules found" in result.stdout  # the rules file is loaded, all of it


def test_every_rules_file_has_a_passing_promtool_test() -> None:
    rule_files = sorted(RULES.glob("*.rules.yml"))
    assert rule_files
    for rules in rule_files:
        test = rules.with_name(rules.name.replace(".rules.yml", ".rules.test.yml"))
        assert test.exists(), f"{rules.name} has no promtool test beside it"
        result = promtool("test", "rules", test.name, cwd=RULES)
        assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_follow_the_mixin_style() -> None:
    groups = yaml.safe_load((RULES / "leaklab.rules.yml").read_text())["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    names = {a["alert"] for a in alerts}
    assert {
        "LeakLabDatabaseConnectionLeak",
        "LeakLabRedisConnectionLeak",
        "LeakLabWorkerMemoryGrowth",
        "LeakLabPoolExhausted",
    } <= names
    for alert in alerts:
        assert alert["alert"][0].isupper() and "_" not in alert["alert"]
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert alert["annotations"]["summary"].endswith(".")
        assert "{{ $labels.app }}" in alert["annotations"]["description"]
