"""What `up` started, saved in the run directory so `status` and `down` find it."""

from __future__ import annotations

import json
import math
import os
import signal
import tempfile
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from leaklab.stack.process import StackError


class CorruptState(StackError):
    """state.json exists but cannot be read as a run state; the message says what to do."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"{path} is corrupt: {problem}; "
            "run 'leaklab down' to stop what it can find, then 'leaklab up'"
        )


@dataclass
class Service:
    name: str
    url: str
    pid: int = 0
    started: float = 0.0
    log: str = ""
    stop_signal: int = 15
    external: bool = False


@dataclass
class RunState:
    services: dict[str, Service] = field(default_factory=dict)
    database_admin_url: str = ""
    admin_token: str = ""
    postgres_home: str = ""
    locust_metrics_port: int = 0  # where Prometheus expects Locust's figures
    redis_admin_url: str = ""  # Redis's default user: probes and server-side truth
    # variant -> server -> URL: each app's own PostgreSQL role and the apps' Redis ACL user
    app_urls: dict[str, dict[str, str]] = field(default_factory=dict)
    connection_limits: dict[str, int] = field(default_factory=dict)  # variant -> role's limit

    def url(self, name: str) -> str:
        return self.services[name].url

    def app_url(self, variant: str, server: str) -> str:
        """The URL one app uses for a server (the service's own URL when shared)."""
        return self.app_urls.get(variant, {}).get(server) or self.url(server)

    def admin_redis_url(self) -> str:
        """Redis with the rights to list clients (an external Redis: the URL given)."""
        return self.redis_admin_url or self.url("redis")

    @staticmethod
    def path(run_dir: Path) -> Path:
        return run_dir / "state.json"

    def save(self, run_dir: Path) -> None:
        """Write atomically, readable only by us: it holds passwords and the admin token.

        A fresh temporary file per save (mkstemp: mode 0600 whatever the umask, never a
        file left by someone else), synced, then renamed over state.json: a reader sees the
        old state or the new one, never half of one.
        """
        path = self.path(run_dir)
        fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".state.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(asdict(self), out, indent=2, allow_nan=False)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, run_dir: Path) -> RunState | None:
        """The recorded state, None when there is none; CorruptState when it is unusable.

        Strict, because `down` signals the pids it finds here: a wrong type or a key
        from elsewhere is refused rather than guessed at.
        """
        path = cls.path(run_dir)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise CorruptState(path, "it is a directory, not a file") from None
        except OSError as exc:
            raise StackError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            return _run_state(_parse(data))
        except _Invalid as exc:
            raise CorruptState(path, str(exc)) from None


class _Invalid(ValueError):
    """What is wrong with the file, in a few words."""


def _parse(data: bytes) -> Any:
    if not data.strip():
        raise _Invalid("it is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Invalid("it is not UTF-8 text") from None

    def no_constants(name: str) -> Any:
        raise _Invalid(f"{name} is not a JSON number")

    try:
        return json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise _Invalid(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _run_state(raw: Any) -> RunState:
    values = _fields(RunState, raw, "the file")
    if not 0 <= values["locust_metrics_port"] <= 65535:
        raise _Invalid(f"locust_metrics_port {values['locust_metrics_port']} is not a TCP port")
    for name, service in values["services"].items():
        if service.name != name:
            raise _Invalid(f"services.{name} is named {service.name!r}")
    return RunState(**values)


def _service(raw: Any, where: str) -> Service:
    values = _fields(Service, raw, where)
    if values["stop_signal"] not in {int(s) for s in signal.valid_signals()}:
        raise _Invalid(f"{where}.stop_signal {values['stop_signal']} is not a signal")
    if not values["external"] and values["pid"] < 1:
        raise _Invalid(f"{where}.pid must be a process id, got {values['pid']}")
    return Service(**values)


def _fields(cls: type, raw: Any, where: str) -> dict[str, Any]:
    """Exactly the dataclass's keys, each value of its annotated type."""
    if not isinstance(raw, dict):
        raise _Invalid(f"{where} must be a JSON object, got {_kind(raw)}")
    names = [f.name for f in fields(cls)]
    missing = [n for n in names if n not in raw]
    if missing:
        more = f" (nor {len(missing) - 1} other keys)" if len(missing) > 1 else ""
        raise _Invalid(f"{where} has no {missing[0]!r}{more}")
    extra = [k for k in raw if k not in names]
    if extra:
        raise _Invalid(f"{where} has an unknown key {extra[0]!r}")
    hints = typing.get_type_hints(cls)
    prefix = "" if where == "the file" else f"{where}."
    return {n: _value(raw[n], hints[n], f"{prefix}{n}") for n in names}


def _value(raw: Any, kind: Any, where: str) -> Any:
    if typing.get_origin(kind) is dict:
        _key, item = typing.get_args(kind)
        if not isinstance(raw, dict):
            raise _Invalid(f"{where} must be a JSON object, got {_kind(raw)}")
        return {k: _value(v, item, f"{where}.{k}") for k, v in raw.items()}
    if kind is Service:
        return _service(raw, where)
    if kind is bool:
        ok = isinstance(raw, bool)
    elif kind is int:
        ok = isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0
    elif kind is float:
        ok = isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)
        ok = ok and raw >= 0
    elif kind is str:
        ok = isinstance(raw, str)
    else:  # a field of a type added without teaching the loader to check it
        raise TypeError(f"RunState.load cannot check a {kind!r}")
    if not ok:
        raise _Invalid(f"{where} must be {_WANTED[kind]}, got {_kind(raw)}")
    return float(raw) if kind is float else raw


_WANTED = {
    bool: "true or false",
    int: "a whole number >= 0",
    float: "a number >= 0",
    str: "a string",
}


def _kind(raw: Any) -> str:
    """How a JSON value is described in a message (short: the file holds passwords)."""
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int | float):
        return repr(raw)
    if isinstance(raw, str):
        return "a string"
    return "a JSON list" if isinstance(raw, list) else "a JSON object"
