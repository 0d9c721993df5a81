"""The probe installed in the test process for one test, taken out after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from leaklab import probe
from leaklab.settings import ProbeSettings

HERE = Path(__file__).resolve().parent


@pytest.fixture
def probed() -> Iterator[probe.Probe]:
    """The probe, origins relative to this directory, helper_open.py passed over."""
    probe.disable()  # an app built by an earlier test enabled it with its own root
    enabled = probe.enable(str(HERE), ["helper_open.py"], ProbeSettings(memory_window=0))
    assert enabled is not None
    try:
        yield enabled
    finally:
        probe.disable()
