"""The command line as one package (server/cli/): every command in README's
table is one module named as the command, and the shared helpers behave as
each command relies on."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server import cli
from server.cli.args import instant, yen_amount
from server.cli.render import format_instant, yen

ROOT = Path(__file__).resolve().parent.parent


def commands() -> set[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def test_every_readme_command_is_a_module_named_as_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands", 1)[1].split("## ", 1)[0]
    documented = set(re.findall(r"`anshin ([a-z-]+)", table))
    assert documented == commands()
    modules = {m.__name__.rsplit(".", 1)[1].replace("_", "-") for m in cli.COMMANDS}
    assert modules == commands()


def test_instants_need_their_offset() -> None:
    assert instant("2025-04-10T10:00:00+09:00") == datetime(2025, 4, 10, 1, tzinfo=UTC)
    assert instant("2025-04-10T01:00:00Z") == datetime(2025, 4, 10, 1, tzinfo=UTC)
    for ambiguous in ("2025-04-10", "2025-04-10T10:00", "yesterday"):
        with pytest.raises(argparse.ArgumentTypeError):
            instant(ambiguous)


def test_a_date_without_offset_is_refused_by_the_parser(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["verdicts", "--since", "2025-04-01"])
    assert done.value.code == 2
    assert "a date without a time of day" in capsys.readouterr().err


def test_amounts() -> None:
    assert yen(1_200_000) == "¥1,200,000"
    assert yen(-5_000) == "-¥5,000"
    assert yen(5_000, signed=True) == "+¥5,000" and yen(0, signed=True) == "¥0"
    assert yen_amount("¥1,200,000") == 1_200_000
    with pytest.raises(argparse.ArgumentTypeError):
        yen_amount("0")


def test_instants_shown() -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    ts = Timestamp()
    assert format_instant(ts, "%H:%M") == "-"  # unset, for reading
    ts.FromDatetime(datetime(2025, 4, 10, 1, tzinfo=UTC))
    assert format_instant(ts, "%Y-%m-%d %H:%M") == "2025-04-10 10:00"  # JST
    assert format_instant(ts) == "2025-04-10T10:00:00+09:00"
    assert format_instant(1_744_246_800_000_000, tz=UTC) == "2025-04-10T01:00:00Z"
