"""Where an object is made: the innermost frame in application code, as "path:line function".

Walking `sys._getframe()` costs about a microsecond (each file is classified once, then
looked up); `traceback.extract_stack` costs fifteen. A frame is application code when its
file is under the app's root and not in the standard library, site-packages, leaklab.probe
itself or a module the app named as a helper (as `warnings.warn(skip_file_prefixes=...)`
passes over wrappers). With no application frame on the stack (a library's own thread),
the innermost library frame names the origin, relative to its site-packages.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import CodeType, FrameType

APP, LIBRARY, STDLIB, OURS = 0, 1, 2, 3
MAX_DEPTH = 64
UNKNOWN = "<unknown>"
_PROBE_DIR = os.path.dirname(os.path.abspath(__file__))


def qualname(code: CodeType) -> str:
    return getattr(code, "co_qualname", code.co_name)  # 3.11+: Class.method


def _library_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {paths[name] for name in ("purelib", "platlib") if name in paths}
    dirs |= {p for p in sys.path if p.rstrip(os.sep).endswith(("site-packages", "dist-packages"))}
    return sorted((os.path.abspath(d) for d in dirs), key=len, reverse=True)


def _stdlib_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    dirs = {paths[name] for name in ("stdlib", "platstdlib") if name in paths}
    return sorted((os.path.abspath(d) for d in dirs), key=len, reverse=True)


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Classifier:
    """Sorts files into application, library, standard library and the probe's own."""

    root: str
    skip: tuple[str, ...] = ()  # helper modules' paths (absolute, or relative to root)
    # application code wherever it is installed (site-packages too): (directory, shown as)
    packages: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls, root: str = "", skip: Iterable[str] = (), packages: Mapping[str, str] | None = None
    ) -> Classifier:
        base = os.path.abspath(root or os.getcwd())
        helpers = tuple(os.path.abspath(os.path.join(base, s)) for s in skip)
        dirs = tuple((os.path.abspath(d), shown) for d, shown in (packages or {}).items())
        return cls(base, helpers, dirs)

    def classify(self, filename: str) -> tuple[int, str]:
        """The file's rank (APP, LIBRARY, STDLIB, OURS) and the path an origin shows."""
        if filename.startswith("<"):  # <frozen ...>, <string>: Python's own
            return STDLIB, filename
        path = os.path.abspath(filename)
        if _under(path, _PROBE_DIR):
            return OURS, path
        for directory, shown in self.packages:
            if _under(path, directory):
                rank = LIBRARY if any(_under(path, h) for h in self.skip) else APP
                return rank, os.path.join(shown, os.path.relpath(path, directory))
        for directory in _library_dirs():
            if _under(path, directory):
                return LIBRARY, os.path.relpath(path, directory)
        for directory in _stdlib_dirs():
            if _under(path, directory):
                return STDLIB, os.path.relpath(path, directory)
        if any(_under(path, helper) for helper in self.skip):
            return LIBRARY, self._shown(path)
        return APP, self._shown(path)

    def _shown(self, path: str) -> str:
        return os.path.relpath(path, self.root) if _under(path, self.root) else path


class Sites:
    """Names the origin of the object being made now, from the calling thread's stack."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self._files: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def _rank(self, filename: str) -> tuple[int, str]:
        known = self._files.get(filename)
        if known is None:
            known = self.classifier.classify(filename)
            with self._lock:
                self._files[filename] = known
        return known

    def here(self, depth: int = 1) -> str:
        """The origin of the caller's caller's... first application frame."""
        try:
            frame: FrameType | None = sys._getframe(depth + 1)
        except ValueError:
            return UNKNOWN
        fallback = ""
        files = self._files
        for _ in range(MAX_DEPTH):
            if frame is None:
                break
            code = frame.f_code
            rank, shown = files.get(code.co_filename) or self._rank(code.co_filename)
            if rank == APP:
                return f"{shown}:{frame.f_lineno} {qualname(code)}"
            if rank == LIBRARY and not fallback:
                fallback = f"{shown}:{frame.f_lineno} {qualname(code)}"
            frame = frame.f_back
        return fallback or UNKNOWN

    def of_lines(self, lines: Iterable[tuple[str, int]]) -> str | None:
        """The origin among (filename, line) pairs, innermost first (a tracemalloc
        traceback), or None when none is application code."""
        for filename, line in lines:
            rank, shown = self._rank(filename)
            if rank == APP:
                return f"{shown}:{line} {functions.enclosing(filename, line)}"
        return None


class _Functions:
    """The function that holds a line of a file, from the file's compiled code objects:
    tracemalloc keeps file and line only."""

    def __init__(self) -> None:
        self._files: dict[str, list[tuple[int, int, str]]] = {}

    def _spans(self, filename: str) -> list[tuple[int, int, str]]:
        spans = self._files.get(filename)
        if spans is None:
            spans = []
            try:
                code = compile(_read(filename), filename, "exec", dont_inherit=True)
            except (OSError, SyntaxError, ValueError):
                code = None
            if code is not None:
                self._walk(code, spans)
            spans.sort(key=lambda s: s[1] - s[0])  # innermost (shortest) first
            self._files[filename] = spans
        return spans

    def _walk(self, code: CodeType, spans: list[tuple[int, int, str]]) -> None:
        for const in code.co_consts:
            if isinstance(const, CodeType):
                lines = [line for _s, _e, line in const.co_lines() if line is not None]
                if lines:
                    spans.append((min(lines), max(lines), qualname(const)))
                self._walk(const, spans)

    def enclosing(self, filename: str, line: int) -> str:
        for first, last, name in self._spans(filename):
            if first <= line <= last:
                return name
        return "<module>"


def _read(filename: str) -> bytes:
    """The file's bytes, read below open(): the probe does not record its own files."""
    fd = os.open(filename, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


functions = _Functions()
