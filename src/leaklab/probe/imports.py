"""Patching a library as the app imports it, not before: enabling the probe imports nothing.

Importing every hooked library at enable() cost a worker ~15 MiB and ~100 ms, and ran the
import-time code of libraries the app never uses. This is PEP 369's post-import hook (as
`wrapt.register_post_import_hook`): a finder first on `sys.meta_path` hands the import the
spec the other finders give, its loader wrapped so that the module's patches run once, right
after the module was executed and before its importer gets it. While a watched module (or
its top-level package) executes, the importing thread records nothing: what a library makes
as it is imported (its loggers) is not the app's.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from leaklab.probe.registry import importing

Patch = Callable[[ModuleType], None]
_pending: dict[str, list[Patch]] = {}  # module name: its patches, until it is imported
_watched: set[str] = set()  # those names and their top-level packages
_lock = threading.Lock()


def when_imported(name: str, patch: Patch) -> None:
    """patch(module) now if the module is imported, else once right after it is."""
    with _lock:
        _pending.setdefault(name, []).append(patch)
        _watched.update((name, name.partition(".")[0]))
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
    # Registered first: an import another thread started before is waited for (its
    # module lock), one it starts now goes through the finder; either way, patched once
    if sys.modules.get(name) is not None:
        _run(name, importlib.import_module(name))


def forget() -> None:
    """No patch pending any more and the finder out of `sys.meta_path` (disable(), tests)."""
    with _lock:
        _pending.clear()
        _watched.clear()
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)


def _run(name: str, module: ModuleType) -> None:
    with _lock:
        patches = _pending.pop(name, [])
    for patch in patches:
        patch(module)


class _Finder(MetaPathFinder):
    """Finds nothing itself: a watched module's spec from the finders after it, wrapped."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in _watched:
            return None
        spec: ModuleSpec | None = None
        for finder in list(sys.meta_path):  # as the import system does, without this one
            find = getattr(finder, "find_spec", None) if finder is not self else None
            if find is not None and (spec := find(fullname, path, target)) is not None:
                break
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(fullname, spec.loader)
        return spec


class _Loader(Loader):
    """The found loader; the module's patches run as soon as it has executed the module."""

    def __init__(self, name: str, loader: Loader) -> None:
        self.name = name
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The module, and code that reads its loader as it runs, see the real one
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self.loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self.loader
        importing.depth += 1
        try:
            self.loader.exec_module(module)
            _run(self.name, sys.modules.get(self.name, module))  # it may have replaced itself
        finally:
            importing.depth -= 1

    def __getattr__(self, name: str) -> Any:  # get_source etc., for a spec found, not loaded
        if name == "loader":  # not set yet: a copy being made
            raise AttributeError(name)
        return getattr(self.loader, name)


_FINDER = _Finder()
