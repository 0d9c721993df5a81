"""The Leaks view in a real browser (headless Chromium) during a real load run.

What a speaker checks before going on stage: the page draws both apps, leaky climbs,
fixed stays flat, the verdicts read LEAK and NO LEAK, and Locust's own tab agrees.
The screenshot is kept (LEAKLAB_TEST_ARTIFACTS, default .run/test-artifacts);
`make screenshot` writes it to docs/ for the README.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from playwright.sync_api import sync_playwright

from leaklab.burst import warm_up
from leaklab.measure import reset
from leaklab.paths import REPO
from leaklab.scenarios import SCENARIOS
from leaklab.stack import NativeStack
from leaklab.stack.process import free_port, wait_until_ready

LEAKLAB = [sys.executable, "-m", "leaklab.cli"]
ARTIFACTS = Path(os.environ.get("LEAKLAB_TEST_ARTIFACTS", REPO / ".run" / "test-artifacts"))
VIEWPORT = {"width": 1600, "height": 1000}
LEAKY_RED, FIXED_GREEN = (0xF2, 0x49, 0x5C), (0x73, 0xBF, 0x69)
CHARTS = ("db_connections", "redis_connections", "pool", "rss")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "no Chromium: `make test` installs it (scripts/install-system-packages.sh --browser)"
    )


@pytest.fixture(scope="module")
def web(stack: NativeStack) -> Iterator[str]:
    """`leaklab load --autostart`: Locust's web UI with a run going, as a speaker starts it."""
    for variant in ("leaky", "fixed"):  # warm, then empty: as `leaklab talk` starts
        warm_up(SCENARIOS)(stack.state.url(variant))
        reset(stack.state, variant)
    port = free_port()
    env = {
        **os.environ,
        "LEAKLAB_RUN_DIR": str(stack.run_dir),
        "LOCUST_WEB_PORT": str(port),
        "LOCUST_MASTER_BIND_PORT": str(free_port()),
    }
    log_path = stack.run_dir / "live-view-load.log"
    log = open(log_path, "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        # the run outlasts the module's tests: a stopped run leaves flat charts behind
        [*LEAKLAB, "load", "--autostart", "--run-time", "240s", "--users", "10", "--pace", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its Locust is in its group: nothing outlives the teardown
        # a background job's SIGINT is ignored, and Python keeps it so: Ctrl-C as in a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(
            "leaklab load --autostart",
            proc,
            lambda: requests.get(f"{url}/leaks", timeout=2).ok,
            log_path,
        )
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # as Ctrl-C in its terminal: it stops its Locust
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:  # seen after the browser left: not what this tests
            os.killpg(proc.pid, signal.SIGKILL)  # (test_load stops a web-UI run by Ctrl-C)
            proc.wait()
        for variant in ("leaky", "fixed"):
            reset(stack.state, variant)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=chromium(),
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()


def chart(page: Any, key: str) -> dict[str, float]:
    data: dict[str, str] = page.eval_on_selector(f"#chart-{key}", "el => ({...el.dataset})")
    return {k: float(v) for k, v in data.items() if v != ""}


def verdict(page: Any, resource: str, app: str) -> str:
    selector = f"#verdict-{resource} .badge[data-app={app}]"
    return str(page.get_attribute(selector, "data-verdict"))


def test_leaks_view_shows_leaky_rising_and_fixed_flat(
    web: str, browser: Any, stack: NativeStack
) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{web}/leaks")
    # until the charts have a run's worth of points and both verdicts are in
    page.wait_for_function(
        """() => {
            const db = document.querySelector('#chart-db_connections');
            const badge = (r, a) => document.querySelector(
                `#verdict-${r} .badge[data-app=${a}]`)?.dataset.verdict;
            // the charts and the verdicts refresh apart: wait for both to show the climb
            const climbed = k => {
                const d = document.querySelector(`#chart-${k}`)?.dataset;
                return d && Number(d.lastLeaky) >= Number(d.firstLeaky) + 10;
            };
            return db && Number(db.dataset.pointsLeaky) >= 10
                && climbed('db_connections') && climbed('redis_connections')
                && badge('db_connections', 'leaky') === 'LEAK'
                && badge('redis_connections', 'leaky') === 'LEAK'
                && badge('db_connections', 'fixed') === 'NO LEAK'
                && badge('redis_connections', 'fixed') === 'NO LEAK';
        }""",
        timeout=90_000,
        polling=500,
    )
    bound = stack.settings.workers * stack.settings.db_pool_max
    for key in CHARTS:
        figures = chart(page, key)
        assert figures["pointsLeaky"] > 0 and figures["pointsFixed"] > 0, (key, figures)
    for key in ("db_connections", "redis_connections"):
        figures = chart(page, key)
        assert figures["lastLeaky"] >= figures["firstLeaky"] + 10, (key, figures)
        assert figures["lastFixed"] <= bound, (key, figures)
    assert page.locator("#error").is_hidden()
    assert "leaky" in page.inner_text("#chart-db_connections .now") and "fixed" in page.inner_text(
        "#chart-db_connections .now"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "leaks-view.png"
    page.wait_for_timeout(500)
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    page.close()

    with Image.open(shot) as image:
        rgb = image.convert("RGB")
        assert rgb.width == VIEWPORT["width"] and rgb.height >= VIEWPORT["height"] * 0.9
        small = rgb.resize((rgb.width // 2, rgb.height // 2))
        pixels = list(small.get_flattened_data())
    assert len(set(pixels)) > 200  # text, lines, axes: not a blank or one-colour page
    reds = sum(1 for p in pixels if _near(p, LEAKY_RED))
    greens = sum(1 for p in pixels if _near(p, FIXED_GREEN))
    assert reds > 500 and greens > 500, (reds, greens)


STAGE_SIZES = ((1280, 720), (1920, 1080))  # a common projector's, and full HD


@pytest.mark.parametrize(("width", "height"), STAGE_SIZES)
def test_stage_layout_fits_a_projector_with_no_scrollbar(
    web: str, browser: Any, width: int, height: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(f"{web}/leaks?stage")
    # the story's cards with their verdicts, and its charts drawn
    page.wait_for_function(
        """() => {
            const badge = (r, a) => document.querySelector(
                `#verdict-${r} .badge[data-app=${a}]`)?.dataset.verdict;
            const drawn = k => Number(
                document.querySelector(`#chart-${k}`)?.dataset.pointsLeaky) >= 5;
            return drawn('db_connections') && drawn('redis_connections') && drawn('pool')
                && badge('db_connections', 'leaky') === 'LEAK'
                && badge('redis_connections', 'fixed') === 'NO LEAK';
        }""",
        timeout=90_000,
        polling=500,
    )
    page.wait_for_timeout(300)  # the plots fitted to their cells
    scroll = page.evaluate(
        """() => ({height: document.documentElement.scrollHeight, width:
            document.documentElement.scrollWidth, innerHeight, innerWidth})"""
    )
    assert scroll["height"] <= scroll["innerHeight"], scroll  # no vertical scrollbar
    assert scroll["width"] <= scroll["innerWidth"], scroll  # nor a horizontal one
    # only the story's cards and charts: the catalog's stay off stage
    cards = page.eval_on_selector_all(".verdict", "els => els.map(e => e.id)")
    assert cards == ["verdict-db_connections", "verdict-redis_connections"], cards
    charts = page.eval_on_selector_all(".chart", "els => els.map(e => e.id)")
    assert set(charts) == {"chart-db_connections", "chart-redis_connections", "chart-pool"}
    for chart in charts:  # each whole on screen, its plot a readable size
        box = page.locator(f"#{chart}").bounding_box()
        canvas = page.locator(f"#{chart} canvas").first.bounding_box()
        assert box and box["y"] + box["height"] <= height, (chart, box)
        assert canvas and canvas["height"] >= height * 0.25, (chart, canvas)
    badge = page.locator("#verdict-db_connections .badge[data-app=leaky]")
    assert float(badge.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"leaks-stage-{width}x{height}.png"
    page.screenshot(path=str(shot))
    page.close()
    with Image.open(shot) as image:
        assert image.size == (width, height)
        small = image.convert("RGB").quantize(64)  # a dark page: 64 colours read the same
    small.save(shot, optimize=True)
    print(f"screenshot: {shot} ({shot.stat().st_size // 1024} KiB)")


def test_locust_leaks_tab_lists_the_same_verdicts(web: str, browser: Any) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{web}/?tab=leaks")
    row = page.locator("tr", has_text="PostgreSQL connections")
    row.wait_for(timeout=60_000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('tr')].some(
            tr => tr.innerText.includes('PostgreSQL connections')
               && tr.innerText.includes('LEAK (+') && tr.innerText.includes('NO LEAK'))""",
        timeout=60_000,
        polling=500,
    )
    cells = row.locator("td").all_inner_texts()
    assert cells[1].startswith("LEAK (+") and cells[2] == "NO LEAK", cells
    # one row per resource: the pub/sub clients are a row of their own
    assert page.get_by_role("cell", name="Redis connections", exact=True).count() == 1
    page.close()


def test_leaks_data_is_json_for_both_apps(web: str) -> None:
    body = requests.get(f"{web}/leaks/data", timeout=10).json()
    assert body["apps"] == ["leaky", "fixed"] and body["error"] is None
    assert {c["key"] for c in body["charts"]} >= set(CHARTS)  # the story's, and the catalog's
    assert body["locust"]["state"] in ("running", "spawning", "stopped")
    static = requests.get(f"{web}/leaks/ui/vendor/uplot/uPlot.iife.min.js", timeout=10)
    assert static.ok and "uPlot" in static.text[:200]


def _near(pixel: tuple[int, int, int], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return sum(abs(a - b) for a, b in zip(pixel, colour, strict=True)) <= tolerance
