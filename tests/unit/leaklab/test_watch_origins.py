"""The plugin names where a foreign app's leaked objects were made: from the /metrics text
of a target with leaklab.probe, summed over replicas, to the verdict's JSON and printed line
(the scrapes are answered by hand: no server; Locust is never imported here, and its
`leaklab.locust.output.show` prints `origin_lines`)."""

from __future__ import annotations

import argparse
import json

import jsonschema
import pytest

from leaklab.paths import REPO
from leaklab.scrape import ScrapeError, census
from leaklab.verdict.display import origin_lines
from leaklab.verdict.origins import Origin
from leaklab.verdict.stats import Verdict
from leaklab.watch import watcher as watcher_module
from leaklab.watch.options import read as read_options
from leaklab.watch.watcher import Watcher

SCHEMA = json.loads((REPO / "docs" / "check.schema.json").read_text())
EXPORT = "shop/export.py:12 export_csv"
URLS = ("http://127.0.0.1:1/metrics", "http://127.0.0.1:2/metrics")


def probed(fds: float, files: float, replica: int = 0) -> str:
    """One replica's /metrics: prometheus-client's process figures and the probe's origins."""
    return f"""# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds {fds}
# TYPE process_start_time_seconds gauge
process_start_time_seconds {1700000000 + replica}
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 52428800
# HELP leaklab_live_objects Live objects by where they were made
# TYPE leaklab_live_objects gauge
leaklab_live_objects{{kind="file",origin="{EXPORT}",endpoint="/export"}} {files}
leaklab_live_objects{{kind="socket",origin="shop/db.py:40 Store.connect",endpoint=""}} 2
leaklab_live_objects{{kind="thread",origin="shop/app.py:8 start_jobs",endpoint=""}} 1
"""


def plain(fds: float) -> str:
    return f"# TYPE process_open_fds gauge\nprocess_open_fds {fds}\n"


def test_the_census_sums_the_probe_s_series_over_replicas() -> None:
    found = census([probed(30, 12), probed(31, 13, replica=1)])
    assert found.objects[("file", EXPORT, "/export")] == 25
    assert found.objects[("thread", "shop/app.py:8 start_jobs", "")] == 2
    assert found.allocated == {}
    assert not census([plain(30)]).exported
    with pytest.raises(ScrapeError, match="not Prometheus text"):
        census(["{{{ not text"])


def _run(
    monkeypatch: pytest.MonkeyPatch, text_at: object, resources: list[str] | None = None
) -> Watcher:
    """A run of 40 reads, 100 requests apart, each answered by text_at(url, i)."""
    given = argparse.Namespace(leak_metrics=list(URLS), leak_resource=resources or [])
    reads = {"i": 0}
    monkeypatch.setattr(
        watcher_module,
        "scrape_text",
        lambda url, _session: text_at(url, reads["i"]),  # type: ignore[operator]
    )
    watcher = Watcher(read_options(given), lambda: {"GET /export": 100.0 * reads["i"]})
    for i in range(40):
        reads["i"] = i
        watcher.point()
    return watcher


def test_the_plugin_s_fds_leak_names_the_line_that_opened_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def leaking(url: str, i: int) -> str:  # each replica keeps one file per 20 requests
        return probed(30 + 5 * i, 5 * i, replica=URLS.index(url))

    watcher = _run(monkeypatch, leaking)
    assert watcher.recording is not None
    result = watcher.recording.result()
    (app,) = result.apps
    assert app.decisions["fds"].verdict is Verdict.LEAK
    # fds <- file, socket (and database connections); growth over the run, first
    assert app.origins["fds"][0] == Origin(EXPORT, "/export", 390.0, 390.0, "fds")
    assert app.origins["fds"][1].where == "shop/db.py:40 Store.connect"
    assert app.origins["rss"] == []  # the probe runs, no allocation window has yet
    body = result.to_json()
    jsonschema.Draft202012Validator(SCHEMA).validate(body)
    assert body["apps"]["target"]["resources"]["fds"]["origins"][0] == {
        "where": EXPORT,
        "count": 390.0,
        "endpoint": "/export",
        "growth": 390.0,
    }
    assert origin_lines(result) == [
        "  target fds: LEAK, made at shop/export.py:12 in export_csv, via /export (390 open)"
    ]


def test_a_target_without_the_probe_gets_the_verdict_it_got_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    watcher = _run(monkeypatch, lambda _url, i: plain(30 + 5 * i))
    assert watcher.recording is not None
    result = watcher.recording.result()
    assert result.apps[0].decisions["fds"].verdict is Verdict.LEAK
    assert result.apps[0].origins == {}
    assert "origins" not in result.to_json()["apps"]["target"]["resources"]["fds"]
    assert origin_lines(result) == []


def test_a_resource_given_by_hand_has_origins_only_under_a_known_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def leaking(url: str, i: int) -> str:
        return probed(30 + 5 * i, 5 * i, replica=URLS.index(url))

    given = ["fds=process_open_fds", "handles=process_open_fds@2"]
    watcher = _run(monkeypatch, leaking, given)
    assert watcher.recording is not None
    origins = watcher.recording.result().apps[0].origins
    assert origins["fds"][0].where == EXPORT
    assert "handles" not in origins  # not a resource kind the registry knows
