"""The `leaklab` command: up, status, down, load, check, demo, talk, seed."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click
import psycopg2
import redis
import requests
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leaklab.load import LoadPlan, check_ready, reports, seconds, stack_plan
from leaklab.load import run as run_load
from leaklab.measure import Holdings, holdings, reset
from leaklab.settings import VARIANTS, SettingsError, StackSettings, role_passwords
from leaklab.stack import NativeStack, StackError
from leaklab.stack.native import LOAD_JOBS
from leaklab.stack.postgres_server import app_role, connection_budgets, create_roles, prepare
from leaklab.stack.state import CorruptState, RunState
from leaklab.stages import duration, shape_names
from leaklab.talk import Talk, TalkPlan
from leaklab.verdict.check import (
    STACK_APPS,
    CheckResult,
    run_check,
    tells_the_story,
    window_since,
)
from leaklab.verdict.display import LiveFigures, reason_lines, verdict_table
from leaklab.verdict.query import CONTRACT, REQUESTS, QueryError, Resource, Window

EXIT_OK, EXIT_LEAK, EXIT_USAGE = 0, 1, 2
DEMO_SHAPE = "ci"  # warm-up, ramp, steady in 60 s
console = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    """The one line an expected failure ends in: text, never markup, never wrapped."""
    err.print(f"[red]leaklab:[/red] {escape(message)}", highlight=False, soft_wrap=True)


def clean_errors(func: F) -> F:
    """Expected failures end in one line and exit 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (StackError, SettingsError, QueryError) as exc:
            _fail(str(exc))
            sys.exit(EXIT_USAGE)
        except (psycopg2.Error, redis.RedisError, requests.RequestException) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _fail(f"a server did not answer: {first}")
            sys.exit(EXIT_USAGE)
        except OSError as exc:  # the machine said no: a full disk, a path that is not ours
            where = f": {exc.filename}" if exc.filename else ""
            _fail(f"{exc.strerror or exc}{where}")
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


class _PipeGuard:
    """stdout or stderr that, once its reader has gone, discards output instead of raising.

    `leaklab status | head -1` must exit as `leaklab status` does: the exit code is the
    answer (healthy or not, LEAK or not), so a reader that stops early must not change it
    (rich would exit 1, click 1, Python 120). The command runs to its end, writing what it
    was asked to write (check's --json and --report too), with the rest of its output
    going to /dev/null, the way the Python docs' note on SIGPIPE recommends.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def _silence(self) -> None:
        """From now on the descriptor is /dev/null: what is buffered and what follows is dropped."""
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):  # not a real file (a test's buffer): it cannot break
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
        try:
            self._stream.flush()
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def _guarded_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr behind a _PipeGuard for the length of one command."""
    saved = sys.stdout, sys.stderr
    guards = [_PipeGuard(stream) if stream is not None else None for stream in saved]
    sys.stdout, sys.stderr = guards
    try:
        yield
    finally:
        for guard in guards:
            if guard is not None:
                guard.flush()  # before Python's own flush at exit, which would not be guarded
        sys.stdout, sys.stderr = saved


def _usage_line(exc: click.ClickException) -> str:
    """Click's error as one line, with where to read more."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message = f"{message.rstrip('.')} (see '{ctx.command_path} --help')"
    return message


class _Leaklab(click.Group):
    """The entry point: a bad option is one line and exit 2, and a closed pipe changes nothing."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        with _guarded_streams():
            try:
                code = super().main(args, prog_name, complete_var, False, **extra)
            except click.ClickException as exc:
                if type(exc).__name__ == "NoArgsIsHelpError":  # `leaklab` alone (click >= 8.2)
                    exc.show()  # the help, as click shows it
                else:
                    _fail(_usage_line(exc))
                code = exc.exit_code
            except (click.Abort, EOFError, KeyboardInterrupt):
                err.print("Aborted!")
                code = 1
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _stack(ctx: click.Context) -> NativeStack:
    run_dir: Path | None = ctx.obj["run_dir"]
    settings = StackSettings.from_env(os.environ, run_dir)
    return NativeStack(settings, say=lambda line: console.print(f"  {line}", highlight=False))


@click.group(cls=_Leaklab)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the native stack keeps its state and logs [env LEAKLAB_RUN_DIR; .run].",
)
@click.version_option(package_name="leaklab")
@click.pass_context
def main(ctx: click.Context, run_dir: Path | None) -> None:
    """Show, measure and decide resource leaks in Python web apps."""
    ctx.obj = {"run_dir": run_dir}


@main.command()
@click.pass_context
@clean_errors
def up(ctx: click.Context) -> None:
    """Start PostgreSQL, Redis, both apps and Prometheus on 127.0.0.1."""
    stack = _stack(ctx)
    console.print(f"Starting the native stack in {stack.run_dir}")
    stack.up()
    _print_status(stack)


@main.command()
@click.pass_context
@clean_errors
def status(ctx: click.Context) -> None:
    """Show what runs where and whether it is healthy (exit 1 if anything is not)."""
    stack = _stack(ctx)
    if not _print_status(stack):
        sys.exit(EXIT_LEAK)


@main.command()
@click.option(
    "--wipe",
    is_flag=True,
    help="Also delete Prometheus's history (kept by default, so `check --since` still works "
    "after the next `up`).",
)
@click.pass_context
@clean_errors
def down(ctx: click.Context, wipe: bool) -> None:
    """Stop everything `up` started; keep the logs, the load reports and Prometheus's history.

    With a corrupt state.json it still stops what belongs to the run directory (found by
    the tag leaklab gives its servers), then exits 2 with one line: the state is gone, so
    what it does not know of (a server started before tagging, by hand) may still run.
    """
    stack = _stack(ctx)
    try:
        RunState.load(stack.run_dir)
        corrupt = None
    except CorruptState as exc:
        corrupt = exc
    try:
        results = stack.down(wipe=wipe)
    except OSError as exc:
        if corrupt is None:
            raise
        _fail(f"{corrupt.path} was corrupt: {corrupt.problem}; down could not finish: {exc}")
        sys.exit(EXIT_USAGE)
    failed = [name for name, ok in results if not ok]
    if corrupt is not None:
        if failed:
            outcome = f"could not stop: {', '.join(failed)}"
        else:
            found = f"stopped {len(results)} process(es)" if results else "found nothing"
            gone = "removed it" if not corrupt.path.exists() else "it is still there"
            outcome = f"{found} running for {stack.run_dir} and {gone}; 'leaklab up' starts afresh"
        _fail(f"{corrupt.path} was corrupt: {corrupt.problem}; {outcome}")
        sys.exit(EXIT_USAGE)
    if failed:
        _fail(f"could not stop: {', '.join(failed)}")
        sys.exit(EXIT_USAGE)
    if not results:
        console.print(f"Nothing running from {stack.run_dir}.")
        return
    kept = "" if wipe else "; Prometheus's history stays ('leaklab down --wipe' deletes it)"
    console.print(f"Stopped. Logs are in {stack.run_dir / 'logs'}{kept}.")


@main.command()
@click.option(
    "--run-time",
    default=None,
    help="A plain ramp to 20 users for this long (e.g. 45s) instead of the staged `ci` shape "
    "(warm-up, ramp, steady: 60 s).",
)
@click.pass_context
@clean_errors
def demo(ctx: click.Context, run_time: str | None) -> None:
    """The whole story: stack up, load at both apps, what leaked, the verdict and a report."""
    shape = None if run_time else DEMO_SHAPE
    load_seconds = _seconds(run_time, "--run-time") if run_time else duration(DEMO_SHAPE)
    stack = _stack(ctx)
    console.print(f"Starting the native stack in {stack.run_dir}")
    state = stack.up()
    result, out_dir = _drive_and_decide(
        stack, state, load_seconds, users=20, spawn_rate=4, pace=0.25, shape=shape
    )
    held = {variant: holdings(state, variant) for variant in VARIANTS}
    _print_holdings(
        held, stack.settings.workers, stack.settings.db_pool_max, stack.settings.redis_pool_max
    )
    console.print(verdict_table(result))
    _print_reasons(result)
    out_dir.mkdir(parents=True, exist_ok=True)  # leaklab's own directory, under the run dir
    report = write_report(result, out_dir / "report", _locust_report(out_dir))
    result.write_json(out_dir / "check.json")
    console.print(f"Report: {report}\nJSON:   {out_dir / 'check.json'}")
    console.print(
        "\nThe stack is still running: [bold]leaklab status[/bold], Prometheus at "
        f"{state.url('prometheus')}, stop with [bold]leaklab down[/bold] (make down)."
    )
    expected = tells_the_story(result)
    if not expected:
        err.print(
            "[red]leaklab:[/red] the verdicts are not the expected ones "
            "(leaky LEAK, fixed NO LEAK on PostgreSQL and Redis connections)"
        )
    sys.exit(EXIT_OK if expected else EXIT_LEAK)


def _seconds(text: str, option: str) -> int:
    """A duration option in seconds; 0s is refused (no load, an empty window: no verdict)."""
    try:
        value = seconds(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None
    if value <= 0:
        raise click.BadParameter(
            f"{text!r} is no time at all: give a duration above 0, such as 90s", param_hint=option
        )
    return value


class FiniteFloat(click.FloatRange):
    """click.FloatRange that also refuses nan and inf, which pass its range checks."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


if TYPE_CHECKING:
    _PathParam = click.ParamType[Path]  # generic from click 8.2; pyproject allows 8.1
else:
    _PathParam = click.ParamType


class OutputPath(_PathParam):
    """A file (or directory) to write: checked when the options are read, before any work.

    Only the path itself is created; a missing parent is an error, so a typo does not
    grow a directory tree.
    """

    name = "path"

    def __init__(self, directory: bool = False) -> None:
        self.directory = directory

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        problem = output_problem(path, self.directory)
        if problem:
            self.fail(problem, param, ctx)
        return path


def output_problem(path: Path, directory: bool = False) -> str | None:
    """Why path cannot be written as a file (or created/filled as a directory), or None."""
    what = "directory" if directory else "file"
    try:
        if path.exists():
            if directory and not path.is_dir():
                return f"{path} exists and is not a directory"
            if not directory and path.is_dir():
                return f"{path} is a directory: give a file name"
            if not os.access(path, os.W_OK | (os.X_OK if directory else 0)):
                return f"{path} is not writable"
            return None
        parent = path.parent
        if not parent.exists():
            return f"{parent} does not exist: create it first (only the {what} is created)"
        if not parent.is_dir():
            return f"{parent} is not a directory"
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"cannot create {path}: {parent} is not writable"
    except OSError as exc:
        return f"cannot reach {path}: {exc.strerror or exc}"
    return None


def write_report(result: CheckResult, directory: Path, locust_report: Path | None = None) -> Path:
    """leaklab.verdict.report's, imported when a report is written: matplotlib costs every
    other command (status, down, a mistyped option) most of a second at start."""
    from leaklab.verdict.report import write_report as write

    return write(result, directory, locust_report)


def _locust_report(out_dir: Path) -> Path | None:
    report = out_dir / "report.html"
    return Path("..") / "report.html" if report.exists() else None


def _drive_and_decide(
    stack: NativeStack,
    state: RunState,
    duration: int,
    users: int,
    spawn_rate: float,
    pace: float,
    shape: str | None = None,
    prometheus: str | None = None,
    apps: dict[str, str] | None = None,
    resources: tuple[Resource, ...] = CONTRACT,
    requests_selector: str = REQUESTS,
) -> tuple[CheckResult, Path]:
    """Empty both apps, run Locust headless with a live view, then decide on that window."""
    for variant in VARIANTS:
        reset(state, variant)  # start from nothing, even on a stack left running
    out_dir = stack.run_dir / "load" / time.strftime("%Y%m%d-%H%M%S")
    plan = stack_plan(
        stack,
        out_dir,
        users=users,
        spawn_rate=spawn_rate,
        run_time=None if shape else f"{duration}s",
        headless=True,
        shape=shape,
        pace=pace,
    )
    check_ready(plan)
    url = prometheus or state.url("prometheus")
    what = f"shape {shape!r}" if shape else f"{users} users, {duration} s"
    console.print(f"Locust at both apps: {what} (its log: {out_dir / 'locust.log'})")
    step = stack.settings.step_seconds
    time.sleep(2 * step + 0.5)  # let Prometheus see the emptied apps before the window opens
    start = time.time()
    with LiveFigures(console, url, duration):
        code = run_load(plan, say=console.print)
    time.sleep(2 * step + 1)  # a last scrape and rule evaluation after the load stopped
    if code != 0:
        err.print(f"[yellow]leaklab:[/yellow] Locust exited with {code}: see {out_dir}")
    window = Window(float(int(start)), float(int(time.time())), step)
    apps = apps or STACK_APPS
    return run_check(url, apps, window, resources, requests_selector), out_dir


def _locust_options(spawn_rate: float, pace: float, when: str = "") -> Callable[[F], F]:
    """The Locust load options `load` and `check` share (users, spawn rate, pace, shape)."""
    options = [
        click.option(
            "-u",
            "--users",
            type=click.IntRange(min=1),
            default=20,
            show_default=True,
            help=f"{when}Users in all, split evenly between the two apps.",
        ),
        click.option(
            "-r",
            "--spawn-rate",
            type=FiniteFloat(min=0, min_open=True),
            default=spawn_rate,
            show_default=True,
            help=f"{when}Users started per second.",
        ),
        click.option(
            "--pace",
            type=FiniteFloat(min=0.01),
            default=pace,
            show_default=True,
            help=f"{when}Seconds between one user's requests.",
        ),
        click.option(
            "--shape",
            type=click.Choice(shape_names()),
            default=None,
            help="A named stage table (warm-up, ramp, steady) instead of --users.",
        ),
    ]

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


@main.command()
@_locust_options(spawn_rate=5.0, pace=0.5)
@click.option("-t", "--run-time", default=None, help="Stop after this long: 90s, 5m, 1h30m.")
@click.option("--headless", is_flag=True, help="No web UI: run, stop by itself, write reports.")
@click.option(
    "--autostart",
    is_flag=True,
    help="Web UI, and the run starts at once (no Start button); /leaks shows it live.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0, max=64),
    default=0,
    show_default=True,
    help="Locust worker processes (distributed mode); 0 runs one process.",
)
@click.option(
    "--saturation",
    type=click.Choice(["expected", "failure"]),
    default="expected",
    show_default=True,
    help="Whether the saturated leaky app's JSON 503s are expected (exit 0) or fail.",
)
@click.option(
    "--web-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Locust web UI port [env LOCUST_WEB_PORT; 8089].",
)
@click.option(
    "--master-bind-host",
    default="127.0.0.1",
    show_default=True,
    help="Where the master listens for workers; another address lets workers on "
    "other machines join.",
)
@click.option("--leaky-url", default=None, help="Load this leaky app instead of the stack's.")
@click.option("--fixed-url", default=None, help="Load this fixed app instead of the stack's.")
@click.pass_context
@clean_errors
def load(
    ctx: click.Context,
    users: int,
    spawn_rate: float,
    run_time: str | None,
    headless: bool,
    autostart: bool,
    workers: int,
    shape: str | None,
    pace: float,
    saturation: str,
    web_port: int | None,
    master_bind_host: str,
    leaky_url: str | None,
    fixed_url: str | None,
) -> None:
    """Drive the same Locust load at both apps (web UI on 127.0.0.1:8089 by default)."""
    if run_time is not None:
        _seconds(run_time, "--run-time")
    if headless and autostart:
        raise click.UsageError("--autostart starts the web UI's run: leave out --headless")
    if headless and not (run_time or shape):
        raise click.UsageError("--headless needs --run-time or --shape, or it never stops")
    stack = _stack(ctx)
    settings = stack.settings
    metrics_port = settings.locust_metrics_port
    if not (leaky_url and fixed_url):
        if not stack.is_up():
            console.print(f"Starting the native stack in {stack.run_dir}")
        state = stack.up()
        leaky_url = leaky_url or state.url("leaky")
        fixed_url = fixed_url or state.url("fixed")
        metrics_port = state.locust_metrics_port or metrics_port
    out_dir = stack.run_dir / "load" / time.strftime("%Y%m%d-%H%M%S")
    plan = LoadPlan(
        leaky_url=leaky_url,
        fixed_url=fixed_url,
        out_dir=out_dir,
        users=users,
        spawn_rate=spawn_rate,
        run_time=run_time,
        headless=headless,
        autostart=autostart,
        workers=workers,
        shape=shape,
        pace=pace,
        saturation=saturation,
        host=settings.host,
        web_port=web_port or settings.locust_web_port,
        metrics_port=metrics_port,
        master_port=settings.locust_master_port,
        master_bind_host=master_bind_host,
        prometheus_url=stack.prometheus_url(),
        prometheus_step=settings.step_seconds,
    )
    check_ready(plan)
    what = f"shape {shape!r}" if shape else f"{users} users at {spawn_rate:g}/s"
    mode = f"{workers} workers" if workers else "one process"
    console.print(f"Locust: {what}, {mode}, leaky {leaky_url}, fixed {fixed_url}")
    code = run_load(plan, say=console.print)
    for path in reports(out_dir):
        console.print(f"  report: {path}")
    if code == 0:
        console.print(
            "[green]The run worked[/green] (saturation answers are "
            f"{'expected' if saturation == 'expected' else 'failures'})."
        )
    else:
        err.print(f"[red]leaklab:[/red] Locust exited with {code}: see its output above")
    sys.exit(EXIT_OK if code == 0 else EXIT_LEAK)


@main.command()
@click.option(
    "--run-time",
    default=None,
    help="Drive Locust at both apps this long, then decide (default 60s).",
)
@_locust_options(spawn_rate=4.0, pace=0.25, when="With --run-time: ")
@click.option(
    "--since",
    default=None,
    help="Decide from what Prometheus already holds, this far back (e.g. 10m).",
)
@click.option(
    "--prometheus",
    default=None,
    help="Prometheus to read [the stack's, or LEAKLAB_PROMETHEUS_URL].",
)
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="NAME=MATCHERS",
    help='An app and its label matchers, e.g. leaky=app="leaky" (repeatable) [leaky and fixed].',
)
@click.option(
    "--requests",
    "requests_selector",
    default=REQUESTS,
    show_default=True,
    help="The app's request counter.",
)
@click.option(
    "--resource",
    "resource_specs",
    multiple=True,
    metavar="NAME=SELECTOR[@THRESHOLD]",
    help="A gauge to judge, with its leak threshold per 1,000 requests (repeatable) "
    "[the leaklab metric contract].",
)
@click.option(
    "--step",
    type=FiniteFloat(min=0.1),
    default=None,
    help="With --since: seconds between points [the scrape interval].",
)
@click.option(
    "--json",
    "json_path",
    type=OutputPath(),
    default=None,
    help="Write the verdict as JSON (schema leaklab.check/v1).",
)
@click.option(
    "--report",
    "report_dir",
    type=OutputPath(directory=True),
    default=None,
    help="Write an HTML report with plots into this directory.",
)
@click.pass_context
@clean_errors
def check(
    ctx: click.Context,
    run_time: str | None,
    since: str | None,
    users: int,
    spawn_rate: float,
    pace: float,
    shape: str | None,
    prometheus: str | None,
    apps: tuple[str, ...],
    requests_selector: str,
    resource_specs: tuple[str, ...],
    step: float | None,
    json_path: Path | None,
    report_dir: Path | None,
) -> None:
    """Decide LEAK / NO LEAK per app and resource (exit 0 no leak, 1 leak, 2 error, 3 undecided)."""
    if run_time and since:
        raise click.UsageError(
            "give --run-time (drive load, then decide) or --since (decide from history), not both"
        )
    chosen_apps = _parse_apps(apps)
    resources = _parse_resources(resource_specs) if resource_specs else CONTRACT
    window_seconds = _seconds(since, "--since") if since else 0
    load_seconds = duration(shape) if shape else _seconds(run_time or "60s", "--run-time")
    stack = _stack(ctx)
    locust_report = None
    if since:
        url = prometheus or stack.prometheus_url()
        result = run_check(
            url,
            chosen_apps,
            window_since(window_seconds, step or stack.settings.step_seconds),
            resources,
            requests_selector,
        )
    else:
        if not stack.is_up():
            console.print(f"Starting the native stack in {stack.run_dir}")
        state = stack.up()
        result, out_dir = _drive_and_decide(
            stack,
            state,
            load_seconds,
            users,
            spawn_rate,
            pace,
            shape,
            prometheus,
            chosen_apps,
            resources,
            requests_selector,
        )
        locust_report = out_dir / "report.html" if (out_dir / "report.html").exists() else None
    console.print(verdict_table(result))
    _print_reasons(result)
    written = True
    if json_path:
        written &= _write("JSON", json_path, lambda: result.write_json(json_path))
    if report_dir:
        link = Path(os.path.relpath(locust_report, report_dir)) if locust_report else None
        written &= _write("Report", report_dir, lambda: write_report(result, report_dir, link))
    sys.exit(result.exit_code if written else EXIT_USAGE)


def _write(label: str, path: Path, write: Callable[[], object]) -> bool:
    """Write one output; a failure (checked early, but a disk fills) is one line, not a trace."""
    try:
        written = write()
    except OSError as exc:
        _fail(f"could not write {path}: {exc.strerror or exc}")
        return False
    console.print(f"{label}: {written or path}")
    return True


def _print_reasons(result: CheckResult) -> None:
    for line in reason_lines(result):
        console.print(line, highlight=False)


def _parse_apps(apps: tuple[str, ...]) -> dict[str, str]:
    if not apps:
        return dict(STACK_APPS)
    parsed = {}
    for spec in apps:
        name, sep, matchers = spec.partition("=")
        if not sep or not name or not any(op in matchers for op in ("=", "!=", "=~", "!~")):
            raise click.BadParameter(
                f'{spec!r} is not NAME=MATCHERS, e.g. leaky=app="leaky"', param_hint="--app"
            )
        if name in parsed:
            raise click.BadParameter(f"app {name!r} is given twice", param_hint="--app")
        parsed[name] = matchers
    return parsed


def _threshold(text: str) -> float:
    """A leak threshold: growth per 1,000 requests, finite and above 0.

    At 0 a flat series (interval 0 to 0) could never be NO LEAK; nan and inf compare false
    with everything, so they would decide nothing, silently.
    """
    try:
        limit = float(text)
    except ValueError:
        raise click.BadParameter(
            f"threshold {text!r} is not a number", param_hint="--resource"
        ) from None
    if not math.isfinite(limit) or limit <= 0:
        raise click.BadParameter(
            f"threshold {text!r} must be a growth per 1,000 requests above 0, such as 2",
            param_hint="--resource",
        )
    return limit


def _parse_resources(specs: tuple[str, ...]) -> tuple[Resource, ...]:
    known = {r.name: r for r in CONTRACT}
    parsed: list[Resource] = []
    for spec in specs:
        name, sep, rest = spec.partition("=")
        selector, at, threshold = rest.partition("@")
        if not sep or not name or not selector:
            raise click.BadParameter(
                f"{spec!r} is not NAME=SELECTOR[@THRESHOLD]", param_hint="--resource"
            )
        if any(r.name == name for r in parsed):
            raise click.BadParameter(f"resource {name!r} is given twice", param_hint="--resource")
        if at:
            limit = _threshold(threshold)
        elif name in known:
            limit = known[name].threshold_per_1k
        else:
            raise click.BadParameter(
                f"{name!r} is not a contract resource: give its threshold "
                "per 1,000 requests as NAME=SELECTOR@THRESHOLD",
                param_hint="--resource",
            )
        base = known.get(name)
        parsed.append(Resource(name, selector, limit, base.unit if base else "units"))
    return tuple(parsed)


@main.command()
@click.option(
    "--roles",
    is_flag=True,
    help="LEAKLAB_DATABASE_URL is a superuser's: first create each app's role with its "
    "connection budget and the exporter's pg_monitor role, with the passwords in "
    "LEAKLAB_LEAKY_DB_PASSWORD, LEAKLAB_FIXED_DB_PASSWORD and LEAKLAB_MONITOR_DB_PASSWORD "
    "(what docker compose runs).",
)
@clean_errors
def seed(roles: bool) -> None:
    """Create and seed the tables the apps query, at LEAKLAB_DATABASE_URL (idempotent)."""
    settings = StackSettings.from_env(os.environ)
    url = settings.database_url
    if not url:
        raise SettingsError("LEAKLAB_DATABASE_URL is not set (postgresql://user:pw@host:port/db)")
    if roles:
        budgets = connection_budgets(
            settings.pg_max_connections, settings.workers, settings.db_pool_max
        )
        create_roles(url, budgets, role_passwords(os.environ))
        limits = ", ".join(f"{app_role(v)} {n}" for v, n in budgets.items())
        console.print(f"Roles ready (connection limits: {limits}).")
    else:
        prepare(url)
    console.print("Schema ready.")


def _print_status(stack: NativeStack) -> bool:
    rows = stack.status()
    table = Table(title=f"leaklab stack ({stack.run_dir})")
    for column in ("service", "address", "pid", "health"):
        table.add_column(column)
    for row in rows:
        colour = "green" if row.detail == "ok" else "yellow" if row.healthy else "red"
        health = f"[{colour}]{row.detail}[/{colour}]"
        table.add_row(row.name, row.url, str(row.pid or "external"), health)
    console.print(table)
    targets = stack.prometheus_targets()
    if targets:
        scrape = Table(title="Prometheus scrape targets")
        for column in ("job", "app", "target", "health"):
            scrape.add_column(column)
        for t in targets:
            if t["health"] == "up":
                health = "[green]up[/green]"
            elif t["job"] in LOAD_JOBS:
                health = "[dim]idle: scraped while leaklab load runs[/dim]"
            else:
                health = f"[red]{t['health']} {t['error']}[/red]"
            scrape.add_row(t["job"], t["app"], t["url"], health)
        console.print(scrape)
    faults = [t for t in targets if t["health"] != "up" and t["job"] not in LOAD_JOBS]
    return all(row.healthy for row in rows) and not faults


def _print_holdings(held: dict[str, Holdings], workers: int, pool_db: int, pool_redis: int) -> None:
    table = Table(title="What each app holds now (server-side)")
    for column in (
        "app",
        "PostgreSQL connections",
        "Redis clients",
        "app reports (db / redis)",
        "RSS per worker",
    ):
        table.add_column(column, justify="right" if column != "app" else "left")
    for variant, h in held.items():
        colour = "red" if variant == "leaky" else "green"
        rss = " ".join(f"{v / 2**20:.0f} MiB" for v in h.worker_rss.values())
        table.add_row(
            f"[{colour}]{variant}[/{colour}]",
            str(h.db_server),
            str(h.redis_server),
            f"{h.app_metrics.get('leaklab_db_connections_open', 0):.0f} / "
            f"{h.app_metrics.get('leaklab_redis_connections_open', 0):.0f}",
            rss,
        )
    console.print(table)
    console.print(
        f"Bound for a pooled app: {workers} workers x pool max "
        f"({pool_db} PostgreSQL, {pool_redis} Redis)."
    )


@main.command()
@click.option(
    "--auto",
    is_flag=True,
    help="Run the stages on timers instead of waiting for Enter (a rehearsal, CI).",
)
@click.option(
    "--pause",
    type=FiniteFloat(min=0),
    default=3.0,
    show_default=True,
    help="With --auto: seconds between stages.",
)
@click.option(
    "--climb",
    type=FiniteFloat(min=1),
    default=15.0,
    show_default=True,
    help="With --auto: seconds the live figures show the climb (stage 3).",
)
@click.option(
    "--saturation-timeout",
    type=FiniteFloat(min=1),
    default=120.0,
    show_default=True,
    help="Seconds stage 4 waits for the leaky app to reach max_connections.",
)
@click.option(
    "--browser/--no-browser",
    default=True,
    show_default=True,
    help="Open the Leaks view in a graphical browser when there is one.",
)
@_locust_options(spawn_rate=2.0, pace=1.0)
@click.pass_context
@clean_errors
def talk(
    ctx: click.Context,
    auto: bool,
    pause: float,
    climb: float,
    saturation_timeout: float,
    browser: bool,
    users: int,
    spawn_rate: float,
    pace: float,
    shape: str | None,
) -> None:
    """The talk in six stages, each on Enter: code, load, climb, 503s, verdict, reset."""
    stack = _stack(ctx)
    if not stack.is_up():
        console.print(f"Starting the native stack in {stack.run_dir}")
    state = stack.up()
    plan = TalkPlan(
        auto=auto,
        pause=pause,
        climb=climb,
        saturation_timeout=saturation_timeout,
        browser=browser,
        users=users,
        spawn_rate=spawn_rate,
        pace=pace,
        shape=shape,
    )
    out_dir = stack.run_dir / "load" / time.strftime("%Y%m%d-%H%M%S-talk")
    try:
        code = Talk(console, stack, state, plan, out_dir).run()
    except (KeyboardInterrupt, EOFError):
        err.print("\n[yellow]leaklab:[/yellow] talk stopped; the stack is still up.")
        code = EXIT_USAGE
    sys.exit(code)


if __name__ == "__main__":
    main()
