"""The ``anshin`` command line: one module per command, named as the command.

``build_parser`` gathers the commands (``COMMANDS``, each module's
``add_parser``); ``main`` runs one. Shared by the commands: ``args`` (the
instant parser, defaults), ``channel`` (``--server`` and the connection to
it) and ``render`` (amounts, instants, JSON, colours, failed calls).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from server.cli import (
    auth,
    check_login,
    claim,
    db,
    events,
    health,
    init,
    log,
    ops,
    releases,
    replay,
    reviews,
    rules,
    serve,
    verdicts,
)

# In the order `anshin --help` lists them.
COMMANDS = (
    serve,
    check_login,
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
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="anshin", description="The ``anshin`` command line.")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. What the layers below expect to fail with — a family
    of ``server.errors`` (or a lower layer's error ``errors.lift`` maps onto
    one), or the operating system refusing a file or a socket — is one line
    and exit 1. Anything else is a bug: one line naming its type, and the
    traceback with ANSHIN_DEBUG=1."""
    ns = build_parser().parse_args(argv)
    try:
        return int(ns.func(ns))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("ANSHIN_DEBUG"):
            raise
        from server.errors import lift

        known = lift(exc)
        if known is not None:
            print(f"anshin: {known}", file=sys.stderr)
        elif isinstance(exc, OSError):
            print(f"anshin: {exc}", file=sys.stderr)
        else:
            print(
                f"anshin: unexpected {type(exc).__name__}: {exc} (ANSHIN_DEBUG=1 shows where)",
                file=sys.stderr,
            )
        return 1
