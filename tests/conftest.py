"""Shared fixtures: real servers started through the same launcher the CLI uses."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from leaklab.measure import reset
from leaklab.settings import StackSettings
from leaklab.stack import NativeStack
from leaklab.stack.process import free_port
from leaklab.stack.state import RunState

TIERS = ("unit", "integration", "e2e")

# The session stack lowers the workers' `ulimit -n` so the Redis leak reaches it in
# a few hundred requests instead of a few thousand.
WORKER_NOFILE = 256


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its tier, from the folder it lives in."""
    for item in items:
        for tier in TIERS:
            if f"{os.sep}{tier}{os.sep}" in str(item.path):
                item.add_marker(getattr(pytest.mark, tier))


def stack_settings(run_dir: Path, **overrides: object) -> StackSettings:
    """Settings for a test stack: free ports everywhere; servers from the environment if set."""
    base = StackSettings.from_env(os.environ, run_dir)
    ports = {
        "leaky_port": free_port(),
        "fixed_port": free_port(),
        "prometheus_port": free_port(),
    }
    return replace(base, **{**ports, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    """The whole native stack, once per session, on free ports."""
    run_dir = tmp_path_factory.mktemp("run")
    native = NativeStack(stack_settings(run_dir, worker_nofile=WORKER_NOFILE))
    try:
        native.up()
        yield native
    finally:
        stopped = native.down()
        not_stopped = [name for name, ok in stopped if not ok]
        if not_stopped:
            print(f"could not stop: {not_stopped}")  # best effort, but say so


@pytest.fixture
def state(stack: NativeStack) -> Iterator[RunState]:
    """The running stack's state, with both apps emptied before and after the test."""
    current = stack.state
    for variant in ("leaky", "fixed"):
        reset(current, variant)
    yield current
    for variant in ("leaky", "fixed"):
        reset(current, variant)
