"""The plugin's life in a Locust process: count, read, decide, and say so in the exit code.

Where users run (local runner, workers): count every request by name; vary the task mix.
Where the run is led (local runner, master): at each start a new recording and a reader
greenlet; at each stop the verdicts (table, JSON, report); at exit, LEAK or-ed into the
process's exit code. A worker never reads the target or decides.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import gevent
from locust.env import Environment
from locust.event import Events
from locust.runners import WorkerRunner

from leaklab.locust import mix
from leaklab.verdict.check import CheckResult
from leaklab.verdict.stats import Verdict
from leaklab.watch.counting import RequestCounter
from leaklab.watch.options import LeakOptions, OptionError, add_arguments, read
from leaklab.watch.watcher import NothingToJudge, Watcher
from leaklab.watch.windows import WindowAsker

log = logging.getLogger("leaklab")


class Plugin:
    """One per process: the state the listeners share."""

    def __init__(self) -> None:
        self.counter = RequestCounter()
        self.watcher: Watcher | None = None
        self.reader: gevent.Greenlet[[Watcher, WindowAsker], None] | None = None
        self.result: CheckResult | None = None
        self.options: LeakOptions | None = None
        self.error: str | None = None

    def install(self, events: Events) -> None:
        events.init_command_line_parser.add_listener(add_arguments)
        events.init.add_listener(self.on_init)
        events.request.add_listener(self.counter.on_request)
        events.report_to_master.add_listener(self.counter.on_report_to_master)
        events.worker_report.add_listener(self.counter.on_worker_report)
        events.test_start.add_listener(self.on_test_start)
        events.test_stop.add_listener(self.on_test_stop)
        events.quitting.add_listener(self.on_quitting)

    @staticmethod
    def leads(environment: Environment) -> bool:
        return not isinstance(environment.runner, WorkerRunner)

    def on_init(self, environment: Environment, **_kwargs: Any) -> None:
        try:
            options = read(environment.parsed_options)
        except OptionError as exc:
            log.error("leaklab: %s", exc)
            sys.exit(2)
        if options.enabled and self.leads(environment) and environment.web_ui is not None:
            from leaklab.locust import tab

            tab.install(environment, self)

    def on_test_start(self, environment: Environment, **_kwargs: Any) -> None:
        self.counter.clear()
        try:
            self.options = read(environment.parsed_options)
        except OptionError as exc:
            self.error = str(exc)
            log.error("leaklab: %s; no leak verdict for this run", exc)
            return
        if not self.options.enabled:
            return
        if self.options.mix == "vary":  # where users run: locally, or on each worker
            mix.vary(self.options.phase)
        else:
            mix.steady()
        if not self.leads(environment):
            return
        self.error, self.result = None, None
        self.watcher = Watcher(self.options, self.counter.totals)
        asker = WindowAsker(self.options.metrics, self.options.probe_token)
        self.reader = gevent.spawn(self._read, self.watcher, asker)

    def _read(self, watcher: Watcher, asker: WindowAsker) -> None:
        while True:
            started = gevent.get_hub().loop.now()
            try:
                watcher.point()
            except NothingToJudge as exc:
                self.error = str(exc)
                log.error("leaklab: %s", exc)
                return
            asker.poll(self.decide)  # once memory reads LEAK: where it is allocated
            elapsed = gevent.get_hub().loop.now() - started
            gevent.sleep(max(watcher.options.step - elapsed, 0.0))

    def decide(self) -> CheckResult | None:
        """The verdicts on what was read so far (the tab calls it too)."""
        watcher = self.watcher
        if watcher is None or watcher.recording is None or len(watcher.recording) < 2:
            return None
        return watcher.recording.result()

    def on_test_stop(self, environment: Environment, **_kwargs: Any) -> None:
        if not self.leads(environment) or self.reader is None:
            return
        self.reader.kill(block=True)
        self.reader = None
        self.result = self.decide()
        if self.result is None:
            log.error("leaklab: %s", self.error or "too few reads of the target for a verdict")
            return
        from leaklab.locust.output import show

        show(self.result, self.options)

    def exit_code(self) -> int:
        """What this run adds to the process's exit code: 0 when nothing fails it."""
        options = self.options
        if options is None or not options.enabled:
            return 0
        if self.result is None:
            return options.exit_code if options.fail_on_undecided else 0
        verdicts = {app.verdict for app in self.result.apps}
        if Verdict.LEAK in verdicts:
            return options.exit_code
        if Verdict.UNDECIDED in verdicts and options.fail_on_undecided:
            return options.exit_code
        return 0

    def on_quitting(self, environment: Environment, **_kwargs: Any) -> None:
        if not self.leads(environment):
            return
        if self.reader is not None:  # quitting while running (Ctrl-C, SIGTERM): decide now
            self.on_test_stop(environment)
        ours = self.exit_code()
        if not ours:
            return  # never sets 0: Locust's own code stands
        runner = environment.runner
        own = environment.process_exit_code
        if own is None:
            failed = runner is not None and (runner.errors or runner.exceptions)
            options = environment.parsed_options
            own = int(getattr(options, "exit_code_on_error", 1)) if failed else 0
        environment.process_exit_code = own | ours
