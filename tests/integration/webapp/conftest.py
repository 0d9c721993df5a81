"""Fixtures of the web app tests."""

from __future__ import annotations

import pytest
from extra_app import ExtraAppFactory, factory

from leaklab.stack import NativeStack
from leaklab.stack.state import RunState


@pytest.fixture
def extra_app(stack: NativeStack, state: RunState) -> ExtraAppFactory:
    """Start an app of its own for one test (see extra_app.factory); it is stopped after."""
    return factory(stack, state)
