"""The "Leaks" view inside Locust's web UI: where Grafana is not, the speaker projects this.

Adds to the web UI (same port, same login when --web-login is on):
  /leaks        a full-screen page: leaky and fixed side by side, charts and verdicts
  /leaks?stage  the same for a projector: large type, only the told scenarios' cards and
                charts, fitted to the window with no scrollbar (?scenario=NAME,... to choose)
  /leaks/data   what the page draws, as JSON (leaklab.live.LiveView)
and a "Leaks" tab among Locust's own tabs with the verdict table. The chart library
(uPlot, from the npm registry) is served from leaks_ui/vendor: the talk needs no network.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
from flask import Blueprint, Response, jsonify, request, send_from_directory
from locust.env import Environment
from locust.runners import MasterRunner

if TYPE_CHECKING:
    from leaklab.live import LiveView

HERE = Path(__file__).resolve().parent / "leaks_ui"
TAB = "leaks"


def _in_thread(work: Any) -> Any:
    """The statistics are CPU-bound: a real thread keeps Locust's users running meanwhile."""
    return gevent.get_hub().threadpool.apply(work)


def install(environment: Environment, prometheus_url: str, step: float) -> LiveView:
    from leaklab.live import LiveView  # numpy and the verdict code: only where a UI serves it

    web_ui = environment.web_ui
    assert web_ui is not None
    view = LiveView(prometheus_url, step=step, offload=_in_thread, spawn=gevent.spawn)
    pages = Blueprint("leaks", __name__, static_folder=str(HERE), static_url_path="/leaks/ui")

    @pages.route("/leaks")
    @web_ui.auth_required_if_enabled
    def leaks_page() -> Response:
        return send_from_directory(HERE, "leaks.html")

    @pages.route("/leaks/data")
    @web_ui.auth_required_if_enabled
    def leaks_data() -> Response:
        body = view.snapshot()
        body["locust"] = _locust_figures(environment)
        # the scenarios this run drives (its --tags, as `talk --scenario` sets them): the
        # stage layout shows theirs; none given: the page shows the default story's
        options = environment.parsed_options
        body["told"]["running"] = list(getattr(options, "tags", None) or [])
        return jsonify(body)

    app = web_ui.app
    assert app is not None
    app.register_blueprint(pages)

    @app.after_request
    def _verdicts_in_stats(response: Response) -> Response:
        # Locust's UI polls /stats/requests every 2 s; its extended tabs read this key.
        if request.path != "/stats/requests" or not response.is_json:
            return response
        body = response.get_json()
        if isinstance(body, dict):
            if f"tab={TAB}" in (request.referrer or ""):
                # only while someone looks at the tab: the statistics cost CPU
                view.verdicts(view.window())  # a fresh decision starts in the background
            rows = view.table_rows() or [_waiting_row(view)]
            body["extended_stats"] = [{"key": TAB, "data": rows}]
            response.set_data(json.dumps(body))
        return response

    web_ui.template_args["extended_tabs"] = [{"title": "Leaks", "key": TAB}]
    web_ui.template_args["extended_tables"] = [
        {
            "key": TAB,
            "structure": [
                {"key": "resource", "title": "Resource (charts: /leaks)"},
                {"key": "leaky", "title": "leaky"},
                {"key": "fixed", "title": "fixed"},
            ],
        }
    ]

    @environment.events.test_start.add_listener
    def _new_run(**_kwargs: Any) -> None:
        view.run_started_now()

    return view


def _waiting_row(view: LiveView) -> dict[str, str]:
    waiting = "waiting for a load run" if view.run_started is None else "collecting data"
    return {"resource": f"open /leaks for the charts; {waiting}", "leaky": "-", "fixed": "-"}


def _locust_figures(environment: Environment) -> dict[str, Any]:
    runner = environment.runner
    if runner is None:
        return {}
    stats = runner.stats.total
    started = runner.stats.start_time if runner.state != "ready" else None
    return {
        "state": runner.state,
        "users": runner.user_count,
        "workers": runner.worker_count if isinstance(runner, MasterRunner) else 0,
        "rps": round(stats.current_rps, 1),
        "requests": stats.num_requests,
        "failures": stats.num_failures,
        "elapsed": round(time.time() - started, 1) if started else 0.0,
    }
