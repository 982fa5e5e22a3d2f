"""A command imports what it uses, not what every command might: the docs'
commands and the end-to-end tests start ``anshin`` hundreds of times, and the
server, the store, the rules engine and the release feeds' HTTP client once
cost each start half a second (server/cli/__init__.py).

Each case runs in a fresh interpreter, which parses a command line as
``anshin`` does and prints the modules then loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT

CHILD = """
import json, sys
from server import cli

argv = json.loads(sys.argv[1])
cli.build_parser(argv).parse_args(argv)
print(json.dumps(sorted(sys.modules)))
"""

# What no parser needs: each is imported by the command that uses it, when it runs.
HEAVY = ("grpc", "google.protobuf.json_format", "server.store", "server.config",
         "rules.engine", "httpx", "rich", "server.main")  # fmt: skip


def loaded(argv: list[str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(
    "argv",
    [
        ["verdicts", "--since", "2025-04-01T00:00:00Z"],
        ["check-login", "--local", "--ua", "Mozilla/5.0"],
        ["releases", "status"],
        ["replay", "--rules", "rules/data"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_command_line_is_parsed_without_the_heavy_modules(argv: list[str]) -> None:
    modules = loaded(argv)
    assert not heavy(modules), f"anshin {' '.join(argv)} imported {heavy(modules)} to parse"
    others = {f"server.cli.{name}" for name in ("serve", "releases", "log") if name != argv[0]}
    assert not others & modules  # only its own command's parser is built


def test_every_command_is_built_for_the_whole_tree() -> None:
    """``anshin --help`` and ``completion`` build every command's parser: still light."""
    modules = loaded(["completion", "bash"])
    assert {"server.cli.serve", "server.cli.releases", "server.cli.verdicts"} <= modules
    assert not heavy(modules)
