from pathlib import Path

from leaklab.paths import PROMETHEUS_CONFIG
from leaklab.stack.native import COMPOSE_TARGETS
from leaklab.stack.prometheus_server import render_config


def test_native_rendering_rewrites_compose_targets_and_keeps_app_labels() -> None:
    targets = {
        COMPOSE_TARGETS["leaky"]: "127.0.0.1:18001",
        COMPOSE_TARGETS["fixed"]: "127.0.0.1:18002",
        COMPOSE_TARGETS["prometheus"]: "127.0.0.1:19090",
    }
    config = render_config(PROMETHEUS_CONFIG, targets, "1s")
    assert config["global"]["scrape_interval"] == "1s"
    statics = {
        tuple(s["targets"]): s.get("labels", {})
        for job in config["scrape_configs"]
        for s in job["static_configs"]
    }
    assert statics[("127.0.0.1:18001",)] == {"app": "leaky"}
    assert statics[("127.0.0.1:18002",)] == {"app": "fixed"}
    assert ("127.0.0.1:19090",) in statics


def test_targets_the_native_stack_does_not_run_are_dropped() -> None:
    config = render_config(PROMETHEUS_CONFIG, {COMPOSE_TARGETS["leaky"]: "127.0.0.1:1"}, "2s")
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert jobs == ["leaklab-apps"]
    assert config["scrape_configs"][0]["static_configs"] == [
        {"targets": ["127.0.0.1:1"], "labels": {"app": "leaky"}}
    ]


def test_rule_files_point_at_the_repository_rules() -> None:
    config = render_config(PROMETHEUS_CONFIG, {}, "1s")
    (pattern,) = config["rule_files"]
    matches = sorted(Path("/").glob(pattern.lstrip("/")))
    assert [m.name for m in matches] == ["leaklab.rules.yml"]
