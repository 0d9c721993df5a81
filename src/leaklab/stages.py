"""Named load shapes: stage tables the Locust shape follows, kept free of Locust imports.

The leaklab command validates a shape name here before it starts Locust, and
locust/shape.py reads the same table inside Locust, so there is one definition.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """Hold `users` (reached at `spawn_rate` per second) until `until` seconds into the run."""

    name: str
    until: int
    users: int
    spawn_rate: float


SHAPES: dict[str, tuple[Stage, ...]] = {
    # The talk: a gentle warm-up, a ramp the audience can follow, a long steady phase.
    "talk": (
        Stage("warm-up", 20, 4, 2),
        Stage("ramp", 60, 20, 1),
        Stage("steady", 240, 20, 10),
    ),
    # CI: the same story in a minute.
    "ci": (
        Stage("warm-up", 10, 4, 4),
        Stage("ramp", 20, 20, 4),
        Stage("steady", 60, 20, 10),
    ),
    # A smoke test: is everything wired?
    "smoke": (Stage("steady", 6, 2, 2),),
}


def shape_names() -> list[str]:
    return sorted(SHAPES)


def stages(name: str) -> tuple[Stage, ...]:
    """The stage table for name; a ValueError that lists the known names otherwise."""
    try:
        return SHAPES[name]
    except KeyError:
        raise ValueError(
            f"unknown shape {name!r}; known shapes: {', '.join(shape_names())}"
        ) from None


def duration(name: str) -> int:
    """Seconds the shape runs before it stops the test."""
    return stages(name)[-1].until


def tick(name: str, run_time: float) -> tuple[int, float] | None:
    """(users, spawn rate) at run_time seconds, or None when the shape is over."""
    for stage in stages(name):
        if run_time < stage.until:
            return stage.users, stage.spawn_rate
    return None
