"""Durations: the one grammar of every option and variable that takes one.

`90s`, `5m`, `1h30m`, `500ms`, or plain seconds (`90`): hours, minutes, seconds and
milliseconds, each at most once and in that order. The command's options
(`--run-time`, `--since`), `LEAKLAB_SCRAPE_INTERVAL` and the series step all read it here;
the click parameter type is `leaklab.cli.types.Duration`.
"""

from __future__ import annotations

import math
import re

_UNITS = (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001))
_GRAMMAR = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")
EXAMPLES = "90s, 5m, 1h30m or 500ms"


def parse(text: str) -> float:
    """Seconds in text: 90s -> 90, 5m -> 300, 1h30m -> 5400, 500ms -> 0.5, 90 -> 90.

    A ValueError naming the grammar for anything else ("", "1.5m", "5 m", "1m1h").
    """
    if text.isascii() and text.isdigit():
        return float(text)
    match = _GRAMMAR.fullmatch(text) if text.isascii() else None
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration such as {EXAMPLES}")
    return sum(int(n) * scale for n, (_, scale) in zip(match.groups(), _UNITS, strict=True) if n)


def text(seconds: float) -> str:
    """The shortest spelling of a duration in this grammar (and Prometheus's, Locust's
    whole seconds): 90 -> 1m30s, 0.5 -> 500ms, 0 -> 0s."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{seconds!r} is not a duration")
    millis = round(seconds * 1000)
    parts = []
    for unit, scale in _UNITS:
        count, millis = divmod(millis, round(scale * 1000))
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
