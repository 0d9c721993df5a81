"""Grafana provisioning and dashboards, checked statically."""

from __future__ import annotations

import json
from typing import Any

import yaml

from leaklab.paths import REPO

PROVISIONING = REPO / "monitoring" / "grafana" / "provisioning"
DASHBOARDS = sorted((REPO / "dashboards").glob("*.json"))


def _uid() -> str:
    config = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (datasource,) = config["datasources"]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    return str(datasource["uid"])


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def test_the_provider_loads_the_dashboards_folder() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "leaklab.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    compose = (REPO / "docker-compose.yml").read_text()
    assert "./dashboards:/var/lib/grafana/dashboards:ro" in compose


def test_every_panel_uses_the_provisioned_datasource_by_uid() -> None:
    uid = _uid()
    assert DASHBOARDS
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard):
            for target in panel.get("targets", []):
                assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
                assert target["datasource"]["uid"] == uid
                assert target["expr"].strip()


def test_no_environment_variables_in_dashboards() -> None:
    for path in DASHBOARDS:
        assert "${" not in path.read_text(), path.name


def test_leaky_is_red_and_fixed_green_everywhere() -> None:
    for path in DASHBOARDS:
        for panel in _panels(json.loads(path.read_text())):
            if panel["type"] != "timeseries":
                continue
            colours = {
                o["matcher"]["options"]: o["properties"][0]["value"]["fixedColor"]
                for o in panel["fieldConfig"]["overrides"]
            }
            assert colours == {"leaky.*": "red", "fixed.*": "green"}, panel["title"]
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
            assert all(t["legendFormat"].startswith("{{app}}") for t in panel["targets"])


def test_the_dashboard_has_a_row_per_resource_and_the_load() -> None:
    dashboard = json.loads((REPO / "dashboards" / "leaklab.json").read_text())
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    for word in ("PostgreSQL", "Redis", "Worker", "Load"):
        assert any(word in row for row in rows), word
    assert any(p["type"] == "alertlist" for p in dashboard["panels"])
    assert any(a.get("expr") for a in dashboard["annotations"]["list"])
