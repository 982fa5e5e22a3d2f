"""The one progress display (server/cli/progress.py): rich, items not bytes,
drawn only on a terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from server.cli.events import Progress, batches
from server.cli.progress import Counter, _count_text, progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_nothing_is_drawn_off_a_terminal_but_items_are_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress("replay", unit="claims", total=5) as bar:
        assert bar.disable
        bar.set_total(10)
        for _ in range(4):
            bar.update(1)
        bar.update(3)
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""
    assert bar.n == 7 and bar.total == 10


def test_quiet_draws_nothing_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    with progress("ingest", unit="events", quiet=True) as bar:
        bar.update(2)
    assert bar.disable and bar.n == 2
    assert tty.getvalue() == ""


def test_on_a_terminal_it_counts_items_against_the_total(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tty = Tty()
    monkeypatch.setattr("sys.stderr", tty)
    with progress("replay", unit="claims") as bar:
        assert not bar.disable
        bar.set_total(1200)
        bar.update(1000)
        bar.update(2)
    drawn = tty.getvalue()
    assert bar.n == 1002
    assert "replay" in drawn and "1,002/1,200 claims" in drawn
    assert capsys.readouterr().out == ""  # never on stdout, where the results go


def test_the_count_is_items_with_their_unit() -> None:
    assert _count_text(3, None, "events", None) == "3 events"
    assert _count_text(1234, 5000, "claims", 812.4) == "1,234/5,000 claims · 812/s"
    assert _count_text(0, 0, "claims", 0.0) == "0/0 claims"


def test_ingest_counts_events_not_bytes(tmp_path: Path) -> None:
    """A few long lines: the count is the lines sent (and refused), never their size."""
    envelope = {
        "registration": {
            "header": {
                "clientEventId": "e-1",
                "customerId": "c-" + "1" * 5000,
                "eventTime": "2025-04-10T01:00:00Z",
            }
        }
    }
    lines = [json.dumps(envelope), "", "{not json", json.dumps(envelope)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 10_000
    counter, seen = Counter(), Progress()
    list(batches(path, 500, seen, counter))
    assert counter.n == 3  # three non-blank lines: two envelopes, one refused here
    assert seen.sent_lines == [1, 4] and [n for n, _ in seen.local_rejects] == [3]
