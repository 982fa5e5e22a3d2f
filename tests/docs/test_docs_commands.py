"""Every command in README.md and docs/*.md runs as written.

The convention is in tests/docs/doc_commands.py and README.md ("Commands in
the docs"): ``console`` blocks are run, a block that cannot run says why in a
visible ``<!-- not-run: … -->`` line, and no other block may hold a command.

Each page runs in a directory of its own, as a reader in a checkout would:
the repository's ``docs``, ``proto``, ``bench`` and ``.venv`` linked into it
(``rules`` copied),
``anshin`` (.venv/bin) first on ``PATH``, and, when the page has a block to
run, a real server set up as ``make run`` does (``anshin db migrate --create``,
``anshin serve``) on ``anshin.db`` there. Its port is free, not 50051: the
page's ``127.0.0.1:50051`` is read as the server's address, which is also
``$ANSHIN_SERVER`` and ``$ANSHIN_DB``. A page's commands run in one shell, in
order, so a variable or a file one makes is there for the next.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docs.doc_commands import Command, blocks, commands

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOC_ADDRESS = "127.0.0.1:50051"
PAGE_TIMEOUT_S = 300.0  # a hang guard: a page takes seconds on an idle machine


def _name(page: Path) -> str:
    return str(page.relative_to(ROOT))


# --------------------------------------------------------------------------- the convention


def test_console_blocks_give_commands_and_their_exit_status() -> None:
    body = [
        "$ anshin rules validate rules/data",
        "  policy …",
        "$ anshin claim x.json --server 127.0.0.1:50051 \\",
        "    --fail-on DENY",
        "DENY",
        "(exit 1)",
        "$ # a comment is not a command",
        "$ anshin log verify",
        "TAMPERED …",
        "exit status 4",
        "$ anshin releases status",
        "$ echo $?",
        "5",
    ]
    found = commands(body)
    assert [c.text.split()[1] for c in found] == ["rules", "claim", "log", "releases", "$?"]
    assert [c.expect for c in found] == [0, 1, 4, 5, 0]
    assert found[1].text.endswith("\\\n    --fail-on DENY") and found[1].line == 3


def test_a_command_outside_a_console_block_is_found() -> None:
    page = "\n".join(
        [
            "```",
            "$ anshin verdicts",
            "```",
            "<!-- not-run: needs docker -->",
            "",
            "```sh",
            "docker build -t anshin .",
            "```",
            "```json",
            '{"a": 1}',
            "```",
            "```console",
            "$ anshin health",
            "```",
        ]
    )
    untagged, docker, data, console = blocks(page)
    assert untagged.holds_commands and not untagged.runs and untagged.not_run is None
    assert docker.not_run == "needs docker" and not docker.runs
    assert not data.holds_commands
    assert console.runs and [c.text for c in console.commands] == ["anshin health"]


def test_no_page_hides_a_command_from_the_test() -> None:
    hidden = [
        f"{_name(page)}:{b.line}"
        for page in PAGES
        for b in blocks(page.read_text(encoding="utf-8"))
        if b.holds_commands and not b.runs and b.not_run is None
    ]
    assert not hidden, f"command blocks neither console nor not-run: {hidden}"


# --------------------------------------------------------------------------- running a page


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Workspace:
    path: Path
    env: dict[str, str]
    address: str


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    # A checkout beside the shared vendor data the release-data page imports
    # (``../shared/data``), when this machine has it.
    if (ROOT.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    tmp_path = tmp_path / "checkout"
    tmp_path.mkdir()
    for name in ("docs", "proto", "bench", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "rules", tmp_path / "rules")  # a page may import into its copy
    address = f"127.0.0.1:{_free_port()}"
    db = f"sqlite:///{tmp_path / 'anshin.db'}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ANSHIN_") and k not in ("COLUMNS", "LINES")
    }
    env.update(
        PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(tmp_path / "home"),  # no profile of the person running the tests
        TMPDIR=str(tmp_path / "tmp"),  # a page's mktemp -d is cleaned up with the rest
        ANSHIN_SERVER=address,
        ANSHIN_DB=db,
        COLUMNS="120",
        PYTHONUNBUFFERED="1",
    )
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    return Workspace(tmp_path, env, address)


@pytest.fixture
def served(workspace: Workspace) -> Iterator[Workspace]:
    """``anshin serve`` on the workspace's database, as ``make run`` starts it."""
    db = workspace.env["ANSHIN_DB"]

    def anshin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["anshin", *args],
            cwd=workspace.path,
            env=workspace.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    migrated = anshin("db", "migrate", "--create", "--db", db)
    assert migrated.returncode == 0, migrated.stderr
    log = (workspace.path / "serve.log").open("wb")
    proc = subprocess.Popen(
        ["anshin", "serve", "--listen", workspace.address, "--db", db],
        cwd=workspace.path,
        env=workspace.env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while anshin("health").returncode != 0:
            assert proc.poll() is None, (workspace.path / "serve.log").read_text()
            assert time.monotonic() < deadline, "no SERVING within 30 s"
            time.sleep(0.2)
        yield workspace
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _script(cmds: list[Command], address: str, out: Path) -> str:
    """One shell for the page: each command's output and status to ``out``,
    and ``$?`` left as the command set it (for a following ``echo $?``)."""
    lines = ["set +e"]
    for n, c in enumerate(cmds):
        text = c.text.replace(DOC_ADDRESS, address)
        o = shlex.quote(str(out / str(n)))
        lines.append(
            f"{{ {text}\n}} >{o}.out 2>{o}.err </dev/null; __rc=$?; echo $__rc >{o}.rc; "
            "(exit $__rc)"
        )
    return "\n".join(lines) + "\n"


def _console_commands(page: Path) -> list[Command]:
    return [c for b in blocks(page.read_text(encoding="utf-8")) if b.runs for c in b.commands]


RUN_PAGES = [p for p in PAGES if _console_commands(p)]


# Commands that need no server: a page of only these is run without one (a
# wrong guess fails loudly: the command cannot reach a server).
LOCAL = re.compile(r"--local|^\S*anshin (rules|releases) |^\S*python |^\S+=")


def run_page(
    name: str, cmds: list[Command], ws: Workspace, timeout: float = PAGE_TIMEOUT_S
) -> list[str]:
    """Run ``cmds`` in one shell in ``ws``; one line per command whose exit
    status is not the one its doc implies (or that did not finish)."""
    out = ws.path / "out"
    out.mkdir()
    script = ws.path / "page.sh"
    script.write_text(_script(cmds, ws.address, out), encoding="utf-8")
    shell = subprocess.Popen(["bash", str(script)], cwd=ws.path, env=ws.env, start_new_session=True)
    try:
        shell.wait(timeout=timeout)
    except subprocess.TimeoutExpired:  # the command that did not finish is named below
        os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
    failures = []
    for n, c in enumerate(cmds):
        rc_file = out / f"{n}.rc"
        if not rc_file.exists():
            failures.append(f"{name}:{c.line}: did not finish within {timeout:.0f} s")
            break
        rc = int(rc_file.read_text())
        if rc != c.expect:
            err = (out / f"{n}.err").read_text(errors="replace")
            failures.append(
                f"{name}:{c.line}: exit {rc}, the doc implies {c.expect}: "
                f"{c.text.splitlines()[0][:100]}\n    {err.strip()[-600:]}"
            )
    return failures


def test_the_runner_holds_each_command_to_its_exit_status(workspace: Workspace) -> None:
    cmds = commands(
        [
            "$ x=$(echo 127.0.0.1:50051)",  # a variable, and the doc's address, for later
            '$ test "$x" = "$ANSHIN_SERVER"',
            "$ false",
            "(exit 1)",
            "$ ls no-such-file",
            "$ exit_status_is_not_checked() { :; }",
            "$ (exit 3)",
            "$ echo $?",
            "4",
        ]
    )
    failures = run_page("t.md", cmds, workspace)
    assert [f.split(":")[1] for f in failures] == ["5", "7"], failures  # ls; 3 is not 4
    assert "exit 2, the doc implies 0: ls no-such-file" in failures[0]
    assert "No such file" in failures[0]  # its stderr, to see why


def test_the_runner_names_a_command_that_hangs(workspace: Workspace) -> None:
    failures = run_page("t.md", commands(["$ sleep 30", "$ true"]), workspace, timeout=1)
    assert failures == ["t.md:1: did not finish within 1 s"]


@pytest.mark.parametrize("page", RUN_PAGES, ids=_name)
def test_every_command_of_the_page_runs_as_written(
    page: Path, workspace: Workspace, request: pytest.FixtureRequest
) -> None:
    cmds = _console_commands(page)
    local = all(LOCAL.search(c.text) for c in cmds)
    served = workspace if local else request.getfixturevalue("served")
    failures = run_page(_name(page), cmds, served)
    assert not failures, "\n".join(failures)
