"""The shell commands of the README and docs/*.md, as the docs test runs them.

The convention (README.md, "Commands in the docs"):

* A fenced block tagged ``console`` is run: each line starting ``$ `` is a
  command (a line ending in ``\\`` continues it), the lines after it are its
  output, not compared (ids and instants differ from run to run). The command
  must exit 0, unless its output ends with ``(exit N)`` or ``exit status N``,
  or the next command is ``echo $?`` printing N.
* A block that holds commands but cannot run in a test (``make``, a
  container, a host the test does not have) says why on the line before its
  fence: ``<!-- not-run: needs docker -->``. It may be tagged ``sh``.
* Any other block (``text``, ``json``, ``toml``, ``python``, untagged) is
  output or illustration and is not run; such a block may not hold a ``$ ``
  line, nor (untagged) start a line with ``anshin`` (or ``make``,
  ``docker``, ``curl``, ``python``, ``sqlite3``…): a command hidden from the
  test. A synopsis or an error message is a ``text`` block.

Pure: markdown text in, blocks out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FENCE = re.compile(r"^```(\S*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(.+?)\s*-->\s*$")
EXIT_LINE = re.compile(r"^\s*(?:\(exit (\d+)\)|exit status (\d+))\s*$")
# A line that is a command whoever reads it: a prompt, or the CLI itself.
COMMAND_LIKE = re.compile(
    r"^(\$ |(\.venv/bin/)?(anshin|python) |(make|docker|podman|grpcurl|curl|sqlite3|psql|apt-get) "
    r"|\(umask )"
)
PROMPT = re.compile(r"^\$ ")
RUN_TAGS = ("console",)


@dataclass
class Command:
    line: int  # 1-based line of its first ``$ ``
    text: str  # continuation lines kept, ``\`` and newline included
    expect: int = 0


@dataclass
class Block:
    line: int  # of the opening fence
    tag: str
    body: list[str]
    not_run: str | None = None  # the visible reason, when not run
    commands: list[Command] = field(default_factory=list)

    @property
    def runs(self) -> bool:
        return self.tag in RUN_TAGS and self.not_run is None

    @property
    def holds_commands(self) -> bool:
        """A block a reader would run: tagged as shell, a ``$ `` line in any
        block, or a line starting with ``anshin`` in an untagged one (a
        ``text`` block may show a synopsis or an error message)."""
        if self.tag in ("console", "sh", "shell", "bash"):
            return True
        pattern = PROMPT if self.tag == "text" else COMMAND_LIKE
        return any(pattern.match(line) for line in self.body)


def blocks(markdown: str) -> list[Block]:
    """Every fenced block of a page, with its commands when tagged console."""
    lines = markdown.split("\n")
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, tag = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = next((lines[k] for k in range(start - 1, -1, -1) if lines[k].strip()), "")
        reason = NOT_RUN.match(prev)
        block = Block(start + 1, tag, lines[start + 1 : j], reason.group(1) if reason else None)
        if tag in RUN_TAGS:
            block.commands = commands(block.body, first_line=start + 2)
        out.append(block)
        i = j + 1
    return out


def commands(body: list[str], *, first_line: int = 1) -> list[Command]:
    """The ``$ `` commands of a console block and the exit status each must give."""
    found: list[Command] = []
    output: list[str] = []

    def close() -> None:
        if found and output:
            m = EXIT_LINE.match(output[-1])
            if m:
                found[-1].expect = int(m.group(1) or m.group(2))
            elif (
                found[-1].text.strip() == "echo $?"
                and output[0].strip().isdigit()
                and len(found) > 1
            ):
                found[-2].expect = int(output[0].strip())
        output.clear()

    k = 0
    while k < len(body):
        line = body[k]
        if line.startswith("$ "):
            close()
            text, number = line[2:], first_line + k
            while text.endswith("\\") and k + 1 < len(body):
                k += 1
                text += "\n" + body[k]
            if text.strip() and not text.lstrip().startswith("#"):
                found.append(Command(number, text))
        else:
            output.append(line)
        k += 1
    close()
    return found
