"""The talk's code slide: the marked classes of leaky.py and fixed.py, paired by role."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from leaklab.talk import code_slide, excerpts


def test_each_resource_pairs_the_leaky_class_with_its_fix() -> None:
    leaky, fixed = excerpts("leaky"), excerpts("fixed")
    assert [(e.role, e.name) for e in leaky] == [
        ("Database", "ConnectionPerRequest"),
        ("Cache", "ClientPerRequest"),
    ]
    assert [(e.role, e.name) for e in fixed] == [
        ("Database", "PooledConnections"),
        ("Cache", "SharedClient"),
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


def test_a_new_scenario_class_appears_once_it_has_a_marker(tmp_path: Path) -> None:
    module = tmp_path / "leaky.py"
    module.write_text(
        "class FilePerRequest:\n"
        '    """Opens a file per request."""\n\n'
        "    def open(self):\n"
        "        handle = open('/dev/null')  # LEAK: never closed\n"
        "        return handle\n\n"
        "    def other(self):\n"
        "        return 1\n\n\n"
        "class Untouched:\n"
        "    pass\n\n\n"
        "Files = FilePerRequest\n"
    )
    (found,) = excerpts("leaky", module)
    assert (found.role, found.name, found.marked) == ("Files", "FilePerRequest", {5})
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
