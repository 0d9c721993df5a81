from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leaklab.settings import AppSettings, SettingsError, StackSettings

APP_ENV = {
    "LEAKLAB_VARIANT": "leaky",
    "LEAKLAB_DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/db",
    "LEAKLAB_REDIS_URL": "redis://127.0.0.1:6379/0",
}


def test_app_defaults_follow_the_design() -> None:
    settings = AppSettings.from_env(APP_ENV)
    assert settings.bind == "127.0.0.1:8001"
    assert settings.app_name == "leaklab-leaky"
    assert (settings.workers, settings.db_pool_max, settings.redis_pool_max) == (2, 10, 10)
    fixed = AppSettings.from_env({**APP_ENV, "LEAKLAB_VARIANT": "fixed"})
    assert fixed.bind == "127.0.0.1:8002"


def test_a_bad_variant_names_the_variable_and_the_value() -> None:
    with pytest.raises(
        SettingsError, match=r"LEAKLAB_VARIANT must be 'leaky' or 'fixed', got 'leeky'"
    ):
        AppSettings.from_env({**APP_ENV, "LEAKLAB_VARIANT": "leeky"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LEAKLAB_DB_POOL_MAX", "ten", "LEAKLAB_DB_POOL_MAX must be a whole number"),
        ("LEAKLAB_DB_POOL_MAX", "0", "LEAKLAB_DB_POOL_MAX must be at least 1"),
        ("LEAKLAB_LEAKY_PORT", "70000", "LEAKLAB_LEAKY_PORT must be a TCP port"),
        ("LEAKLAB_REDIS_URL", "http://x", "LEAKLAB_REDIS_URL must be a URL starting with redis://"),
        ("WEB_CONCURRENCY", "-1", "WEB_CONCURRENCY must be at least 1"),
    ],
)
def test_bad_values_fail_at_start_with_the_variable_named(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        AppSettings.from_env({**APP_ENV, name: value})


def test_the_app_needs_its_servers() -> None:
    with pytest.raises(SettingsError, match="LEAKLAB_DATABASE_URL is not set"):
        AppSettings.from_env({"LEAKLAB_VARIANT": "fixed"})


def test_stack_defaults_and_external_servers(tmp_path: Path) -> None:
    settings = StackSettings.from_env({}, tmp_path)
    assert (settings.leaky_port, settings.fixed_port, settings.prometheus_port) == (
        8001,
        8002,
        9090,
    )
    assert settings.postgres_port == 0 and settings.redis_port == 0  # free ports
    assert settings.pg_max_connections == 100
    assert settings.database_url is None
    external = StackSettings.from_env({"LEAKLAB_REDIS_URL": "redis://127.0.0.1:1/0"}, tmp_path)
    assert external.redis_url == "redis://127.0.0.1:1/0"
    with pytest.raises(SettingsError, match="LEAKLAB_SCRAPE_INTERVAL"):
        StackSettings.from_env({"LEAKLAB_SCRAPE_INTERVAL": "soon"}, tmp_path)


def test_the_run_directory_defaults_to_dot_run() -> None:
    assert StackSettings.from_env({}).run_dir == Path(".run").absolute()


@pytest.mark.parametrize(
    ("interval", "step"), [("1s", 1.0), ("250ms", 0.25), ("100ms", 0.25), ("2m", 120.0)]
)
def test_the_series_step_follows_the_scrape_interval(
    tmp_path: Path, interval: str, step: float
) -> None:
    settings = StackSettings.from_env({"LEAKLAB_SCRAPE_INTERVAL": interval}, tmp_path)
    assert settings.step_seconds == step


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LEAKLAB_LEAKY_PORT", "0"),
        ("LEAKLAB_FIXED_PORT", "-1"),
        ("LOCUST_WEB_PORT", "0"),
        ("LOCUST_MASTER_BIND_PORT", "65536"),
        ("LEAKLAB_LOCUST_METRICS_PORT", "0"),
    ],
)
def test_a_port_that_must_be_fixed_is_1_to_65535(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"{name} must be a TCP port \(1-65535\), got {value}"):
        StackSettings.from_env({name: value}, tmp_path)


def test_a_port_that_may_be_picked_takes_0_but_not_beyond_65535(tmp_path: Path) -> None:
    assert StackSettings.from_env({"LEAKLAB_POSTGRES_PORT": "0"}, tmp_path).postgres_port == 0
    with pytest.raises(SettingsError, match=r"LEAKLAB_REDIS_PORT must be a TCP port \(0-65535\)"):
        StackSettings.from_env({"LEAKLAB_REDIS_PORT": "-5"}, tmp_path)


ALL_CHANGED = {
    "database_url": "postgresql://leaklab_fixed:pw@127.0.0.1:6543/leaklab",
    "redis_url": "redis://leaklab-app:pw@127.0.0.1:7654/0",
    "app_name": "leaklab-other",
    "host": "0.0.0.0",
    "port": 18002,
    "workers": 3,
    "db_pool_max": 4,
    "redis_pool_max": 5,
    "cache_ttl_seconds": 7,
    "fd_headroom": 99,
    "worker_nofile": 256,
    "admin_token": "token",
    "metrics": False,
    "multiproc_dir": "/tmp/leaklab-metrics",
}


@pytest.mark.parametrize("variant", ["leaky", "fixed"])
@pytest.mark.parametrize("changed", [False, True], ids=["defaults", "every field changed"])
def test_to_env_is_read_back_by_from_env(variant: str, changed: bool) -> None:
    settings = AppSettings.from_env({**APP_ENV, "LEAKLAB_VARIANT": variant})
    if changed:
        settings = replace(settings, **ALL_CHANGED)
    assert AppSettings.from_env(settings.to_env()) == settings


@given(
    variant=st.sampled_from(["leaky", "fixed"]),
    port=st.integers(1, 65535),
    workers=st.integers(1, 64),
    token=st.text(st.characters(categories=["L", "N"]), max_size=20),
    metrics=st.booleans(),
    multiproc_dir=st.none() | st.just("/tmp/m"),
)
def test_to_env_round_trips_any_valid_settings(
    variant: str, port: int, workers: int, token: str, metrics: bool, multiproc_dir: str | None
) -> None:
    settings = AppSettings(
        variant=variant,
        database_url="postgresql://u:p@h:1/d",
        redis_url="redis://h:2/0",
        app_name=f"leaklab-{variant}-{workers}",
        port=port,
        workers=workers,
        admin_token=token,
        metrics=metrics,
        multiproc_dir=multiproc_dir,
    )
    assert AppSettings.from_env(settings.to_env()) == settings


def test_to_env_only_writes_the_fields_asked_for() -> None:
    settings = AppSettings.from_env(APP_ENV)
    assert settings.to_env(["port", "workers"]) == {
        "LEAKLAB_LEAKY_PORT": "8001",
        "WEB_CONCURRENCY": "2",
    }
    assert AppSettings.variable("port", "fixed") == "LEAKLAB_FIXED_PORT"
