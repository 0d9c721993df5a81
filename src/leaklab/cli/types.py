"""The command's parameter types: each value is checked, and named in the error, when the
options are read, before any work starts."""

from __future__ import annotations

import importlib
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from leaklab import durations

if TYPE_CHECKING:
    from leaklab.verdict.query import Resource

    _PathParam = click.ParamType[Path]  # generic from click 8.2; pyproject allows 8.1
    _FloatParam = click.ParamType[float]
    _AppParam = click.ParamType[tuple[str, str]]
    _ResourceParam = click.ParamType[Resource]
else:
    _PathParam = _FloatParam = _AppParam = _ResourceParam = click.ParamType


class FiniteFloat(click.FloatRange):
    """click.FloatRange that also refuses nan and inf, which pass its range checks."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Duration(_FloatParam):
    """A duration in seconds (leaklab.durations: 90s, 5m, 1h30m, 500ms, 90); 0 is refused
    (no load, an empty window: no verdict). whole: only whole seconds (what Locust takes)."""

    name = "duration"

    def __init__(self, whole: bool = False) -> None:
        self.whole = whole

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            seconds = durations.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        if seconds <= 0:
            self.fail(
                f"{value!r} is no time at all: give a duration above 0, such as 90s", param, ctx
            )
        if self.whole and seconds != int(seconds):
            self.fail(f"{value!r} is not a whole number of seconds, such as 90s", param, ctx)
        return seconds


class AppMatchers(_AppParam):
    """NAME=MATCHERS: an app's name and the label matchers that select its series."""

    name = "NAME=MATCHERS"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, str]:
        if isinstance(value, tuple):
            return value
        name, sep, matchers = str(value).partition("=")
        if not sep or not name or not any(op in matchers for op in ("=", "!=", "=~", "!~")):
            self.fail(f'{value!r} is not NAME=MATCHERS, e.g. leaky=app="leaky"', param, ctx)
        return name, matchers


def threshold(text: str) -> float:
    """A leak threshold: growth per 1,000 requests, finite and above 0; ValueError otherwise.

    At 0 a flat series (interval 0 to 0) could never be NO LEAK; nan and inf compare false
    with everything, so they would decide nothing, silently.
    """
    try:
        limit = float(text)
    except ValueError:
        raise ValueError(f"threshold {text!r} is not a number") from None
    if not math.isfinite(limit) or limit <= 0:
        raise ValueError(
            f"threshold {text!r} must be a growth per 1,000 requests above 0, such as 2"
        )
    return limit


class ResourceSpec(_ResourceParam):
    """NAME=SELECTOR[@THRESHOLD]: a gauge to judge. A contract resource's name, or a
    well-known metric (leaklab.verdict.known), keeps its threshold and unit; another needs
    @THRESHOLD (growth per 1,000 requests)."""

    name = "NAME=SELECTOR[@THRESHOLD]"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Resource:
        from leaklab.verdict.known import defaults_for  # numpy: only when judging
        from leaklab.verdict.query import Resource

        if isinstance(value, Resource):
            return value
        spec = str(value)
        name, sep, rest = spec.partition("=")
        selector, at, limit_text = rest.partition("@")
        if not sep or not name or not selector:
            self.fail(f"{spec!r} is not NAME=SELECTOR[@THRESHOLD]", param, ctx)
        base = defaults_for(name, selector)
        if at:
            try:
                limit = threshold(limit_text)
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        elif base is not None:
            return base
        else:
            self.fail(
                f"{name!r} is neither a contract resource nor a well-known metric: give its "
                "threshold per 1,000 requests as NAME=SELECTOR@THRESHOLD",
                param,
                ctx,
            )
        return Resource(name, selector, limit, base.unit if base else "units")


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


class Lazy:
    """An option's default read from a module only when it is needed (the option is left
    out, or its help is shown): `leaklab --help` does not import what `check` reads."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self) -> Any:
        return getattr(importlib.import_module(self.module), self.name)

    def __str__(self) -> str:  # what --help shows as the default
        return str(self())
