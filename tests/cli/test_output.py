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

from server.cli import (
    check_login,
    events,
    log,
    ops,
    posture,
    releases,
    replay,
    reviews,
    rules,
    verdicts,
)
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
    # Commands whose data is a document of their own, not a reply.
    elif name == "replay":
        replay.emit(samples.replay_doc(), fmt)
    elif name == "events-ingest":
        events.emit_ingest(samples.ingest_doc(), fmt)
    elif name == "releases-status":
        releases.emit_status(samples.releases_doc(), fmt)
    elif name == "rules-validate":
        rules.emit_validation(samples.rules_doc(), fmt)
    elif name == "rules-validate-problems":
        rules.emit_validation(samples.rules_doc(valid=False), fmt)
    elif name == "log-verify":
        log.emit_verify(samples.verify_doc(), fmt)
    elif name == "log-verify-tampered":
        log.emit_verify(samples.verify_doc(ok=False), fmt)


def _capture(capsys: pytest.CaptureFixture[str], run: Callable[[], object]) -> str:
    capsys.readouterr()
    run()
    return capsys.readouterr().out


def _golden(path: Path, text: str) -> None:
    if os.environ.get("ANSHIN_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with ANSHIN_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


NAMES = (
    "verdicts",
    "reviews",
    "posture",
    "events-coverage",
    "ops-status",
    "check-login",
    "replay",
    "events-ingest",
    "releases-status",
    "rules-validate",
    "rules-validate-problems",
    "log-verify",
    "log-verify-tampered",
)


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
@pytest.mark.parametrize(
    "name",
    ["reviews", "posture", "check-login", "verdicts", "rules-validate"],
)
def test_tables_fit_the_width_and_cut_nothing(
    name: str, width: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", str(width))
    out = _capture(capsys, lambda: _render(name, "table"))
    _golden(GOLDEN / f"{name}.{width}.txt", out)
    table = out.splitlines()
    if name == "rules-validate":  # the verdict sentence after the table is the terminal's to wrap
        table = table[:-1]
    for line in table:
        assert cell_width(line) <= width, line
    kept = {  # the id to paste into the next command, whole, on one line
        "rules-validate": "KDN@seed-001",
    }.get(name, samples.ENTRY_ID)
    assert any(kept in line for line in out.splitlines())
    if name in ("reviews", "verdicts"):
        assert "¥1,200,000" in out or "¥12,000,000" in out
    # Japanese text, wrapped but complete: its characters in order.
    flat = "".join(ch for ch in out if ord(ch) > 0x3000)
    japanese = {
        "check-login": samples.GUIDANCE_JA,
        "reviews": "代替的な対策の説明",
        "rules-validate": "ダークウェブモニタリングプラス付帯保険",
    }.get(name, "")
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


def test_the_ingest_summary_keeps_line_numbers_and_event_ids_whole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    doc = samples.ingest_doc()
    out = _capture(capsys, lambda: events.emit_ingest(doc, "table"))
    assert f"line 7: INVALID_ARGUMENT {doc['rejected'][0]['clientEventId']}" in out
    out = _capture(capsys, lambda: events.emit_ingest(doc, "table", show=1))
    assert "line 7: " in out and "… 1 more (use --show N)" in out
    assert "INVALID_JSON" not in out  # the second rejected line is past --show
    rows = list(csv.reader(io.StringIO(_capture(capsys, lambda: events.emit_ingest(doc, "csv")))))
    assert [r[0] for r in rows] == ["line", "7", "12"]  # csv lists every line, --show or not


def test_replay_lists_show_changes_in_the_table_and_all_elsewhere(
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc = samples.replay_doc()
    doc["changes"] = doc["changes"] * 3
    out = _capture(capsys, lambda: replay.emit(doc, "table", show=2))
    assert out.count(samples.ENTRY_ID) == 2 and "(first 2; --show 0: all)" in out
    out = _capture(capsys, lambda: replay.emit(doc, "json", show=2))
    assert len(json.loads(out)["changes"]) == 3
    out = _capture(capsys, lambda: replay.emit(doc, "csv", show=2))
    assert out.splitlines()[1].split(",")[5:8] == ["12000000", "DENY", "0"]


def test_rules_validate_ends_its_table_with_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    rules.emit_validation(samples.rules_doc(), "table")
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith("rules/data: valid — 2 policies, 49 clauses (54 entries)")
    rules.emit_validation(samples.rules_doc(valid=False), "table")
    out = capsys.readouterr().out
    assert out.startswith("/tmp/anshin-rules-copy/policies/hnb.toml: clause HNB-X5")
    assert out.splitlines()[-1].endswith(
        "1 problem(s); the server would refuse to load these rules"
    )
    rules.emit_validation(samples.rules_doc(valid=False), "csv")  # the data alone
    assert capsys.readouterr().out.splitlines() == [
        "problem",
        samples.rules_doc(False)["problems"][0],
    ]


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "--rules", "rules/data"],
        ["log", "verify"],
        ["releases", "status"],
        ["rules", "validate", "rules/data"],
        ["events", "ingest", "x.jsonl"],
    ],
)
def test_every_command_takes_each_format(argv: list[str]) -> None:
    from server.cli import build_parser

    parser = build_parser()
    for fmt in FORMATS:
        assert parser.parse_args([*argv, "-o", fmt]).output == fmt
    assert parser.parse_args(argv).output == "table"
    with pytest.raises(SystemExit):
        parser.parse_args([*argv, "-o", "xml"])
