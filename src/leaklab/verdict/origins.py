"""Where a resource's objects were made: the origins a probed app exports, ranked.

A probed app (ours, or one with `leaklab.probe`) exports `leaklab_live_objects{kind, origin,
endpoint}` (live objects by where they were made) and `leaklab_allocated_bytes{origin,
endpoint}` (memory still live by allocation site). A `Census` is one reading of both, at one
time; a resource's origins compare the census at the window's end with the one at its start,
for the kinds the registry says make it (`Registry.origins`), most growing first. `check`
reads the censuses from Prometheus, the plugin from the /metrics text it scrapes. No numpy:
the plugin's reader imports this.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from leaklab.scenarios import (
    ALLOCATED_BYTES,
    LIVE_OBJECTS,
    SCENARIOS,
    WINDOW_END,
    KiB,
    MiB,
    OriginSource,
)

LIMIT = 5  # origins kept per resource: the line to read is the first; a few more, context
OTHER = "other"  # the probe's origin for what is beyond its bounded set of sites


@dataclass(frozen=True)
class Origin:
    """Objects of a resource made at one place (and endpoint), live at the window's end."""

    where: str  # "services/webapp/leaky.py:22 ConnectionPerRequest.acquire"
    endpoint: str | None  # the request they were made in (None: outside any request)
    count: float  # live at the window's end (bytes, for memory)
    growth: float  # change over the window
    unit: str = "objects"  # what count and growth are in: the resource's unit, or bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "count": self.count,
            "endpoint": self.endpoint,
            "growth": self.growth,
        }


@dataclass
class Census:
    """What a probed app says is live at one time, by where it was made."""

    objects: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (kind, origin, ep)
    allocated: dict[tuple[str, str], float] = field(default_factory=dict)  # (origin, endpoint)
    window_ended: float = 0.0  # when the last memory window closed (its sites: `allocated`)

    @property
    def exported(self) -> bool:
        """Whether the app exports origins at all (a process without the probe: never)."""
        return bool(self.objects or self.allocated)

    def add_sample(self, name: str, labels: Mapping[str, str], value: float) -> None:
        """One sample of either metric (others are ignored); replicas' samples add up."""
        where, endpoint = labels.get("origin") or OTHER, labels.get("endpoint", "")
        if name == LIVE_OBJECTS:
            key = (labels.get("kind", ""), where, endpoint)
            self.objects[key] = self.objects.get(key, 0.0) + value
        elif name == ALLOCATED_BYTES:
            place = (where, endpoint)
            self.allocated[place] = self.allocated.get(place, 0.0) + value
        elif name == WINDOW_END:
            self.window_ended = max(self.window_ended, value)

    def at(self, source: OriginSource, allocations: bool = True) -> dict[tuple[str, str], float]:
        """The source's objects (or bytes) by origin and endpoint, its kinds summed
        (allocations: with the last memory window's sites, when the source reads them)."""
        out: dict[tuple[str, str], float] = {}
        wanted = set(source.kinds)
        chosen: Iterable[tuple[tuple[str, str], float]] = (
            ((where, endpoint), value)
            for (kind, where, endpoint), value in self.objects.items()
            if kind in wanted
        )
        if source.allocations and allocations:
            chosen = [*chosen, *self.allocated.items()]
        for (where, endpoint), value in chosen:
            if source.endpoint is None or endpoint == source.endpoint:
                out[where, endpoint] = out.get((where, endpoint), 0.0) + value
        return out


def rank(
    source: OriginSource, end: Census, start: Census | None, limit: int = LIMIT
) -> list[Origin]:
    """The places still holding some at the end, most growing first (then most held), at
    most `limit`; growth against the start (absent there: made since). Allocation sites are
    a memory window's, counted only when it closed after the start (an older window says
    nothing of this run), and all their bytes are growth: a window holds what it allocated."""
    fresh = start is None or end.window_ended > start.window_ended
    now = end.at(source, allocations=fresh)
    before = start.at(source, allocations=False) if start is not None else {}
    found = [
        Origin(
            where,
            endpoint or None,
            count,
            count - before.get((where, endpoint), 0.0),
            source.unit,
        )
        for (where, endpoint), count in now.items()
        if count > 0
    ]
    found.sort(key=lambda o: (-o.growth, -o.count, o.where == OTHER, o.where, o.endpoint or ""))
    return found[:limit]


def origins_of(
    names: Iterable[str], end: Census, start: Census | None, scoped: bool = True
) -> dict[str, list[Origin]]:
    """Per resource whose kinds the registry knows, its origins; {} when the app exports
    none (no probe: nothing to say, not "nothing made"). Scoped: a scenario's own resource
    counts only objects made at its endpoint (our apps); unscoped: anywhere (a user's app)."""
    if not (end.exported or (start is not None and start.exported)):
        return {}
    out = {}
    for name in names:
        source = SCENARIOS.origins(name, scoped)
        if source is not None:
            out[name] = rank(source, end, start)
    return out


# -- in words: the one phrasing the table, the plugin, the report, the Leaks view and the talk use
OPEN_UNITS = ("connections", "sockets", "files", "fds")


def via(endpoint: str | None) -> str:
    """The request they were made in: ", via GET /api/database" (our scenarios' views answer
    GET), ", via /orders" (a user's app: its route only), ", outside any request"."""
    if not endpoint:
        return ", outside any request"
    ours = any(s.endpoint == endpoint for s in SCENARIOS)
    return f", via {'GET ' if ours else ''}{endpoint}"


def made_at(origin: Origin) -> str:
    """The place: "made at services/webapp/leaky.py:22 in ConnectionPerRequest.acquire, via
    GET /api/database" ("allocated at" for memory)."""
    verb = "allocated" if origin.unit == "bytes" else "made"
    if origin.where == OTHER:
        place = f"{verb} at other places (beyond the sites the app tracks)"
    else:
        location, _, function = origin.where.partition(" ")
        place = f"{verb} at {location}" + (f" in {function}" if function else "")
    if origin.unit == "bytes" and not origin.endpoint:
        return place  # tracemalloc cannot tell the request an allocation was made in
    return place + via(origin.endpoint)


def quantity(value: float, unit: str) -> str:
    """ "93", "1.5 MiB", "640 KiB"."""
    if unit != "bytes":
        return f"{value:.0f}"
    return f"{value / MiB:.3g} MiB" if abs(value) >= MiB else f"{value / KiB:.3g} KiB"


def amount(value: float, unit: str) -> str:
    """ "93 open", "12 live", "1.5 MiB live": how much a resource (or an origin) holds."""
    return f"{quantity(value, unit)} {'open' if unit in OPEN_UNITS else 'live'}"


def origin_line(origin: Origin) -> str:
    """The line under a LEAK: "made at ... via GET /api/database (93 open)"; the growth
    too when some were there before the window."""
    held = amount(origin.count, origin.unit)
    if origin.growth == origin.count:
        return f"{made_at(origin)} ({held})"
    sign = "+" if origin.growth >= 0 else "-"
    grew = f"{sign}{quantity(abs(origin.growth), origin.unit)}"
    return f"{made_at(origin)} ({held}, {grew} over the window)"


def sentence(title: str, verdict: str, held: float | None, unit: str, origin: Origin) -> str:
    """The issue's sentence: "PostgreSQL connections: LEAK, 93 open, 93 made at
    services/webapp/leaky.py:22 in ConnectionPerRequest.acquire, via GET /api/database"
    (held: the resource's own figure now, in its unit; None: unknown)."""
    now = "" if held is None else f"{amount(held, unit)}, "
    return f"{title}: {verdict}, {now}{quantity(origin.count, origin.unit)} {made_at(origin)}"
