"""Shared fixtures: real servers started through the same launcher the CLI uses."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from leaklab.measure import reset
from leaklab.stack import NativeStack
from leaklab.stack.native import private_settings
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


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NativeStack]:
    """The whole native stack, once per session, on free ports."""
    run_dir = tmp_path_factory.mktemp("run")
    native = NativeStack(private_settings(run_dir, worker_nofile=WORKER_NOFILE))
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
