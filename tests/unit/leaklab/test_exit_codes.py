"""One table of exit codes (leaklab.exit_codes), the same in the README."""

from __future__ import annotations

import re

from leaklab.exit_codes import ExitCode
from leaklab.paths import REPO


def _readme_table() -> dict[str, int]:
    text = (REPO / "README.md").read_text()
    section = text.split("### Exit codes", 1)[1].split("\n### ", 1)[0]
    return {name: int(code) for code, name in re.findall(r"^\| (\d) \| `(\w+)` \|", section, re.M)}


def test_the_readme_lists_every_exit_code_with_its_value() -> None:
    assert _readme_table() == {name: int(code) for name, code in ExitCode.__members__.items()}


def test_the_documented_values_are_kept() -> None:
    """check: 0 no leak, 1 leak, 2 usage or environment error, 3 undecided; status, load,
    demo and talk: 1 when unhealthy, failed or not as expected, as the README promised."""
    assert (ExitCode.OK, ExitCode.LEAK, ExitCode.USAGE, ExitCode.UNDECIDED) == (0, 1, 2, 3)
    assert ExitCode.UNHEALTHY == ExitCode.LOAD_FAILED == ExitCode.NOT_AS_EXPECTED == 1
    assert ExitCode.INTERRUPTED == 2
