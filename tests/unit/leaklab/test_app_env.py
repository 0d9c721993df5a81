"""The launcher's environment for an app: read back by the app as the launcher decided."""

import os
from dataclasses import replace
from pathlib import Path

import pytest

from leaklab.settings import AppSettings, StackSettings
from leaklab.stack.apps import app_env


@pytest.mark.parametrize("variant", ["leaky", "fixed"])
def test_the_app_reads_what_the_launcher_decided(
    variant: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("LEAKLAB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LEAKLAB_CACHE_TTL", "45")  # not the launcher's: inherited
    monkeypatch.setenv("PORT", "9999")  # dropped
    stack = replace(
        StackSettings.from_env({}, tmp_path),
        leaky_port=18001,
        fixed_port=18002,
        workers=3,
        db_pool_max=4,
        redis_pool_max=6,
        worker_nofile=256,
        tenant_pool_max=3,
        thread_limit=99,
    )
    env = app_env(
        variant,
        stack,
        "postgresql://u:p@h:1/d",
        "redis://h:2/0",
        tmp_path / "m",
        "tok",
        {},
        upstream_url="http://h:3",
    )
    assert "PORT" not in env
    assert AppSettings.from_env(env) == AppSettings(
        variant=variant,
        database_url="postgresql://u:p@h:1/d",
        redis_url="redis://h:2/0",
        app_name=f"leaklab-{variant}",
        port=stack.app_port(variant),
        workers=3,
        db_pool_max=4,
        redis_pool_max=6,
        cache_ttl_seconds=45,
        worker_nofile=256,
        admin_token="tok",
        multiproc_dir=str(tmp_path / "m"),
        tenant_pool_max=3,
        thread_limit=99,
        upstream_url="http://h:3",
        data_dir=str(tmp_path.absolute() / "data" / variant),  # the app's files: in the run dir
    )
