"""The ``anshin`` command line: one module per command, named as the command.

``build_parser`` gathers the commands (``COMMANDS``, each module's
``add_parser``); ``main`` runs one. Shared by the commands: ``args`` (the
instant parser, defaults), ``channel`` and ``profile`` (``--server``, TLS,
token and the connection to it), ``output`` and ``table`` (``-o
table|json|csv|yaml``), ``render`` (amounts, instants, colours, failed
calls), ``exit_codes`` and ``failures`` (what a failure prints and returns),
``progress`` (the one progress bar).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from server.cli import (  # _grpc_logs first: before anything imports grpc
    _grpc_logs,  # noqa: F401
    auth,
    check_login,
    claim,
    completion,
    db,
    events,
    health,
    init,
    log,
    ops,
    posture,
    releases,
    replay,
    reviews,
    rules,
    serve,
    verdicts,
)
from server.version import version

# In the order `anshin --help` lists them.
COMMANDS = (
    serve,
    check_login,
    posture,
    events,
    claim,
    rules,
    health,
    releases,
    db,
    init,
    verdicts,
    reviews,
    log,
    replay,
    ops,
    auth,
    completion,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="anshin", description="The ``anshin`` command line.")
    p.add_argument("--version", action="version", version=f"anshin {version()}")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    p.set_defaults(root_parser=p)  # for `completion`, which prints the whole tree
    return p


def _quiet_stdout() -> None:
    """After the reader of stdout went away (``| head``): point stdout at
    /dev/null, so the interpreter's final flush does not complain."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the one place a failure becomes words and an exit
    status (``failures.explain``, ``exit_codes``). Usage errors are argparse's
    (exit 2). A closed pipe is quiet. ``ANSHIN_DEBUG=1`` shows the traceback of
    anything unexpected instead."""
    from server.cli.exit_codes import Exit
    from server.cli.failures import explain
    from server.cli.profile import apply

    # Started with stdin or stdout closed (`<&-`, `>&-`), Python has None there.
    # A closed stdin reads as empty; a closed stdout is a reader that is already
    # gone: the command runs (it may record something, as it would before its
    # first write failed) and the exit is the quiet closed-pipe one.
    if sys.stdin is None:
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    stdout_closed = sys.stdout is None
    if stdout_closed:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    ns = build_parser().parse_args(argv)
    try:
        apply(ns)
        code = int(ns.func(ns))
        sys.stdout.flush()
        if stdout_closed and code == 0:
            return int(Exit.CLOSED_PIPE)
        return code
    except KeyboardInterrupt:
        return int(Exit.INTERRUPTED)
    except BrokenPipeError:
        _quiet_stdout()
        return int(Exit.CLOSED_PIPE)
    except Exception as exc:
        if os.environ.get("ANSHIN_DEBUG"):
            raise
        failure = explain(exc, db=getattr(ns, "db", None))
        for line in failure.lines():
            print(line, file=sys.stderr)
        return int(failure.code)
