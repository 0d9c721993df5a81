"""What every command ends in: one line and exit 2 for an expected failure, never a
traceback, and the same exit code whether or not its reader closed the pipe early."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import IO, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from leaklab.exit_codes import ExitCode

console = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

# Errors that end in one line, by the module that defines them: a module not imported yet
# cannot have raised one, so none is imported here (leaklab --help stays quick).
_OWN_ERRORS = (
    ("leaklab.stack.process", "StackError"),
    ("leaklab.settings", "SettingsError"),
    ("leaklab.verdict.query", "QueryError"),
)
_SERVER_ERRORS = (
    ("psycopg2", "Error"),
    ("redis.exceptions", "RedisError"),
    ("requests.exceptions", "RequestException"),
)


def _loaded(names: Sequence[tuple[str, str]]) -> tuple[type[BaseException], ...]:
    found = (getattr(sys.modules[module], name) for module, name in names if module in sys.modules)
    return tuple(found)


def fail(message: str) -> None:
    """The one line an expected failure ends in: text, never markup, never wrapped."""
    err.print(f"[red]leaklab:[/red] {escape(message)}", highlight=False, soft_wrap=True)


def clean_errors(func: F) -> F:
    """Expected failures end in one line and exit 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if isinstance(exc, _loaded(_OWN_ERRORS)):
                fail(str(exc))
            elif isinstance(exc, _loaded(_SERVER_ERRORS)):
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                fail(f"a server did not answer: {first}")
            elif isinstance(exc, OSError):  # the machine said no: a full disk, a path not ours
                where = f": {exc.filename}" if exc.filename else ""
                fail(f"{exc.strerror or exc}{where}")
            else:
                raise
            sys.exit(ExitCode.USAGE)

    return wrapper  # type: ignore[return-value]


class PipeGuard:
    """stdout or stderr that, once its reader has gone, discards output instead of raising.

    `leaklab status | head -1` must exit as `leaklab status` does: the exit code is the
    answer (healthy or not, LEAK or not), so a reader that stops early must not change it
    (rich would exit 1, click 1, Python 120). The command runs to its end, writing what it
    was asked to write (check's --json and --report too), with the rest of its output
    going to /dev/null, the way the Python docs' note on SIGPIPE recommends.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._silence()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._silence()

    def _silence(self) -> None:
        """From now on the descriptor is /dev/null: what is buffered and what follows is dropped."""
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):  # not a real file (a test's buffer): it cannot break
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
        try:
            self._stream.flush()
        except OSError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextmanager
def guarded_streams() -> Iterator[None]:
    """sys.stdout and sys.stderr behind a PipeGuard for the length of one command."""
    saved = sys.stdout, sys.stderr
    guards = [PipeGuard(stream) if stream is not None else None for stream in saved]
    sys.stdout, sys.stderr = guards
    try:
        yield
    finally:
        for guard in guards:
            if guard is not None:
                guard.flush()  # before Python's own flush at exit, which would not be guarded
        sys.stdout, sys.stderr = saved


def usage_line(exc: click.ClickException) -> str:
    """Click's error as one line, with where to read more."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        message = f"{message.rstrip('.')} (see '{ctx.command_path} --help')"
    return message


class LeaklabGroup(click.Group):
    """The entry point: a bad option is one line and exit 2, and a closed pipe changes nothing."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        with guarded_streams():
            try:
                code = super().main(args, prog_name, complete_var, False, **extra)
            except click.ClickException as exc:
                if type(exc).__name__ == "NoArgsIsHelpError":  # `leaklab` alone (click >= 8.2)
                    exc.show()  # the help, as click shows it
                else:
                    fail(usage_line(exc))
                code = exc.exit_code
            except (click.Abort, EOFError, KeyboardInterrupt):
                err.print("Aborted!")
                code = ExitCode.ABORTED
        sys.exit(code if isinstance(code, int) else ExitCode.OK)
