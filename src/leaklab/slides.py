"""The talk's first stage: one scenario per screen, its leaky class beside its fixed one.

The registry names the classes ("module:Class", read without importing them); the source
marks what a slide shows: the methods holding a `# LEAK:` or `# FIX:` line, those lines
highlighted. A short method is shown whole; in a longer one only the marked statements,
the blocks around them and its exits are, and the plumbing between is a `⋯` line. The
class's docstring is cut to its first paragraph. So the slide is the code, made to fit a
projector's terminal (120x32, and 100x30 for a large font) without scrolling.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markup import escape
from rich.measure import Measurement
from rich.panel import Panel
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from leaklab.scenarios import SCENARIOS, Scenario

MARKERS = {"leaky": "# LEAK:", "fixed": "# FIX:"}
ELIDED = "⋯"  # where the slide leaves plumbing out
SHORT_METHOD = 8  # lines: a method this short is shown whole
SHORT_BLOCK = 5  # lines: a marked statement this short is shown whole, even a compound one
SIDE_BY_SIDE = 100  # columns: narrower, leaky goes above fixed
MIN_SIZE = (100, 30)  # the smallest terminal the stages are made for (a large font)
THEME, THEME_BACKGROUND = "monokai", "#272822"
MARK_BACKGROUND = {"leaky": "#5a1d24", "fixed": "#1f4a23"}  # the marked lines, lit


@dataclass(frozen=True)
class Excerpt:
    """One strategy class cut to the slide: its header, docstring and marked methods."""

    variant: str
    role: str  # the scenario
    name: str
    text: str
    marked: set[int]  # line numbers within text


def _docstring(node: ast.ClassDef, lines: list[str]) -> list[str]:
    """The class docstring's first paragraph, closed where it was cut."""
    first = node.body[0] if node.body else None
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)):
        return []
    text = lines[first.lineno - 1 : (first.end_lineno or first.lineno)]
    for n, line in enumerate(text):
        if not line.strip():
            return [*text[: n - 1], text[n - 1].rstrip() + '"""']
    return text


def _header_end(stmt: ast.stmt) -> int:
    """The last line of a compound statement's header (`def ...:`, `if ...:`)."""
    body = getattr(stmt, "body", None)
    if not body or not isinstance(body, list):
        return stmt.end_lineno or stmt.lineno
    first: ast.stmt = body[0]
    return first.lineno - 1


def _blocks(stmt: ast.stmt) -> list[tuple[int | None, list[ast.stmt]]]:
    """A compound statement's blocks after the first: (the line of its header, its body)."""
    out: list[tuple[int | None, list[ast.stmt]]] = []
    for handler in getattr(stmt, "handlers", []) or []:
        out.append((handler.lineno, handler.body))
    for name in ("orelse", "finalbody"):
        body = getattr(stmt, name, None)
        if body:
            out.append((None, body))  # `else:` / `finally:`: found in the text
    return out


class _Cut:
    """Which source lines of one method go on the slide."""

    def __init__(self, lines: list[str], marker: str) -> None:
        self.lines, self.marker, self.keep = lines, marker, set[int]()

    def marked(self, start: int, end: int) -> bool:
        return any(self.marker in self.lines[n - 1] for n in range(start, end + 1))

    def span(self, start: int, end: int) -> None:
        self.keep.update(range(start, end + 1))

    def statements(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            end = stmt.end_lineno or stmt.lineno
            exits = isinstance(stmt, ast.Return | ast.Raise) or (
                isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Yield | ast.YieldFrom)
            )
            if not self.marked(stmt.lineno, end):
                if exits:
                    self.span(stmt.lineno, end)
                continue
            inner = getattr(stmt, "body", None)
            if end - stmt.lineno + 1 <= SHORT_BLOCK or not isinstance(inner, list) or not inner:
                self.span(stmt.lineno, end)
                continue
            self.span(stmt.lineno, _header_end(stmt))  # `if ...:`, `with ...:`, `try:`
            self.statements(inner)
            for header, block in _blocks(stmt):
                first = block[0].lineno
                last = max(b.end_lineno or b.lineno for b in block)
                if not self.marked(header or first, last):
                    continue
                self.keep.add(header if header is not None else self._keyword_line(first))
                self.statements(block)

    def _keyword_line(self, first: int) -> int:
        """The `else:` / `finally:` line above a block's first statement."""
        n = first - 1
        while n > 1 and (not self.lines[n - 1].strip() or self.lines[n - 1].lstrip()[0] == "#"):
            n -= 1
        return n


def _method(item: ast.FunctionDef, lines: list[str], marker: str) -> list[str]:
    """A marked method: whole when short, else its marked statements and exits, `⋯` between."""
    start = min([d.lineno for d in item.decorator_list] + [item.lineno])
    end = item.end_lineno or item.lineno
    if end - start + 1 <= SHORT_METHOD:
        return lines[start - 1 : end]
    cut = _Cut(lines, marker)
    cut.span(start, _header_end(item))
    cut.statements(item.body)
    out: list[str] = []
    n = start
    while n <= end:
        if n in cut.keep:
            out.append(lines[n - 1])
            n += 1
            continue
        gap_start = n
        while n <= end and n not in cut.keep:
            n += 1
        gap = [line for line in lines[gap_start - 1 : n - 1] if line.strip()]
        if gap:
            indent = len(gap[0]) - len(gap[0].lstrip())
            out.append(" " * indent + ELIDED)
    return out


def _slide_lines(node: ast.ClassDef, lines: list[str], marker: str) -> list[str]:
    """The class line, its docstring's first paragraph, and each method holding a marked line."""
    out = [lines[node.lineno - 1], *_docstring(node, lines)]
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.end_lineno is not None:
            start = min([d.lineno for d in item.decorator_list] + [item.lineno])
            if any(marker in line for line in lines[start - 1 : item.end_lineno]):
                out.extend(_method(item, lines, marker))
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


class Code:
    """An excerpt highlighted as Python, its marked lines lit, long lines wrapped under
    their own indentation (never cropped: a `# LEAK:` comment stays whole on screen)."""

    GUTTER = "▌"

    def __init__(self, excerpt: Excerpt) -> None:
        self.excerpt = excerpt
        syntax = Syntax(excerpt.text, "python", theme=THEME, word_wrap=True)
        self.lines = syntax.highlight(excerpt.text).split("\n")
        colour = "red" if excerpt.variant == "leaky" else "green"
        self.mark = Style(bgcolor=MARK_BACKGROUND[excerpt.variant], bold=True)
        self.gutter = Text(self.GUTTER, style=Style(color=colour, bgcolor=THEME_BACKGROUND))
        self.blank = Text(" ", style=Style(bgcolor=THEME_BACKGROUND))

    def rows(self, width: int) -> list[Text]:
        """The screen lines at `width` columns (one of them the gutter)."""
        out: list[Text] = []
        for number, line in enumerate(self.lines, 1):
            marked = number in self.excerpt.marked
            for piece in _wrap(line, max(width - 1, 8)):
                piece = piece.copy()
                piece.pad_right(max(width - 1 - piece.cell_len, 0))
                if marked:
                    piece.stylize(self.mark)
                out.append(Text.assemble(self.gutter if marked else self.blank, piece))
        return out

    def fit(self, width: int) -> tuple[int, int]:
        """(screen lines, words cut) at `width` columns, without rendering."""
        breaks = [_breaks(line.plain.rstrip(), max(width - 1, 8)) for line in self.lines]
        return sum(len(b) + 1 for b, _ in breaks), sum(folds for _, folds in breaks)

    def title(self) -> str:
        return f"{self.excerpt.variant}.py: {self.excerpt.name}"

    def title_width(self) -> int:
        return len(self.title()) + 6  # its corners and spaces

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.rows(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max((line.cell_len for line in self.lines), default=0) + 1
        return Measurement(min(20, longest), longest)


@functools.lru_cache(maxsize=4096)
def _breaks(plain: str, width: int) -> tuple[tuple[int, ...], int]:
    """Where a code line is cut to fit `width` (at spaces, else after `(`, `,` or `.`, else
    anywhere), each piece after the first indented 4 more; and how many words were cut."""
    indent = len(plain) - len(plain.lstrip())
    hang = min(indent + 4, width // 2)
    offsets: list[int] = []
    folds = 0
    start, limit = 0, width
    while len(plain) - start > limit:
        floor = start if offsets else indent
        cut = plain.rfind(" ", start + 1, start + limit + 1)
        while cut > floor and plain[:cut].endswith(("#", *MARKERS.values())):  # "# LEAK: x"
            cut = plain.rfind(" ", start + 1, cut)
        if cut <= floor:
            cut = max(plain.rfind(c, start + 1, start + limit) for c in "(,.") + 1
        if cut <= floor:
            cut, folds = start + limit, folds + 1  # nowhere to break: fold the word
        offsets.append(cut)
        start = cut
        while start < len(plain) and plain[start] == " ":
            start += 1
        limit = width - hang
    return tuple(offsets), folds


def _wrap(line: Text, width: int) -> list[Text]:
    """A code line cut to `width` (`_breaks`), its styles kept."""
    plain = line.plain.rstrip()
    offsets, _ = _breaks(plain, width)
    pieces = line[: len(plain)].divide(offsets)
    hang = min(len(plain) - len(plain.lstrip()) + 4, width // 2)
    out = [pieces[0]]
    for piece in pieces[1:]:
        stripped = len(piece.plain) - len(piece.plain.lstrip(" "))
        out.append(Text.assemble(Text(" " * hang, style=line.style), piece[stripped:]))
    return out


def _panel(excerpt: Excerpt, width: int | None = None) -> Panel:
    colour = "red" if excerpt.variant == "leaky" else "green"
    code = Code(excerpt)
    return Panel(
        code,
        title=f"[bold {colour}]{escape(code.title())}",
        border_style=colour,
        padding=(0, 0),
        width=width,
    )


@dataclass(frozen=True)
class Slide:
    """One scenario's screen of stage 1, laid out for the terminal it is shown on."""

    scenario: Scenario
    code: RenderableType
    side_by_side: bool

    def screen(self) -> RenderableType:
        return self.code


def caption(scenario: Scenario, side_by_side: bool) -> Text:
    """What the slide shows, in the layout's own words."""
    leaky, fixed = ("Left", "Right") if side_by_side else ("Above", "Below")
    what = (scenario.pattern or scenario.title).rstrip(".")
    text = Text.assemble(
        (f"{leaky}, leaky: ", "bold red"),
        what,
        ".\n",
        (f"{fixed}, fixed: ", "bold green"),
        "the same work, nothing kept past the request.",
    )
    text.stylize("italic")
    return text


PANEL_EDGES = 2  # a panel's borders, in columns
GAP = 1  # between the two panels


def _split(leaky: Code, fixed: Code, note: Text, width: int) -> int:
    """The leaky column's width that makes the taller column the least tall (and of those,
    the one that wraps the fewest lines). The caption goes under the leaky panel."""
    inner = width - GAP - 2 * PANEL_EDGES
    console = Console(width=width)
    low = max(inner * 3 // 10, leaky.title_width())  # the panels' titles whole
    high = min(inner * 7 // 10, inner - fixed.title_width())
    costs = {}
    for left in range(low, max(low, high) + 1):
        (lines_left, cut_left), (lines_right, cut_right) = leaky.fit(left), fixed.fit(inner - left)
        under = len(note.wrap(console, left + PANEL_EDGES))
        tallest = max(lines_left + under, lines_right)
        costs[left] = (tallest, cut_left + cut_right, lines_left + lines_right)
    best = min(costs, key=costs.__getitem__)
    return best + PANEL_EDGES


def scenario_slide(scenario: Scenario, width: int) -> Slide:
    """Leaky beside fixed for one scenario; above and below on a terminal too narrow."""
    leaky, fixed = excerpt("leaky", scenario), excerpt("fixed", scenario)
    if width >= SIDE_BY_SIDE:
        note = caption(scenario, side_by_side=True)
        left = _split(Code(leaky), Code(fixed), note, width)
        grid = Table.grid(padding=(0, GAP, 0, 0))
        grid.add_column(vertical="top", width=left)
        grid.add_column(vertical="top", width=width - GAP - left)
        grid.add_row(Group(_panel(leaky, left), note), _panel(fixed, width - GAP - left))
        return Slide(scenario, grid, side_by_side=True)
    note = caption(scenario, side_by_side=False)
    return Slide(scenario, Group(_panel(leaky), _panel(fixed), note), side_by_side=False)


def height(console: Console, renderable: RenderableType, width: int | None = None) -> int:
    """Lines the renderable takes on this console (at `width` columns if given)."""
    options = console.options.update(width=width or console.width)
    return len(console.render_lines(renderable, options, pad=False))


def too_small(console: Console, scenarios: Iterable[Scenario], spare: int) -> str | None:
    """A line saying the size the slides need, or None when each fits with `spare` lines
    left (the stage's title and prompt)."""
    width = max(console.width, MIN_SIZE[0])
    tallest = max(
        (height(console, scenario_slide(s, width).screen(), width) for s in scenarios), default=0
    )
    needed = max(tallest + spare, MIN_SIZE[1])
    if console.width >= MIN_SIZE[0] and console.height >= needed:
        return None
    return (
        f"This terminal is {console.width}x{console.height}; the talk needs at least "
        f"{width}x{needed} (columns x lines) to show each slide without scrolling: "
        "enlarge the window or make the font smaller."
    )
