"""Run Locust at both apps: the web UI, headless, or distributed (a master and N workers).

Locust runs as child processes (it monkey-patches with gevent, so it never runs
inside this process); the locustfiles live in locust/ beside the apps.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import requests

from leaklab.paths import LOCUST_CONF, LOCUSTFILE, SHAPEFILE
from leaklab.stack import NativeStack
from leaklab.stack.process import StackError, port_in_use
from leaklab.stack.state import RunState

STOP_GRACE = 20.0  # seconds Locust gets to write its reports after a SIGINT


@dataclass(frozen=True)
class LoadPlan:
    """Everything one Locust run needs; `argv` turns it into command lines."""

    leaky_url: str
    fixed_url: str
    out_dir: Path
    users: int = 20
    spawn_rate: float = 5.0
    run_time: str | None = None
    headless: bool = False
    workers: int = 0
    shape: str | None = None
    pace: float = 0.5
    saturation: str = "expected"
    host: str = "127.0.0.1"
    web_port: int = 8089
    metrics_port: int = 9646
    master_port: int = 5557
    master_bind_host: str = "127.0.0.1"
    # leaklab owns the terminal (check, talk): Locust's output goes to locust.log, and Locust
    # gets no stdin, or its key listener would turn echo off and eat the keys meant for us.
    quiet: bool = False
    autostart: bool = False  # the web UI, and the run starts at once (leaklab talk)
    prometheus_url: str | None = None  # where the web UI's Leaks view reads the figures
    prometheus_step: float = 1.0
    scenarios: tuple[str, ...] = ()  # only these scenarios' tasks (Locust's --tags); (): all

    def _common(self) -> list[str]:
        files = f"{LOCUSTFILE},{SHAPEFILE}" if self.shape else str(LOCUSTFILE)
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            files,
            "--config",
            str(LOCUST_CONF),
            "--leaky-host",
            self.leaky_url,
            "--fixed-host",
            self.fixed_url,
            "--pace",
            str(self.pace),
            "--saturation",
            self.saturation,
        ]
        if self.shape:
            argv += ["--shape", self.shape]
        if self.scenarios:  # each task is tagged with its scenario's name
            argv += ["--tags", *self.scenarios]
        return argv

    def master_argv(self) -> list[str]:
        """The only process, or the master when workers > 0."""
        argv = self._common() + [
            "--web-host",
            self.host,
            "--web-port",
            str(self.web_port),
            "--metrics-port",
            str(self.metrics_port),
            "--csv",
            str(self.out_dir / "stats"),
            "--html",
            str(self.out_dir / "report.html"),
        ]
        if not self.shape:
            argv += ["--users", str(self.users), "--spawn-rate", str(self.spawn_rate)]
        if self.prometheus_url:
            argv += [
                "--prometheus-url",
                self.prometheus_url,
                "--prometheus-step",
                str(self.prometheus_step),
            ]
        if self.autostart and not self.headless:
            argv += ["--autostart"]
            if self.run_time:
                argv += ["--run-time", self.run_time]
        if self.headless:
            argv += ["--headless", "--only-summary"]
            if self.run_time:
                argv += ["--run-time", self.run_time]
        if self.workers:
            argv += [
                "--master",
                "--master-bind-host",
                self.master_bind_host,
                "--master-bind-port",
                str(self.master_port),
            ]
            if self.headless:
                argv += ["--expect-workers", str(self.workers), "--expect-workers-max-wait", "60"]
        return argv

    def worker_argv(self) -> list[str]:
        return self._common() + [
            "--worker",
            "--master-host",
            self.host,
            "--master-port",
            str(self.master_port),
        ]


def stack_plan(
    stack: NativeStack, out_dir: Path, state: RunState | None = None, **options: Any
) -> LoadPlan:
    """A run at the stack's two apps; `options` (LoadPlan's fields) override the defaults.

    `state`: the running stack's (its apps' URLs and Locust's metrics port); without it, the
    caller names the apps (`leaky_url`, `fixed_url`) and the settings give the rest. An
    option given as None keeps the default.
    """
    settings = stack.settings
    fields: dict[str, Any] = {
        "host": settings.host,
        "web_port": settings.locust_web_port,
        "metrics_port": settings.locust_metrics_port,
        "master_port": settings.locust_master_port,
        "prometheus_url": stack.prometheus_url(),
        "prometheus_step": settings.step_seconds,
        "quiet": True,
    }
    if state is not None:
        fields["leaky_url"], fields["fixed_url"] = state.url("leaky"), state.url("fixed")
        fields["metrics_port"] = state.locust_metrics_port or settings.locust_metrics_port
    fields.update({k: v for k, v in options.items() if v is not None})
    return LoadPlan(out_dir=out_dir, **fields)


def check_ready(plan: LoadPlan) -> None:
    """Fail early, with what to do, when an app does not answer or a port is taken."""
    for app, url in (("leaky", plan.leaky_url), ("fixed", plan.fixed_url)):
        try:
            requests.get(f"{url}/health", timeout=3).raise_for_status()
        except requests.RequestException as exc:
            raise StackError(
                f"the {app} app at {url} does not answer /health ({type(exc).__name__}); "
                f"start the stack with 'leaklab up' or pass a reachable --{app}-url"
            ) from None
    ports = {"the Locust metrics port (LEAKLAB_LOCUST_METRICS_PORT)": plan.metrics_port}
    if not plan.headless:
        ports["--web-port (LOCUST_WEB_PORT)"] = plan.web_port
    if plan.workers:
        ports["the Locust master port (LOCUST_MASTER_BIND_PORT)"] = plan.master_port
    for what, port in ports.items():
        if port_in_use(plan.host, port):
            raise StackError(f"port {port} is in use: another Locust running? Choose {what}")


class LocustRun:
    """Locust (and its workers) as child processes for the length of a `with` block.

    `wait()` blocks until Locust ends by itself; `stop()` ends it early, the way Ctrl-C
    would (Locust still writes its reports). Leaving the block stops whatever is left.
    """

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.children: list[subprocess.Popen[bytes]] = []
        self._interrupted: float | None = None  # time.monotonic() of the first SIGINT sent
        self._previous: Any = None

    def __enter__(self) -> LocustRun:
        plan = self.plan
        plan.out_dir.mkdir(parents=True, exist_ok=True)

        def forward(_signum: int, _frame: FrameType | None) -> None:
            self.interrupt()

        self._previous = signal.signal(signal.SIGTERM, forward)
        try:
            output = open(plan.out_dir / "locust.log", "wb") if plan.quiet else None
            self.children.append(
                subprocess.Popen(
                    plan.master_argv(),
                    cwd=plan.out_dir,
                    stdin=subprocess.DEVNULL if plan.quiet else None,
                    stdout=output,
                    stderr=subprocess.STDOUT if output else None,
                    preexec_fn=_default_sigint,
                )
            )
            if output:
                output.close()
            for index in range(plan.workers):
                log = open(plan.out_dir / f"worker-{index + 1}.log", "wb")
                self.children.append(
                    subprocess.Popen(
                        plan.worker_argv(),
                        cwd=plan.out_dir,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        preexec_fn=_default_sigint,
                    )
                )
                log.close()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)
        _stop(self.children)

    @property
    def master(self) -> subprocess.Popen[bytes]:
        return self.children[0]

    def interrupt(self) -> None:
        """Headless: SIGINT, on which Locust still writes its reports. Web UI: the report is
        saved from the web UI, then SIGTERM (its shutdown still closes the CSVs and fires
        `quitting`): a SIGINT there was seen to be ignored until the grace ran out."""
        if self._interrupted is None:
            self._interrupted = time.monotonic()
            self._save_web_report()
        stop = signal.SIGINT if self.plan.headless else signal.SIGTERM
        for child in self.children:
            if child.poll() is None:
                child.send_signal(stop)

    def _save_web_report(self) -> None:
        """In web-UI mode, keep the HTML report before Locust is asked to stop.

        Locust writes it on SIGINT only, and a SIGINT in web-UI mode has been seen to be
        ignored (the KeyboardInterrupt taken off its main greenlet); on SIGTERM it writes
        none. The web UI serves the same report.
        """
        plan = self.plan
        if plan.headless or not self.running():
            return
        try:
            page = requests.get(f"http://{plan.host}:{plan.web_port}/stats/report", timeout=5)
        except requests.RequestException:
            return
        if page.ok and page.text:
            (plan.out_dir / "report.html").write_text(page.text, encoding="utf-8")

    def wait(self) -> int:
        """The master's exit code; once interrupted, it has STOP_GRACE seconds, then it is
        terminated (Locust's web UI mode has been seen to ignore a SIGINT)."""
        while True:
            try:
                return self.master.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                late = (
                    self._interrupted is not None
                    and time.monotonic() - self._interrupted > STOP_GRACE
                )
                if late:
                    _stop(self.children)
            except KeyboardInterrupt:
                # Ctrl-C reached Locust too (same process group): let it write its reports
                self.interrupt()

    def running(self) -> bool:
        return self.master.poll() is None

    def stop(self) -> int:
        """End Locust as Ctrl-C would and return its exit code."""
        self.interrupt()
        return self.wait()


def run(plan: LoadPlan, say: Callable[[str], None]) -> int:
    """Start Locust (and its workers), wait for it, return the master's exit code."""
    with LocustRun(plan) as locust:
        if not plan.headless:
            web = f"http://{plan.host}:{plan.web_port}"
            say(f"Locust web UI: {web}  live leaks view: {web}/leaks  (Ctrl-C to stop)")
        return locust.wait()


def _default_sigint() -> None:
    """Let Locust see Ctrl-C even when started from a shell that ignores it (a background job)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(children: Sequence[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def reports(out_dir: Path) -> list[Path]:
    """The CSV and HTML files Locust left behind."""
    return sorted(p for p in out_dir.glob("*") if p.suffix in (".csv", ".html"))
