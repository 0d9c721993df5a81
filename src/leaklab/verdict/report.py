"""A self-contained HTML report with one plot per resource, leaky and fixed side by side."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import numpy as np
from jinja2 import Environment, select_autoescape
from matplotlib.axes import Axes

from leaklab.verdict.check import AppVerdict, CheckResult
from leaklab.verdict.origins import origin_line
from leaklab.verdict.stats import Verdict

COLOURS = {"leaky": "#d62728", "fixed": "#2ca02c"}

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>leaklab check</title>
<style>
 body { font: 16px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1200px; }
 table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3em .6em; }
 .LEAK { color: #d62728; font-weight: bold; } .NO_LEAK { color: #2ca02c; font-weight: bold; }
 .UNDECIDED { color: #b8860b; font-weight: bold; } img { max-width: 100%; }
 .origins { font-size: 14px; } .origins div + div { color: #666; }
</style></head><body>
<h1>leaklab check</h1>
<p>{{ window }} &middot; Prometheus {{ result.prometheus }}
&middot; exit code {{ result.exit_code }}
{% if locust_report %} &middot; <a href="{{ locust_report }}">Locust's report</a>{% endif %}</p>
<table><tr><th>app</th><th>resource</th><th>verdict</th><th>growth per 1,000 requests</th>
<th>95 % interval</th><th>requests</th><th>why</th>
{% if with_origins %}<th>where its objects were made (most growing first)</th>{% endif %}</tr>
{% for app in result.apps %}{% for name, d in app.decisions.items() %}
<tr><td>{{ app.name }}</td><td>{{ name }}</td>
<td class="{{ d.verdict.name }}">{{ d.verdict.value }}</td>
<td>{{ fmt(d.fit.slope_per_1k) if d.fit else "" }}</td>
<td>{{ (fmt(d.fit.ci_low_per_1k) ~ " to " ~ fmt(d.fit.ci_high_per_1k)) if d.fit else "" }}</td>
<td>{{ "%.0f"|format(d.requests) }}</td><td>{{ d.reason }}</td>
{% if with_origins %}<td class="origins">{% for o in app.origins.get(name, []) %}
<div>{{ origin_line(o) }}</div>{% endfor %}</td>{% endif %}</tr>
{% endfor %}{% endfor %}</table>
<p>Method: {{ method }}. Each plot shows the resource against cumulative requests; the line is
the fitted growth after the warm-up (shaded), the band its 95 % interval, a dashed line where
the app began refusing requests (saturation); grey: Locust users.</p>
{% for plot in plots %}<h2>{{ plot.title }}</h2>
<img alt="{{ plot.title }}" src="data:image/png;base64,{{ plot.data }}">
{% endfor %}
</body></html>
"""


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def plot_resource(result: CheckResult, name: str, path: Path) -> None:
    """One PNG: the resource against cumulative requests, one panel per app."""
    resource = next(r for r in result.resources if r.name == name)
    divisor, unit = resource.scale
    fig, axes = plt.subplots(
        1, len(result.apps), figsize=(6.5 * len(result.apps), 4.2), squeeze=False, sharey=True
    )
    for ax, app in zip(axes[0], result.apps, strict=True):
        _panel(ax, app, name, divisor, unit)
    fig.suptitle(
        f"{name}: {', '.join(f'{a.name} {a.decisions[name].verdict.value}' for a in result.apps)}",
        fontsize=14,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _panel(ax: Axes, app: AppVerdict, name: str, divisor: float, unit: str) -> None:
    series = app.data.resources[name]
    decision = app.decisions[name]
    colour = COLOURS.get(app.name, "#1f77b4")
    x, raw = np.asarray(series.requests), np.asarray(series.values, dtype=float)
    ok = np.isfinite(x) & np.isfinite(raw)
    # memory as growth since the window opened, so both apps share a readable scale
    origin = float(raw[ok][0]) if unit == "MiB" and ok.any() else 0.0
    y = (raw - origin) / divisor
    axis_label = f"{unit} since the start" if origin else unit
    ax.plot(x[ok], y[ok], ".", color=colour, markersize=3, label=f"{app.name} ({unit})")
    fit = decision.fit
    if fit is not None and ok.any():
        end = decision.saturated_at if decision.saturated_at is not None else np.nanmax(x)
        xs = np.array([fit.warmup_until, float(end)])
        base = (fit.intercept - origin) / divisor

        def line(slope_per_1k: float) -> np.ndarray:
            return base + slope_per_1k / 1000 / divisor * (xs - fit.warmup_until)

        ax.plot(
            xs,
            line(fit.slope_per_1k),
            "-",
            color="black",
            linewidth=2,
            label=f"{_fmt(fit.slope_per_1k / divisor)} {unit} per 1,000 requests",
        )
        ax.fill_between(
            xs,
            line(fit.ci_low_per_1k),
            line(fit.ci_high_per_1k),
            color=colour,
            alpha=0.2,
            label="95 % interval",
        )
        ax.axvspan(
            float(np.nanmin(x)),
            fit.warmup_until,
            color="grey",
            alpha=0.12,
            label="warm-up (not fitted)",
        )
    if decision.saturated_at is not None:
        ax.axvline(
            decision.saturated_at,
            color=colour,
            linestyle="--",
            label=f"saturated at {decision.saturated_at:.0f} requests",
        )
    if app.data.users is not None and np.isfinite(app.data.users).any():
        twin = ax.twinx()
        twin.step(x, app.data.users, color="grey", alpha=0.5, where="post")
        twin.set_ylabel("Locust users", color="grey")
    ax.set_title(
        f"{app.name}: {decision.verdict.value}",
        color="#d62728" if decision.verdict is Verdict.LEAK else "black",
    )
    ax.set_xlabel("cumulative requests")
    ax.set_ylabel(axis_label)
    ax.legend(loc="best", fontsize=8)


def write_report(result: CheckResult, directory: Path, locust_report: Path | None = None) -> Path:
    """Write index.html and one PNG per resource into directory; return the HTML's path.

    The directory is created if missing, its parent never (a typo should not grow a tree).
    """
    directory.mkdir(exist_ok=True)
    plots = []
    for resource in result.resources:
        png = directory / f"{resource.name}.png"
        plot_resource(result, resource.name, png)
        plots.append({"title": resource.name, "data": base64.b64encode(png.read_bytes()).decode()})
    start = dt.datetime.fromtimestamp(result.window.start).isoformat(timespec="seconds")
    end = dt.datetime.fromtimestamp(result.window.end).isoformat(timespec="seconds")
    method = next((d.method for app in result.apps for d in app.decisions.values()), "")
    env = Environment(autoescape=select_autoescape(default=True))
    html = env.from_string(TEMPLATE).render(
        result=result,
        plots=plots,
        fmt=_fmt,
        origin_line=origin_line,
        with_origins=any(app.origins for app in result.apps),  # a user's app may have none
        method=method,
        window=f"{start} to {end}",
        locust_report=str(locust_report) if locust_report else None,
    )
    index = directory / "index.html"
    index.write_text(html)
    return index
