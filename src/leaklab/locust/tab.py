"""The Leaks tab in Locust's web UI: the target's resources with their verdicts, live.

Locust's UI polls /stats/requests every 2 s and draws an extended tab from the
`extended_stats` key of that answer; the verdicts are re-decided at most once per poll,
in a real thread (numpy) so the users keep running, and only while someone looks.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import gevent
from flask import Response, request
from locust.env import Environment

from leaklab.verdict.check import CheckResult
from leaklab.verdict.origins import origin_line
from leaklab.verdict.stats import Verdict

if TYPE_CHECKING:
    from leaklab.locust.plugin import Plugin

TAB = "leaks"
REFRESH = 2.0


def rows(result: CheckResult | None, waiting: str) -> list[dict[str, str]]:
    """One row per resource: verdict, growth per 1,000 requests, the endpoint behind it, and
    for a LEAK where its objects were made (when the target exports origins)."""
    if result is None:
        return [
            {"resource": waiting, "verdict": "-", "growth": "-", "endpoint": "-", "origin": "-"}
        ]
    units = {r.name: r for r in result.resources}
    out = []
    for app in result.apps:
        for name, d in app.decisions.items():
            divisor, unit = units[name].scale
            growth = f"{d.fit.slope_per_1k / divisor:+.3g} {unit}" if d.fit else "-"
            leaking = [e.name for e in app.endpoints.get(name, []) if e.verdict is Verdict.LEAK]
            made = app.origins.get(name) if d.verdict is Verdict.LEAK else None
            out.append(
                {
                    "resource": name,
                    "verdict": d.verdict.value,
                    "growth": growth,
                    "endpoint": ", ".join(leaking) or "-",
                    "origin": origin_line(made[0]) if made else "-",
                }
            )
    return out


def install(environment: Environment, plugin: Plugin) -> None:
    web_ui = environment.web_ui
    assert web_ui is not None and web_ui.app is not None
    latest: dict[str, Any] = {"at": 0.0, "result": None, "busy": False}

    def refresh() -> None:
        latest["busy"] = True
        try:
            latest["result"] = gevent.get_hub().threadpool.apply(plugin.decide)
            latest["at"] = time.time()
        finally:
            latest["busy"] = False

    @web_ui.app.after_request
    def _verdicts_in_stats(response: Response) -> Response:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        body = response.get_json()
        if not isinstance(body, dict):
            return response
        looking = f"tab={TAB}" in (request.referrer or "")
        if looking and not latest["busy"] and time.time() - latest["at"] > REFRESH:
            gevent.spawn(refresh)
        result = latest["result"] if plugin.reader is not None else plugin.result
        waiting = plugin.error or ("collecting data" if plugin.reader else "waiting for a run")
        body["extended_stats"] = [{"key": TAB, "data": rows(result, waiting)}]
        response.set_data(json.dumps(body))
        return response

    web_ui.template_args["extended_tabs"] = [{"title": "Leaks", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {
            "key": TAB,
            "structure": [
                {"key": "resource", "title": "Resource"},
                {"key": "verdict", "title": "Verdict"},
                {"key": "growth", "title": "Growth per 1,000 requests"},
                {"key": "endpoint", "title": "Leaking endpoint"},
                {"key": "origin", "title": "Where its objects were made"},
            ],
        }
    ]
