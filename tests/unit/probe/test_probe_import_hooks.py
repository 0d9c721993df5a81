"""leaklab.probe patches a library as the app imports it: enable() imports none of them, and
what a library makes while it is imported is not recorded as the app's."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from leaklab import probe
from leaklab.probe.imports import when_imported
from leaklab.probe.patching import unpatch_all
from leaklab.probe.registry import Key
from leaklab.settings import ProbeSettings

HERE = Path(__file__).resolve().parent
HELPER = "helper_imported_later.py"
FIXTURE = "leaklab_probe_imported_later"  # a module of the test's own, made in tmp_path
FIXTURE_SOURCE = """import logging
LOG = logging.getLogger("leaklab.test.imported")
KEPT = open(__file__)
"""


def helper_line(text: str) -> int:
    (number,) = [
        n + 1 for n, line in enumerate((HERE / HELPER).read_text().splitlines()) if text in line
    ]
    return number


def live(p: probe.Probe, kind: str) -> Counter[Key]:
    return p.registry.live().get(kind, Counter())


def test_enable_imports_no_library_and_each_is_patched_as_the_code_imports_it() -> None:
    """In a fresh interpreter: nothing hooked imported by enable(); once imported, each
    library's objects recorded at the app's lines, none at its import lines."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAKLAB_", "PROMETHEUS_"))}
    done = subprocess.run(
        [sys.executable, str(HERE / HELPER), str(HERE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=env,
    )
    report = json.loads(done.stdout)
    assert report["imported_by_enable"] == []
    assert {name for name, patched in report["patched"].items() if not patched} == set()
    at = {m: f"{HELPER}:{helper_line(f'# {m}')} <module>" for m in ("httpx client", "engine")}
    session = f"{HELPER}:{helper_line('# requests session')} <module>"
    assert report["live"]["http_session"] == {at["httpx client"]: 1, session: 1}
    assert report["live"]["sqlalchemy_engine"] == {at["engine"]: 1}
    imports = {
        f"{HELPER}:{n + 1} <module>"
        for n, line in enumerate((HERE / HELPER).read_text().splitlines())
        if line.startswith("import ")
    }
    # without the pause, ~30 loggers and 2 exit hooks the libraries make at import time
    assert {o for counts in report["live"].values() for o in counts} & imports == set()


@pytest.fixture
def fixture_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A module not imported yet that makes a logger and opens a file as it is imported."""
    (tmp_path / f"{FIXTURE}.py").write_text(FIXTURE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, FIXTURE, raising=False)
    yield tmp_path
    module = sys.modules.pop(FIXTURE, None)
    if module is not None:
        module.KEPT.close()


def test_a_module_imported_after_enable_is_patched_once_made_by_its_own_loader(
    probed: probe.Probe, fixture_module: Path
) -> None:
    seen: list[ModuleType] = []
    when_imported(FIXTURE, seen.append)
    assert seen == []
    module = importlib.import_module(FIXTURE)
    assert seen == [module]
    assert type(module.__loader__).__name__ == "SourceFileLoader"  # not the wrapper
    assert module.__spec__ is not None and module.__spec__.loader is module.__loader__
    # its logger and open file, made while it was imported: not the app's
    assert live(probed, "file") == Counter() and live(probed, "logger") == Counter()
    kept = open(fixture_module / "after.log", "a")  # noqa: SIM115 (recorded again after)
    assert sum(live(probed, "file").values()) == 1
    kept.close()
    module.KEPT.close()
    del sys.modules[FIXTURE]
    importlib.import_module(FIXTURE)  # imported again: not patched twice
    assert seen == [module]


def test_a_module_already_imported_is_patched_at_once(probed: probe.Probe) -> None:
    seen: list[ModuleType] = []
    when_imported("json", seen.append)
    assert seen == [json]


def test_disable_takes_the_import_hook_out_and_forgets_what_was_pending(
    fixture_module: Path,
) -> None:
    probe.disable()
    before = list(sys.meta_path)
    for _ in range(2):  # enable and disable, again
        assert probe.enable(str(HERE), settings=ProbeSettings(memory_window=0)) is not None
        assert len(sys.meta_path) == len(before) + 1
        seen: list[ModuleType] = []
        when_imported(FIXTURE, seen.append)
        probe.disable()
        assert sys.meta_path == before
    importlib.import_module(FIXTURE)
    assert seen == []
    unpatch_all()  # again, with nothing to undo
    assert sys.meta_path == before
