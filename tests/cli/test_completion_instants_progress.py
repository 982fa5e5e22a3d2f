"""Shell completion from the parser, the one instant parser, the progress bar."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from server import cli
from server.cli.args import instant, instant_or_date
from server.cli.completion import bash_script, words
from server.cli.progress import progress
from server.cli.table import cell_width, wrap


def test_completion_words_follow_the_parser() -> None:
    table = words(cli.build_parser())
    assert {"verdicts", "check-login", "posture", "completion", "--version"} <= set(table[""])
    assert "show" in table["verdicts"] and "--outcome" in table["verdicts"]
    assert table["verdicts -o"] == ["table", "json", "csv", "yaml"]
    assert "--fail-on" in table["check-login"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_subcommands_and_choices() -> None:
    script = bash_script(words(cli.build_parser()))

    def complete(line: str) -> set[str]:
        words_ = line.split(" ")
        prog = (
            script
            + f"\nCOMP_WORDS=({' '.join(repr(w) for w in words_)}); COMP_CWORD={len(words_) - 1}"
            + "\n_anshin; printf '%s\\n' \"${COMPREPLY[@]}\""
        )
        out = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, check=True)
        return set(out.stdout.split())

    assert complete("anshin verd") == {"verdicts"}
    assert "show" in complete("anshin verdicts s")
    assert complete("anshin verdicts -o ") == {"table", "json", "csv", "yaml"}
    assert complete("anshin verdicts --customer x --outc") == {"--outcome"}


def test_instants_and_dates() -> None:
    assert instant("2025-04-10T10:00:00+09:00") == datetime(2025, 4, 10, 1, tzinfo=UTC)
    # A plain date means JST midnight, where the flag says so (--as-of, --before).
    assert instant_or_date("2025-04-10") == datetime(2025, 4, 9, 15, tzinfo=UTC)
    assert instant_or_date("2025-04-10T00:00:00Z") == datetime(2025, 4, 10, tzinfo=UTC)
    for bad in ("2025-02-30", "2025-04-10T10:00", "2025/04/10"):
        with pytest.raises(argparse.ArgumentTypeError):
            instant_or_date(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        instant("2025-04-10")  # where no date is documented, none is taken


def test_progress_is_off_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress("ingest", unit="events") as bar:
        assert bar.disable
        for _ in range(3):
            bar.update(1)
    assert capsys.readouterr().err == ""


def test_progress_counts_items_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    with progress("ingest", unit="events") as bar:
        assert not bar.disable
        bar.update(2)
    assert bar.n == 2 and "2 events" in fake.getvalue()


def test_wrap_counts_wide_characters_as_two_columns() -> None:
    assert cell_width("ab") == 2 and cell_width("案内") == 4 and cell_width("ｱ") == 1
    lines = wrap("ウイルス対策ソフト", 8)
    assert lines == ["ウイルス", "対策ソフ", "ト"]
    assert wrap("one two three", 7) == ["one two", "three"]
    assert wrap("a\nb", 10) == ["a", "b"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_positional_choices_pseudo_commands_and_no_hidden_aliases(
    tmp_path: Path,
) -> None:
    """A21b break F: `completion b` gave a file; `claim` lacked `form`; `claim form`
    offered the decision's flags; the aliases of -o were offered."""
    from server.cli.completion import file_paths

    parser = cli.build_parser()
    script = bash_script(words(parser), file_paths(parser))
    (tmp_path / "bench").mkdir()
    (tmp_path / "claim.json").write_text("{}")

    def complete(line: str) -> set[str]:
        words_ = line.split(" ")
        prog = (
            script
            + f"\nCOMP_WORDS=({' '.join(repr(w) for w in words_)}); COMP_CWORD={len(words_) - 1}"
            + "\n_anshin; printf '%s\\n' \"${COMPREPLY[@]}\""
        )
        out = subprocess.run(
            ["bash", "-c", prog], capture_output=True, text=True, check=True, cwd=tmp_path
        )
        return set(out.stdout.split())

    assert complete("anshin completion b") == {"bash"}
    assert complete("anshin completion ") == {"bash", "zsh"}
    assert complete("anshin claim ") == {"form", "bench", "claim.json"}  # form, and the FILE
    assert complete("anshin claim cl") == {"claim.json"}
    assert "--dry-run" in complete("anshin claim --")
    form = complete("anshin claim form --")
    assert {"--local", "--rules", "--output", "--server"} <= form
    assert not form & {"--dry-run", "--fail-on", "--verbose"}
    offered = set().union(
        *(complete(f"anshin {c} --") for c in ("verdicts", "claim", "log verify"))
    )
    assert not offered & {"--csv", "--json", "--json-output"}
    assert "--output" in offered
