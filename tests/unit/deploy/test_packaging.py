"""A non-editable install (the Docker image, `pip install git+...`) carries every module."""

from __future__ import annotations

import tomllib

from leaklab.paths import REPO


def test_every_package_directory_is_listed_for_setuptools() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for name, directory in config["package-dir"].items():
        root = REPO / directory
        for init in root.rglob("__init__.py"):
            parts = init.parent.relative_to(root).parts
            found.add(".".join((name, *parts)))
    assert found == listed
