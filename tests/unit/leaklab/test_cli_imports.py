"""`leaklab --help` and `leaklab status` import only what they use: no matplotlib, no
numpy (the verdict's statistics), no Flask (the apps), no Locust; each command imports its
heavy parts when it runs (issue #11)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("matplotlib", "numpy", "flask", "webapp", "locust")
# main() as the entry point runs it, then the modules it left imported, one per line
SCRIPT = """
import sys
from leaklab.cli import main
try:
    main(sys.argv[1:], prog_name="leaklab", standalone_mode=False)
except SystemExit:
    pass
print("\\n".join(sorted(sys.modules)))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEAKLAB_", "LOCUST_"))}
    env["LEAKLAB_RUN_DIR"] = str(tmp_path / "run")  # no stack there
    return env


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


@pytest.mark.parametrize("args", [("--help",), ("status",)])
def test_help_and_status_import_nothing_heavy(tmp_path: Path, args: tuple[str, ...]) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    modules = set(proc.stdout.split())
    assert "leaklab.cli" in modules
    assert _heavy(modules) == []


def test_the_entry_point_imports_nothing_heavy_for_help(tmp_path: Path) -> None:
    """What `leaklab --help` costs, as `python -X importtime` reports every module imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "leaklab.cli", "--help"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Commands:" in proc.stdout
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "leaklab.cli.guards" in imported
    assert _heavy(imported) == []


def test_status_without_a_stack_says_so_in_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "leaklab.cli", "status"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"leaklab: no stack in {tmp_path / 'run'}: run 'leaklab up' first"
    ]
