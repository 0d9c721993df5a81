"""One duration grammar for every option and variable (leaklab.durations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leaklab import durations
from leaklab.settings import SettingsError, StackSettings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1s500ms", 1.5),
        ("90", 90.0),
        ("0s", 0.0),
        ("0h0m0s", 0.0),
    ],
)
def test_the_documented_forms_parse(text: str, seconds: float) -> None:
    assert durations.parse(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1.5m", "5 m", "1m1h", "ms", "h", "-1s", "1d", "٣s"])
def test_anything_else_names_the_grammar(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration such as 90s, 5m, 1h30m or 500ms"):
        durations.parse(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(90, "1m30s"), (0.5, "500ms"), (5400, "1h30m"), (20, "20s"), (0, "0s")]
)
def test_text_is_the_shortest_spelling_and_reads_back(seconds: float, text: str) -> None:
    assert durations.text(seconds) == text
    assert durations.parse(text) == seconds


@pytest.mark.parametrize(("raw", "kept"), [("1s", "1s"), ("500ms", "500ms"), ("2", "2s")])
def test_the_scrape_interval_is_kept_as_prometheus_reads_it(
    tmp_path: Path, raw: str, kept: str
) -> None:
    settings = StackSettings.from_env({"LEAKLAB_SCRAPE_INTERVAL": raw}, tmp_path)
    assert settings.scrape_interval == kept


@pytest.mark.parametrize("raw", ["0s", "1.5s", "soon"])
def test_a_scrape_interval_that_is_no_time_is_refused(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError, match="LEAKLAB_SCRAPE_INTERVAL must be a duration above 0"):
        StackSettings.from_env({"LEAKLAB_SCRAPE_INTERVAL": raw}, tmp_path)
