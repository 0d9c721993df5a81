"""The Leaks view works without a network: every asset is local, the chart library vendored."""

from __future__ import annotations

import re

from leaklab.paths import REPO

UI = REPO / "locust" / "leaks_ui"


def test_the_page_loads_nothing_from_another_host() -> None:
    for name in ("leaks.html", "leaks.js", "leaks.css"):
        text = (UI / name).read_text()
        assert not re.search(r"""(src|href|url|fetch)\s*[=(]\s*["']?(https?:)?//""", text), name
    html = (UI / "leaks.html").read_text()
    for asset in re.findall(r'(?:src|href)="(/leaks/ui/[^"]+)"', html):
        assert (UI / asset.removeprefix("/leaks/ui/")).is_file(), asset


def test_the_vendored_uplot_is_the_documented_release_with_its_licence() -> None:
    vendor = UI / "vendor" / "uplot"
    header = (vendor / "uPlot.iife.min.js").read_text()[:200]
    version = re.search(r"\(v(\d+\.\d+\.\d+)\)", header)
    assert version, header
    assert (
        f"uPlot]({'https://github.com/leeoniya/uPlot'}) {version.group(1)}"
        in (REPO / "README.md").read_text()
    )
    assert (
        "MIT" in (vendor / "LICENSE").read_text()
        or "Permission is hereby granted" in (vendor / "LICENSE").read_text()
    )
