"""`leaklab talk`'s options on the real stack (the whole story, in a 120x32 terminal:
test_talk_on_stage.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from leaklab.stack import NativeStack
from leaklab.stack.process import free_port

LEAKLAB = [sys.executable, "-m", "leaklab.cli"]


def talk(
    stack: NativeStack, *args: str, stdin: str | None = None, web_port: int | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LEAKLAB_RUN_DIR": str(stack.run_dir),
        "LOCUST_WEB_PORT": str(web_port or free_port()),
        "LOCUST_MASTER_BIND_PORT": str(free_port()),
        "COLUMNS": "160",
    }
    return subprocess.run(
        [*LEAKLAB, "talk", "--no-browser", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


# The whole story, --auto, in a 120x32 terminal: test_talk_on_stage.py.


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--pause", "-1"), "--pause"),
        (("--shape", "nope"), "--shape"),
    ],
)
def test_bad_options_get_a_message_and_exit_2(
    stack: NativeStack, args: tuple[str, ...], message: str
) -> None:
    result = talk(stack, "--auto", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
