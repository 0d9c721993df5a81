"""docker-compose.yml and the Dockerfile, validated statically (no Docker engine here)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from leaklab.paths import REPO
from leaklab.stack.postgres_server import MONITOR_ROLE, app_role
from leaklab.stack.redis_server import APP_RULES, APP_USER
from leaklab.stack.upstream import APP, GUNICORN_ARGS

COMPOSE = REPO / "docker-compose.yml"
SCHEMA = REPO / "tests" / "schemas" / "compose-spec.json"
ONE_SHOT = {"seed"}  # run to completion; others wait for `service_completed_successfully`


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def test_the_file_follows_the_compose_spec(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)


def test_the_whole_stack_is_there(compose: dict[str, Any]) -> None:
    assert set(_services(compose)) >= {
        "postgres",
        "redis",
        "leaky",
        "fixed",
        "locust-master",
        "locust-worker",
        "prometheus",
        "postgres-exporter",
        "redis-exporter",
        "grafana",
        "upstream",
    }


def test_the_upstream_runs_as_the_native_stack_runs_it(compose: dict[str, Any]) -> None:
    """Keep-alive and threads as natively: with a sync worker nothing would leak."""
    command = compose["services"]["upstream"]["command"]
    assert command == ["gunicorn", *GUNICORN_ARGS, "--bind", "0.0.0.0:8080", APP]
    env = compose["x-app-env"]
    assert env["LEAKLAB_UPSTREAM_URL"] == "http://upstream:8080"


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        image = service.get("image", "")
        assert re.fullmatch(r"[\w./-]+:v?\d[\w.-]*", image), f"{name}: {image!r} is not pinned"


def test_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    published = [(n, p) for n, s in _services(compose).items() for p in s.get("ports", [])]
    assert published
    for name, port in published:
        assert isinstance(port, str) and port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_every_service_is_health_checked_and_waited_for(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in services.items():
        if name not in ONE_SHOT:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for dependency, rule in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert rule == {"condition": expected}, f"{name} -> {dependency}"
            assert dependency in services


def test_the_apps_have_memory_limits(compose: dict[str, Any]) -> None:
    for name in ("leaky", "fixed"):
        assert _services(compose)[name]["mem_limit"]


def test_every_variable_is_documented() -> None:
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.M))
    assert used and used - documented == set()


def test_secrets_must_be_set_rather_than_defaulted() -> None:
    text = COMPOSE.read_text()
    for secret in (
        "POSTGRES_PASSWORD",
        "LEAKLAB_LEAKY_DB_PASSWORD",
        "LEAKLAB_FIXED_DB_PASSWORD",
        "LEAKLAB_MONITOR_DB_PASSWORD",
        "REDIS_PASSWORD",
        "REDIS_APP_PASSWORD",
        "GF_SECURITY_ADMIN_PASSWORD",
        "LEAKLAB_ADMIN_TOKEN",
    ):
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(u.startswith(":?") for u in uses), secret


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
        build = service.get("build")
        if build:
            assert (REPO / build["context"] / build["dockerfile"]).exists()


def test_the_dockerfile_parses_and_copies_files_that_exist() -> None:
    parser = DockerfileParser(path=str(REPO / "services" / "Dockerfile"))
    instructions = parser.structure
    assert instructions, "the Dockerfile has no instructions"
    bases = [i["value"].split()[0] for i in instructions if i["instruction"] == "FROM"]
    assert all(re.search(r":\d", base) for base in bases), bases
    for instruction in instructions:
        if instruction["instruction"] == "COPY" and "--from" not in instruction["value"]:
            *sources, _dest = instruction["value"].split()
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: no such file"
    users = [i["value"] for i in instructions if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"


def test_each_app_has_its_own_database_role_and_the_exporter_a_monitor_role(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    for variant in ("leaky", "fixed"):
        url = services[variant]["environment"]["LEAKLAB_DATABASE_URL"]
        assert url.startswith(f"postgresql://{app_role(variant)}:"), url
    exporter = services["postgres-exporter"]["environment"]["DATA_SOURCE_NAME"]
    assert exporter.startswith(f"postgresql://{MONITOR_ROLE}:")
    assert services["seed"]["command"] == ["leaklab", "seed", "--roles"]
    assert services["postgres-exporter"]["depends_on"]["seed"]["condition"] == (
        "service_completed_successfully"
    )


def test_the_apps_redis_user_has_the_commands_the_native_stack_gives_it(
    compose: dict[str, Any],
) -> None:
    command = _services(compose)["redis"]["command"]
    start = command.index("--user") + 1
    end = next(i for i in range(start, len(command)) if command[i].startswith("--"))
    name, on, _password, *rules = command[start:end]
    assert (name, on) == (APP_USER, "on")
    assert rules == APP_RULES.split()
    url = _services(compose)["leaky"]["environment"]["LEAKLAB_REDIS_URL"]
    assert url.startswith(f"redis://{APP_USER}:")


def test_the_dockerignore_keeps_local_state_out() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".run", ".git"} <= set(ignored)


def test_compose_paths_are_relative_to_the_repo() -> None:
    assert Path(COMPOSE).parent == REPO
