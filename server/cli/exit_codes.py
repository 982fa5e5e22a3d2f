"""The exit statuses of every ``anshin`` command, in the OPA/conftest style.

A script tells outcomes apart by the status alone::

    0  success (a negative decision too, unless --fail-on names it)
    1  the decision was one that --fail-on names (check-login, claim);
       health: the service is not SERVING
    2  usage: flags, arguments or an input file cannot be used
    3  the server is unreachable or a call failed (any gRPC status)
    4  integrity: the verdict log failed verification
    5  the command ran and failed (a port in use, rejected input, stale data)

Quiet on a closed pipe (``anshin verdicts | head``): 141, as a shell reports
a process ended by SIGPIPE.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    NEGATIVE = 1
    USAGE = 2
    RPC = 3
    INTEGRITY = 4
    FAILED = 5
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT
    CLOSED_PIPE = 141  # the reader went away, as a shell reports SIGPIPE


def fail_on_type(choices: Iterable[str]) -> type[frozenset[str]] | object:
    """An argparse ``type`` for ``--fail-on A,B``: the named outcomes, each
    one of ``choices`` (case-insensitive); anything else is a usage error."""
    allowed = tuple(choices)

    def parse(value: str) -> frozenset[str]:
        names = frozenset(n.strip().upper() for n in value.split(",") if n.strip())
        unknown = sorted(names - set(allowed))
        if not names or unknown:
            raise argparse.ArgumentTypeError(
                f"{value!r}: name outcomes from {', '.join(allowed)}, separated by commas"
            )
        return names

    return parse


def add_fail_on(parser: argparse.ArgumentParser, choices: Iterable[str], example: str) -> None:
    """``--fail-on``: exit 1 when the decision is one of these outcomes."""
    allowed = tuple(choices)
    parser.add_argument(
        "--fail-on",
        type=fail_on_type(allowed),  # type: ignore[arg-type]
        default=frozenset(),
        metavar=example,
        help=f"exit 1 when the outcome is one of these ({', '.join(allowed)}); default: exit 0",
    )


def decision_exit(outcome: str, fail_on: frozenset[str]) -> Exit:
    """0, or 1 when ``outcome`` is named by ``--fail-on``."""
    return Exit.NEGATIVE if outcome.upper() in fail_on else Exit.OK
