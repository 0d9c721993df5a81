"""Bad input to the leaklab command: one line on stderr, exit 2, before any work starts.

Nothing here may start a server: NativeStack.up is replaced by a failure, and every
Prometheus named is a closed port, so an option that slips through shows as a wrong
message or exit code instead of a stack.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from leaklab import cli
from leaklab.load import LoadPlan, check_ready
from leaklab.stack import NativeStack
from leaklab.stack.process import StackError, free_port
from leaklab.verdict import check as verdict_check
from leaklab.verdict.check import CheckResult
from leaklab.verdict.query import CONTRACT, Window

CLOSED = f"http://127.0.0.1:{free_port()}"  # nothing listens here


@pytest.fixture(autouse=True)
def no_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    def refuse(_self: NativeStack) -> None:
        raise AssertionError("bad input started the stack")

    monkeypatch.setattr(NativeStack, "up", refuse)
    monkeypatch.setenv("LEAKLAB_RUN_DIR", str(tmp_path / "run"))
    for name in ("LEAKLAB_PROMETHEUS_URL", "LEAKLAB_DATABASE_URL", "LEAKLAB_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    yield


def leaklab(*args: str) -> Result:
    return CliRunner().invoke(cli.main, list(args), prog_name="leaklab")


def assert_one_line(result: Result, *says: str) -> None:
    """What every usage error looks like: exit 2, one line on stderr saying what is wrong."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("leaklab: ")
    for text in says:
        assert text in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--since", "0s", "--prometheus", CLOSED),
        ("check", "--since", "0h0m0s", "--prometheus", CLOSED),
        ("check", "--run-time", "0s"),
        ("demo", "--run-time", "0m"),
        ("load", "--headless", "--run-time", "0s", "--leaky-url", CLOSED, "--fixed-url", CLOSED),
    ],
)
def test_a_duration_of_zero_is_refused(args: tuple[str, ...]) -> None:
    option = args[1] if args[1] != "--headless" else "--run-time"
    assert_one_line(leaklab(*args), option, "is no time at all")


@pytest.mark.parametrize("threshold", ["nan", "inf", "-inf", "-1", "0"])
def test_a_threshold_must_be_a_finite_growth_above_zero(threshold: str) -> None:
    result = leaklab(
        "check", "--since", "1m", "--prometheus", CLOSED, "--resource", f"fds=open_fds@{threshold}"
    )
    assert_one_line(result, "--resource", f"threshold {threshold!r}", "above 0")


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("load", "--spawn-rate", "nan"),
        ("load", "--pace", "inf"),
        ("check", "--step", "nan"),
        ("check", "--spawn-rate", "inf"),
        ("talk", "--pause", "nan"),
        ("talk", "--climb", "inf"),
        ("talk", "--saturation-timeout", "nan"),
    ],
)
def test_a_number_option_must_be_finite(command: str, option: str, value: str) -> None:
    assert_one_line(leaklab(command, option, value), option, "is not a finite number")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("load", "--users", "-3"), "'-u' / '--users'"),
        (("load", "--web-port", "70000"), "'--web-port'"),
        (("load", "--workers", "-1"), "'--workers'"),
        (("check", "--no-such-option"), "No such option '--no-such-option'"),
        (("status", "extra"), "unexpected extra argument"),
        (("nosuchcommand",), "No such command 'nosuchcommand'"),
    ],
)
def test_a_usage_error_is_one_line_with_where_to_read_more(
    args: tuple[str, ...], says: str
) -> None:
    known = args[0] in cli.main.commands
    hint = f"(see 'leaklab {args[0]} --help')" if known else "(see 'leaklab --help')"
    assert_one_line(leaklab(*args), says, hint)


def test_leaklab_alone_still_shows_the_commands() -> None:
    result = leaklab()
    assert "Commands:" in result.output and "check" in result.output


@pytest.mark.parametrize(
    ("option", "spec"),
    [
        ("--app", ("--app", 'a=app="a"', "--app", 'a=app="b"')),
        ("--resource", ("--resource", "fds=x@1", "--resource", "fds=y@2")),
    ],
)
def test_a_name_given_twice_is_refused(option: str, spec: tuple[str, ...]) -> None:
    result = leaklab("check", "--since", "1m", "--prometheus", CLOSED, *spec)
    assert_one_line(result, option, "is given twice")


def test_an_unreachable_app_names_the_option_to_give() -> None:
    result = leaklab(
        "load", "--headless", "--run-time", "1s", "--leaky-url", CLOSED, "--fixed-url", CLOSED
    )
    assert_one_line(result, f"the leaky app at {CLOSED} does not answer", "a reachable --leaky-url")


def test_check_ready_formats_the_option_name(tmp_path: Path) -> None:
    plan = LoadPlan(leaky_url=CLOSED, fixed_url=CLOSED, out_dir=tmp_path)
    with pytest.raises(StackError, match=r"pass a reachable --leaky-url$"):
        check_ready(plan)


# -- where check writes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "target", "says"),
    [
        ("--json", "missing/dir/check.json", "missing/dir does not exist: create it first"),
        ("--json", "a-file/check.json", "a-file is not a directory"),
        ("--json", "a-dir", "a-dir is a directory: give a file name"),
        ("--report", "missing/report", "missing does not exist: create it first"),
        ("--report", "a-file", "a-file exists and is not a directory"),
    ],
)
def test_an_output_that_cannot_be_written_fails_before_the_measurement(
    tmp_path: Path, option: str, target: str, says: str
) -> None:
    (tmp_path / "a-file").write_text("mine")
    (tmp_path / "a-dir").mkdir()
    before = sorted(tmp_path.rglob("*"))
    # --prometheus is closed: a message about it would mean the measurement was attempted
    result = leaklab(
        "check", "--since", "1m", "--prometheus", CLOSED, option, str(tmp_path / target)
    )
    assert_one_line(result, f"'{option}'", says)
    assert sorted(tmp_path.rglob("*")) == before  # nothing created, nothing replaced
    assert (tmp_path / "a-file").read_text() == "mine"


def _empty_result(*_args: Any, **_kwargs: Any) -> CheckResult:
    return CheckResult(CLOSED, Window(0.0, 60.0, 1.0), CONTRACT, [])


def test_a_json_that_cannot_be_written_at_the_end_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()

    def measure_while_the_directory_goes(*args: Any, **kwargs: Any) -> CheckResult:
        shutil.rmtree(out)  # e.g. a cleanup job during a long measurement
        return _empty_result()

    monkeypatch.setattr(verdict_check, "run_check", measure_while_the_directory_goes)
    result = leaklab(
        "check", "--since", "1m", "--prometheus", CLOSED, "--json", str(out / "c.json")
    )
    assert_one_line(result, f"could not write {out / 'c.json'}: No such file or directory")
    assert not out.exists()  # not recreated behind the user's back


def test_a_report_that_cannot_be_written_at_the_end_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report"

    def measure_while_a_file_takes_its_place(*args: Any, **kwargs: Any) -> CheckResult:
        report.write_text("not a directory")
        return _empty_result()

    monkeypatch.setattr(verdict_check, "run_check", measure_while_a_file_takes_its_place)
    result = leaklab("check", "--since", "1m", "--prometheus", CLOSED, "--report", str(report))
    assert_one_line(result, f"could not write {report}")


def test_the_json_file_is_created_where_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verdict_check, "run_check", _empty_result)
    target = tmp_path / "check.json"
    result = leaklab("check", "--since", "1m", "--prometheus", CLOSED, "--json", str(target))
    assert result.exit_code == 3, result.output  # no apps: nothing decided
    assert '"schema": "leaklab.check/v1"' in target.read_text()
    assert f"JSON: {target}" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("check", "--run-time", "1500ms"),
        (
            "load",
            "--headless",
            "--run-time",
            "2s500ms",
            "--leaky-url",
            CLOSED,
            "--fixed-url",
            CLOSED,
        ),
    ],
)
def test_a_run_time_is_whole_seconds(args: tuple[str, ...]) -> None:
    assert_one_line(leaklab(*args), "--run-time", "is not a whole number of seconds")


@pytest.mark.parametrize("since", ["1h30m", "90", "500ms"])
def test_every_documented_duration_form_is_taken(
    since: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verdict_check, "run_check", _empty_result)
    assert leaklab("check", "--since", since, "--prometheus", CLOSED).exit_code == 3


def test_check_help_shows_the_request_counter_it_defaults_to() -> None:
    from leaklab.verdict.query import REQUESTS

    shown = " ".join(leaklab("check", "--help").output.split())
    assert f"[default: {REQUESTS}]".replace(" ", "") in shown.replace(" ", "")
