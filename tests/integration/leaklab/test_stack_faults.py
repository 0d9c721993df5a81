"""A stack whose parts were restarted or killed by hand, and two `up` at once (issue #12).

One private stack for the module: these tests restart and stop its servers.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import psycopg2
import pytest
import requests

from leaklab.stack import NativeStack
from leaklab.stack.native import private_settings
from leaklab.stack.ownership import listening_on, postmaster, tagged
from leaklab.stack.postgres_server import find_bindir
from leaklab.stack.process import StackError
from leaklab.stack.state import RunState

Ups = tuple[NativeStack, list[RunState], list[str]]  # the stack, what each up returned, said


def _concurrent_ups(settings_dir: Path) -> Ups:
    """Two `leaklab up` on one run directory at the same moment."""
    settings = private_settings(settings_dir)
    said: list[str] = []
    stacks = [NativeStack(settings, said.append) for _ in range(2)]
    states: list[RunState] = []
    errors: list[BaseException] = []

    def up(stack: NativeStack) -> None:
        try:
            states.append(stack.up())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=up, args=(s,)) for s in stacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    return stacks[0], states, said


@pytest.fixture(scope="module")
def ups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ups]:
    stack, states, said = _concurrent_ups(tmp_path_factory.mktemp("faults"))
    try:
        yield stack, states, said
    finally:
        stack.down(wipe=True)


@pytest.fixture
def own(ups: Ups) -> NativeStack:
    return ups[0]


def test_two_ups_at_once_start_one_stack_and_the_second_waits_for_it(
    ups: Ups,
) -> None:
    stack, states, said = ups
    assert len(states) == 2
    assert states[0].admin_token == states[1].admin_token  # one stack, not two
    assert any("waiting for it" in line for line in said)
    assert any("already running" in line for line in said)
    assert all(row.healthy for row in stack.status())


def _restart_postgres_by_hand(data: Path) -> None:
    """What a user does in a shell: pg_ctl restart, as the cluster's owner."""
    owner = data.stat().st_uid
    log = data.parent / "by-hand.log"
    command = [str(find_bindir() / "pg_ctl"), "-D", str(data), "-l", str(log), "-w"]
    command += ["-m", "fast", "restart"]
    if os.geteuid() == 0 and owner != 0:
        command = ["runuser", "-u", pwd.getpwuid(owner).pw_name, "--", *command]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKLAB_")}
    subprocess.run(command, cwd=data.parent, env=env, check=True, capture_output=True, timeout=90)


def test_a_postgres_restarted_by_hand_is_adopted_not_rebuilt(own: NativeStack) -> None:
    before = own.state
    data = Path(before.postgres_home) / "data"
    marker = data / "made-by-the-user"
    marker.write_text("keep me\n")
    old_pid = before.services["postgres"].pid
    _restart_postgres_by_hand(data)
    holder = postmaster(data)
    assert holder is not None and holder.pid != old_pid

    said: list[str] = []
    after = NativeStack(own.settings, said.append).up()
    assert any("adopted" in line and str(holder.pid) in line for line in said), said
    assert after.services["postgres"].pid == holder.pid
    # the same cluster: its passwords, its data, the user's file
    assert after.database_admin_url == before.database_admin_url
    assert after.app_urls == before.app_urls
    assert marker.read_text() == "keep me\n"
    assert all(row.healthy for row in own.status())


def test_an_app_that_is_gone_stops_up_with_a_remedy_and_nothing_is_deleted(
    own: NativeStack,
) -> None:
    state = own.state
    data = Path(state.postgres_home) / "data"
    history = own.run_dir / "prometheus" / "data"
    os.kill(state.services["leaky"].pid, signal.SIGTERM)
    master = psutil.Process(state.services["leaky"].pid)
    master.wait(timeout=30)
    saved = RunState.path(own.run_dir).read_text()

    with pytest.raises(StackError) as raised:
        NativeStack(own.settings).up()
    message = str(raised.value)
    assert "leaky" in message and "run 'leaklab down', then 'leaklab up'" in message
    assert RunState.path(own.run_dir).read_text() == saved
    assert (data / "made-by-the-user").exists() and postmaster(data) is not None
    assert any(history.iterdir())
    assert requests.get(f"{state.url('fixed')}/health", timeout=5).status_code == 200


def test_down_stops_the_replacement_too_and_the_history_survives_up(own: NativeStack) -> None:
    state = own.state
    prometheus = state.url("prometheus")
    seen_at = time.time()
    before = _series_at(prometheus, seen_at)
    assert before
    ports = [urlsplit(s.url).port for s in state.services.values()]
    data = Path(state.postgres_home) / "data"
    assert postmaster(data) is not None  # the postmaster pg_ctl started, not leaklab

    own.down()
    assert not tagged(own.run_dir)
    assert postmaster(data) is None and not data.exists()
    assert [port for port in ports if port and listening_on(port)] == []

    again = NativeStack(own.settings).up()
    assert again.url("prometheus") == prometheus  # the same port: the settings fix it
    assert _series_at(prometheus, seen_at) == before  # `check --since` still sees the run


def _series_at(prometheus: str, when: float) -> set[str]:
    response = requests.get(
        f"{prometheus}/api/v1/query", params={"query": "up", "time": when}, timeout=5
    )
    return {r["metric"]["job"] for r in response.json()["data"]["result"]}


def test_compose_seed_makes_the_roles_and_budgets_the_launcher_makes(own: NativeStack) -> None:
    """`leaklab seed --roles`, as docker compose runs it, on this stack's cluster."""
    state = own.state
    passwords = {"leaky": "leaky-pw", "fixed": "fixed-pw", "monitor": "monitor-pw"}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LEAKLAB_")},
        "LEAKLAB_DATABASE_URL": state.database_admin_url,
        "LEAKLAB_PG_MAX_CONNECTIONS": str(own.settings.pg_max_connections),
        "WEB_CONCURRENCY": str(own.settings.workers),
        **{f"LEAKLAB_{role.upper()}_DB_PASSWORD": pw for role, pw in passwords.items()},
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "leaklab.cli", "seed", "--roles"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr
    assert "Roles ready" in seeded.stdout
    host = urlsplit(state.database_admin_url).netloc.rsplit("@", 1)[1]
    for variant in ("leaky", "fixed"):
        conn = psycopg2.connect(
            f"postgresql://leaklab_{variant}:{passwords[variant]}@{host}/leaklab"
        )
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user")
                assert cur.fetchone() == (state.connection_limits[variant],)
                cur.execute("SELECT count(*) > 0 FROM products")
                assert cur.fetchone() == (True,)  # the seeded table, readable by the app
        finally:
            conn.close()

    missing = subprocess.run(
        [sys.executable, "-m", "leaklab.cli", "seed", "--roles"],
        env={k: v for k, v in env.items() if k != "LEAKLAB_FIXED_DB_PASSWORD"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        "leaklab: LEAKLAB_FIXED_DB_PASSWORD must be set: the roles' passwords"
    ]
