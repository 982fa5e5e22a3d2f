"""``-o table|json|csv|yaml`` on each command's reply (golden files), tables at
80 and 200 columns with Japanese text, and the one JSON mapping.

Golden files are in tests/cli/golden/; ``ANSHIN_UPDATE_GOLDEN=1`` rewrites
them (read the diff before committing it).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from server.cli import check_login, events, ops, posture, reviews, verdicts
from server.cli.output import emit_one, emit_rows, message_dict
from server.cli.table import cell_width
from tests.cli import samples

GOLDEN = Path(__file__).parent / "golden"
FORMATS = ("table", "json", "csv", "yaml")


def _render(name: str, fmt: str) -> None:
    """What ``anshin …`` prints for the sample reply of ``name``."""
    if name == "verdicts":
        emit_rows(samples.entries(), fmt, verdicts.CSV if fmt == "csv" else verdicts.ENTRIES)
    elif name == "reviews":
        emit_rows(samples.reviews(), fmt, reviews.REVIEWS)
    elif name == "posture":
        emit_rows(samples.devices().devices, fmt, posture.DEVICES)
    elif name == "events-coverage":
        cov = samples.coverage()
        if fmt in ("json", "yaml"):
            emit_one(cov, fmt, table=events.COVERAGE)
        else:
            emit_rows(cov.periods, fmt, events.COVERAGE)
    elif name == "ops-status":
        emit_one(samples.status(), fmt, table=ops.STATUS)
    elif name == "check-login":
        resp = samples.login_reply()
        if fmt == "csv":
            emit_rows(resp.checks, "csv", check_login.CHECKS)
        else:
            emit_one(resp, fmt, table=lambda: check_login.render(resp))


def _capture(capsys: pytest.CaptureFixture[str], run: Callable[[], object]) -> str:
    capsys.readouterr()
    run()
    return capsys.readouterr().out


def _golden(path: Path, text: str) -> None:
    if os.environ.get("ANSHIN_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with ANSHIN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


NAMES = ("verdicts", "reviews", "posture", "events-coverage", "ops-status", "check-login")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NAMES)
def test_each_format_of_each_command(
    name: str, fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = _capture(capsys, lambda: _render(name, fmt))
    _golden(GOLDEN / f"{name}.{'txt' if fmt == 'table' else fmt}", out)
    if fmt == "json":
        json.loads(out)  # one document
    elif fmt == "yaml":
        yaml.safe_load(out)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert len({len(r) for r in rows}) == 1  # a header and rows of its width


@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("name", ["reviews", "posture", "check-login", "verdicts"])
def test_tables_fit_the_width_and_cut_nothing(
    name: str, width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    out = _capture(capsys, lambda: _render(name, "table"))
    _golden(GOLDEN / f"{name}.{width}.txt", out)
    for line in out.splitlines():
        assert cell_width(line) <= width, line
    assert samples.ENTRY_ID in out  # the id, whole, on one line
    if name in ("reviews", "verdicts"):
        assert "¥1,200,000" in out or "¥12,000,000" in out
    # Japanese text, wrapped but complete: its characters in order.
    flat = "".join(ch for ch in out if ord(ch) > 0x3000)
    japanese = {"check-login": samples.GUIDANCE_JA, "reviews": "代替的な対策の説明"}.get(name, "")
    assert "".join(ch for ch in japanese if ord(ch) > 0x3000) in flat


def test_wide_terminal_has_one_line_per_verdict(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = _capture(capsys, lambda: _render("verdicts", "table"))
    assert len(out.splitlines()) == 2 + 2  # header, rule, one line each
    monkeypatch.setenv("COLUMNS", "80")
    out = _capture(capsys, lambda: _render("verdicts", "table"))
    assert len(out.splitlines()) > 4  # blocks of name/value lines: nothing cut


def test_json_is_the_protobuf_mapping_with_defaults() -> None:
    d = message_dict(samples.entries()[1])
    assert d["payableYen"] == "0"  # int64 as a string, and present at its default
    assert d["customerId"] == "hnb-contract-0001"  # lowerCamelCase
    assert d["recordedAt"] == "2025-04-20T06:31:00Z"
    reply = message_dict(samples.login_reply())
    assert reply["verdict"] == "POSTURE_VERDICT_UNKNOWN"  # enums by name


def test_a_list_in_json_is_one_array_even_empty(capsys: pytest.CaptureFixture[str]) -> None:
    out = _capture(capsys, lambda: emit_rows([], "json", verdicts.ENTRIES))
    assert json.loads(out) == []
    out = _capture(capsys, lambda: emit_rows([], "yaml", verdicts.ENTRIES))
    assert yaml.safe_load(out) == []
