"""Where the leaked objects were made: the registry's kinds, the ranking, the words, check's
reads from Prometheus (answers built by hand) and the JSON against its schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

from leaklab.paths import REPO
from leaklab.scenarios import (
    ALLOCATED_BYTES,
    FDS,
    LIVE_OBJECTS,
    OBJECT_KINDS,
    RSS,
    SCENARIOS,
    THREADS,
    WINDOW_END,
    Gauge,
    Leak,
    OriginSource,
)
from leaklab.verdict.check import AppVerdict, CheckResult, read_origins
from leaklab.verdict.display import origin_sentences, reason_lines
from leaklab.verdict.origins import LIMIT, Census, Origin, origin_line, origins_of, rank
from leaklab.verdict.query import AppData, QueryError, Window, contract
from leaklab.verdict.stats import Decision, Series, Verdict

SCHEMA = json.loads((REPO / "docs" / "check.schema.json").read_text())
LEAKY_DB = "services/webapp/leaky.py:22 ConnectionPerRequest.acquire"
PG = OriginSource(("pg_connection",))


def census(objects: dict[tuple[str, str, str], float] | None = None, **allocated: float) -> Census:
    return Census(dict(objects or {}), {(k, ""): v for k, v in allocated.items()})


# -- the registry ---------------------------------------------------------------------------


def test_every_resource_names_the_objects_that_make_it() -> None:
    for leak in SCENARIOS.contract():
        source = SCENARIOS.origins(leak.resource)
        assert source is not None, f"{leak.resource} declares no object kinds"
        assert set(source.kinds) <= set(OBJECT_KINDS)
        assert source.kinds or source.allocations
    assert SCENARIOS.origins("db_connections") == OriginSource(
        ("pg_connection",), endpoint="/api/database", unit="connections"
    )
    assert SCENARIOS.origins("redis_connections", scoped=False) == OriginSource(
        ("redis_connection",), unit="connections"
    )
    # the process-wide ones, per the interface with leaklab.probe
    assert set(FDS.objects) == {"file", "socket", "pg_connection", "redis_connection"}
    assert THREADS.objects == ("thread",)
    assert RSS.origins() == OriginSource(allocations=True, unit="bytes")
    assert SCENARIOS.origins("hikari_connections") is None  # a name the registry does not know


def test_an_unknown_object_kind_is_refused_where_it_is_declared() -> None:
    with pytest.raises(ValueError, match="pg_conection"):
        Leak("x", "X", "things", 1.0, Gauge("x", "x"), objects=("pg_conection",))


# -- the ranking ----------------------------------------------------------------------------


def test_origins_rank_by_growth_over_the_window_then_by_count() -> None:
    start = census({("pg_connection", "app.py:5 warm", "/a"): 40})
    end = census(
        {
            ("pg_connection", "app.py:5 warm", "/a"): 41,  # many, but made before the window
            ("pg_connection", LEAKY_DB, "/api/database"): 93,
            ("pg_connection", "app.py:9 small", "/b"): 3,
            ("redis_connection", "app.py:7 other_kind", "/c"): 500,  # not this resource's kind
            ("pg_connection", "app.py:3 gone", "/d"): 0,  # all given back: nothing to say
        }
    )
    found = rank(PG, end, start)
    assert [o.where for o in found] == [LEAKY_DB, "app.py:9 small", "app.py:5 warm"]
    assert found[0] == Origin(LEAKY_DB, "/api/database", 93, 93)
    assert found[2].growth == 1 and found[2].count == 41


def test_origins_are_bounded_and_kinds_of_one_resource_add_up() -> None:
    end = census(
        {("file", f"app.py:{n} f{n}", "/x"): float(n) for n in range(1, 30)}
        | {("socket", "app.py:29 f29", "/x"): 100.0}
    )
    found = rank(FDS.origins() or OriginSource(), end, None)
    assert len(found) == LIMIT
    assert found[0] == Origin("app.py:29 f29", "/x", 129.0, 129.0, "fds")


def test_a_scenario_counts_only_objects_made_at_its_endpoint() -> None:
    end = census(
        {
            (
                "redis_connection",
                "services/webapp/leaky.py:60 ClientPerRequest.get",
                "/api/redis",
            ): 9,
            ("redis_connection", "services/webapp/leaky.py:140 Sub.notify", "/api/notify"): 80,
        }
    )
    ours = origins_of(["redis_connections", "pubsub_connections"], end, None)
    assert [o.endpoint for o in ours["redis_connections"]] == ["/api/redis"]
    assert [o.endpoint for o in ours["pubsub_connections"]] == ["/api/notify"]
    anywhere = origins_of(["redis_connections"], end, None, scoped=False)
    assert [o.count for o in anywhere["redis_connections"]] == [80, 9]


def test_no_probe_no_origins_and_a_probe_with_nothing_live_an_empty_list() -> None:
    assert origins_of(["fds", "rss", "db_connections"], Census(), Census()) == {}
    probed = census({("thread", "app.py:1 boot", ""): 2})
    found = origins_of(["fds", "threads", "rss", "mine"], probed, None)
    assert found["fds"] == [] and found["rss"] == []  # exported, none of these kinds live
    assert found["threads"] == [Origin("app.py:1 boot", None, 2, 2, "threads")]
    assert "mine" not in found  # not a resource the registry knows


def test_memory_origins_are_the_sites_of_a_window_closed_within_the_run() -> None:
    memo = "services/webapp/leaky.py:80 MemoPerTimestamp.sheet"
    start = census(**{memo: 1 * 2**20})
    start.window_ended = 100.0  # an earlier window's sites, still exported
    end = census(**{memo: 5 * 2**20, "x.py:1 f": 1})
    end.window_ended = 130.0
    (top, _) = origins_of(["rss"], end, start)["rss"]
    # what a window holds is what it allocated: all of it is growth, in bytes
    assert top.growth == top.count == 5 * 2**20 and top.unit == "bytes"
    # tracemalloc cannot know the request: no "outside any request"
    assert origin_line(top) == (
        "allocated at services/webapp/leaky.py:80 in MemoPerTimestamp.sheet (5 MiB live)"
    )
    # no window closed since the start: the sites say nothing of this run
    end.window_ended = start.window_ended
    assert origins_of(["rss"], end, start)["rss"] == []


# -- the words ------------------------------------------------------------------------------


def test_the_line_under_a_leak_names_the_place_the_function_and_the_request() -> None:
    ours = Origin(LEAKY_DB, "/api/database", 93, 93, "connections")
    assert origin_line(ours) == (
        "made at services/webapp/leaky.py:22 in ConnectionPerRequest.acquire, "
        "via GET /api/database (93 open)"
    )
    theirs = Origin("shop/export.py:12 export_csv", "/export", 40, 38, "fds")
    assert origin_line(theirs) == (
        "made at shop/export.py:12 in export_csv, via /export (40 open, +38 over the window)"
    )
    beyond = Origin("other", "/x", 7, 7, "threads")
    assert origin_line(beyond).startswith("made at other places (beyond the sites")


# -- check: read from Prometheus, shown, written ----------------------------------------------


class HandMadePrometheus:
    """Answers check's instant queries from censuses given per time (as Prometheus would:
    `sum by (...)` of the app's series)."""

    def __init__(self, at: dict[float, list[tuple[str, dict[str, str], float]]]) -> None:
        self.at = at
        self.asked: list[str] = []

    def instant(self, expr: str, at: float) -> list[dict[str, Any]]:
        self.asked.append(expr)
        metrics = [m for m in (LIVE_OBJECTS, ALLOCATED_BYTES, WINDOW_END) if m in expr]
        if len(metrics) != 1:
            raise QueryError("unexpected query")
        metric = metrics[0]
        assert 'app="leaky"' in expr
        return [
            {"metric": labels, "value": [at, str(value)]}
            for name, labels, value in self.at.get(at, [])
            if name == metric
        ]


WINDOW = Window(1000.0, 1060.0, 1.0)


def _db(origin: str, endpoint: str, value: float) -> tuple[str, dict[str, str], float]:
    labels = {"kind": "pg_connection", "origin": origin, "endpoint": endpoint}
    return ("leaklab_live_objects", labels, value)


def test_check_reads_the_census_at_the_window_s_end_and_start() -> None:
    prom = HandMadePrometheus(
        {
            1000.0: [_db(LEAKY_DB, "/api/database", 2)],
            1060.0: [_db(LEAKY_DB, "/api/database", 95)],
        }
    )
    found = read_origins(prom, 'app="leaky"', WINDOW, ["db_connections", "fds"])  # type: ignore[arg-type]
    assert found["db_connections"] == [Origin(LEAKY_DB, "/api/database", 95, 93, "connections")]
    assert found["fds"][0].count == 95  # a PostgreSQL connection is an fd too
    assert len(prom.asked) == 6  # three metrics, at two times: not a query per resource


def test_an_app_without_the_probe_is_judged_as_before() -> None:
    prom = HandMadePrometheus({})
    assert read_origins(prom, 'app="leaky"', WINDOW, ["db_connections"]) == {}  # type: ignore[arg-type]
    assert len(prom.asked) == 3  # the start is not read when the end has nothing


def _result(origins: dict[str, list[Origin]]) -> CheckResult:
    resources = contract()
    grid = np.arange(0.0, 600.0, 20.0)
    data = AppData(requests=grid, segments=np.zeros(len(grid), dtype=np.int64))
    decisions = {}
    for r in resources:
        data.resources[r.name] = Series(grid, np.linspace(0.0, 93.0, len(grid)), data.segments)
        data.bounds[r.name] = None
        verdict = Verdict.LEAK if r.name == "db_connections" else Verdict.NO_LEAK
        decisions[r.name] = Decision(verdict, "because", 600.0, method="test")
    app = AppVerdict("leaky", 'app="leaky"', data, decisions, origins=origins)
    return CheckResult("http://prometheus", WINDOW, resources, [app])


def test_the_json_carries_origins_and_follows_its_schema() -> None:
    top = Origin(LEAKY_DB, "/api/database", 93, 93, "connections")
    result = _result({"db_connections": [top], "fds": []})
    body = result.to_json()
    jsonschema.Draft202012Validator(SCHEMA).validate(body)
    resources = body["apps"]["leaky"]["resources"]
    assert resources["db_connections"]["origins"] == [
        {"where": LEAKY_DB, "count": 93, "endpoint": "/api/database", "growth": 93}
    ]
    assert resources["fds"]["origins"] == []  # the app says where, and nothing is live
    assert "origins" not in resources["threads"]  # not read: absent, not empty
    unprobed = _result({}).to_json()
    jsonschema.Draft202012Validator(SCHEMA).validate(unprobed)
    assert all("origins" not in r for r in unprobed["apps"]["leaky"]["resources"].values())


def test_the_schema_refuses_an_origin_without_its_place() -> None:
    body = _result({"db_connections": [Origin(LEAKY_DB, None, 1, 1)]}).to_json()
    body["apps"]["leaky"]["resources"]["db_connections"]["origins"][0].pop("where")
    with pytest.raises(jsonschema.ValidationError, match="where"):
        jsonschema.Draft202012Validator(SCHEMA).validate(body)


def test_one_line_under_each_leak_names_its_origin() -> None:
    top = Origin(LEAKY_DB, "/api/database", 93, 93, "connections")
    result = _result({"db_connections": [top], "threads": [Origin("a.py:1 f", None, 3, 3)]})
    lines = reason_lines(result, origins=True)
    at = lines.index("  leaky db_connections: because")
    assert lines[at + 1] == (
        "    made at services/webapp/leaky.py:22 in ConnectionPerRequest.acquire, "
        "via GET /api/database (93 open)"
    )
    assert not any("a.py:1" in line for line in lines)  # NO LEAK: in the JSON, not the table
    assert len(lines) == len(result.resources) + 1
    assert reason_lines(_result({}), origins=True) == reason_lines(_result({}))
    assert origin_sentences(result) == [
        "  leaky PostgreSQL connections: LEAK, 93 open, 93 made at "
        "services/webapp/leaky.py:22 in ConnectionPerRequest.acquire, via GET /api/database"
    ]


def test_the_leaks_view_puts_the_origin_under_a_leak_only() -> None:
    from leaklab import live

    top = Origin(LEAKY_DB, "/api/database", 93, 93, "connections")
    result = _result({})
    app = result.apps[0]
    origins = {"leaky": {"db_connections": [top], "threads": [Origin("a.py:1 f", None, 3, 3)]}}
    body = live._verdicts_json({"leaky": app.data}, {"leaky": app.decisions}, origins)
    assert body["db_connections"]["leaky"]["origin"] == origin_line(top)
    assert body["threads"]["leaky"]["origin"] == "made at a.py:1 in f, outside any request (3 live)"
    assert body["fds"]["leaky"]["origin"] is None
    assert live._cell(body["db_connections"]["leaky"]).endswith(f"; {origin_line(top)}")
    assert "a.py" not in live._cell(body["threads"]["leaky"])  # NO LEAK: the card says nothing


def test_the_report_lists_each_resource_s_origins(tmp_path: Path) -> None:
    from leaklab.verdict.report import write_report

    made = [
        Origin(LEAKY_DB, "/api/database", 93, 93, "connections"),
        Origin("services/webapp/views.py:40 ready", None, 1, 0, "connections"),
    ]
    result = _result({"db_connections": made})
    result.resources = tuple(r for r in result.resources if r.name == "db_connections")
    html = write_report(result, tmp_path / "report").read_text()
    assert "where its objects were made" in html
    assert "ConnectionPerRequest.acquire, via GET /api/database (93 open)" in html
    assert "views.py:40 in ready, outside any request (1 open, +0 over the window)" in html
