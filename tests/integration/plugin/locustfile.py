"""A user's own locustfile with the plugin: one task per path in TARGET_PATHS (comma list)."""
# ruff: noqa: I001  (the plugin is imported first, as the README tells users)

import leaklab.locust  # noqa: F401

import os
from collections.abc import Callable

from locust import HttpUser, constant_pacing, task


def _task(path: str) -> Callable[[HttpUser], None]:
    def call(user: HttpUser) -> None:
        user.client.get(path)

    call.__name__ = path.strip("/") or "root"
    return task(call)


class Shopper(HttpUser):
    wait_time = constant_pacing(0.1)
    tasks = [_task(p) for p in os.environ.get("TARGET_PATHS", "/steady").split(",")]
