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
    ns = build_parser().parse_args(argv)
    try:
        return int(ns.func(ns))
    except KeyboardInterrupt:
        return 130
    # The one broad catch of the command line: the layers below raise their own
    # error types (no common root yet), and whichever reaches here is reported
    # as one readable line, not a traceback (ANSHIN_DEBUG=1: the traceback).
    except Exception as exc:
        if os.environ.get("ANSHIN_DEBUG"):
            raise
        print(f"anshin: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
