"""The talk's code slide: the marked classes of leaky.py and fixed.py, paired by role."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from leaklab.scenarios import SCENARIOS, Request, Scenario
from leaklab.slides import code_slide, excerpts


def test_each_resource_pairs_the_leaky_class_with_its_fix() -> None:
    leaky, fixed = excerpts("leaky"), excerpts("fixed")
    assert [(e.role, e.name) for e in leaky][:2] == [
        ("database", "ConnectionPerRequest"),
        ("redis", "ClientPerRequest"),
    ]
    assert [(e.role, e.name) for e in fixed][:2] == [
        ("database", "PooledConnections"),
        ("redis", "SharedClient"),
    ]
    # one slide per scenario, in the registry's order, each the class the registry names
    assert [(e.role, e.name) for e in leaky] == [
        (s.name, s.leaky.partition(":")[2]) for s in SCENARIOS
    ]
    assert [(e.role, e.name) for e in fixed] == [
        (s.name, s.fixed.partition(":")[2]) for s in SCENARIOS
    ]


def test_the_highlighted_lines_are_the_marked_ones() -> None:
    for variant, marker in (("leaky", "# LEAK:"), ("fixed", "# FIX:")):
        for excerpt in excerpts(variant):
            lines = excerpt.text.splitlines()
            assert excerpt.marked == {n for n, line in enumerate(lines, 1) if marker in line}
            assert excerpt.marked, excerpt.name
            assert lines[0] == f"class {excerpt.name}:"


def test_unmarked_methods_stay_off_the_slide() -> None:
    database = excerpts("leaky")[0]
    assert "def acquire" in database.text
    assert "def reset" not in database.text and "def pool_max" not in database.text


def test_a_registered_scenario_gets_its_slide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "toy_strategies.py"
    module.write_text(
        "class FilePerRequest:\n"
        '    """Opens a file per request."""\n\n'
        "    def open(self):\n"
        "        handle = open('/dev/null')  # LEAK: never closed\n"
        "        return handle\n\n"
        "    def other(self):\n"
        "        return 1\n\n\n"
        "class Untouched:\n"
        "    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    toy = Scenario(
        name="toy_files",
        title="A file per request",
        endpoint="/api/files",
        view="toy_strategies:view",
        leaky="toy_strategies:FilePerRequest",
        fixed="toy_strategies:Untouched",
        leaks=(),
        request=Request("n", "{n}", 1, expects="n"),
    )
    with SCENARIOS.registered(toy):
        found = excerpts("leaky")[-1]
    assert (found.role, found.name, found.marked) == ("toy_files", "FilePerRequest", {5})
    assert "def other" not in found.text


def test_the_slide_is_side_by_side_on_a_wide_terminal_and_stacked_on_a_narrow_one() -> None:
    wide = Console(width=160, record=True, color_system=None)
    wide.print(code_slide(wide))
    text = wide.export_text()
    line = next(line for line in text.splitlines() if "leaky.py: ConnectionPerRequest" in line)
    assert "fixed.py: PooledConnections" in line
    narrow = Console(width=90, record=True, color_system=None)
    narrow.print(code_slide(narrow))
    text = narrow.export_text()
    assert (
        not any("leaky.py" in line and "fixed.py" in line for line in text.splitlines())
        and "fixed.py: PooledConnections" in text
    )
