"""The talk's code slide: the marked classes of leaky.py and fixed.py, paired by role."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from leaklab.scenarios import SCENARIOS, Request, Scenario
from leaklab.slides import ELIDED, excerpt, excerpts, scenario_slide, too_small
from leaklab.talk import SLIDE_SPARE


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
        for cut in excerpts(variant):
            lines = cut.text.splitlines()
            assert cut.marked == {n for n, line in enumerate(lines, 1) if marker in line}
            assert cut.marked, cut.name
            assert lines[0] == f"class {cut.name}:"


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
    assert (found.role, found.name, found.marked) == ("toy_files", "FilePerRequest", {4})
    assert "def other" not in found.text


def screen(scenario: Scenario, width: int, height: int) -> list[str]:
    """Stage 1's screen for one scenario, as a terminal of that size shows it."""
    console = Console(width=width, height=height, record=True, color_system=None)
    console.print(scenario_slide(scenario, width).screen())
    return console.export_text().splitlines()


@pytest.mark.parametrize(("width", "height"), [(120, 32), (100, 30)])
def test_every_slide_fits_a_projector_terminal_with_both_marked_lines(
    width: int, height: int
) -> None:
    for scenario in SCENARIOS:
        lines = screen(scenario, width, height)
        assert len(lines) + SLIDE_SPARE <= height, (scenario.name, len(lines))
        assert max(len(line) for line in lines) <= width
        text = "\n".join(lines)
        for variant, marker in (("leaky", "# LEAK:"), ("fixed", "# FIX:")):
            expected = excerpt(variant, scenario)
            assert f"{variant}.py: {expected.name}" in text
            # every marked line is on screen, its comment whole (never cut, never cropped)
            for n in expected.marked:
                comment = expected.text.splitlines()[n - 1].split(marker)[1].split()
                assert f"{marker} {comment[0]}" in text, (scenario.name, comment)
        side_by_side = [line for line in lines if "leaky.py:" in line and "fixed.py:" in line]
        assert side_by_side, scenario.name
        assert "Left, leaky:" in text and "Right, fixed:" in text


def test_a_narrow_terminal_stacks_the_classes_and_says_so() -> None:
    database = SCENARIOS.get("database")
    text = "\n".join(screen(database, 90, 60))
    assert not any("leaky.py" in line and "fixed.py" in line for line in text.splitlines())
    assert text.index("leaky.py: ConnectionPerRequest") < text.index("fixed.py: PooledConnections")
    assert "Above, leaky:" in text and "Below, fixed:" in text and "Left" not in text


def test_plumbing_is_elided_with_a_marker_and_the_docstring_cut_to_its_summary() -> None:
    pooled = excerpt("fixed", SCENARIOS.get("database"))
    assert "minconn" not in pooled.text  # psycopg2's trick: not for the audience
    assert "HikariCP" not in pooled.text  # the docstring's second paragraph
    assert pooled.text.splitlines()[1] == '    """A bounded pool: every connection goes back."""'
    assert ELIDED in pooled.text
    assert "def acquire" in pooled.text and "def release" in pooled.text
    assert "def open_connections" not in pooled.text
    # a short method is shown whole: where the leaked connection comes from
    leaky = excerpt("leaky", SCENARIOS.get("database"))
    assert "conn = pg_connect(self._dsn, self._name)" in leaky.text and ELIDED not in leaky.text
    # a mark on a decorator shows the method it decorates
    memo = excerpt("leaky", SCENARIOS.get("memo"))
    assert "@functools.cache  # LEAK:" in memo.text and "def _sheet" in memo.text


def test_a_terminal_too_small_says_the_size_it_needs() -> None:
    story = SCENARIOS.story()
    small = Console(width=80, height=24)
    message = too_small(small, story, spare=SLIDE_SPARE)
    assert message is not None and "80x24" in message and "at least 100x30" in message
    assert too_small(Console(width=120, height=32), story, spare=SLIDE_SPARE) is None
    assert too_small(Console(width=100, height=30), SCENARIOS, spare=SLIDE_SPARE) is None
    short = too_small(Console(width=120, height=20), story, spare=SLIDE_SPARE)
    assert short is not None and "at least 120x" in short
