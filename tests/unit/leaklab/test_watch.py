"""The plugin's locust-free parts: reading /metrics text, its options, its counters."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from leaklab.scenarios import RSS
from leaklab.scrape import ScrapeError, Selector, metric_names, read
from leaklab.verdict.known import defaults_for
from leaklab.watch.counting import REPORT_KEY, RequestCounter
from leaklab.watch.options import LEAK_EXIT_CODE, OptionError
from leaklab.watch.options import read as read_options

TEXT = """# HELP pool_open Open connections
# TYPE pool_open gauge
pool_open{pool="db",worker="1"} 3
pool_open{pool="db",worker="2"} 4
pool_open{pool="cache",worker="1"} 10
# TYPE process_open_fds gauge
process_open_fds 17
"""


def test_a_selector_sums_the_samples_it_matches() -> None:
    selectors = {
        "db": Selector.parse('pool_open{pool="db"}'),
        "not_db": Selector.parse('pool_open{pool!="db"}'),
        "regex": Selector.parse('pool_open{pool=~"d.*", worker="2"}'),
        "fds": Selector.parse("process_open_fds"),
        "absent": Selector.parse("nothing_here"),
    }
    assert read(TEXT, selectors) == {"db": 7.0, "not_db": 10.0, "regex": 4.0, "fds": 17.0}
    assert {"pool_open", "process_open_fds"} <= metric_names(TEXT)


@pytest.mark.parametrize("bad", ["", "rate(x[1m])", 'm{a="b"', "m{a=b}", "1abc"])
def test_a_bad_selector_is_one_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="selector|matchers"):
        Selector.parse(bad)


def test_text_that_is_not_prometheus_is_a_scrape_error() -> None:
    with pytest.raises(ScrapeError, match="not Prometheus text"):
        read("<html>nope</html>\n{{{", {"x": Selector.parse("x")})


def test_well_known_metrics_need_no_threshold() -> None:
    rss = defaults_for("memory", "process_resident_memory_bytes")
    assert (
        rss is not None
        and rss.unit == "bytes"
        and rss.threshold_per_1k == RSS.threshold_per_1k
        and rss.noise_multiple == RSS.noise_multiple
    )
    assert defaults_for("fds", 'process_open_fds{job="shop"}') is not None
    assert defaults_for("mine", "my_gauge") is None


def test_counts_survive_locust_s_reset_and_travel_with_a_worker_s_report() -> None:
    worker, master = RequestCounter(), RequestCounter()
    for name in ("/a", "/a", "/b"):
        worker.on_request(name=name)
    data: dict[str, object] = {}
    worker.on_report_to_master(data=data)
    master.on_worker_report(data=data)
    worker.on_request(name="/a")
    again: dict[str, object] = {}
    worker.on_report_to_master(data=again)
    master.on_worker_report(data=again)
    assert again[REPORT_KEY] == {"/a": 1}  # only what is new since the last report
    assert master.totals() == {"/a": 3.0, "/b": 1.0}
    master.on_worker_report(data={})  # a report without ours (an older worker): ignored
    assert master.totals() == {"/a": 3.0, "/b": 1.0}


def _options(**given: object) -> argparse.Namespace:
    return argparse.Namespace(**given)


def test_options_from_the_command_line_or_the_web_ui_form(tmp_path: Path) -> None:
    cli = read_options(_options(leak_metrics=["http://a/metrics", "http://b/metrics"]))
    assert cli.enabled and cli.metrics == ("http://a/metrics", "http://b/metrics")
    assert cli.exit_code == LEAK_EXIT_CODE and cli.mix == "vary"
    form = read_options(
        _options(leak_metrics="http://a/metrics,http://b/metrics", leak_resource="fds=x@2")
    )
    assert form.metrics == cli.metrics and form.resources[0].threshold_per_1k == 2
    assert not read_options(_options()).enabled


@pytest.mark.parametrize(
    ("given", "says"),
    [
        ({"leak_step": 0}, "above 0"),
        ({"leak_mix": "random"}, "--leak-mix"),
        ({"leak_resource": ["mine=my_gauge"]}, "threshold"),
        ({"leak_resource": ["a=x@1", "a=y@1"]}, "twice"),
        ({"leak_json": "/no/such/dir/leak.json"}, "does not exist"),
    ],
)
def test_a_bad_option_is_one_line(given: dict[str, object], says: str) -> None:
    with pytest.raises(OptionError, match=says):
        read_options(_options(**given))
