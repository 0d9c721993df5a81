"""state.json: written 0600 and atomically, read strictly (a corrupt file is one clear error)."""

from __future__ import annotations

import json
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from leaklab.stack.process import StackError
from leaklab.stack.state import CorruptState, RunState, Service


def full_state() -> RunState:
    """A state with every field set, as `up` leaves it."""
    return RunState(
        services={
            "postgres": Service(
                "postgres", "postgresql://u:pw@127.0.0.1:5432/db", 101, 1700000000.5, "pg.log", 2
            ),
            "leaky": Service("leaky", "http://127.0.0.1:8001", 102, 1700000001.25, "leaky.log"),
            "redis": Service("redis", "redis://127.0.0.1:6379/0", external=True),
        },
        database_admin_url="postgresql://admin:pw@127.0.0.1:5432/db",
        admin_token="token",
        postgres_home="/tmp/pg",
        locust_metrics_port=9646,
        redis_admin_url="redis://default:pw@127.0.0.1:6379/0",
        app_urls={"leaky": {"postgres": "postgresql://leaky:pw@127.0.0.1:5432/db"}},
        connection_limits={"leaky": 40, "fixed": 40},
    )


def raw_state() -> dict[str, Any]:
    return asdict(full_state())


def test_a_saved_state_loads_back_equal(tmp_path: Path) -> None:
    state = full_state()
    state.save(tmp_path)
    assert RunState.load(tmp_path) == state


def test_no_state_is_none(tmp_path: Path) -> None:
    assert RunState.load(tmp_path) is None


def test_the_state_is_private_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    full_state().save(tmp_path)
    full_state().save(tmp_path)  # replacing an existing state
    assert stat.S_IMODE(RunState.path(tmp_path).stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_failed_save_keeps_the_previous_state(tmp_path: Path) -> None:
    full_state().save(tmp_path)
    broken = full_state()
    broken.admin_token = object()  # type: ignore[assignment]  # not JSON: the dump fails
    with pytest.raises(TypeError):
        broken.save(tmp_path)
    assert RunState.load(tmp_path) == full_state()
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def _with(change: Any) -> bytes:
    raw = raw_state()
    change(raw)
    return json.dumps(raw).encode()


CORRUPT: list[tuple[str, bytes, str]] = [
    ("garbage bytes", b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not UTF-8"),
    ("garbage text", b"pid=123 running", "not JSON"),
    ("truncated", json.dumps(raw_state()).encode()[:40], "not JSON"),
    ("empty file", b"", "it is empty"),
    ("blank file", b"  \n", "it is empty"),
    ("empty object", b"{}", "has no 'services'"),
    ("a JSON list", b"[1, 2]", "must be a JSON object, got a JSON list"),
    ("a JSON string", b'"state"', "must be a JSON object, got a string"),
    ("an extra key", _with(lambda r: r.update(surprise=1)), "unknown key 'surprise'"),
    (
        "a string pid",
        _with(lambda r: r["services"]["leaky"].update(pid="102")),
        "services.leaky.pid must be a whole number >= 0, got a string",
    ),
    (
        "a negative pid",
        _with(lambda r: r["services"]["leaky"].update(pid=-102)),
        "services.leaky.pid must be a whole number >= 0, got -102",
    ),
    (
        "no pid for a server we started",
        _with(lambda r: r["services"]["leaky"].update(pid=0)),
        "services.leaky.pid must be a process id, got 0",
    ),
    (
        "a boolean pid",
        _with(lambda r: r["services"]["leaky"].update(pid=True)),
        "services.leaky.pid must be a whole number >= 0, got true",
    ),
    (
        "a missing key in a service",
        _with(lambda r: r["services"]["leaky"].pop("started")),
        "services.leaky has no 'started'",
    ),
    (
        "an extra key in a service",
        _with(lambda r: r["services"]["leaky"].update(port=1)),
        "services.leaky has an unknown key 'port'",
    ),
    (
        "a service that is not an object",
        _with(lambda r: r["services"].update(leaky=[102])),
        "services.leaky must be a JSON object, got a JSON list",
    ),
    (
        "services as a list",
        _with(lambda r: r.update(services=[])),
        "services must be a JSON object, got a JSON list",
    ),
    (
        "a string flag",
        _with(lambda r: r["services"]["redis"].update(external="yes")),
        "services.redis.external must be true or false, got a string",
    ),
    (
        "a start time of NaN",
        json.dumps(raw_state()).replace("1700000001.25", "NaN").encode(),
        "NaN is not a JSON number",
    ),
    (
        "no such signal",
        _with(lambda r: r["services"]["postgres"].update(stop_signal=999)),
        "stop_signal 999 is not a signal",
    ),
    (
        "a service filed under another name",
        _with(lambda r: r["services"]["leaky"].update(name="fixed")),
        "services.leaky is named 'fixed'",
    ),
    (
        "a port out of range",
        _with(lambda r: r.update(locust_metrics_port=70000)),
        "locust_metrics_port 70000 is not a TCP port",
    ),
    (
        "a number for a URL",
        _with(lambda r: r.update(database_admin_url=5432)),
        "database_admin_url must be a string, got 5432",
    ),
    (
        "a nested URL that is not a string",
        _with(lambda r: r["app_urls"]["leaky"].update(postgres=None)),
        "app_urls.leaky.postgres must be a string, got null",
    ),
    (
        "a fractional connection limit",
        _with(lambda r: r["connection_limits"].update(leaky=4.5)),
        "connection_limits.leaky must be a whole number >= 0, got 4.5",
    ),
]


@pytest.mark.parametrize(
    ("content", "problem"), [c[1:] for c in CORRUPT], ids=[c[0] for c in CORRUPT]
)
def test_a_corrupt_state_is_one_line_naming_the_file_the_fault_and_the_remedy(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    RunState.path(tmp_path).write_bytes(content)
    with pytest.raises(CorruptState) as caught:
        RunState.load(tmp_path)
    message = str(caught.value)
    assert isinstance(caught.value, StackError)  # the CLI's one-line, exit-2 path
    assert "\n" not in message
    assert message.startswith(f"{RunState.path(tmp_path)} is corrupt: ")
    assert problem in message
    assert message.endswith("run 'leaklab down' to stop what it can find, then 'leaklab up'")
    assert caught.value.path == RunState.path(tmp_path)


def test_a_directory_in_place_of_the_state_is_corrupt(tmp_path: Path) -> None:
    RunState.path(tmp_path).mkdir()
    with pytest.raises(CorruptState, match="it is a directory, not a file; run 'leaklab down'"):
        RunState.load(tmp_path)


def test_a_wrong_string_is_not_echoed(tmp_path: Path) -> None:
    """The file holds passwords: a message names the field, never a string's value."""
    RunState.path(tmp_path).write_bytes(
        _with(lambda r: r["services"]["leaky"].update(pid="hunter2"))
    )
    with pytest.raises(CorruptState) as caught:
        RunState.load(tmp_path)
    assert "hunter2" not in str(caught.value)


def test_an_unreadable_run_directory_is_a_stack_error(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(StackError, match=f"cannot read {not_a_dir / 'state.json'}: Not a dir"):
        RunState.load(not_a_dir)
