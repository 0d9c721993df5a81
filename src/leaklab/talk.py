"""`leaklab talk`: the story on stage, one stage per Enter (or timed, with --auto).

1) the leak and the fix in code, 2) the load at both apps and the URLs, 3) the leaky
connections climbing and the fixed ones flat, 4) the leaky app at its connection limit
answering 503s, 5) the verdict, 6) a reset, so the talk can run again. Everything runs
on 127.0.0.1: no network needed.
"""

from __future__ import annotations

import os
import sys
import time
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

from leaklab import memory_sites
from leaklab.burst import warm_up
from leaklab.exit_codes import ExitCode
from leaklab.load import LoadPlan, LocustRun, check_ready, stack_plan
from leaklab.measure import holdings, reset
from leaklab.run import MeasuredRun
from leaklab.scenarios import SCENARIOS, Scenario
from leaklab.settings import VARIANTS
from leaklab.slides import scenario_slide, too_small
from leaklab.stack import NativeStack
from leaklab.stack.process import wait_until_ready
from leaklab.stack.state import RunState
from leaklab.story import (
    STACK_APPS,
    chosen,
    expected,
    for_scenarios,
    story_resources,
    tells_the_story,
    told_only,
    warm_after,
)
from leaklab.verdict.display import LiveFigures, origin_sentences, reason_lines, verdict_table
from leaklab.verdict.query import contract
from leaklab.verdict.stats import Verdict

SLIDE_SPARE = 2  # lines of a slide's screen beside the slide: the stage's title, the prompt
MIN_LOAD_SECONDS = 25.0  # 20 users at one request a second: 250 per app, past the minimum
STAGES = (
    "The leak and the fix",
    "The same load at both apps",
    "Leaky climbs, fixed stays flat",
    "Leaky hits the limit: 503",
    "The verdict",
    "Reset: ready to run again",
)


@dataclass(frozen=True)
class TalkPlan:
    auto: bool = False
    pause: float = 3.0  # --auto: seconds between stages
    climb: float = 10.0  # --auto: seconds of stage 3
    saturation_timeout: float = 120.0
    browser: bool = True
    users: int = 20
    spawn_rate: float = 2.0
    pace: float = 1.0
    shape: str | None = None
    scenarios: tuple[str, ...] = ()  # the scenarios told (): the default story's


class Talk:
    """The six stages against a running stack; `run()` returns the exit code."""

    def __init__(
        self,
        console: Console,
        stack: NativeStack,
        state: RunState,
        plan: TalkPlan,
        out_dir: Path,
        ask: Callable[[str], str] = input,
    ) -> None:
        self.console, self.stack, self.state, self.plan = console, stack, state, plan
        self.out_dir, self._ask = out_dir, ask
        self.settings = stack.settings
        self.prometheus = stack.prometheus_url()
        self.step = self.settings.step_seconds
        self.scenarios = chosen(plan.scenarios)

    # -- pacing -------------------------------------------------------------------------
    def _next(self, number: int, waited: bool = False, part: str = "") -> None:
        """Wait for Enter (or --pause seconds), then a fresh screen titled with the stage."""
        title = STAGES[number - 1]
        if number > 1 and not waited:
            self._wait(f"{number}) {title}")
        if self.console.is_terminal:
            self.console.clear()  # one stage a screen, as slides are
        self.console.print(Rule(f"[bold]{number}) {title}{part and f'  ({part})'}", style="cyan"))

    def _wait(self, what: str) -> None:
        if self.plan.auto:
            time.sleep(self.plan.pause)
        else:
            self._ask(f"  [Enter] {what} ")

    def _slides(self) -> None:
        """Stage 1: one scenario a screen, leaky beside fixed, Enter for the next."""
        for n, scenario in enumerate(self.scenarios):
            part = f"{scenario.name}, {n + 1} of {len(self.scenarios)}"
            if n:
                self._wait(f"next: {part}")
            self._next(1, part=part if len(self.scenarios) > 1 else "")
            if self.console.is_terminal:
                warning = too_small(self.console, [scenario], spare=SLIDE_SPARE)
                if warning:
                    self.console.print(f"[yellow]{escape(warning)}[/yellow]")
            self.console.print(scenario_slide(scenario, self.console.width).screen())

    def _hold(self, seconds: float) -> None:
        """The live figures until Enter (or for `seconds` with --auto).

        The prompt is the live table's caption: a prompt of input()'s own would be drawn
        over by the table's next refresh.
        """
        if self.plan.auto:
            time.sleep(seconds)
        else:
            self._ask("")

    # -- the story ----------------------------------------------------------------------
    def run(self) -> int:
        load = stack_plan(
            self.stack,
            self.out_dir,
            self.state,
            users=self.plan.users,
            spawn_rate=self.plan.spawn_rate,
            pace=self.plan.pace,
            shape=self.plan.shape,
            autostart=True,
            scenarios=tuple(s.name for s in self.scenarios),
        )
        check_ready(load)  # a port taken says so now, not after the slides
        self._slides()
        self._next(2)
        self.console.print(
            "Warming both apps up (a short burst, then a reset): real apps are warm."
        )
        run = MeasuredRun(self.state, load, self.step, warm_up=warm_up(self.scenarios))
        run.reset()  # every run starts from nothing
        with run.load() as locust:
            load_started = run.load_started
            self._show_urls(load, locust)
            self._next(3)
            hint = None if self.plan.auto else escape(f"[Enter] 4) {STAGES[3]} ")
            with self._live(load_started, hint):
                self._hold(self.plan.climb)
            self._next(4, waited=not self.plan.auto)  # the Enter that ended stage 3
            saturated = self._wait_for_saturation(locust, load_started)
            self._show_saturation(saturated)
            self._next(5)
            # the verdict needs 100 requests per app; the leaky role's limit can come sooner,
            # and a leak with no limit (memory) needs its warm-up and a climb after it
            self._until_decided(run, locust)
            run.stop(locust, at_least=MIN_LOAD_SECONDS)
        result = for_scenarios(run.decide(self.prometheus, STACK_APPS), self.scenarios)
        shown = told_only(result, self.scenarios)  # the story's; check.json keeps them all
        # a memory LEAK told (the memo): a memory window names where it was allocated
        urls = {app.name: self.state.url(app.name) for app in shown.apps}
        paths = [s.endpoint for s in self.scenarios]
        memory_sites.locate(shown, urls, self.state.admin_token, paths)
        self.console.print(verdict_table(shown))
        for line in origin_sentences(shown):  # each LEAK: the line that made its objects
            self.console.print(line, highlight=False)
        for line in reason_lines(shown, only=Verdict.UNDECIDED):
            self.console.print(line)
        self.console.print(
            f"[dim]Every resource of both apps, as `leaklab check` reads them: "
            f"{self.out_dir / 'check.json'}[/dim]"
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        result.write_json(self.out_dir / "check.json")
        told = tells_the_story(result, self.scenarios)
        self._next(6)
        self._reset()
        self.console.print(
            f"Locust's report: {self.out_dir / 'report.html'}  verdict JSON: "
            f"{self.out_dir / 'check.json'}\nRun it again: [bold]leaklab talk[/bold]. "
            "Stop the stack: [bold]leaklab down[/bold]."
        )
        if not told:
            self.console.print(
                f"[red]The verdicts are not the expected ones[/red] ({expected(self.scenarios)})."
            )
        return ExitCode.OK if told else ExitCode.NOT_AS_EXPECTED

    def _until_decided(self, run: MeasuredRun, locust: LocustRun) -> None:
        """Keep the load on until every told resource has a verdict in both apps (not
        UNDECIDED), or the saturation timeout: the verdict is not guessed on too few points.

        A resource with a warm-up (memory) is first given WARMED_UP times its warm-up in
        requests: stopping at the first look that decides would read the fixed app's last
        settling as a leak (re-deciding at every look is a test repeated without correction).
        """
        told = story_resources(self.scenarios)
        warmup = max((r.warmup_requests for r in contract() if r.name in told), default=0.0)
        deadline = time.monotonic() + self.plan.saturation_timeout
        with self._live(run.load_started, "waiting until the data decide every resource told"):
            while time.monotonic() < deadline and locust.running():
                if time.monotonic() - run.load_started >= MIN_LOAD_SECONDS:
                    result = run.decide_so_far(self.prometheus, STACK_APPS)
                    warm = all(app.requests >= warm_after(warmup) for app in result.apps)
                    undecided = [
                        name
                        for app in result.apps
                        for name, decision in app.decisions.items()
                        if name in told and decision.verdict is Verdict.UNDECIDED
                    ]
                    if warm and not undecided:
                        return
                time.sleep(2.0)

    def _live(self, started: float, caption: str | None = None) -> LiveFigures:
        return LiveFigures(
            self.console, self.prometheus, None, started, caption, scenarios=self.scenarios
        )

    def _show_urls(self, load: LoadPlan, locust: LocustRun) -> None:
        web = f"http://{load.host}:{load.web_port}"
        stage = f"{web}/leaks?stage"
        urls = {
            "Leaks view (project this)": stage,
            "Locust": web,
            "Prometheus": self.prometheus,
            "leaky app": self.state.url("leaky"),
            "fixed app": self.state.url("fixed"),
        }
        table = Table.grid(padding=(0, 2))
        for label, url in urls.items():
            table.add_row(label, f"[link={url}]{url}[/link]")
        what = f"shape {load.shape!r}" if load.shape else f"{load.users} users"
        self.console.print(f"Locust: {what} at both apps, the same task mix.")
        self.console.print(table)
        if not self.plan.browser:
            return
        if not _has_browser():
            self.console.print(
                f"[yellow]No graphical browser here:[/yellow] open {stage} on the projected "
                "screen yourself (or set BROWSER)."
            )
            return
        wait_until_ready(
            "Locust's web UI",
            locust.master,
            lambda: requests.get(f"{web}/leaks", timeout=2).ok,
            self.out_dir / "locust.log",
        )
        webbrowser.open(stage)

    def _wait_for_saturation(
        self, locust: LocustRun, load_started: float
    ) -> requests.Response | None:
        """Keep the figures live until the leaky app refuses a request with a JSON 503
        (at the first told scenario that has a limit; None at once if none has)."""
        limited = [s for s in self.scenarios if any(leak.exhausted for leak in s.leaks)]
        if not limited:
            return None
        scenario = limited[0]
        url = f"{self.state.url('leaky')}{scenario.endpoint}"
        params = {scenario.request.param: scenario.request.template.format(n=1)}
        deadline = time.monotonic() + self.plan.saturation_timeout
        with self._live(load_started):
            while time.monotonic() < deadline and locust.running():
                try:
                    response = requests.get(url, params=params, timeout=5)
                except requests.RequestException:
                    response = None
                if response is not None and response.status_code == 503:
                    return response
                time.sleep(1.0)
        return None

    def _show_saturation(self, response: requests.Response | None) -> None:
        if self.scenarios == SCENARIOS.story():
            self._show_story_saturation(response)
            return
        figures = held_figures(self.prometheus, self.scenarios)
        for line in figures:
            self.console.print(line)
        if response is None:
            self.console.print(
                "[yellow]The leaky app has not reached a limit yet[/yellow] "
                "(memory has none here; fds and threads have the worker's)."
            )
            return
        self.console.print(f"{response.url.split('?')[0]} on the leaky app now answers:")
        self.console.print_json(response.text)

    def _show_story_saturation(self, response: requests.Response | None) -> None:
        held = holdings(self.state, "leaky")
        # the leaky app's own share of max_connections: its role's CONNECTION LIMIT
        limit = self.state.connection_limits.get("leaky", self.settings.pg_max_connections)
        if response is None:
            self.console.print(
                f"[yellow]The leaky app has not reached its connection limit ({limit}) "
                f"yet[/yellow]: PostgreSQL holds {held.db_server} of its connections."
            )
            return
        self.console.print(
            f"PostgreSQL holds [bold red]{held.db_server}[/bold red] connections for the leaky "
            f"app (its role's CONNECTION LIMIT {limit} of max_connections "
            f"{self.settings.pg_max_connections}), every one idle in transaction. "
            f"Redis: [bold red]{held.redis_server}[/bold red] clients."
        )
        self.console.print("GET /api/database on the leaky app now answers:")
        self.console.print_json(response.text)
        fixed = holdings(self.state, "fixed")
        self.console.print(
            f"The fixed app meanwhile: [bold green]{fixed.db_server}[/bold green] PostgreSQL "
            f"connections, [bold green]{fixed.redis_server}[/bold green] Redis clients."
        )

    def recover(self) -> None:
        """After Ctrl-C: both apps emptied, so the stack is as healthy as before the talk and
        the next one starts clean (it resets them too; this spares the leaky app sitting at
        its connection limit meanwhile)."""
        for variant in VARIANTS:
            try:
                reset(self.state, variant)
            except requests.RequestException:
                pass  # the next talk resets it again, and `leaklab status` says what is wrong

    def _reset(self) -> None:
        told = [s.name for s in self.scenarios]
        still_open: dict[str, int] = {}
        for variant in VARIANTS:
            answer = reset(self.state, variant)
            released = _told(answer.get("released"), told)
            self.console.print(f"{variant}: POST /admin/reset -> released {released}")
            if variant == "leaky":
                still_open = _told(answer.get("still_open"), told)
        if self.scenarios == SCENARIOS.story():
            after = holdings(self.state, "leaky")
            self.console.print(
                f"leaky now holds {after.db_server} PostgreSQL and {after.redis_server} Redis "
                "connections: ready for the next run, no restart."
            )
        else:
            self.console.print(f"leaky now holds {still_open}: ready for the next run, no restart.")


def held_figures(prometheus: str, scenarios: list[Scenario]) -> list[str]:
    """Each told leak's figure per app now, as the app and its server see it."""
    lines = []
    for scenario in scenarios:
        for leak in scenario.leaks:
            held = _by_app(prometheus, leak.open_record)
            seen = _by_app(prometheus, leak.server.record(leak)) if leak.server else {}
            where = f"; {leak.server.label}: {_pair(seen)}" if leak.server else ""
            lines.append(f"{leak.title}: held by the app {_pair(held)}{where}")
    return lines


def _told(counts: object, told: list[str]) -> dict[str, int]:
    """A reset's counts per scenario, for the scenarios told only."""
    if not isinstance(counts, dict):
        return {}
    return {k: int(v) for k, v in counts.items() if k in told}


def _pair(figures: dict[str, float]) -> str:
    return ", ".join(f"{app} {figures.get(app, 0):.0f}" for app in VARIANTS)


def _by_app(prometheus: str, expr: str) -> dict[str, float]:
    try:
        result = requests.get(
            f"{prometheus}/api/v1/query", params={"query": expr}, timeout=3
        ).json()["data"]["result"]
    except (requests.RequestException, KeyError, ValueError):
        return {}
    return {r["metric"].get("app", "?"): float(r["value"][1]) for r in result}


def _has_browser() -> bool:
    """Only a graphical browser: a text one would take the terminal from the talk."""
    if os.environ.get("BROWSER"):
        return True
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
