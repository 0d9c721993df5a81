"""The plugin's command-line options (Locust's parser), and reading them when deciding.

They also appear in the web UI's start form, where a user can change them: the plugin
reads them at each start and at each decision, never only at start-up.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leaklab.verdict.query import Resource

LEAK_EXIT_CODE = 4  # LEAK, or-ed into Locust's own code: 4 leak, 5 leak and failed requests
MIXES = ("vary", "steady")


def add_arguments(parser: Any) -> None:
    """Locust's init_command_line_parser hook: the --leak-* options."""
    group = parser.add_argument_group(
        "leaklab", "Leak verdicts on the target's resources (import leaklab.locust)"
    )
    group.add_argument(
        "--leak-metrics",
        action="append",
        default=[],
        metavar="URL",
        help="The target's Prometheus text endpoint, scraped every --leak-step (repeatable: "
        "replicas are summed)",
    )
    group.add_argument(
        "--leak-prometheus", default="", metavar="URL", help="Read this Prometheus instead"
    )
    group.add_argument(
        "--leak-selector",
        default="",
        metavar="MATCHERS",
        help='With --leak-prometheus: label matchers for the target, e.g. job="shop"',
    )
    group.add_argument(
        "--leak-resource",
        action="append",
        default=[],
        metavar="NAME=METRIC[@THRESHOLD]",
        help="A gauge to judge, with its leak threshold per 1,000 requests (repeatable) "
        "[what the target exposes among the well-known metrics]",
    )
    group.add_argument(
        "--leak-step", type=float, default=1.0, metavar="SECONDS", help="Seconds between reads"
    )
    group.add_argument("--leak-json", default="", metavar="FILE", help="Write the verdicts' JSON")
    group.add_argument("--leak-report", default="", metavar="DIR", help="Write an HTML report")
    group.add_argument(
        "--leak-exit-code",
        type=int,
        default=LEAK_EXIT_CODE,
        metavar="CODE",
        help="Or-ed into Locust's exit code on LEAK [4]",
    )
    group.add_argument(
        "--leak-fail-on-undecided",
        action="store_true",
        default=False,
        help="UNDECIDED fails the run too",
    )
    group.add_argument(
        "--leak-mix",
        choices=MIXES,
        default="vary",
        help="vary: each task in turn runs at 4x its weight for --leak-phase seconds, so the "
        "endpoints' counts vary apart and the leaking one can be named; the mix over whole "
        "cycles stays yours. steady: leave the mix alone [vary]",
    )
    group.add_argument(
        "--leak-phase", type=float, default=10.0, metavar="SECONDS", help="Seconds per phase [10]"
    )
    parser.add_argument(  # the parser's own: a group's takes no include_in_web_ui
        "--leak-probe-token",
        default="",
        metavar="TOKEN",
        include_in_web_ui=False,
        help="The target's LEAKLAB_PROBE_TOKEN (leaklab.probe): on a memory LEAK, ask each "
        "--leak-metrics app for a memory window, so the verdict names the allocation sites",
    )


class OptionError(ValueError):
    """An option's value cannot be used: one line saying which and why."""


def _listed(value: Any) -> list[str]:
    """A repeatable option: a list from the command line, a comma list from the web UI."""
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value or () if str(v).strip()]


@dataclass(frozen=True)
class LeakOptions:
    metrics: tuple[str, ...]
    prometheus: str
    selector: str
    resources: tuple[Resource, ...]
    step: float
    json: Path | None
    report: Path | None
    exit_code: int
    fail_on_undecided: bool
    mix: str
    phase: float
    probe_token: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.metrics or self.prometheus)

    @property
    def source(self) -> str:
        return self.prometheus or " ".join(self.metrics)


def _resource(spec: str) -> Resource:
    from leaklab.cli.types import ResourceSpec

    try:
        resource: Resource = ResourceSpec().convert(spec, None, None)
    except Exception as exc:  # noqa: BLE001 - click's BadParameter, its message is the line
        raise OptionError(f"--leak-resource: {getattr(exc, 'message', exc)}") from None
    return resource


def read(options: argparse.Namespace | None) -> LeakOptions:
    """The options as they are now (the web UI may have changed them); OptionError if bad."""
    get = vars(options) if options is not None else {}
    step, phase = float(get.get("leak_step", 1.0)), float(get.get("leak_phase", 10.0))
    if not step > 0 or not phase > 0:
        raise OptionError("--leak-step and --leak-phase take seconds above 0")
    mix = str(get.get("leak_mix", "vary"))
    if mix not in MIXES:
        raise OptionError(f"--leak-mix takes one of {', '.join(MIXES)}, not {mix!r}")
    resources = tuple(_resource(spec) for spec in _listed(get.get("leak_resource")))
    names = [r.name for r in resources]
    if len(set(names)) != len(names):
        raise OptionError("--leak-resource: a resource is given twice")
    json_file, report = str(get.get("leak_json") or ""), str(get.get("leak_report") or "")
    for path in (json_file, report):
        if path and not Path(path).expanduser().resolve().parent.is_dir():
            raise OptionError(f"{path}: its directory does not exist")
    return LeakOptions(
        metrics=tuple(_listed(get.get("leak_metrics"))),
        prometheus=str(get.get("leak_prometheus") or "").rstrip("/"),
        selector=str(get.get("leak_selector") or ""),
        resources=resources,
        step=step,
        json=Path(json_file) if json_file else None,
        report=Path(report) if report else None,
        exit_code=int(get.get("leak_exit_code", LEAK_EXIT_CODE)),
        fail_on_undecided=bool(get.get("leak_fail_on_undecided", False)),
        mix=mix,
        phase=phase,
        probe_token=str(get.get("leak_probe_token") or ""),
    )
