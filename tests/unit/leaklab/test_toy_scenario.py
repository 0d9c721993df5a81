"""A scenario registered only here reaches every consumer of the registry.

The toy leaks a real temporary file per request (an open fd) in its leaky class and
reuses one in its fixed class; nothing outside this test knows it.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client.parser import text_string_to_metric_families

from leaklab import live
from leaklab.paths import REPO
from leaklab.scenarios import SCENARIOS, Gauge, Leak, Request, Scenario
from leaklab.settings import AppSettings
from leaklab.slides import excerpts
from leaklab.verdict.display import live_queries
from leaklab.verdict.query import contract
from webapp import create_app

TOY_MODULE = '''
import tempfile

from flask import jsonify, request

from webapp.views import current_resources as _resources

_files = []
_opened = []  # every file the module made, for the test's cleanup


class FilePerRequest:
    """Opens a temporary file per request and keeps it."""

    def __init__(self, name):
        self._name = name

    def open(self):
        handle = tempfile.TemporaryFile()
        _opened.append(handle)
        _files.append(handle)  # LEAK: never closed
        return handle

    def held(self):
        return sum(1 for f in _files if not f.closed)

    def reset(self):
        count = self.held()
        for f in _files:
            f.close()
        _files.clear()
        return count


class OneFile:
    """One temporary file for the whole worker."""

    def __init__(self, name):
        self._file = tempfile.TemporaryFile()  # FIX: one, reused
        _opened.append(self._file)

    def open(self):
        return self._file

    def held(self):
        return 0 if self._file.closed else 1

    def reset(self):
        return 0


def view():
    handle = _resources().strategies["toy"].open()
    handle.write(request.args.get("n", "1").encode())
    return jsonify(n=request.args.get("n", "1"))
'''

TOY_GAUGE = Gauge("toy_files_open", "Temporary files the toy scenario holds", read="held")
TOY = Scenario(
    name="toy",
    title="A temporary file per request",
    endpoint="/api/toy",
    view="toy_strategies:view",
    leaky="toy_strategies:FilePerRequest",
    fixed="toy_strategies:OneFile",
    leaks=(Leak("toy_files", "Toy files", "files", 2.0, TOY_GAUGE),),
    request=Request("n", "{n}", 9, expects="n"),
    weight=1,
)
SETTINGS = dict(
    database_url="postgresql://leaklab:secret@127.0.0.1:9/leaklab",
    redis_url="redis://:secret@127.0.0.1:9/0",
    app_name="leaklab-unit",
)


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scenario]:
    (tmp_path / "toy_strategies.py").write_text(TOY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with SCENARIOS.registered(TOY) as scenario:
            yield scenario
    finally:
        module = sys.modules.pop("toy_strategies", None)
        for handle in getattr(module, "_opened", []):
            handle.close()


def _gauges(body: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if not sample.labels
    }


def _task_mix_module() -> ModuleType:
    path = REPO / "locust" / "task_mix.py"
    spec = importlib.util.spec_from_file_location("task_mix_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_app_routes_the_toy_and_its_metrics_show_the_leak(toy: Scenario) -> None:
    client = create_app(AppSettings(variant="leaky", **SETTINGS)).test_client()
    for n in range(1, 4):
        assert client.get("/api/toy", query_string={"n": n}).get_json() == {"n": str(n)}
    assert client.get("/api/toy", query_string={"x": "1"}).status_code == 400
    assert _gauges(client.get("/metrics").get_data(as_text=True))["leaklab_toy_files_open"] == 3
    released = client.post("/admin/reset", headers={"Authorization": "Bearer x"})
    assert released.status_code == 403  # no token configured: admin is off, not a 500


def test_the_fixed_toy_holds_one_file_however_many_requests(toy: Scenario) -> None:
    client = create_app(AppSettings(variant="fixed", **SETTINGS)).test_client()
    for n in range(1, 6):
        assert client.get("/api/toy", query_string={"n": n}).status_code == 200
    assert _gauges(client.get("/metrics").get_data(as_text=True))["leaklab_toy_files_open"] == 1


def test_the_verdict_judges_it_and_the_leaks_view_draws_it(toy: Scenario) -> None:
    judged = {r.name: r for r in contract()}
    assert judged["toy_files"].selector == "leaklab_toy_files_open"
    assert judged["toy_files"].threshold_per_1k == 2.0
    chart = next(c for c in live.charts() if c.key == "toy_files")
    assert chart.lines[0].expr == "sum by (app) (leaklab_toy_files_open)"
    assert live.titles()["toy_files"] == "Toy files"
    assert live_queries()["Toy files"] == "sum by (app) (leaklab_toy_files_open)"


def test_locust_gets_a_task_for_it_and_the_talk_a_slide(toy: Scenario) -> None:
    tasks = {t.name: t for t in _task_mix_module().task_mix()}
    assert list(tasks) == [*SCENARIOS.names()[:-1], "toy"]  # the registry's, then the toy
    assert (tasks["toy"].path, tasks["toy"].weight) == ("/api/toy", 1)
    assert tasks["toy"].params()["n"] in {str(n) for n in range(1, 10)}
    slide = excerpts("leaky")[-1]
    assert (slide.role, slide.name) == ("toy", "FilePerRequest")
    assert "_files.append(handle)  # LEAK: never closed" in slide.text


def test_without_it_nothing_knows_the_toy() -> None:
    assert "toy" not in SCENARIOS.names()
    assert all(r.name != "toy_files" for r in contract())
    client = create_app(AppSettings(variant="leaky", **SETTINGS)).test_client()
    assert client.get("/api/toy").status_code == 404


def test_the_generated_dashboard_and_rules_have_it(toy: Scenario) -> None:
    from leaklab.generate import DASHBOARD, RULES_DIR, render

    files = render()
    panels = json.loads(files[DASHBOARD])["panels"]
    exprs = {t["expr"] for p in panels for t in p.get("targets", [])}
    assert "app:leaklab_toy_files_open:sum" in exprs
    assert any(p["type"] == "row" and "Toy files" in p["title"] for p in panels)
    rules = files[RULES_DIR / "leaklab.rules.yml"]
    assert "record: app:leaklab_toy_files_open:sum" in rules
