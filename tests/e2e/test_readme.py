"""The README cannot drift: every command in it is run here, or parsed, with a reason.

Commands come from the README's ```bash blocks (continuation lines joined, comments
dropped) and from the `run:` steps of its GitHub Actions example. Each must match one rule
below: RUN (executed, in README order, against a stack of its own on free ports; the stop
commands run last) or PARSE (the command line is checked without running it: click parses
`leaklab ...`, `make -n` knows the target), or SKIP for what cannot run here, with why.
A README command no rule knows fails the test: add a rule with it.

Substitutions, so the stack takes free ports and its own run directory: the documented
default addresses (127.0.0.1:8001, :8002, :9090, :8089) and `.run/` become this stack's.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field

import click
import pytest
import yaml

from leaklab.cli import main as leaklab_main
from leaklab.paths import REPO
from leaklab.stack.process import free_port

README = REPO / "README.md"
BIN = REPO / ".venv" / "bin"


@dataclass(frozen=True)
class Rule:
    pattern: str  # a regex matched against the whole command
    action: str  # "run", "parse" or "skip"
    why: str = ""
    exit_codes: tuple[int, ...] = (0,)
    says: tuple[str, ...] = ()  # what the output must contain
    timeout: float = 240


RULES: tuple[Rule, ...] = (
    # the two commands
    Rule(r"make demo", "run", "the first command a new user types", says=("NO LEAK",)),
    Rule(r"make test", "parse", "what CI runs; this test is part of it"),
    # the talk
    Rule(
        r"\.venv/bin/leaklab talk --auto .*",
        "parse",
        "tests/e2e/leaklab/test_talk.py runs the whole talk on timers with these options",
    ),
    Rule(
        r"\.venv/bin/leaklab talk",
        "parse",
        "waits for Enter; tests/e2e/leaklab/test_talk_on_stage.py presses it in a 120x32 terminal",
    ),
    # load
    Rule(
        r"\.venv/bin/leaklab load --headless --users 20 .*",
        "run",
        "a bounded headless run",
        says=("The run worked",),
    ),
    Rule(
        r"\.venv/bin/leaklab load( --autostart| --workers 2)?",
        "parse",
        "the web UI runs until Ctrl-C; tests/integration/leaklab/test_load.py and "
        "tests/e2e/leaklab/test_live_view.py drive it",
    ),
    Rule(
        r"\.venv/bin/leaklab load --headless (--shape ci|--workers 2 .*)",
        "parse",
        "tests/integration/leaklab/test_load.py runs a shape and two workers",
    ),
    Rule(
        r"\.venv/bin/locust .* --worker --master-host <master address> .*",
        "skip",
        "a worker on another machine (placeholders); distributed runs are tested locally",
    ),
    # the verdict
    Rule(
        r"\.venv/bin/leaklab check --since 10m",
        "run",
        "decides from the history the demo left",
        exit_codes=(1,),
        says=("LEAK",),
    ),
    Rule(
        r"\.venv/bin/leaklab check --run-time .*",
        "parse",
        "tests/integration/leaklab/test_check.py runs it with the same options",
    ),
    Rule(
        r"leaklab check --since 5m --prometheus .* --app shop=.*",
        "run",
        "the CI example: its options parse and Prometheus is asked; there is no shop here",
        exit_codes=(2,),
        says=("no data for", 'http_requests_total{job="shop"}'),
    ),
    Rule(r"\./ci/start-app(-prometheus-and-load)?\.sh", "skip", "the reader's own script"),
    Rule(
        r"python -m pip install (locust )?\"?leaklab @ git\+https://github\.com/<owner>/.*",
        "skip",
        "the network and a placeholder; tests/unit/deploy/test_packaging.py checks the package",
    ),
    Rule(
        r"pip install \"leaklab @ git\+https://github\.com/<owner>/leaklab\"",
        "skip",
        "the network and a placeholder; tests/unit/deploy/test_packaging.py checks the package",
    ),
    Rule(
        r"locust -f locustfile\.py --host http://127\.0\.0\.1:8000 .* --leak-metrics .*",
        "skip",
        "the reader's own app; tests/integration/plugin/test_plugin.py runs the plugin at one",
    ),
    # Docker: no engine here; tests/unit/deploy validates compose, the Dockerfile, Grafana
    Rule(r"make compose-up", "parse", "no Docker engine here; the configs are validated"),
    Rule(r"docker compose .*", "skip", "no Docker engine here; the configs are validated"),
    Rule(
        r"cp \.env\.example \.env",
        "skip",
        "writes the reader's .env; tests/unit/leaklab/test_env_example.py checks the file",
    ),
    # the stack
    Rule(r"\.venv/bin/leaklab (up|status)", "run", "on the running stack"),
    Rule(r"\.venv/bin/leaklab demo", "parse", "the same as make demo, run above"),
    Rule(
        r"\.venv/bin/leaklab scenarios( --json)?",
        "run",
        "the registry, no stack needed",
        says=("db_connections", "redis_connections"),
    ),
    Rule(r"TOKEN=.*", "run", "read the admin token"),
    Rule(
        r"curl -X POST .*/admin/reset",
        "run",
        "the reset, with the token",
        says=('"released"',),
    ),
    Rule(r"(make down|\.venv/bin/leaklab down)", "run", "stops the stack (run last)"),
)
STOPS = re.compile(r"(make down|\.venv/bin/leaklab down)$")


@dataclass
class Command:
    text: str
    block: int  # commands of one block share their shell variables (TOKEN=...)
    rule: Rule | None = field(default=None)


def readme_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M)
    for number, (language, body) in enumerate(blocks):
        if language in ("bash", "sh"):
            joined = re.sub(r"\\\n\s*", " ", body)
            for line in joined.splitlines():
                words = shlex.split(line, comments=True)
                if words:
                    commands.append(Command(_without_comment(line), number))
        elif language == "yaml":
            for run in _yaml_runs(yaml.safe_load(body)):
                for line in re.sub(r"\\\n\s*", " ", run).splitlines():
                    if shlex.split(line, comments=True):
                        commands.append(Command(_without_comment(line), number))
    for command in commands:
        command.rule = next((r for r in RULES if re.fullmatch(r.pattern, command.text)), None)
    return commands


def _without_comment(line: str) -> str:
    """The command as written (quotes kept), without a trailing comment."""
    text = line.strip()
    words = shlex.split(text, comments=True)
    for match in re.finditer(r"\s#", text):
        if shlex.split(text[: match.start()]) == words:
            return text[: match.start()].strip()
    return text


def _yaml_runs(workflow: object) -> Iterator[str]:
    assert isinstance(workflow, dict), "the CI example is a GitHub Actions workflow"
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield str(step["run"])


COMMANDS = readme_commands(README.read_text())


def test_every_readme_command_has_a_rule() -> None:
    unknown = [c.text for c in COMMANDS if c.rule is None]
    assert not unknown, f"README commands no rule in {__file__} knows: {unknown}"
    assert any(c.text == "make demo" for c in COMMANDS)
    assert any(c.text == "make test" for c in COMMANDS)


def test_the_ci_examples_are_workflows_a_runner_accepts() -> None:
    blocks = re.findall(r"^```yaml\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    assert len(blocks) >= 2  # leaklab check against Prometheus; the plugin in a Locust run
    for block in blocks:
        workflow = yaml.safe_load(block)
        assert set(workflow) >= {"name", "jobs"} and True in workflow  # `on:` reads as True
        (job,) = workflow["jobs"].values()
        assert job["runs-on"] and job["steps"]
        for step in job["steps"]:
            assert ("uses" in step) != ("run" in step), step
        upload = job["steps"][-1]
        assert upload["if"] == "always()"  # the report is kept when the check fails


@pytest.mark.parametrize(
    "command",
    [c for c in COMMANDS if c.rule and c.rule.action == "parse"],
    ids=lambda c: c.text[:60],
)
def test_documented_commands_parse(command: Command) -> None:
    words = shlex.split(command.text)
    if words[0] == "make":
        result = subprocess.run(
            ["make", "-n", *words[1:]], cwd=REPO, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        return
    assert words[0].endswith("leaklab"), words
    sub = leaklab_main.commands[words[1]]
    try:
        sub.make_context(words[1], words[2:], parent=click.Context(leaklab_main))
    except click.ClickException as exc:
        pytest.fail(f"{command.text!r} does not parse: {exc.format_message()}")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    run_dir = tmp_path_factory.mktemp("readme-run")
    ports = {
        "LEAKLAB_LEAKY_PORT": free_port(),
        "LEAKLAB_FIXED_PORT": free_port(),
        "LEAKLAB_PROMETHEUS_PORT": free_port(),
        "LEAKLAB_LOCUST_METRICS_PORT": free_port(),
        "LOCUST_WEB_PORT": free_port(),
        "LOCUST_MASTER_BIND_PORT": free_port(),
    }
    environ = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "LEAKLAB_RUN_DIR": str(run_dir),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "160",
    }
    yield environ
    subprocess.run([str(BIN / "leaklab"), "down"], env=environ, capture_output=True, check=False)


def substitute(text: str, env: dict[str, str]) -> str:
    for default, variable in (
        ("127.0.0.1:8001", "LEAKLAB_LEAKY_PORT"),
        ("127.0.0.1:8002", "LEAKLAB_FIXED_PORT"),
        ("127.0.0.1:9090", "LEAKLAB_PROMETHEUS_PORT"),
        ("127.0.0.1:8089", "LOCUST_WEB_PORT"),
    ):
        text = text.replace(default, f"127.0.0.1:{env[variable]}")
    return text.replace(".run/", f"{env['LEAKLAB_RUN_DIR']}/")


def test_readme_commands_run_as_documented(env: dict[str, str]) -> None:
    runnable = [c for c in COMMANDS if c.rule and c.rule.action == "run"]
    ordered = [c for c in runnable if not STOPS.match(c.text)] + [
        c for c in runnable if STOPS.match(c.text)
    ]
    assert ordered and ordered[0].text == "make demo"
    shell_vars: dict[int, list[str]] = {}
    for command in ordered:
        rule = command.rule
        assert rule is not None
        text = substitute(command.text, env)
        if re.match(r"^[A-Z_]+=", text):  # an assignment the next lines of its block use
            shell_vars.setdefault(command.block, []).append(text)
        script = "\n".join([*shell_vars.get(command.block, []), text])
        result = subprocess.run(
            ["bash", "-c", f"set -euo pipefail\n{script}"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=rule.timeout,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode in rule.exit_codes, f"{command.text}\n{output[-3000:]}"
        for expected in rule.says:
            assert expected in output, f"{command.text}: no {expected!r} in\n{output[-3000:]}"
        assert "Traceback" not in output, f"{command.text}\n{output[-3000:]}"
    status = subprocess.run(
        [str(BIN / "leaklab"), "status"], env=env, capture_output=True, text=True, check=False
    )
    assert "no stack" in status.stdout + status.stderr  # the stop commands stopped it


def test_readme_picture_exists_and_is_the_live_view() -> None:
    pictures = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", README.read_text())
    assert pictures and pictures[0] == "docs/leaks-view.png"
    path = REPO / pictures[0]
    assert path.stat().st_size > 50_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_readme_links_to_files_that_exist() -> None:
    for target in re.findall(r"\]\((?!https?://)([^)#]+)\)", README.read_text()):
        assert (REPO / target).exists(), target
