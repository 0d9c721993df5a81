"""The install step names what is missing and how to get it when it may not install."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from leaklab.paths import REPO

SCRIPT = REPO / "scripts" / "install-system-packages.sh"


def _path_with(tmp_path: Path, *commands: str) -> str:
    """A PATH holding only the named commands."""
    for command in commands:
        found = sys.executable if command == "python3" else shutil.which(command)
        assert found, command
        (tmp_path / command).symlink_to(found)
    return str(tmp_path)


def test_missing_servers_are_named_with_the_commands_to_install_them(tmp_path: Path) -> None:
    path = _path_with(tmp_path, "bash", "python3", "sort", "tr", "id")
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        env={"PATH": path, "LEAKLAB_NO_SYSTEM_INSTALL": "1", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "missing" in result.stdout and "redis-server" in result.stdout
    assert (
        "sudo apt-get install --no-install-recommends prometheus prometheus-postgres-exporter"
        " prometheus-redis-exporter redis-server" in result.stderr
    )
    assert "brew install postgresql@15 redis prometheus" in result.stderr


def test_nothing_happens_when_everything_is_there() -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "LEAKLAB_NO_SYSTEM_INSTALL": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout == ""
