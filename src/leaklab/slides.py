"""The talk's first stage: each scenario's leaky class beside its fixed one, cut to a slide.

The registry names the classes; the `# LEAK:` and `# FIX:` lines are highlighted, and only
the methods holding one are shown.
"""

from __future__ import annotations

import ast
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from leaklab.scenarios import SCENARIOS, Scenario

MARKERS = {"leaky": "# LEAK:", "fixed": "# FIX:"}


@dataclass(frozen=True)
class Excerpt:
    """One strategy class cut to the slide: its header, docstring and marked methods."""

    variant: str
    role: str  # the scenario
    name: str
    text: str
    marked: set[int]  # line numbers within text


def _slide_lines(node: ast.ClassDef, lines: list[str], marker: str) -> list[str]:
    """The class line, its docstring, and each method holding a marked line; '...' between."""
    keep: list[tuple[int, int]] = [(node.lineno, node.lineno)]
    first = node.body[0] if node.body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        keep.append((first.lineno, first.end_lineno or first.lineno))
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.end_lineno is not None:
            start = min([d.lineno for d in item.decorator_list] + [item.lineno])
            body = lines[start - 1 : item.end_lineno]
            if any(marker in line for line in body):
                keep.append((start, item.end_lineno))
    out: list[str] = []
    last = None
    for start, end in keep:
        if last is not None and start > last + 1:
            out.append("")
        out.extend(lines[start - 1 : end])
        last = end
    return out


def source_file(module: str) -> Path:
    """Where a module's source is, found without running it (nor its package's __init__)."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise LookupError(f"no module {module!r} on sys.path")
    if not rest:
        if spec.origin is None:
            raise LookupError(f"module {module!r} has no source file")
        return Path(spec.origin)
    for location in spec.submodule_search_locations or ():
        path = Path(location, *rest[:-1], f"{rest[-1]}.py")
        if path.is_file():
            return path
    raise LookupError(f"no source file for {module!r}")


def excerpt(variant: str, scenario: Scenario) -> Excerpt:
    """The slide of one scenario's leaky or fixed class (named in the registry)."""
    module, _, name = (scenario.leaky if variant == "leaky" else scenario.fixed).partition(":")
    source = source_file(module).read_text()
    lines = source.splitlines()
    marker = MARKERS[variant]
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            slide = _slide_lines(node, lines, marker)
            marked = {n + 1 for n, line in enumerate(slide) if marker in line}
            return Excerpt(variant, scenario.name, name, "\n".join(slide), marked)
    raise LookupError(f"no class {name} in {module}")


def excerpts(variant: str, scenarios: Iterable[Scenario] = SCENARIOS) -> list[Excerpt]:
    """Each scenario's leaky or fixed class, in the registry's order."""
    return [excerpt(variant, scenario) for scenario in scenarios]


def _syntax(excerpt: Excerpt) -> Syntax:
    return Syntax(
        excerpt.text,
        "python",
        theme="monokai",
        highlight_lines=excerpt.marked,
        word_wrap=True,
    )


def code_slide(console: Console, scenarios: Iterable[Scenario] | None = None) -> RenderableType:
    """Leaky beside fixed, one row per scenario (default: the story's); stacked when the
    terminal is narrow."""
    chosen = list(scenarios) if scenarios is not None else SCENARIOS.story()
    leaky, fixed = excerpts("leaky", chosen), excerpts("fixed", chosen)
    side_by_side = console.width >= 150
    rows: list[RenderableType] = []
    for left, right in zip(leaky, fixed, strict=False):
        panels = [
            Panel(_syntax(left), title=f"[bold red]leaky.py: {left.name}", border_style="red"),
            Panel(
                _syntax(right), title=f"[bold green]fixed.py: {right.name}", border_style="green"
            ),
        ]
        if side_by_side:
            grid = Table.grid(expand=True, padding=(0, 1))
            grid.add_column(ratio=1)
            grid.add_column(ratio=1)
            grid.add_row(*panels)
            rows.append(grid)
        else:
            rows.extend(panels)
    return Group(*rows)
