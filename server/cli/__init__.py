"""The ``anshin`` command line: one module per command, named as the command.

``build_parser`` gathers the commands (``COMMAND_NAMES``, each module's
``add_parser``; only the one ``argv`` names, when it names one); ``main`` runs
one. Shared by the commands: ``args`` (the instant parser, defaults),
``channel`` and ``profile`` (``--server``, TLS, token and the connection to
it), ``output`` and ``table`` (``-o table|json|csv|yaml``), ``render``
(amounts, instants, colours, failed calls), ``exit_codes`` and ``failures``
(what a failure prints and returns), ``progress`` (the one progress bar).

A command starts in a tenth of a second when its modules import only what
building its parser needs: grpc, protobuf, the store, the rules engine and rich
are imported inside the functions that use them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module
from types import ModuleType
from typing import Any

from server.cli import _grpc_logs  # noqa: F401 - first: before anything imports grpc

# In the order `anshin --help` lists them; each is the module server/cli/<name>.py
# (``-`` as ``_``). A module is imported when its command is parsed, not before:
# `anshin verdicts …` then imports neither the server (serve), the release
# feeds' HTTP client (releases) nor the log's proofs, and each command starts
# in a fraction of the time (tests/docs runs hundreds of them).
COMMAND_NAMES = (
    "serve",
    "check-login",
    "posture",
    "events",
    "claim",
    "rules",
    "health",
    "releases",
    "db",
    "init",
    "verdicts",
    "reviews",
    "log",
    "replay",
    "ops",
    "auth",
    "completion",
)


def command_module(name: str) -> ModuleType:
    """The module of command ``name`` (``check-login``: server.cli.check_login)."""
    return import_module(f"server.cli.{name.replace('-', '_')}")


def __getattr__(name: str) -> Any:
    """``COMMANDS``: every command's module, imported on first use (PEP 562)."""
    if name == "COMMANDS":
        return tuple(command_module(n) for n in COMMAND_NAMES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Version(argparse._VersionAction):
    """``--version``, read from the package metadata only when asked for
    (importlib.metadata is slow to import, and every command would pay it)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from server.version import version

        self.version = f"anshin {version()}"
        super().__call__(parser, *args, **kwargs)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``anshin`` parser: every command's (``anshin --help``, completion),
    or, when ``argv`` starts with a command's name, that command's alone.

    The second parses ``argv`` exactly as the first does: argparse hands every
    word after the command's name to the command's own parser (the top-level
    ``--help`` and ``--version`` included), so the other commands' parsers
    would never be consulted. ``completion`` prints the whole tree, so it
    always gets every command."""
    p = argparse.ArgumentParser(prog="anshin", description="The ``anshin`` command line.")
    p.add_argument("--version", action=_Version, help="show program's version number and exit")
    first = argv[0] if argv else None
    only = first if first in COMMAND_NAMES and first != "completion" else None
    # With one command added, the usage line of an error (an unknown flag is the
    # top-level parser's to report) still names them all, as argparse would.
    every = "{" + ",".join(COMMAND_NAMES) + "}" if only else None
    sub = p.add_subparsers(dest="command", required=True, metavar=every)
    for name in COMMAND_NAMES:
        if only is None or name == only:
            command_module(name).add_parser(sub)
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
    if argv is None:
        argv = sys.argv[1:]
    ns = build_parser(argv).parse_args(argv)
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
