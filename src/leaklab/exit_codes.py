"""The one table of leaklab's exit codes: every exit of every command is a member here.

Each meaning has its own name. Where the README promised a value before the meaning had a
name (`status` exits 1 when something is unhealthy, `load` 1 when Locust failed, `demo` and
`talk` 1 when the verdicts are not the expected ones), the member keeps that value: it is an
alias of the same number, never a reuse of another meaning's name. README.md's "Exit codes"
table lists them all (tests/unit/leaklab/test_exit_codes.py keeps the two in step).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # every command: done; check: NO LEAK everywhere; demo, talk: the story holds
    LEAK = 1  # check: at least one resource of one app leaks
    USAGE = 2  # a usage or environment error, in one line (every command)
    UNDECIDED = 3  # check: too little data or no load, and no leak found
    # Values the README promised before these meanings had names: aliases, own meanings.
    UNHEALTHY = 1  # status: a service or a scrape target is not healthy
    LOAD_FAILED = 1  # load: Locust failed beyond the expected 503s, or sent no request
    NOT_AS_EXPECTED = 1  # demo, talk: the verdicts are not leaky LEAK, fixed NO LEAK
    ABORTED = 1  # Ctrl-C or end of input at a prompt (click's own code)
    INTERRUPTED = 2  # talk: stopped by Ctrl-C or end of input (the stack stays up)
