"""The options more than one command takes, each defined once, by name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from leaklab.cli.types import AppMatchers, Duration, FiniteFloat, ResourceSpec
from leaklab.stages import shape_names

if TYPE_CHECKING:
    from leaklab.verdict.query import Resource

F = TypeVar("F", bound=Callable[..., Any])

run_dir = click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the native stack keeps its state and logs [env LEAKLAB_RUN_DIR; .run].",
)


def run_time(help: str, short: bool = False) -> Callable[[F], F]:
    """--run-time (and -t): how long Locust runs, in whole seconds."""
    names = ("-t", "--run-time") if short else ("--run-time",)
    return click.option(*names, type=Duration(whole=True), default=None, help=help)


def users(when: str = "") -> Callable[[F], F]:
    return click.option(
        "-u",
        "--users",
        type=click.IntRange(min=1),
        default=20,
        show_default=True,
        help=f"{when}Users in all, split evenly between the two apps.",
    )


def spawn_rate(default: float, when: str = "") -> Callable[[F], F]:
    return click.option(
        "-r",
        "--spawn-rate",
        type=FiniteFloat(min=0, min_open=True),
        default=default,
        show_default=True,
        help=f"{when}Users started per second.",
    )


def pace(default: float, when: str = "") -> Callable[[F], F]:
    return click.option(
        "--pace",
        type=FiniteFloat(min=0.01),
        default=default,
        show_default=True,
        help=f"{when}Seconds between one user's requests.",
    )


shape = click.option(
    "--shape",
    type=click.Choice(shape_names()),
    default=None,
    help="A named stage table (warm-up, ramp, steady) instead of --users.",
)


def scenarios(default: str) -> Callable[[F], F]:
    """--scenario NAME (repeatable): only those scenarios' endpoints get load."""
    from leaklab.scenarios import SCENARIOS

    return click.option(
        "--scenario",
        "scenario_names",
        type=click.Choice(SCENARIOS.names()),
        multiple=True,
        help=f"Load only this scenario's endpoint (repeatable; `leaklab scenarios` lists them) "
        f"[{default}].",
    )


def locust_options(
    spawn_rate_default: float, pace_default: float, when: str = ""
) -> Callable[[F], F]:
    """The Locust load options `load`, `check` and `talk` share (users, spawn rate, pace,
    shape), with each command's defaults."""
    options = (users(when), spawn_rate(spawn_rate_default, when), pace(pace_default, when), shape)

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


def _unique_apps(
    _ctx: click.Context, _param: click.Parameter, pairs: tuple[tuple[str, str], ...]
) -> dict[str, str] | None:
    apps: dict[str, str] = {}
    for name, matchers in pairs:
        if name in apps:
            raise click.BadParameter(f"app {name!r} is given twice")
        apps[name] = matchers
    return apps or None


def _unique_resources(
    _ctx: click.Context, _param: click.Parameter, resources: tuple[Resource, ...]
) -> tuple[Resource, ...] | None:
    seen: set[str] = set()
    for resource in resources:
        if resource.name in seen:
            raise click.BadParameter(f"resource {resource.name!r} is given twice")
        seen.add(resource.name)
    return resources or None


apps = click.option(
    "--app",
    "apps",
    type=AppMatchers(),
    multiple=True,
    callback=_unique_apps,
    help='An app and its label matchers, e.g. leaky=app="leaky" (repeatable) [leaky and fixed].',
)
resources = click.option(
    "--resource",
    "resources",
    type=ResourceSpec(),
    multiple=True,
    callback=_unique_resources,
    help="A gauge to judge, with its leak threshold per 1,000 requests (repeatable) "
    "[the leaklab metric contract].",
)
